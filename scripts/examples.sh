#!/usr/bin/env bash
# Builds the Examples package (EchoServer, CharsetGateway, ChatRoom) and runs its tests, which
# start each example as a child process and talk to it over 127.0.0.1. Its own scratch path, so
# that it neither rebuilds nor disturbs the root package's .build; warnings fail the build.
#
#   scripts/examples.sh                  # build, then test
#   SKIP_TESTS=1 scripts/examples.sh     # build only
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-examples
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

swift build --package-path Examples --scratch-path "$scratch" --build-tests 2>&1 | tee "$log"
# The examples must compile without warnings (in their own files; dependencies are not ours
# to fix here).
if grep -E "(^/.*/Examples/.*: warning:|^warning: 'examples')" "$log"; then
    echo "examples: warnings in the examples (above)" >&2
    exit 1
fi
if [[ "${SKIP_TESTS:-0}" != 1 ]]; then
    EXAMPLES_BIN_DIR="$(swift build --package-path Examples --scratch-path "$scratch" --show-bin-path)" \
        swift test --package-path Examples --scratch-path "$scratch" --skip-build
fi
