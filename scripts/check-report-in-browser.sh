#!/usr/bin/env bash
# Opens an iobuf-bench HTML report in headless Chromium and checks that every
# plot rendered: the page's inline script measures each plot's SVG once laid
# out (size, visible data curves, text) and writes the verdict into
# #render-check, which --dump-dom shows. Also saves a screenshot to look at.
#
# usage: scripts/check-report-in-browser.sh [--install] [REPORT.html [SCREENSHOT.png]]
#   no REPORT: builds iobuf-bench and reports results/ci-baseline.json.
#   --install: apt-get install chromium when no Chromium is found (needs root).
# exit: 0 pass, 1 fail, 77 skip (no Chromium; prints "SKIP: ...").
set -euo pipefail
cd "$(dirname "$0")/.."

install=0
if [[ "${1:-}" == "--install" ]]; then
    install=1
    shift
fi
report=${1:-}
screenshot=${2:-}

find_chromium() {
    local c
    for c in chromium chromium-browser google-chrome-stable google-chrome; do
        if command -v "$c" >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

browser=$(find_chromium || true)
if [[ -z "$browser" && $install == 1 ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium (apt-get)..."
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        browser=$(find_chromium || true)
    else
        echo "cannot install chromium: needs root and apt-get" >&2
    fi
fi
if [[ -z "$browser" ]]; then
    echo "SKIP: chromium not installed"
    exit 77
fi

work=target/browser-check
mkdir -p "$work"
if [[ -z "$report" ]]; then
    if [[ ! -f results/ci-baseline.json ]]; then
        echo "FAIL: no report given and results/ci-baseline.json is missing" >&2
        exit 1
    fi
    report=$work/report.html
    cargo run --quiet --bin iobuf-bench -- report results/ci-baseline.json --out "$report"
fi
[[ -n "$screenshot" ]] || screenshot=$work/report.png
if [[ ! -f "$report" ]]; then
    echo "FAIL: $report does not exist" >&2
    exit 1
fi

# Self-contained: nothing may be fetched (the SVG namespace is a name, not a fetch).
if grep -Eiq '<(script|img|link|iframe)[^>]+(src|href)=|@import|url\(' "$report"; then
    echo "FAIL: $report loads external resources:" >&2
    grep -Eio '<(script|img|link|iframe)[^>]+(src|href)=[^ >]*|@import[^;]*|url\([^)]*\)' "$report" | head -5 >&2
    exit 1
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
url="file://$(realpath "$report")"
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars
    --user-data-dir="$profile")

dom=$work/dom.html
if ! timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" >"$dom" 2>"$work/chromium.log"; then
    echo "FAIL: chromium did not load $report (log: $work/chromium.log)" >&2
    tail -5 "$work/chromium.log" >&2
    exit 1
fi
timeout 120 "$browser" "${flags[@]}" --window-size=1400,2000 --screenshot="$(realpath -m "$screenshot")" "$url" \
    >>"$work/chromium.log" 2>&1 || echo "warning: no screenshot (log: $work/chromium.log)" >&2

verdict=$(grep -o '<p id="render-check"[^<]*' "$dom" || true)
plots=$(grep -c '<figure class="plot"' "$dom" || true)
failed=$(grep -o '<figure class="plot"[^>]*data-rendered="fail"[^>]*>' "$dom" || true)
echo "${verdict#*>}"
echo "screenshot: $screenshot"
if [[ "$verdict" == *'data-status="pass"'* && -z "$failed" && $plots -gt 0 ]]; then
    echo "PASS: all $plots plots rendered in $("$browser" --version 2>/dev/null | head -1)"
    exit 0
fi
echo "FAIL: the plots did not all render" >&2
[[ -z "$failed" ]] || echo "$failed" | grep -o 'id="[^"]*"\|data-measured="[^"]*"' | paste - - >&2
exit 1
