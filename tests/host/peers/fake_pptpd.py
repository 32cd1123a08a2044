#!/usr/bin/python3
"""fake_pptpd.py — a scripted PPTP server (RFC 2637 control connection only) for host tests.

Answers SCCRQ, OCRQ, Echo, CCRQ and StopCCRQ the way pptpd does, and writes one line per
received message to --log so a test can check what mailtund sent. --refuse-call makes the
Outgoing-Call-Reply say "busy"; --flood-echo makes it, once the call is up, send Echo-Requests
without pause and never read again (a server that grows our output). Like pptpd, each connection is served on its own (a thread
here), so a dead old connection never blocks a new one. Runs until the test kills it.
"""
import argparse
import socket
import struct
import sys
import threading

MAGIC = 0x1A2B3C4D
NAMES = {1: "SCCRQ", 2: "SCCRP", 3: "StopCCRQ", 4: "StopCCRP", 5: "EchoRQ", 6: "EchoRP",
         7: "OCRQ", 8: "OCRP", 9: "ICRQ", 10: "ICRP", 11: "ICCN", 12: "CCRQ", 13: "CDN",
         14: "WEN", 15: "SLI"}


def msg(ctype, body):
    return struct.pack(">HHIHH", 12 + len(body), 1, MAGIC, ctype, 0) + body


def serve(conn, args, log):
    buf = b""
    while True:
        data = conn.recv(4096)
        if not data:
            log.write("EOF\n")
            return
        buf += data
        while len(buf) >= 12:
            length, mtype, magic, ctype, _ = struct.unpack(">HHIHH", buf[:12])
            if mtype != 1 or magic != MAGIC:
                log.write("BAD header\n")
                return
            if len(buf) < length:
                break
            body, buf = buf[12:length], buf[length:]
            log.write("%s len=%d\n" % (NAMES.get(ctype, ctype), length))
            log.flush()
            if ctype == 1:      # SCCRQ -> SCCRP ok
                conn.sendall(msg(2, struct.pack(">HBBIIHH", 0x0100, 1, 0, 1, 1, 1, 1)
                                 + b"fake-pptpd".ljust(64, b"\0") + b"mailtun-tests".ljust(64, b"\0")))
            elif ctype == 7:    # OCRQ -> OCRP
                call_id = struct.unpack(">H", body[:2])[0]
                result = 3 if args.refuse_call else 1   # 3 = busy
                conn.sendall(msg(8, struct.pack(">HHBBHIHHI", 4242, call_id, result, 0, 0,
                                                10000000, 64, 0, 0)))
                log.write("call peer_call_id=%d result=%d\n" % (call_id, result))
                if args.flood_echo:
                    log.write("FLOOD echo requests, reading nothing\n")
                    batch = b"".join(msg(5, struct.pack(">I", i)) for i in range(4096))
                    while True:
                        conn.sendall(batch)
            elif ctype == 5:    # Echo-Request -> Echo-Reply
                conn.sendall(msg(6, body[:4] + struct.pack(">BBH", 1, 0, 0)))
            elif ctype == 12:   # CCRQ -> CDN
                conn.sendall(msg(13, struct.pack(">HBBHH", 4242, 3, 0, 0, 0) + b"\0" * 128))
            elif ctype == 3:    # StopCCRQ -> StopCCRP, then close
                conn.sendall(msg(4, struct.pack(">BBH", 1, 0, 0)))
                return


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--refuse-call", action="store_true")
    p.add_argument("--flood-echo", action="store_true")
    args = p.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.listen, 1723))
    s.listen(4)
    with open(args.log, "a") as log:
        log.write("LISTEN\n")
        log.flush()
        lock = threading.Lock()

        class Log:
            """Serialises the threads' lines and flushes each (the test reads it live)."""
            def write(self, text):
                with lock:
                    log.write(text)
                    log.flush()

            def flush(self):
                pass

        def handle(conn, peer):
            out = Log()
            out.write("CONNECT %s\n" % peer[0])
            try:
                serve(conn, args, out)
            except (ConnectionError, OSError) as e:
                out.write("ERROR %s\n" % e)
            conn.close()

        while True:
            conn, peer = s.accept()
            threading.Thread(target=handle, args=(conn, peer), daemon=True).start()

if __name__ == "__main__":
    sys.exit(main())
