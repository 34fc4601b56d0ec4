#!/usr/bin/env bash
# Runs the whole test suite under ThreadSanitizer, then under AddressSanitizer (with
# LeakSanitizer), each in its own scratch path (.build-tsan, .build-asan) so the normal .build
# is not invalidated. Exits non-zero if either build or run fails or reports anything.
#
#   scripts/sanitize.sh                 # thread, then address
#   SANITIZERS=address scripts/sanitize.sh
#
# Environment: SANITIZERS ("thread address"); SANITIZE_OUT (.build-sanitize: one log per run).
# Known false positives and leaks in the toolchain's libraries are suppressed by
# scripts/sanitizers/tsan.supp and lsan.supp, each entry with its reason; child processes
# (portecho under PortechoTests) inherit the options.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SANITIZERS="${SANITIZERS:-thread address}"
SANITIZE_OUT="${SANITIZE_OUT:-$ROOT/.build-sanitize}"
mkdir -p "$SANITIZE_OUT"

# The Swift runtime's crash backtracer would race the sanitizers' own reports.
export SWIFT_BACKTRACE=enable=no
# halt_on_error: the first report fails the run with its stack, not a later symptom.
SUPP="$ROOT/scripts/sanitizers"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$SUPP/lsan.supp:print_suppressions=1}"

status=0
for sanitizer in $SANITIZERS; do
    case "$sanitizer" in
    thread) scratch=.build-tsan ;;
    address) scratch=.build-asan ;;
    *) echo "sanitize: unknown sanitizer '$sanitizer' (thread address)" >&2; exit 2 ;;
    esac
    log="$SANITIZE_OUT/$sanitizer.log"
    echo "sanitize: swift test --sanitize=$sanitizer --scratch-path $scratch (log: $log)" >&2
    start=$SECONDS
    rc=0
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >"$log" 2>&1 || rc=$?
    built=$((SECONDS - start))
    if [[ $rc == 0 ]]; then
        swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" >>"$log" 2>&1 || rc=$?
    fi
    reports=$(grep -a -c -E "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$log" || true)
    summary=$(grep -a -E "^(✔|✘) Test run with|Executed [0-9]+ tests" "$log" | tail -n 2 | tr '\n' ' ')
    echo "sanitize: $sanitizer: exit $rc, $reports sanitizer report(s), build ${built}s, total $((SECONDS - start))s; $summary" >&2
    if [[ $rc != 0 || $reports != 0 ]]; then
        status=1
        grep -a -m 5 -A 12 -E "WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)|error:|✘" "$log" | head -n 60 >&2 || true
    fi
done
exit $status
