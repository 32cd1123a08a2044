#!/usr/bin/python3
"""tcp.py — the lab's mini TCP listener and probe (stdlib only, runs inside the guest).

  tcp.py listen ADDR PORT NAME [READY_FILE]
        accept connections on ADDR:PORT forever; greet each with "lab-listener NAME" and
        log "accepted from IP:PORT" (with a timestamp) to stdout. Touches READY_FILE once
        listening. Binds with IP_FREEBIND so ADDR may appear later (e.g. on ppp0).
  tcp.py probe ADDR PORT [TIMEOUT_S]
        connect, read the greeting, print it; exit 0 on a greeting, 1 otherwise (reason on stderr).
"""
import socket
import sys
import time

IP_FREEBIND = 15  # linux/in.h; not exported by every Python build


def listen(addr, port, name, ready):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    srv.bind((addr, port))
    srv.listen(16)
    if ready:
        open(ready, "w").close()
    print(f"{time.time():.3f} listening on {addr}:{port} as {name}", flush=True)
    while True:
        conn, peer = srv.accept()
        print(f"{time.time():.3f} accepted from {peer[0]}:{peer[1]}", flush=True)
        try:
            conn.sendall(f"lab-listener {name}\r\n".encode())
        except OSError as e:
            print(f"{time.time():.3f} send failed: {e}", flush=True)
        conn.close()


def probe(addr, port, timeout):
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = s.recv(200)
    except OSError as e:
        print(f"probe {addr}:{port}: {e}", file=sys.stderr)
        return 1
    if not data:
        print(f"probe {addr}:{port}: connected but no greeting", file=sys.stderr)
        return 1
    print(data.decode(errors="replace").strip())
    return 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "listen":
        listen(argv[2], int(argv[3]), argv[4], argv[5] if len(argv) > 5 else None)
        return 0
    if len(argv) >= 4 and argv[1] == "probe":
        return probe(argv[2], int(argv[3]), float(argv[4]) if len(argv) > 4 else 3.0)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
