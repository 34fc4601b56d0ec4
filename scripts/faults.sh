#!/usr/bin/env bash
# The fault and security-default tests, at the default scale or a larger one, printing their
# figures (lines starting with [faults]) and a pass/fail summary.
#
#   scripts/faults.sh                                      # 1,000 slowloris, 10,000 idle, 100 MB flood
#   FAULTS_IDLE_CONNECTIONS=19000 FAULTS_SLOWLORIS_CLIENTS=5000 FAULTS_FLOOD_MB=1000 scripts/faults.sh
#   SKIP_BUILD=1 scripts/faults.sh                         # reuse the debug build
#
# Environment: FAULTS_IDLE_CONNECTIONS (10000; the clients live in the test process, so its fd
#   limit must exceed this by ~100: the script raises the soft limit to the hard one),
#   FAULTS_SLOWLORIS_CLIENTS (1000), FAULTS_FLOOD_MB (100), SKIP_BUILD=1.
# Output: the [faults] lines on stdout; the whole log in .build/faults.log. Exit status: swift test's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ulimit -n "$(ulimit -H -n)" 2>/dev/null || true
needed=$(( ${FAULTS_IDLE_CONNECTIONS:-10000} + 100 ))
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt "$needed" ]]; then
    echo "faults: FAULTS_IDLE_CONNECTIONS=${FAULTS_IDLE_CONNECTIONS:-10000} needs $needed open files; ulimit -n is $(ulimit -n)" >&2
    exit 2
fi
if [[ "${SKIP_BUILD:-}" != 1 ]]; then swift build --build-tests; fi
mkdir -p .build
filter='PortechoTests\.Faults|PortechoTests\.PortechoSecurityDefaultsTests|StreamPortsTests\.(BackpressureTests|AcceptLimitTests|UntrustedInputTests|TCPSocketEventBufferTests|SecurityDefaultsTests)|TranscodersTests\.MessageEscapingTests'
status=0
swift test --skip-build --filter "$filter" > .build/faults.log 2>&1 || status=$?
grep -a '^\[faults\]' .build/faults.log || true
grep -a -E '✘|Test run with' .build/faults.log | tail -20
exit "$status"
