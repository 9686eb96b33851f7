#!/usr/bin/env bash
# Remakes the admin page's screenshots in docs/images from the browser
# tests, which take them (they need what those tests need: Chromium and
# ODATAGW_TEST_POSTGRES_URL, see docs/testing.md). pngquant, where it is
# installed, makes the files about a third of their size.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ODATAGW_TEST_POSTGRES_URL:?set it as for the tests: see docs/testing.md}"
command -v chromium >/dev/null || { echo "screenshots: Chromium is needed (apt-get install chromium)" >&2; exit 2; }
go test -count=1 -run 'TestAdminPage(Operations|InBrowser)$' ./tests
mkdir -p docs/images
# test-output name -> docs name
while read -r from to; do
  src="test-output/$from.png" dst="docs/images/$to.png"
  if command -v pngquant >/dev/null; then
    pngquant --quality 60-85 --speed 1 --force --output "$dst" "$src"
  else
    cp "$src" "$dst"
  fi
  echo "$dst $(stat -c %s "$dst") bytes"
done <<'LIST'
admin-ops-overview admin-overview
admin-ops-sources admin-sources
admin-ops-salesforce admin-source-salesforce
admin-ops-sets admin-source-settings
admin-ops-shapes admin-source-insight
admin-ops-summaries admin-source-summaries
admin-ops-standbys admin-source-standbys
admin-ops-report-scan admin-source-report-scan
admin-ops-agents admin-agents
admin-ops-users admin-users
admin-ops-audit admin-audit
admin-page-field-error admin-add-source
admin-page-narrow admin-narrow
LIST
