#!/usr/bin/env bash
# Builds the image with build-image.sh, then runs the binary from the
# image's own root filesystem (buildah from + mount, chroot as the image's
# user) and asks the embedded demo for an answer: the image works with
# nothing of the host's but its kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="odatagw:test-$$"
driver="${BUILDAH_STORAGE_DRIVER:-vfs}"
bah() { buildah --storage-driver "$driver" "$@"; }
ODATAGW_VERSION=0.0.0-test bash deploy/build-image.sh "$tag"
ctr=$(bah from "$tag")
pid=""
log=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$log" ] && rm -f "$log"
  bah umount "$ctr" >/dev/null 2>&1 || true
  bah rm "$ctr" >/dev/null 2>&1 || true
  bah rmi "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT
root=$(bah mount "$ctr")
# the binary and the image's labels carry the version and the commit
label=$(bah inspect --type image --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}} {{index .OCIv1.Config.Labels "org.opencontainers.image.revision"}}' "$tag")
says=$("$root/usr/local/bin/odatagw" version)
commit=$(git rev-parse HEAD)
case "$says" in
  "odatagw 0.0.0-test (commit ${commit:0:12})"*) ;;
  *) echo "odatagw version in the image says: $says"; exit 1 ;;
esac
[ "$label" = "0.0.0-test $commit" ] || { echo "the image's labels: $label"; exit 1; }
echo "version stamped: $says; labels $label"
user=$(bah inspect --type container --format '{{.OCIv1.Config.User}}' "$ctr")
log=$(mktemp)
# the image's environment, but on a loopback port of this machine, the
# one the system picks (a random one could be taken); the log says which
env -i HOME=/var/lib/odatagw TMPDIR=/tmp ODATAGW_LISTEN="127.0.0.1:0" ODATAGW_ADMIN_LISTEN=off ODATAGW_STATE=/var/lib/odatagw/state.db \
  "$(command -v chroot)" --userspec="$user" "$root" /usr/local/bin/odatagw serve >"$log" 2>&1 &
pid=$!
base=""
# up to 30 s: the demo database is built at start, slower on a busy machine
for _ in $(seq 1 300); do
  base=$(sed -n 's#.*service_root=\(http://[^ ]*\)/odata/demo/.*#\1#p' "$log" | head -1)
  if [ -n "$base" ] && curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || break
  base=""
  sleep 0.1
done
[ -n "$base" ] || { echo "the image's binary did not start serving:"; cat "$log"; exit 1; }
answer=$(curl -fsS "$base/odata/demo/Customers?\$select=CustomerId,Name&\$top=2&\$count=true") || { echo "the image's binary did not answer:"; cat "$log"; exit 1; }
echo "$answer" | grep -q '"@odata.count":10000' || { echo "unexpected answer: $answer"; cat "$log"; exit 1; }
who=$(ps -o user= -p "$pid" 2>/dev/null || true)
echo "the image's binary answered as uid ${user%%:*} (${who:-?}): ${answer:0:120}..."
ls "$root/bin" "$root/usr/bin" >/dev/null 2>&1 && { echo "the image holds a shell or tools"; exit 1; }
echo "image test passed ($(du -sh "$root" | cut -f1) root filesystem, no shell)"
