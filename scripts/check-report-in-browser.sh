#!/usr/bin/env bash
# Opens an iobuf-bench HTML report in headless Chromium and checks that every
# plot rendered: the page's inline script measures each plot's SVG once laid
# out (size, visible data curves, text, and every curve's contrast against
# the plot background) and writes the verdict into #render-check, which
# --dump-dom shows. Also saves a screenshot to look at.
#
# Before the browser, the script itself checks every data curve's stroke
# colour in the SVG (data curves are the 2-px polylines): a contrast ratio
# under 3:1 against the white background (WCAG 2) is a series nobody can
# see, and fails the check, with or without Chromium.
#
# usage: scripts/check-report-in-browser.sh [--install] [REPORT.html [SCREENSHOT.png]]
#   no REPORT: builds iobuf-bench and reports results/ci-baseline.json.
#   --install: apt-get install chromium when no Chromium is found (needs root).
# env:   IOBUF_SKIP_BROWSER=1  the static checks only, then skip (77): what
#        `cargo test` does unless IOBUF_BROWSER_TESTS=1, since .ci/run runs
#        the browser check once itself.
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

# Every data curve stands out from the white background (WCAG 2 contrast >= 3).
faint=$({ grep -o 'stroke="#[0-9A-Fa-f]\{6\}" stroke-width="2"' "$report" || true; } | cut -c10-15 | sort -u |
    awk '
    function lin(h,   v) { v = h / 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ^ 2.4 }
    function hex(s,   i, n) { n = 0; s = toupper(s); for (i = 1; i <= 2; i++) n = n * 16 + index("0123456789ABCDEF", substr(s, i, 1)) - 1; return n }
    { l = 0.2126 * lin(hex(substr($0, 1, 2))) + 0.7152 * lin(hex(substr($0, 3, 2))) + 0.0722 * lin(hex(substr($0, 5, 2)))
      ratio = 1.05 / (l + 0.05)
      if (ratio < 3) printf "#%s (contrast %.2f:1)\n", $0, ratio }')
if [[ -n "$faint" ]]; then
    echo "FAIL: series drawn in colours too faint to see on white (need 3:1):" >&2
    echo "$faint" >&2
    exit 1
fi

if [[ "${IOBUF_SKIP_BROWSER:-}" == 1 ]]; then
    echo "SKIP: IOBUF_SKIP_BROWSER=1 (static checks passed)"
    exit 77
fi
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

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
url="file://$(realpath "$report")"
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars
    --user-data-dir="$profile")

# This run's own files: the report tests run several checks at once, and a
# shared DOM file let one check read another's page.
run=$(mktemp -d "$work/run.XXXXXX")
dom=$run/dom.html
# Headless Chromium now and then exits 0 with an empty or cut-off DOM on a
# busy machine: a page without the render check's verdict is loaded again
# (up to three times). A verdict of fail is never retried.
for try in 1 2 3; do
    if ! timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" >"$dom" 2>"$run/chromium.log"; then
        echo "FAIL: chromium did not load $report (log: $run/chromium.log)" >&2
        tail -5 "$run/chromium.log" >&2
        exit 1
    fi
    grep -q '<p id="render-check"[^<]*data-status=' "$dom" && break
    echo "no render-check verdict in the DOM (try $try of 3)" >&2
done
timeout 120 "$browser" "${flags[@]}" --window-size=1400,2000 --screenshot="$(realpath -m "$screenshot")" "$url" \
    >>"$run/chromium.log" 2>&1 || echo "warning: no screenshot (log: $run/chromium.log)" >&2

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
