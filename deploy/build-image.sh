#!/usr/bin/env bash
# Builds the odatagw image without a container registry or engine: a
# static binary, CA certificates, time zone data and a user without
# privileges on an empty base, committed with buildah (Debian package
# buildah). The result is the image deploy/Dockerfile describes.
#
#   bash deploy/build-image.sh [TAG]          # default odatagw:dev
#   buildah --storage-driver vfs push odatagw:dev docker-archive:odatagw.tar
#
# BUILDAH_STORAGE_DRIVER (default vfs) chooses buildah's storage.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-odatagw:dev}"
driver="${BUILDAH_STORAGE_DRIVER:-vfs}"
bah() { buildah --storage-driver "$driver" "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the version and commit the binary reports (odatagw version, the log,
# the admin page) and the image's labels carry
version="${ODATAGW_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
echo "building the static binary ($version, commit $commit)"
CGO_ENABLED=0 go build -tags nomsgpack -trimpath -ldflags "-s -w -X main.Version=$version -X main.Commit=$commit" -o "$work/odatagw" ./cmd/odatagw

ctr=$(bah from scratch)
cleanup() { bah umount "$ctr" >/dev/null 2>&1 || true; bah rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
root=$(bah mount "$ctr")
install -D -m 0755 "$work/odatagw" "$root/usr/local/bin/odatagw"
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$root/usr/share"
cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
mkdir -p "$root/etc" "$root/tmp" "$root/var/lib/odatagw"
printf 'root:x:0:0:root:/root:/sbin/nologin\nodatagw:x:65532:65532:odatagw:/var/lib/odatagw:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nodatagw:x:65532:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
chown 65532:65532 "$root/var/lib/odatagw"
bah umount "$ctr" >/dev/null

bah config \
  --user 65532:65532 \
  --env ODATAGW_LISTEN=0.0.0.0:8080 \
  --env ODATAGW_ADMIN_LISTEN=0.0.0.0:8081 \
  --env ODATAGW_STATE=/var/lib/odatagw/state.db \
  --env HOME=/var/lib/odatagw \
  --env TMPDIR=/tmp \
  --port 8080 --port 8081 \
  --volume /var/lib/odatagw \
  --entrypoint '["/usr/local/bin/odatagw"]' \
  --cmd serve \
  --label org.opencontainers.image.title=odatagw \
  --label org.opencontainers.image.description="OData 4.0/4.01 gateway for Salesforce Connect" \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$commit" \
  "$ctr"
bah commit --quiet "$ctr" "$tag" >/dev/null
echo "built $tag ($(bah inspect --format '{{.FromImageID}}' "$tag" 2>/dev/null | cut -c1-12 || true))"
