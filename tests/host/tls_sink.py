#!/usr/bin/env python3
"""tls_sink.py — a minimal SMTP sink with STARTTLS for tests/host/delivery.sh (smtp-sink has none).

usage: tls_sink.py PORT CERT KEY DUMPDIR MODE
  MODE good    STARTTLS offered, messages written to DUMPDIR/<n>.msg with a "X-TLS: yes|no" line
       inject  answers STARTTLS with "220" plus a pipelined "250" in the same write (the
               STARTTLS command injection pattern a client must refuse)
       broken  answers STARTTLS with 220, then sends garbage instead of a TLS handshake
Listens on 127.0.0.1 only. Prints "ready" when listening.
"""
import os
import socket
import ssl
import sys
import threading

port, cert, key, dump, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
counter = [0]
lock = threading.Lock()


def session(conn):
    f = conn.makefile("rb")
    tls = False

    def send(s):
        conn.sendall(s.encode())

    send("220 tls-sink ESMTP\r\n")
    rcpts = []
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.decode(errors="replace").strip()
        verb = cmd[:4].upper()
        if verb == "EHLO":
            ext = ["250-tls-sink", "250-PIPELINING", "250-8BITMIME"]
            if not tls:
                ext.append("250-STARTTLS")
            send("\r\n".join(ext) + "\r\n250 ENHANCEDSTATUSCODES\r\n")
        elif cmd.upper() == "STARTTLS" and not tls:
            if mode == "inject":
                send("220 2.0.0 go ahead\r\n250 2.0.0 injected\r\n")
                return
            send("220 2.0.0 go ahead\r\n")
            if mode == "broken":
                # Only once the client's ClientHello is here: garbage sent together with the
                # 220 would be (rightly) taken as data injected after the STARTTLS reply.
                conn.settimeout(10)
                try:
                    conn.recv(1)
                except OSError:
                    return
                conn.sendall(b"this is not TLS\r\n" * 4)
                return
            conn = ctx.wrap_socket(conn, server_side=True)
            f = conn.makefile("rb")
            tls = True
        elif verb == "MAIL":
            rcpts = []
            send("250 2.1.0 Ok\r\n")
        elif verb == "RCPT":
            rcpts.append(cmd)
            send("250 2.1.5 Ok\r\n")
        elif verb == "DATA":
            send("354 go ahead\r\n")
            body = []
            while True:
                l = f.readline()
                if not l or l == b".\r\n":
                    break
                body.append(l)
            if not l:
                return
            with lock:
                counter[0] += 1
                n = counter[0]
            with open(os.path.join(dump, "%d.msg" % n), "wb") as out:
                out.write(b"X-TLS: %s\r\n" % (b"yes" if tls else b"no"))
                out.write(b"".join(body))
            send("250 2.0.0 Ok: queued as %d\r\n" % n)
        elif verb in ("RSET", "NOOP"):
            send("250 2.0.0 Ok\r\n")
        elif verb == "QUIT":
            send("221 2.0.0 Bye\r\n")
            return
        else:
            send("502 5.5.2 unknown command\r\n")


def serve(conn):
    try:
        session(conn)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
