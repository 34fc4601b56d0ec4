#!/usr/bin/env bash
# Measures a zero-downtime restart of `portecho serve --reuse-port`: under a steady stream of
# new connections (each connects, sends a line, reads its echo, closes), a second portecho
# starts on the same port with --reuse-port, then the first gets SIGTERM. Every attempt that
# does not end with its exact echo counts as failed (refused, reset, closed before the echo).
# Done ROUNDS times with net.ipv4.tcp_migrate_req at 0, then at 1 (as root; the setting is
# restored afterwards), and both figures printed.
#
#   scripts/restart.sh                       # release build of portecho, 5 rounds each
#   PORTECHO_BIN=.build/debug/portecho ROUNDS=3 CLIENTS=8 scripts/restart.sh
#
# Linux resets the connections still queued on a listening socket that closes, unless
# tcp_migrate_req=1 (Linux 5.14+) moves them to another socket of the same SO_REUSEPORT group.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-5}"
clients="${CLIENTS:-4}"
bin="${PORTECHO_BIN:-}"
if [[ -z "$bin" ]]; then
    swift build -c release --product portecho >&2
    bin="$(swift build -c release --show-bin-path)/portecho"
fi
sysctl_file=/proc/sys/net/ipv4/tcp_migrate_req

measure() {  # prints "attempts failed" summed over the rounds
    python3 - "$bin" "$rounds" "$clients" <<'PY'
import os, signal, socket, subprocess, sys, threading, time

binary, rounds, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(port):
    p = subprocess.Popen([binary, "serve", f"127.0.0.1:{port}", "--reuse-port", "--grace", "5",
                          "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    assert line == f"listening on 127.0.0.1:{port}\n", line
    return p

total = failed = 0
for r in range(rounds):
    port = free_port()
    old = start(port)
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def client(i):
        n = 0
        while not stop.is_set():
            n += 1
            line = f"client {i} attempt {n}"
            ok = False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall((line + "\n").encode())
                    want = (line + "\r\n").encode()
                    got = b""
                    while len(got) < len(want):
                        chunk = s.recv(256)
                        if not chunk:
                            break
                        got += chunk
                    ok = got == want
            except OSError:
                pass
            with lock:
                counts["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads: t.start()
    time.sleep(0.5)
    new = start(port)
    time.sleep(0.3)
    old.send_signal(signal.SIGTERM)
    old.wait(timeout=30)
    time.sleep(0.5)
    stop.set()
    for t in threads: t.join()
    new.send_signal(signal.SIGTERM)
    new.wait(timeout=30)
    total += counts["ok"] + counts["failed"]
    failed += counts["failed"]
print(total, failed)
PY
}

original="$(cat "$sysctl_file" 2>/dev/null || echo "")"
restore() { if [[ -n "$original" ]]; then echo "$original" >"$sysctl_file" 2>/dev/null || true; fi; }
trap restore EXIT

for value in 0 1; do
    if [[ -z "$original" ]]; then
        echo "tcp_migrate_req=$value: not measured (no $sysctl_file: kernel before 5.14?)"
        continue
    fi
    if ! echo "$value" >"$sysctl_file" 2>/dev/null; then
        echo "tcp_migrate_req=$value: not measured ($sysctl_file is not writable here)"
        continue
    fi
    read -r attempts failures < <(measure)
    echo "tcp_migrate_req=$value: $failures failed of $attempts connection attempts over $rounds restarts ($clients clients)"
done
