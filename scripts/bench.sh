#!/usr/bin/env bash
# Line-echo benchmark: portecho vs a minimal SwiftNIO line echo (Benchmarks/Sources/NIOLineEcho, the
# best Swift peer) vs a minimal C epoll line echo (Benchmarks/c-epoll-echo, the limit), driven by the
# shared load generator. Rounds x scenarios x servers, interleaved (the server order rotates every
# round); prints medians per scenario and server plus the portecho/NIO and portecho/C ratios.
#
#   scripts/bench.sh                          # all servers, scenarios a b c d e s u (h) ta tb te, 3 rounds
#   SCENARIOS="s s-eucjp s-gb18030 u" SERVERS="portecho nio c" scripts/bench.sh   # transcoding
#   ROUNDS=5 SCENARIOS="a s" scripts/bench.sh
#   SERVERS="nio c" ROUNDS=1 scripts/bench.sh # references only (no portecho build)
#   SERVERS="portecho base nio c" PORTECHO_BASE_BIN=../old/.build/release/portecho scripts/bench.sh
#                                             # before/after: another portecho build, interleaved
#   SCENARIOS="ta tb te" SERVERS="portecho niossl" scripts/bench.sh   # TLS only
#   SCENARIOS="b h" SERVERS="portecho nio" scripts/bench.sh           # the PROXY protocol's cost
#
# Transcoding scenarios: s (Shift_JIS, the load generator's sample re-chunked into 64-byte lines),
# s-eucjp and s-gb18030 (the same text in EUC-JP and GB18030, cut here into lines of exactly 64
# bytes without splitting a character; expected echoes in a file of their own, made by Python's
# codecs), u (UTF-8 with 1-4-byte characters, one pipelined connection). portecho decodes every
# line and encodes it back (--encoding NAME); NIO and C echo the bytes. Data: .build/bench/data.
#
# Scenario h is b's workload through HAProxy (TCP mode, balance leastconn, frontend on 127.0.0.1)
# to 2 backends of the server: two portecho --proxy-protocol --proxy-trusted 127.0.0.1/32,
# sent send-proxy-v2 headers; two NIOLineEcho, sent no header (it cannot read one). Only portecho
# and nio run it (the C echo and NIOSSL skip it); it is in the default SCENARIOS when haproxy is
# installed. The configuration is written to .build/bench/haproxy-h-SERVER.cfg; its peak RSS is
# the two backends' sum (HAProxy's own is not counted). H_PROXY=0 is the control: portecho
# behind the same HAProxy without --proxy-protocol and without send-proxy-v2.
#
# TLS scenarios (ta: 1 connection pipelined, tb: 64 connections, te: new connections, each a full
# handshake + one line) run portecho with --tls-cert against Benchmarks/NIOSSLLineEcho (SwiftNIO +
# NIOSSL channel handlers, the best Swift peer); the plaintext servers skip them and NIOSSLLineEcho
# skips the plaintext ones. A throwaway CA and server certificate (IP SAN 127.0.0.1) are made
# with the openssl tool in .build/bench/tls; the load generator verifies them (it links OpenSSL).
#
# Environment: ROUNDS (3), SCENARIOS ("a b c d e s u h ta tb te"; no h without haproxy; s-eucjp
#   and s-gb18030 on demand),
#   SERVERS ("portecho nio c niossl"; base: PORTECHO_BASE_BIN, another portecho build, run as
#   portecho is, for before/after ratios),
#   TOOLS (../shared/tools: loadgen source and data), SKIP_BUILD=1 (reuse built binaries),
#   PORTECHO_ADDRESS (127.0.0.1:0; h's backends always listen on 127.0.0.1:0), PORTECHO_ARGS (more
#   portecho serve options), PORTECHO_BIN (the release build's), BENCH_BIN (the directory holding
#   NIOLineEcho and NIOSSLLineEcho; default: the Benchmarks build's), LOADGEN (.build/loadgen),
#   HAPROXY (haproxy on PATH), H_PROXY (1; 0: h without the PROXY protocol), LOADGEN_TIMEOUT (60 s per run), START_TIMEOUT (30 s),
#   BUILD_TIMEOUT (3600 s per swift build; it may wait on another SwiftPM's lock).
# Builds: portecho from the root package (.build); NIOLineEcho, NIOSSLLineEcho (and TranscoderBench) from the
# Benchmarks package, in its own scratch path .build-bench, so the root package builds no
# reference servers; the C echo and the load generator with gcc, into .build.
# Output: the tables on stdout; raw JSON lines (loadgen's + round/scenario/server/rss) in
# .build/bench/results.jsonl; server logs in .build/bench/*.log. Traffic stays on 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ROUNDS="${ROUNDS:-3}"
HAPROXY="${HAPROXY:-$(command -v haproxy || true)}"
if [[ -n "$HAPROXY" ]]; then DEFAULT_SCENARIOS="a b c d e s u h ta tb te"; else DEFAULT_SCENARIOS="a b c d e s u ta tb te"; fi
SCENARIOS="${SCENARIOS:-$DEFAULT_SCENARIOS}"
H_PROXY="${H_PROXY:-1}"
SERVERS="${SERVERS:-portecho nio c niossl}"
TOOLS="${TOOLS:-$ROOT/../shared/tools}"
PORTECHO_ADDRESS="${PORTECHO_ADDRESS:-127.0.0.1:0}"
LOADGEN_TIMEOUT="${LOADGEN_TIMEOUT:-60}"
START_TIMEOUT="${START_TIMEOUT:-30}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
OUT="$ROOT/.build/bench"
RESULTS="$OUT/results.jsonl"
SJIS="$TOOLS/data/sample-sjis.txt"
DATA="$ROOT/.build/bench/data"

die() { echo "bench: $*" >&2; exit 1; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ "$H_PROXY" =~ ^[01]$ ]] || die "H_PROXY must be 0 or 1"
for s in $SCENARIOS; do
    [[ "$s" =~ ^([abcdeshu]|ta|tb|te|s-eucjp|s-gb18030)$ ]] ||
        die "unknown scenario '$s' (a b c d e s s-eucjp s-gb18030 u h ta tb te)"
done
for v in $SERVERS; do [[ "$v" =~ ^(portecho|base|nio|c|niossl)$ ]] || die "unknown server '$v' (portecho base nio c niossl)"; done
if [[ " $SERVERS " == *" base "* ]]; then
    [[ -x "${PORTECHO_BASE_BIN:-}" ]] || die "server 'base' needs PORTECHO_BASE_BIN (another portecho build)"
fi
TLSDIR="$ROOT/.build/bench/tls"
[[ -f "$TOOLS/loadgen/loadgen.c" ]] || die "no load generator at $TOOLS/loadgen/loadgen.c (set TOOLS)"
command -v python3 >/dev/null || die "python3 is required"
if [[ " $SCENARIOS " == *" h "* ]]; then
    [[ -n "$HAPROXY" && -x "$HAPROXY" ]] || die "scenario h needs haproxy (apt-get install haproxy, or set HAPROXY)"
    command -v ss >/dev/null || die "scenario h needs ss (iproute2) to see HAProxy listening"
fi

# Scenario flags, as in $TOOLS/README.md (lines of 64 B unless said).
scenario_flags() {
    case "$1" in
    a) echo "--conns 1 --lines 200000 --pipeline 64 --warmup 1 --verify" ;;
    b | h) echo "--conns 64 --lines 20000 --pipeline 16 --warmup 1 --verify" ;;
    c) echo "--conns 1000 --lines 200 --pipeline 1 --warmup 1 --verify" ;;
    d) echo "--conns 1 --lines 5000 --size 16384 --pipeline 8 --warmup 1 --verify" ;;
    e) echo "--connect-only --conns 5000 --concurrency 16 --verify" ;;
    s) echo "--conns 8 --lines 20000 --pipeline 16 --payload sjis-file $SJIS --size 64 --warmup 1 --verify" ;;
    s-eucjp | s-gb18030)
        echo "--conns 8 --lines 20000 --pipeline 16 --payload file $DATA/${1#s-}.txt" \
            "--expect-file $DATA/${1#s-}-echo.txt --warmup 1 --verify" ;;
    u) echo "--conns 1 --lines 200000 --pipeline 64 --payload utf8 --warmup 1 --verify" ;;
    ta) echo "--conns 1 --lines 200000 --pipeline 64 --warmup 1 --verify --tls --tls-ca $TLSDIR/ca.pem" ;;
    tb) echo "--conns 64 --lines 20000 --pipeline 16 --warmup 1 --verify --tls --tls-ca $TLSDIR/ca.pem" ;;
    te) echo "--connect-only --conns 2000 --concurrency 16 --verify --tls --tls-ca $TLSDIR/ca.pem" ;;
    esac
}

is_tls() { [[ "$1" == t? ]]; }
# Whether SERVER runs SCENARIO: portecho runs all; the plaintext references skip TLS, NIOSSL the
# rest; h (through HAProxy) only portecho and nio.
applies() {
    case "$1" in
    portecho | base) return 0 ;;
    niossl) is_tls "$2" ;;
    nio) ! is_tls "$2" ;;
    *) ! is_tls "$2" && [[ "$2" != h ]] ;;
    esac
}

# ---- cleanup: never leave a server behind ---------------------------------------------------
# SERVER_PID: the server (h: the first backend); EXTRA_PIDS: h's second backend and HAProxy.
SERVER_PID=""
EXTRA_PIDS=()
cleanup() {
    local pid live=()
    for pid in "${EXTRA_PIDS[@]}" $SERVER_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            live+=("$pid")
        fi
    done
    if ((${#live[@]})); then
        sleep 0.5
        for pid in "${live[@]}"; do
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
    fi
    SERVER_PID=""
    EXTRA_PIDS=()
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# ---- build -----------------------------------------------------------------------------------
mkdir -p "$OUT"
want() { [[ " $SERVERS " == *" $1 "* ]]; }
# The Benchmarks package: NIOLineEcho and TranscoderBench.
BENCH_BUILD=(swift build -c release --package-path Benchmarks --scratch-path "$ROOT/.build-bench")

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "bench: building (release) ..." >&2
    if want portecho; then
        timeout "$BUILD_TIMEOUT" swift build -c release --product portecho >&2 ||
            die "building portecho failed; SERVERS=\"nio c\" runs the references only"
    fi
    if want nio || want niossl; then
        timeout "$BUILD_TIMEOUT" "${BENCH_BUILD[@]}" >&2 || die "building the Benchmarks package failed"
    fi
    # The load generator speaks TLS too (OpenSSL, libssl-dev).
    gcc -O2 -Wall -o .build/loadgen "$TOOLS/loadgen/loadgen.c" -lssl -lcrypto -lpthread
    gcc -O2 -Wall -o .build/epoll_echo Benchmarks/c-epoll-echo/epoll_echo.c -lpthread
fi
BIN=""
if want portecho && [[ -z "${PORTECHO_BIN:-}" ]]; then
    BIN="$(timeout "$BUILD_TIMEOUT" swift build -c release --show-bin-path)"
fi
BENCH_BIN="${BENCH_BIN:-}"
if [[ -z "$BENCH_BIN" ]] && { want nio || want niossl; }; then
    BENCH_BIN="$(timeout "$BUILD_TIMEOUT" "${BENCH_BUILD[@]}" --show-bin-path)"
fi
LOADGEN="${LOADGEN:-$ROOT/.build/loadgen}"
[[ -x "$LOADGEN" ]] || die "missing $LOADGEN"
PORTECHO_BIN="${PORTECHO_BIN:-$BIN/portecho}"
if want portecho; then [[ -x "$PORTECHO_BIN" ]] || die "missing $PORTECHO_BIN"; fi
if want nio; then [[ -x "$BENCH_BIN/NIOLineEcho" ]] || die "missing $BENCH_BIN/NIOLineEcho"; fi
if want c; then [[ -x .build/epoll_echo ]] || die "missing .build/epoll_echo"; fi
if want niossl; then [[ -x "$BENCH_BIN/NIOSSLLineEcho" ]] || die "missing $BENCH_BIN/NIOSSLLineEcho"; fi
if [[ " $SCENARIOS " == *" t"* ]]; then
    command -v openssl >/dev/null || die "the TLS scenarios need the openssl tool"
    mkdir -p "$TLSDIR"
    (
        cd "$TLSDIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
            -subj "/CN=bench CA" -days 2 -addext basicConstraints=critical,CA:TRUE 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
            -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem 2>/dev/null
    ) || die "cannot make the TLS certificates in $TLSDIR"
fi

# The EUC-JP and GB18030 payloads: the sample text in that charset, cut into 256 lines of
# exactly 64 bytes (never inside a character; padded with '.'), and the echo each line must get,
# decoded and encoded again by Python's codecs.
if [[ " $SCENARIOS " == *" s-"* ]]; then
    mkdir -p "$DATA"
    python3 - "$TOOLS/data/sample-utf8.txt" "$DATA" <<'PY' || die "cannot make the s-eucjp / s-gb18030 data"
import sys
text = open(sys.argv[1], encoding="utf-8").read().replace("\n", " ")
for name, codec in (("eucjp", "euc_jp"), ("gb18030", "gb18030")):
    chars = [c.encode(codec) for c in text if c.encode(codec, errors="ignore")]
    lines, k = [], 0
    while len(lines) < 256:
        line = b""
        while len(line) + len(chars[k % len(chars)]) <= 64:
            line += chars[k % len(chars)]
            k += 1
        lines.append(line + b"." * (64 - len(line)))
    with open(f"{sys.argv[2]}/{name}.txt", "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines))
    with open(f"{sys.argv[2]}/{name}-echo.txt", "wb") as f:
        f.write(b"".join(l.decode(codec).encode(codec) + b"\n" for l in lines))
PY
fi

# 1000 connections (scenario c) need more descriptors than the usual soft limit of 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- one run ---------------------------------------------------------------------------------
server_cmd() { # server scenario -> command words on stdout, one per line
    case "$1" in
    portecho | base)
        local bin="$PORTECHO_BIN"
        [[ "$1" == base ]] && bin="$PORTECHO_BASE_BIN"
        # --log-level notice: no access-log line per connection (the references log nothing);
        # PORTECHO_ARGS adds options (e.g. "--metrics 127.0.0.1:0" to measure the metrics' cost).
        # h: a backend behind HAProxy on loopback, sent send-proxy-v2 headers (not with H_PROXY=0).
        if [[ "$2" == h && "$H_PROXY" == 1 ]]; then
            printf '%s\n' "$bin" serve 127.0.0.1:0 --eol lf --log-level notice \
                --proxy-protocol --proxy-trusted 127.0.0.1/32 ${PORTECHO_ARGS:-}
        elif [[ "$2" == h ]]; then
            printf '%s\n' "$bin" serve 127.0.0.1:0 --eol lf --log-level notice ${PORTECHO_ARGS:-}
        else
            printf '%s\n' "$bin" serve "$PORTECHO_ADDRESS" --eol lf --log-level notice ${PORTECHO_ARGS:-}
        fi
        case "$2" in
        s) printf '%s\n' --encoding Shift_JIS ;;
        s-eucjp) printf '%s\n' --encoding EUC-JP ;;
        s-gb18030) printf '%s\n' --encoding GB18030 ;;
        esac
        if is_tls "$2"; then printf '%s\n' --tls-cert "$TLSDIR/server.pem" --tls-key "$TLSDIR/server.key"; fi ;;
    nio) printf '%s\n' "$BENCH_BIN/NIOLineEcho" --host 127.0.0.1 --port 0 ;;
    niossl) printf '%s\n' "$BENCH_BIN/NIOSSLLineEcho" --host 127.0.0.1 --port 0 --cert "$TLSDIR/server.pem" --key "$TLSDIR/server.key" ;;
    c) printf '%s\n' "$ROOT/.build/epoll_echo" 0 ;;
    esac
}

# Starts the server; sets SERVER_PID and PORT. TAG (optional) names a second instance's stdout file.
start_server() {
    local server=$1 scenario=$2 tag=${3:-} out="$OUT/$1${3:-}.out" log="$OUT/$1.log" cmd line
    mapfile -t cmd < <(server_cmd "$server" "$scenario")
    : >"$out"
    echo "== round $round scenario $scenario${tag:+ ($tag)}: ${cmd[*]}" >>"$log"
    "${cmd[@]}" >"$out" 2>>"$log" </dev/null &
    SERVER_PID=$!
    local deadline=$((SECONDS + START_TIMEOUT))
    PORT=""
    while ((SECONDS < deadline)); do
        line=""
        [[ "$(wc -l <"$out")" -ge 1 ]] && line="$(head -n 1 "$out")" # a complete first line
        if [[ "$line" =~ ^listening\ on\ .*:([0-9]+)$ ]]; then
            PORT="${BASH_REMATCH[1]}"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench: $server did not print 'listening on HOST:PORT' (see $log)" >&2
    cleanup
    return 1
}

# Scenario h: two backends of SERVER (the second's PID in EXTRA_PIDS, the first's in SERVER_PID)
# behind HAProxy (TCP mode, leastconn; send-proxy-v2 to portecho, no header to nio) on a free
# loopback port; sets PORT to HAProxy's frontend port and adds HAProxy's PID to EXTRA_PIDS.
start_haproxy_stack() {
    local server=$1 p1 p2 send="" cfg="$OUT/haproxy-h-$1.cfg" log="$OUT/haproxy.log"
    start_server "$server" h .b2 || return 1
    EXTRA_PIDS+=("$SERVER_PID")
    p2=$PORT
    start_server "$server" h || return 1
    p1=$PORT
    [[ "$server" == portecho && "$H_PROXY" == 1 ]] && send=" send-proxy-v2"
    PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    cat >"$cfg" <<EOF
# scripts/bench.sh scenario h, server $server: written for each run
global
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend echo
    bind 127.0.0.1:$PORT
    maxconn 2000
    default_backend echo

backend echo
    balance leastconn
    server b0 127.0.0.1:$p1$send
    server b1 127.0.0.1:$p2$send
EOF
    echo "== round $round scenario h server $server: $HAPROXY -db -f $cfg" >>"$log"
    "$HAPROXY" -db -f "$cfg" >>"$log" 2>&1 </dev/null &
    local pid=$! deadline=$((SECONDS + START_TIMEOUT))
    EXTRA_PIDS+=("$pid")
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || break
        if [[ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]]; then return 0; fi
        sleep 0.05
    done
    echo "bench: haproxy did not listen on 127.0.0.1:$PORT (see $log)" >&2
    cleanup
    return 1
}

# Starts what the loadgen talks to: the server, or for h two backends behind HAProxy; sets PORT.
start_stack() {
    if [[ "$2" == h ]]; then start_haproxy_stack "$1"; else start_server "$1" "$2"; fi
}

# Stops the server and, for h, HAProxy and the second backend: SIGTERM, up to 5 s, SIGKILL.
stop_server() {
    local pid i all=("${EXTRA_PIDS[@]}" $SERVER_PID)
    for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${all[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PID=""
    EXTRA_PIDS=()
}

peak_rss_kib() { # VmHWM of the server process (h: the sum of both backends'), in KiB
    local pid kib sum=0
    local pids=("$SERVER_PID")
    [[ "$1" == h ]] && pids+=("${EXTRA_PIDS[0]}")
    for pid in "${pids[@]}"; do
        kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)"
        sum=$((sum + ${kib:-0}))
    done
    echo "$sum"
}

record() { # round scenario server rss rc json  -> one line in results.jsonl
    python3 - "$@" >>"$RESULTS" <<'PY'
import json, sys
rnd, scen, server, rss, rc, raw = sys.argv[1:7]
try:
    d = json.loads(raw)
except ValueError:
    d = {"errors": 1, "no_result": True}
d = {"round": int(rnd), "scenario": scen, "server": server,
     "peak_rss_kib": int(rss or 0), "loadgen_rc": int(rc), **d}
print(json.dumps(d))
print(f"bench: round {rnd} {scen} {server:<8} {d.get('lines_per_s', 0):>12,.0f}/s  p99 {d.get('p99_us', 0)} us"
      f"  rss {d['peak_rss_kib']} KiB  rc {rc}", file=sys.stderr)
PY
}

# ---- the rounds ------------------------------------------------------------------------------
: >"$RESULTS"
read -r -a server_list <<<"$SERVERS"
nserv=${#server_list[@]}
echo "bench: $ROUNDS round(s), scenarios: $SCENARIOS, servers: $SERVERS" >&2
for ((round = 1; round <= ROUNDS; round++)); do
    for scenario in $SCENARIOS; do
        read -r -a flags <<<"$(scenario_flags "$scenario")"
        for ((k = 0; k < nserv; k++)); do
            server=${server_list[$(((k + round - 1) % nserv))]} # rotate the order each round
            applies "$server" "$scenario" || continue
            if ! start_stack "$server" "$scenario"; then
                record "$round" "$scenario" "$server" 0 99 ""
                continue
            fi
            rc=0
            json="$(timeout -k 5 $((LOADGEN_TIMEOUT + 15)) "$LOADGEN" --host 127.0.0.1 --port "$PORT" \
                --timeout "$LOADGEN_TIMEOUT" "${flags[@]}" 2>>"$OUT/loadgen.log" |
                grep '^{' | tail -n 1)" || rc=$?
            rss="$(peak_rss_kib "$scenario")"
            stop_server
            record "$round" "$scenario" "$server" "$rss" "$rc" "$json"
        done
    done
done

# ---- the table -------------------------------------------------------------------------------
python3 - "$RESULTS" "$ROUNDS" "$SCENARIOS" "$SERVERS" "$H_PROXY" <<'PY'
import json, statistics, sys
path, rounds, scenarios, servers = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
h_proxy = sys.argv[5] == "1"
rows = [json.loads(l) for l in open(path) if l.strip()]
names = {"portecho": "portecho", "base": "portecho (base)", "nio": "NIO", "c": "C epoll", "niossl": "NIO+NIOSSL"}
unit = {"e": "conns/s", "te": "conns/s"}

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def fmt(x, nd=0):
    return "–" if x != x else f"{x:,.{nd}f}"

print(f"\n### Line echo, median of {rounds} round(s)\n")
print("| scen | server | lines/s | MB/s | p50 µs | p99 µs | peak RSS MiB | mism+err | failed runs |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
medrate = {}
for s in scenarios:
    for v in servers:
        rs = [r for r in rows if r["scenario"] == s and r["server"] == v]
        if not rs:
            medrate[s, v] = float("nan")
            continue   # this server does not run this scenario
        ok = [r for r in rs if not r.get("no_result")]
        rate = med([r["lines_per_s"] for r in ok])
        medrate[s, v] = rate
        bad = sum(int(r.get("mismatches", 0)) + int(r.get("errors", 0)) for r in rs)
        failed = sum(1 for r in rs if r["loadgen_rc"] != 0)
        label = fmt(rate) + (f" {unit[s]}" if s in unit else "")
        print(f"| {s} | {names[v]} | {label} | {fmt(med([r['MB_per_s'] for r in ok]), 1)} "
              f"| {fmt(med([r['p50_us'] for r in ok]), 1)} | {fmt(med([r['p99_us'] for r in ok]), 1)} "
              f"| {fmt(med([r['peak_rss_kib'] / 1024 for r in ok]), 1)} | {bad} | {failed}/{len(rs)} |")

def ratio(s, a, b):
    """The median of the per-round ratios (each round runs both servers back to back), then
    the ratio of the medians in brackets."""
    if a not in servers or b not in servers:
        return "–"
    x, y = medrate[s, a], medrate[s, b]
    whole = "–" if not (x == x and y == y and y > 0) else f"{x / y:.2f}"
    by_round = {}
    for r in rows:
        if r["scenario"] == s and r["server"] in (a, b) and not r.get("no_result"):
            by_round.setdefault(r["round"], {})[r["server"]] = r["lines_per_s"]
    per = [v[a] / v[b] for v in by_round.values() if a in v and b in v and v[b] > 0]
    return f"{statistics.median(per):.2f} ({whole})" if per else whole

plain = [s for s in scenarios if not s.startswith("t")]
tls = [s for s in scenarios if s.startswith("t")]
if plain:
    print("\n### Ratios of lines/s (e: conns/s): median of the per-round ratios (ratio of the medians)\n")
    base = "base" in servers
    print("| scen | portecho/NIO | portecho/C | NIO/C |" + (" base/NIO | portecho/base |" if base else ""))
    print("|---|---:|---:|---:|" + ("---:|---:|" if base else ""))
    for s in plain:
        extra = f" {ratio(s, 'base', 'nio')} | {ratio(s, 'portecho', 'base')} |" if base else ""
        print(f"| {s} | {ratio(s, 'portecho', 'nio')} | {ratio(s, 'portecho', 'c')} | {ratio(s, 'nio', 'c')} |" + extra)
    if "h" in plain:
        print("\nh: b's workload through HAProxy (leastconn) to 2 backends; "
              + ("portecho's read send-proxy-v2\nheaders, NIO's get none"
                 if h_proxy else "H_PROXY=0: no PROXY protocol\n(control)")
              + "; its peak RSS is the two backends' sum.")
if tls:
    print("\n### TLS: ratios of lines/s (te: handshakes + one line per second), per round (of the medians)\n")
    print("| scen | portecho/NIO+NIOSSL |")
    print("|---|---:|")
    for s in tls:
        print(f"| {s} | {ratio(s, 'portecho', 'niossl')} |")
print(f"\nraw results: {path}")
PY
