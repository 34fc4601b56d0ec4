#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzzing/ (outside `swift test`) and runs each for a bounded time
# on a copy of its committed seed corpus (Fuzzing/corpus/<target>; the copy lives in a temporary
# directory and is deleted, so the committed corpus never grows). Prints, per target, the
# executions, executions per second and findings from libFuzzer's final statistics, and exits
# non-zero if any target crashed, leaked, timed out or ran out of memory.
#
#   scripts/fuzz.sh                                  # every target, 30 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh                 # longer runs
#   FUZZ_TARGETS="LineReaderFuzzer" FUZZ_SECONDS=60 scripts/fuzz.sh
#   FUZZ_ASAN=0 FUZZ_SECONDS=300 FUZZ_PARALLEL=2 scripts/fuzz.sh   # throughput runs, both cores
#   FUZZ_ASAN=0 FUZZ_RUNS=10000000 FUZZ_SECONDS=7200 scripts/fuzz.sh   # 10 million executions each
#
# Environment: FUZZ_SECONDS (30) per target; FUZZ_TARGETS (all five); FUZZ_TIMEOUT (10 s for one
# input before libFuzzer reports a hang); FUZZ_RSS_MB (2048); FUZZ_MAX_LEN (1024 bytes per input);
# FUZZ_ASAN (1: AddressSanitizer and LeakSanitizer on; 0: coverage only, faster);
# FUZZ_RUNS (none: stop after this many executions, or FUZZ_SECONDS, whichever comes first);
# FUZZ_SEED (none: libFuzzer picks one; a number makes the mutation sequence repeatable — CI
# uses 1, so that its verdict on a submission does not depend on the draw);
# FUZZ_PARALLEL (1: targets one after another; 2: two at a time); FUZZ_OUT (fuzz-out: logs and
# crash/leak/timeout/oom inputs, one directory per target); SKIP_BUILD=1 (reuse the binaries).
# A finding replays with `<binary> <file>` (binaries in .build-fuzz/release, or
# .build-fuzz-noasan/release with FUZZ_ASAN=0).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
FUZZ_TARGETS="${FUZZ_TARGETS:-AddressFuzzer UTF8DecoderFuzzer ICUDecoderFuzzer LineReaderFuzzer ProxyHeaderFuzzer TLSRecordFuzzer}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
FUZZ_RSS_MB="${FUZZ_RSS_MB:-2048}"
FUZZ_MAX_LEN="${FUZZ_MAX_LEN:-1024}"
FUZZ_ASAN="${FUZZ_ASAN:-1}"
FUZZ_PARALLEL="${FUZZ_PARALLEL:-1}"
FUZZ_OUT="${FUZZ_OUT:-$ROOT/fuzz-out}"
FUZZ_RUNS="${FUZZ_RUNS:-}"
FUZZ_SEED="${FUZZ_SEED:-}"

die() { echo "fuzz: $*" >&2; exit 2; }
for n in "$FUZZ_SECONDS" "$FUZZ_TIMEOUT" "$FUZZ_RSS_MB" "$FUZZ_MAX_LEN" "$FUZZ_PARALLEL"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS, FUZZ_TIMEOUT, FUZZ_RSS_MB, FUZZ_MAX_LEN and FUZZ_PARALLEL are positive integers"
done
[[ -z "$FUZZ_RUNS" || "$FUZZ_RUNS" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_RUNS is a positive integer"
[[ -z "$FUZZ_SEED" || "$FUZZ_SEED" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SEED is a positive integer"
for t in $FUZZ_TARGETS; do
    [[ -d "Fuzzing/corpus/$t" ]] || die "unknown target '$t' (no Fuzzing/corpus/$t)"
done

# ---- build ---------------------------------------------------------------------------------
# `--sanitize=fuzzer` makes SwiftPM link libFuzzer's main instead of the executables' own entry
# point. The Swift driver keeps only the last -sanitize= option, so both sanitizers go in one.
if [[ "$FUZZ_ASAN" == 1 ]]; then
    SCRATCH=.build-fuzz
    FLAGS=(--sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address)
else
    SCRATCH=.build-fuzz-noasan
    FLAGS=(--sanitize=fuzzer)
fi
BUILD=(swift build --package-path Fuzzing --scratch-path "$SCRATCH" -c release "${FLAGS[@]}" -Xswiftc -enable-testing)
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "fuzz: ${BUILD[*]}" >&2
    # ld.gold warns about every exported ASan symbol; keep the log readable.
    set +e
    "${BUILD[@]}" 2>&1 | grep -v "Cannot export local symbol" >&2
    build_rc=${PIPESTATUS[0]}
    set -e
    [[ "$build_rc" == 0 ]] || die "build failed"
fi
BIN="$ROOT/$SCRATCH/release"
for t in $FUZZ_TARGETS; do [[ -x "$BIN/$t" ]] || die "missing $BIN/$t"; done

# ---- run -----------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/streamports-fuzz.XXXXXX")"
# Stop our own fuzzers (FUZZ_PARALLEL) if interrupted, then drop the corpus copies.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$FUZZ_OUT"

# The Swift runtime's crash backtracer would race libFuzzer's and ASan's own reports.
export SWIFT_BACKTRACE=enable=no
# Frames from the Swift runtime and libFuzzer are symbolized; leaks are reported.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}"

run_target() { # target -> exit status of libFuzzer; log and artifacts in $FUZZ_OUT/<target>
    local t=$1 out="$FUZZ_OUT/$1"
    rm -rf "$out" "$WORK/$t"
    mkdir -p "$out"
    cp -R "Fuzzing/corpus/$t" "$WORK/$t"
    # libFuzzer stops itself after max_total_time; `timeout` only guards against a stuck runtime.
    timeout -k 10 $((FUZZ_SECONDS + 300)) "$BIN/$t" "$WORK/$t" \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
        -max_len="$FUZZ_MAX_LEN" -print_final_stats=1 -artifact_prefix="$out/" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} ${FUZZ_SEED:+-seed=$FUZZ_SEED} \
        >"$out/fuzz.log" 2>&1
}

stat_of() { # log name -> value of libFuzzer's final "stat::name"
    awk -v key="stat::$2:" '$1 == key { print $2 }' "$1" | tail -n 1
}

declare -A RC
pending=()
for t in $FUZZ_TARGETS; do
    echo "fuzz: $t for ${FUZZ_SECONDS} s${FUZZ_RUNS:+ or $FUZZ_RUNS executions} ..." >&2
    if [[ "$FUZZ_PARALLEL" == 1 ]]; then
        rc=0; run_target "$t" || rc=$?; RC[$t]=$rc
    else
        run_target "$t" & pending+=("$!:$t")
        if (( ${#pending[@]} >= FUZZ_PARALLEL )); then
            entry=${pending[0]}; pending=("${pending[@]:1}")
            rc=0; wait "${entry%%:*}" || rc=$?; RC[${entry#*:}]=$rc
        fi
    fi
done
for entry in "${pending[@]}"; do
    rc=0; wait "${entry%%:*}" || rc=$?; RC[${entry#*:}]=$rc
done

# ---- report --------------------------------------------------------------------------------
status=0
printf '\n%-20s %8s %14s %10s %10s %8s  %s\n' target seconds executions exec/s corpus rss_mb findings
for t in $FUZZ_TARGETS; do
    out="$FUZZ_OUT/$t"
    log="$out/fuzz.log"
    execs="$(stat_of "$log" number_of_executed_units)"
    rate="$(stat_of "$log" average_exec_per_sec)"
    rss="$(stat_of "$log" peak_rss_mb)"
    corpus="$(find "$WORK/$t" -type f | wc -l)"
    mapfile -t found < <(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort)
    summary="none"
    if (( ${#found[@]} > 0 )) || [[ "${RC[$t]}" != 0 ]] || [[ -z "$execs" ]]; then
        status=1
        summary="exit ${RC[$t]}"
        for f in "${found[@]}"; do summary+=", $(basename "$f")"; done
        grep -a -m 3 -E "FUZZ PROPERTY VIOLATED|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|SUMMARY" "$log" | cut -c1-400 >&2 || true
    fi
    printf '%-20s %8s %14s %10s %10s %8s  %s\n' "$t" "$FUZZ_SECONDS" "${execs:-?}" "${rate:-?}" "$corpus" "${rss:-?}" "$summary"
done
echo "logs and findings: $FUZZ_OUT/<target>/ (replay a finding: $BIN/<target> <file>)"
exit $status
