#!/usr/bin/env python3
"""fake_vici.py — a stand-in for charon's VICI socket, for mailtund's host tests.

Answers event registrations (EVENT_CONFIRM) and every command with success, except:
initiate is held (IKE still in progress) until terminate arrives, then answered with a
failure, as charon does for an SA terminated while being set up; terminate and unload-conn
are answered --stop-delay seconds after they arrive ("never": not at all). Like charon, it
acts on a request only when it answers it: a client that has gone by then gets nothing done.

  fake_vici.py --socket PATH --log FILE [--stop-delay SECONDS|never]

Log lines: "listening", "request NAME", "answered NAME", "gone-before-answer NAME" (the
client closed the socket before the answer was due), "closed".
"""
import argparse
import os
import select
import socket
import struct
import time

CMD_REQUEST, CMD_RESPONSE, EVENT_REGISTER, EVENT_CONFIRM = 0, 1, 3, 5
KEY_VALUE = 3


def log(f, line):
    f.write(line + "\n")
    f.flush()


def kv(key, value):
    k, v = key.encode(), value.encode()
    return bytes([KEY_VALUE, len(k)]) + k + struct.pack(">H", len(v)) + v


def packet(op, body=b""):
    return struct.pack(">I", 1 + len(body)) + bytes([op]) + body


def read_packet(conn, buf):
    """(op, name, rest of buf) or None at EOF."""
    while True:
        if len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) >= 4 + n:
                frame, buf = buf[4:4 + n], buf[4 + n:]
                op, name = frame[0], ""
                if op in (CMD_REQUEST, EVENT_REGISTER):
                    name = frame[2:2 + frame[1]].decode()
                return op, name, buf
        try:
            data = conn.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            return None
        buf += data


def wait_or_gone(conn, seconds, buf):
    """(gone, buf): whether the client closed the socket within seconds; what it sent
    meanwhile is kept for later."""
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            return False, buf
        r, _, _ = select.select([conn], [], [], left)
        if r:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:    # it left with our earlier answers unread
                data = b""
            if not data:
                return True, buf
            buf += data


def serve(conn, f, delay):
    buf, held = b"", None
    while True:
        got = read_packet(conn, buf)
        if got is None:
            log(f, "closed")
            return
        op, name, buf = got
        log(f, "request " + name)
        if op == EVENT_REGISTER:
            conn.sendall(packet(EVENT_CONFIRM))
        elif name == "initiate":
            held = name
        elif name in ("terminate", "unload-conn"):
            if held:
                conn.sendall(packet(CMD_RESPONSE, kv("success", "no") + kv("errmsg", "establishing CHILD_SA 'l2tp' failed")))
                log(f, "answered " + held)
                held = None
            gone, buf = wait_or_gone(conn, 3600 if delay is None else delay, buf)
            if gone:
                log(f, "gone-before-answer " + name)
                log(f, "closed")
                return
            conn.sendall(packet(CMD_RESPONSE, kv("success", "yes")))
            log(f, "answered " + name)
        else:
            conn.sendall(packet(CMD_RESPONSE, kv("success", "yes")))
            log(f, "answered " + name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--stop-delay", default="0")
    a = ap.parse_args()
    delay = None if a.stop_delay == "never" else float(a.stop_delay)
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(a.socket)
    s.listen(4)
    with open(a.log, "a") as f:
        log(f, "listening")
        while True:
            conn, _ = s.accept()
            with conn:
                serve(conn, f, delay)


if __name__ == "__main__":
    main()
