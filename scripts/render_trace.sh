#!/usr/bin/env bash
# Renders a goroutines trace's HTML timeline to a PNG with headless
# Chromium, to check what the page shows without a desktop browser.
#
#   scripts/render_trace.sh TRACE.html [OUT.png]     (default OUT: TRACE.png)
#
# Needs `chromium` (Debian: apt-get install -y chromium). The test suite does
# not use this script; it is for people and for checking the page by eye.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 TRACE.html [OUT.png]" >&2
    exit 2
fi
html=$(realpath "$1")
out=$(realpath -m "${2:-${1%.html}.png}")
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "$0: no chromium found (apt-get install -y chromium)" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The page fetches nothing; these flags keep Chromium from doing so either.
"$browser" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --user-data-dir="$profile" \
    --screenshot="$out" --window-size=1400,800 "file://$html" 2>/dev/null
echo "$out"
