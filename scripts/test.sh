#!/usr/bin/env bash
# Runs every test suite of odatagw and says which ones ran.
#
# Suites that need a server run against the URLs in
#   ODATAGW_TEST_POSTGRES_URL   e.g. postgres://postgres@127.0.0.1:5432/postgres
#   ODATAGW_TEST_MYSQL_URL      e.g. mysql://root@127.0.0.1:3306/test (MySQL 8 or MariaDB 10.5+)
#   ODATAGW_TEST_REDIS_URL      e.g. redis://127.0.0.1:6379/0
# Each run creates its own database with a random name and drops it; Redis
# suites use channels with a random prefix.
# Without the variable those suites are skipped and this script says so;
# with CI=true a missing server fails the run instead.
#
# ODATAGW_FUZZTIME sets how long each fuzz target runs (default 10s; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${ODATAGW_FUZZTIME:-10s}"
say() { printf '%s\n' "$*"; }

say "== odatagw tests"
if [ -n "${ODATAGW_TEST_POSTGRES_URL:-}" ]; then
  say "PostgreSQL suites: ON   ($(printf '%s' "$ODATAGW_TEST_POSTGRES_URL" | sed -E 's#://([^:@/]+):[^@/]*@#://\1:***@#'))"
else
  say "PostgreSQL suites: OFF  (set ODATAGW_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres to run them)"
fi
if [ -n "${ODATAGW_TEST_MYSQL_URL:-}" ]; then
  say "MySQL/MariaDB suites: ON   ($(printf '%s' "$ODATAGW_TEST_MYSQL_URL" | sed -E 's#://([^:@/]+):[^@/]*@#://\1:***@#'))"
else
  say "MySQL/MariaDB suites: OFF  (set ODATAGW_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test to run them)"
fi
if [ -n "${ODATAGW_TEST_REDIS_URL:-}" ]; then
  say "Redis suites (replica invalidations): ON   (${ODATAGW_TEST_REDIS_URL})"
else
  say "Redis suites (replica invalidations): OFF  (set ODATAGW_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run them)"
fi
if command -v xmllint >/dev/null 2>&1; then
  say "\$metadata XSD validation: ON (xmllint)"
else
  say "\$metadata XSD validation: OFF (install xmllint: Debian package libxml2-utils)"
fi
if command -v npm >/dev/null 2>&1; then
  say "Salesforce package against the Metadata API's schema: ON (npm fetches @salesforce/types into a temporary directory)"
else
  say "Salesforce package against the Metadata API's schema: OFF (install npm)"
fi
chromium_bin="${ODATAGW_TEST_CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -n "$chromium_bin" ] && [ -n "${ODATAGW_TEST_POSTGRES_URL:-}" ]; then
  say "Admin page in a headless browser: ON ($chromium_bin; screenshots in test-output/)"
elif [ -n "$chromium_bin" ]; then
  say "Admin page in a headless browser: OFF (it needs the PostgreSQL suites)"
else
  say "Admin page in a headless browser: OFF (install Debian's chromium, or set ODATAGW_TEST_CHROMIUM)"
fi
if command -v buildah >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "deploy/ (chart, Compose, systemd, image): ON (image built with buildah, run by chroot)"
else
  say "deploy/ (chart, Compose, systemd): ON; the image test OFF (needs buildah, Debian package buildah, and root)"
fi
if command -v ip >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -n "${ODATAGW_TEST_POSTGRES_URL:-}" ] && [ -n "${ODATAGW_TEST_MYSQL_URL:-}" ]; then
  say "Agent suite (the gateway in a network namespace that cannot reach the databases): ON"
else
  say "Agent suite: OFF (it needs root, ip(8), and the PostgreSQL and MySQL/MariaDB suites); the tunnel's own tests run"
fi
pg_bin="${ODATAGW_TEST_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)}"
if [ -n "${ODATAGW_TEST_POSTGRES_URL:-}" ] && [ -x "$pg_bin/pg_basebackup" ]; then
  say "Standby suite (reads from streaming standbys the tests make with pg_basebackup): ON ($pg_bin; the server must take replication connections from 127.0.0.1)"
else
  say "Standby suite: OFF (it needs the PostgreSQL suites and PostgreSQL's programs on this machine: set ODATAGW_TEST_PG_BIN to their directory)"
fi
if [ -n "${ODATAGW_TEST_POSTGRES_URL:-}" ] && [ -n "${ODATAGW_TEST_MYSQL_URL:-}" ]; then
  say "Services suite (one service root over PostgreSQL, MariaDB and SQLite): ON"
else
  say "Services suite: OFF (it needs the PostgreSQL and MySQL/MariaDB suites; its replicas test the Redis one too)"
fi
say "SQLite demo, parser, planner and SQL suites: ON (need nothing)"
say ""

# the build tag the README builds with: gin's MessagePack codec, which
# nothing here uses, is a quarter of a cold build
export GOFLAGS="${GOFLAGS:-} -tags=nomsgpack"
go vet ./...
# the summary prints each package's result and every failure's output,
# then per package how many tests passed, failed and were skipped, and
# which did not run and why
summary="$(mktemp -d)/testsummary"
trap 'rm -rf "$(dirname "$summary")"' EXIT
go build -o "$summary" ./scripts/testsummary
go test -json -count=1 -timeout 20m ./... | "$summary" | tee "$(dirname "$summary")/ran.txt"
counts=$(sed -n -E 's/^all +//p' "$(dirname "$summary")/ran.txt")

# The packages that need nothing run again many times under the race
# detector: a test that fails once in a few hundred runs is a bug, and
# this is where such a one shows (the race detector needs cgo).
fast="./odata/... ./metadata/... ./sources/convert/ ./sources/sqlgen/ ./internal/config/ ./internal/dsn/ ./internal/memlimit/ ./internal/clientip/ ./scripts/..."
say ""
if [ "$(go env CGO_ENABLED)" = 1 ] && command -v "$(go env CC)" >/dev/null 2>&1; then
  say "== the fast packages 20 times, and the cache's 3 times, with the race detector"
  # shellcheck disable=SC2086
  go test -race -count=20 $fast
  # the cache's tests fill hundreds of MB, which the race detector slows
  # tenfold
  go test -race -count=3 ./cache/ ./internal/replicas/
  # the tunnel's tests hold real connections for seconds each
  go test -race -count=3 ./internal/tunnel/
else
  say "== the fast packages 20 times (no race detector: it needs cgo and a C compiler)"
  # shellcheck disable=SC2086
  go test -count=20 $fast ./cache/
fi

# The end-to-end suites write every gateway's log to test-output/logs/ and
# the secrets they used (passwords, tokens, DSN passwords, admin tokens) to
# test-output/secrets.txt; none may appear in any log.
say ""
say "== secret scan of the suites' logs"
if [ -s test-output/secrets.txt ]; then
  nsecrets=$(grep -c . test-output/secrets.txt)
  nlogs=$(find test-output/logs -name '*.log' | wc -l)
  if grep -rlF -f test-output/secrets.txt test-output/logs/ >/tmp/odatagw-secret-hits.$$ 2>/dev/null; then
    say "FAIL: a secret used by the tests appears in these logs:"
    cat /tmp/odatagw-secret-hits.$$
    rm -f /tmp/odatagw-secret-hits.$$
    exit 1
  fi
  rm -f /tmp/odatagw-secret-hits.$$
  say "$nsecrets secrets, $nlogs log files ($(cat test-output/logs/*.log | wc -l) lines): none found"
else
  say "no secrets recorded (the suites that use them did not run)"
fi

# Every Redis suite deletes the keys it made (testdb.RedisPrefix); a key
# left under the tests' prefix is a test that does not.
if [ -n "${ODATAGW_TEST_REDIS_URL:-}" ] && command -v redis-cli >/dev/null 2>&1; then
  say ""
  say "== Redis after the suites"
  left=$(redis-cli -u "$ODATAGW_TEST_REDIS_URL" --scan --pattern 'odatagw_test_*' | head -20)
  if [ -n "$left" ]; then
    say "FAIL: the suites left these keys in Redis:"
    say "$left"
    exit 1
  fi
  say "no key left under odatagw_test_*"
fi

# Every standby the suites make (testdb.NewStandby) is stopped and its
# directory removed when its test ends.
left=$(ls -d "${TMPDIR:-/tmp}"/odatagw-cluster-* 2>/dev/null | head -5 || true)
if [ -n "$left" ]; then
  say "FAIL: the suites left these PostgreSQL clusters:"
  say "$left"
  exit 1
fi

# fuzz runs one target. Go's fuzzer now and then ends a run that found
# nothing with "context deadline exceeded" when its time is up while a
# worker is busy; that one run is tried again, once, and said so. A failing
# input still fails at once.
fuzz() {
  local target=$1 pkg=$2 out
  out=$(mktemp)
  if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$out" 2>&1; then
    cat "$out"; rm -f "$out"; return 0
  fi
  cat "$out"
  if grep -q "context deadline exceeded" "$out" && ! grep -qi "failing input" "$out"; then
    rm -f "$out"
    say "(the fuzzer's run ended on its own deadline without a failing input; running $target again)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
    return
  fi
  rm -f "$out"
  return 1
}

say ""
say "== deploy/"
bash deploy/check.sh

if [ "$fuzztime" != "0" ]; then
  say ""
  say "== fuzzing, $fuzztime per target"
  fuzz FuzzParse ./odata/uri/
  fuzz FuzzFilter ./odata/uri/
  fuzz FuzzFilterToSQL ./sources/sqlgen/
  fuzz FuzzWriteBody ./odata/plan/
  fuzz FuzzHeaders ./odata/
  fuzz FuzzNegotiate ./odata/format/
  fuzz FuzzAuthenticate ./internal/auth/
  fuzz FuzzRequestLine ./odata/batch/
fi
say ""
case "$counts" in
  *" 0 skipped") say "== all suites passed: $counts" ;;
  *) say "== every suite that ran passed: $counts (see 'did not run' above)" ;;
esac
