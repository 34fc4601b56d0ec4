#!/usr/bin/env python3
"""RSS per idle connection of a portecho build, per encoding.

    python3 scripts/idle-rss.py [--connections N] PORTECHO [PORTECHO ...]

For each binary and encoding (Shift_JIS, UTF-8): starts `portecho serve 127.0.0.1:0`, warms it
up with 50 short connections, reads VmRSS, opens N connections (2,000 by default) that each
send one line and read its echo, waits 1 s, reads VmRSS again and prints the difference per
connection in KiB. Every connection and the server are closed at the end (the server killed by
PID if it does not stop on SIGTERM). Loopback only.
"""
import argparse
import socket
import subprocess
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def per_connection(binary, encoding, count):
    codec = "shift_jis" if encoding == "Shift_JIS" else "utf-8"
    server = subprocess.Popen(
        [binary, "serve", "127.0.0.1:0", "--log-level", "notice", "--eol", "lf", "--encoding", encoding],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sockets = []
    try:
        port = int(server.stdout.readline().decode().rsplit(":", 1)[1])
        for i in range(50):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(f"日本語テキスト {i}\n".encode(codec))
                s.recv(100)
        time.sleep(0.5)
        before = rss_kib(server.pid)
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(f"日本語テキスト {i}\n".encode(codec))
            sockets.append(s)
        for s in sockets:
            s.recv(100)
        time.sleep(1.0)
        return (rss_kib(server.pid) - before) / count
    finally:
        for s in sockets:
            s.close()
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    for binary in args.binaries:
        for encoding in ("Shift_JIS", "UTF-8"):
            kib = per_connection(binary, encoding, args.connections)
            print(f"{binary}  {encoding:<9}  {kib:6.2f} KiB of RSS per idle connection")


if __name__ == "__main__":
    main()
