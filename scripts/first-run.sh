#!/usr/bin/env bash
# Measures the README's first command as a new user meets it: with empty
# module and build caches (in a temporary directory, removed afterwards),
# the time from `go run ./scripts/run serve` to the demo's first answer.
# It downloads the modules from the Go module proxy and compiles
# everything, so it takes a minute or more; it changes nothing outside its
# temporary directory.
#
#   bash scripts/first-run.sh            # prints: the demo answered after N s
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
port=${ODATAGW_FIRST_RUN_PORT:-18399}
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    # the command, the launcher and the gateway are one process group
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "cores: $(nproc), $(go version)"
start=$(date +%s.%N)
GOCACHE="$work/build" GOMODCACHE="$work/mod" GOFLAGS=-modcacherw HOME="$work/home" \
  setsid go run ./scripts/run serve --listen "127.0.0.1:$port" --state none --admin-listen off >"$work/log" 2>&1 &
pid=$!
# at most ten minutes, a request a second
for _ in $(seq 1 600); do
  if curl -fs -o /dev/null "http://127.0.0.1:$port/odata/demo/"; then
    printf 'the demo answered after %.0f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"
    grep -E "^odatagw: (built|compiling)" "$work/log" || true
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the command ended without serving:"
    cat "$work/log"
    exit 1
  fi
  sleep 1
done
echo "the demo did not answer within ten minutes:"
tail -20 "$work/log"
exit 1
