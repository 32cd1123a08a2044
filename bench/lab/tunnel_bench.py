#!/usr/bin/python3
"""tunnel_bench.py — probes for bench/lab/tunnel-bench.sh (stdlib only, runs in the lab guest).

  tunnel_bench.py reach FIFO ADDR PORT OUT
        for every line "go <limit-s>" read from FIFO: connect to ADDR:PORT every 20 ms
        (100 ms connect timeout) until the listener there greets; append the epoch time of
        that success (or "timeout") to OUT. One long-lived process, so a Python start-up
        (~0.5 s of the guest's one CPU) never lands inside a measurement.
  tunnel_bench.py sink ADDR PORT OUT
        accept connections forever (IP_FREEBIND: ADDR may come later); read each to EOF;
        answer and append "bytes=N seconds=S" (first byte to EOF) to OUT.
  tunnel_bench.py send ADDR PORT SECONDS
        connect, send zeros for SECONDS, half-close, print the sink's answer line.
"""
import os
import socket
import sys
import time

IP_FREEBIND = 15


def reach(fifo, addr, port, out):
    fd = os.open(fifo, os.O_RDWR)          # RDWR: never EOF between writers
    lines = os.fdopen(fd, "r")
    for line in lines:
        parts = line.split()
        if not parts or parts[0] != "go":
            continue
        end = time.time() + float(parts[1])
        result = "timeout"
        while time.time() < end:
            try:
                with socket.create_connection((addr, port), timeout=0.1) as s:
                    s.settimeout(2)
                    if s.recv(100):
                        result = f"{time.time():.6f}"
                        break
            except OSError:
                pass
            time.sleep(0.02)
        with open(out, "a") as f:
            f.write(result + "\n")


def sink(addr, port, out):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    srv.bind((addr, port))
    srv.listen(4)
    buf = bytearray(256 * 1024)
    while True:
        conn, _ = srv.accept()
        total, first = 0, None
        with conn:
            conn.settimeout(30)
            try:
                while True:
                    n = conn.recv_into(buf)
                    if not n:
                        break
                    if first is None:
                        first = time.time()
                    total += n
                last = time.time()
                line = f"bytes={total} seconds={last - (first or last):.6f}"
                conn.sendall((line + "\n").encode())
            except OSError as e:
                line = f"error={e}"
        with open(out, "a") as f:
            f.write(line + "\n")


def send(addr, port, seconds):
    chunk = bytes(64 * 1024)
    with socket.create_connection((addr, port), timeout=10) as s:
        end = time.time() + seconds
        while time.time() < end:
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        answer = s.recv(200).decode().strip()
    print(answer)
    return 0 if answer.startswith("bytes=") else 1


def main(argv):
    if len(argv) == 6 and argv[1] == "reach":
        reach(argv[2], argv[3], int(argv[4]), argv[5])
        return 0
    if len(argv) == 5 and argv[1] == "sink":
        sink(argv[2], int(argv[3]), argv[4])
        return 0
    if len(argv) == 5 and argv[1] == "send":
        return send(argv[2], int(argv[3]), float(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
