#!/usr/bin/env bash
# Builds the DocC documentation of StreamPorts and Transcoders (Sources/*/*.docc and the doc
# comments) with swift-docc-plugin, and fails on any documentation warning: a broken symbol or
# article link, an undocumented parameter, a malformed topic. `--analyze` also prints DocC's
# informational notes, which do not fail the build.
#
#   scripts/docs.sh                      # both modules
#   scripts/docs.sh StreamPorts          # one
#
# The archives land in .build/plugins/Swift-DocC/outputs/MODULE.doccarchive.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(Transcoders StreamPorts)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

status=0
for target in "${targets[@]}"; do
    echo "docs: $target" >&2
    if ! swift package --disable-sandbox generate-documentation --target "$target" \
        --warnings-as-errors --analyze 2>&1 | tee "$log"; then
        status=1
    fi
    # Belt and braces: whatever the plugin's exit status, a warning or an error from DocC
    # itself (the lines after "Building documentation") fails the run. Compiler warnings
    # printed while the module builds are the build's business, not this script's.
    if sed -n '/^Building documentation for/,$p' "$log" | grep -E "^(warning|error):" >/dev/null; then
        status=1
    fi
done
if [[ $status -ne 0 ]]; then
    echo "docs: documentation warnings or errors (above)" >&2
fi
exit $status
