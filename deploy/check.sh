#!/usr/bin/env bash
# Checks everything under deploy/ as the programs that read it would:
#   - the Helm chart: helm lint --strict, and helm template under each value
#     set of helm/test-values/ (and the defaults), every rendered object
#     decoded strictly into its Kubernetes API type (deploy/check);
#   - the Compose file, loaded by the Compose specification's own loader;
#   - the systemd unit: systemd-analyze verify, and its exposure score;
#   - the image: built with buildah and run from its own root filesystem
#     (deploy/test-image.sh).
# A check whose tool is missing says so and is skipped; with CI=true it
# fails instead. Helm is built from the Go module proxy when not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '%s\n' "$*"; }
missing() {
  if [ "${CI:-}" = "true" ]; then say "FAIL: $1"; exit 1; fi
  say "skipped: $1"
}

say "-- Kubernetes objects (deploy/check, k8s.io/api $(grep 'k8s.io/api ' deploy/check/go.mod | awk '{print $2}'))"
(cd deploy/check && go test -count=1 ./...)
helm_bin="$(command -v helm || true)"
if [ -z "$helm_bin" ]; then
  helm_bin="$(go env GOPATH)/bin/helm-v3.22.0"
  if [ ! -x "$helm_bin" ]; then
    say "building helm v3.22.0 from the module proxy (once)"
    tmp=$(mktemp -d)
    GOBIN="$tmp" go install helm.sh/helm/v3/cmd/helm@v3.22.0
    mkdir -p "$(dirname "$helm_bin")" # a new machine may have no GOPATH/bin yet
    mv "$tmp/helm" "$helm_bin"
    rm -rf "$tmp"
  fi
fi
"$helm_bin" lint --strict deploy/helm/odatagw
for values in "" deploy/helm/test-values/*.yaml; do
  args=()
  [ -n "$values" ] && args=(-f "$values")
  printf '%s: ' "${values:-defaults}"
  "$helm_bin" template odatagw deploy/helm/odatagw "${args[@]}" | (cd deploy/check && go run . k8s)
done

"$helm_bin" lint --strict deploy/helm/odatagw-agent --set existingSecret=agent-token
printf 'odatagw-agent: '
"$helm_bin" template agent deploy/helm/odatagw-agent --set existingSecret=agent-token | (cd deploy/check && go run . k8s)
if "$helm_bin" template agent deploy/helm/odatagw-agent >/dev/null 2>&1; then
  say "FAIL: the agent chart renders without the Secret holding its token"; exit 1
fi

say "-- monitoring (Prometheus' own rule and PromQL parsers)"
(cd deploy/check && go run . monitoring ../monitoring/alerts.yaml ../monitoring/grafana-dashboard.json)

say "-- Compose"
(cd deploy/check && go run . compose ../compose.yaml)
(cd deploy/check && go run . compose ../compose-agent.yaml)

say "-- systemd"
if command -v systemd-analyze >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  go build -tags nomsgpack -o "$tmp/odatagw" ./cmd/odatagw
  for unit in odatagw odatagw-agent; do
    sed "s#/usr/local/bin/odatagw#$tmp/odatagw#g" "deploy/systemd/$unit.service" > "$tmp/$unit.service"
    systemd-analyze verify "$tmp/$unit.service"
    # exposure on systemd's 0-100 scale (printed as 0.0-10.0): fail above 2.0
    systemd-analyze security --offline=yes --threshold=20 "$tmp/$unit.service" | tail -1
    say "$unit.service verifies"
  done
  rm -rf "$tmp"
else
  missing "systemd-analyze is not installed (Debian: systemd)"
fi

say "-- image"
if command -v buildah >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  bash deploy/test-image.sh
else
  missing "the image test needs buildah (Debian: buildah) and root (chroot)"
fi
