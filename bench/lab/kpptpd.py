#!/usr/bin/python3
"""kpptpd.py — a PPTP server whose data path is the kernel's, for the tunnel benchmark.

Debian 12 packages no PPTP server with kernel GRE (pptpd copies every packet through
userspace; accel-ppp is not packaged). This lab peer stands in for one: it answers the RFC
2637 control connection itself (SCCRQ, OCRQ, Echo, CCRQ, StopCCRQ) and, for each call,
starts the provider's pppd with mailtun.so, whose kernel PPTP socket (PX_PROTO_PPTP) carries
the session. The plugin asks for its call on a Unix socket; this script answers there the
way mailtund does (HELLO -> OK, CALL_REQUEST -> CALL_REPLY with the call's addresses and IDs)
and keeps that connection open while pppd lives. pppd gets the provider's own options file
(MS-CHAPv2, MPPE-128, addresses from chap-secrets), so everything but the GRE copies is what
pptpd's pppd does.

    kpptpd.py --listen 203.0.113.1 --plugin mailtun.so --run-dir DIR --pppd-log FILE

Logs one line per event to stdout. The TCP connection closing ends pppd, and pppd ending
closes the connection, as with pptpd.
"""
import argparse
import itertools
import os
import signal
import socket
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/host/peers"))
import mtipc  # noqa: E402

MAGIC = 0x1A2B3C4D
NAMES = {1: "SCCRQ", 3: "StopCCRQ", 5: "EchoRQ", 7: "OCRQ", 12: "CCRQ"}
call_ids = itertools.count(4242)
lock = threading.Lock()


def say(text):
    with lock:
        print(text, flush=True)


def msg(ctype, body):
    return struct.pack(">HHIHH", 12 + len(body), 1, MAGIC, ctype, 0) + body


def recv_frame(sock):
    try:
        return mtipc.recv_frame(sock)
    except (ConnectionError, OSError, ValueError, struct.error):
        return None, None


def answer_plugin(lsock, client_ip, listen_ip, my_call, peer_call):
    """The mailtund side of the plugin protocol for one call; returns when pppd hangs up."""
    lsock.settimeout(30)
    try:
        c, _ = lsock.accept()
    except OSError as e:
        say("plugin did not connect: %s" % e)
        return
    c.settimeout(None)
    with c:
        while True:
            t, _ = recv_frame(c)
            if t is None:
                return
            if t == mtipc.HELLO:
                c.sendall(mtipc.frame(mtipc.OK))
            elif t == mtipc.CALL_REQUEST:
                c.sendall(mtipc.frame(mtipc.CALL_REPLY, [
                    (mtipc.A_SERVER, mtipc.in4(client_ip)), (mtipc.A_LOCAL, mtipc.in4(listen_ip)),
                    (mtipc.A_LOCAL_CALL_ID, mtipc.u16(my_call)), (mtipc.A_PEER_CALL_ID, mtipc.u16(peer_call))]))
                say("call handed to pppd: local_call_id=%d peer_call_id=%d client=%s" % (my_call, peer_call, client_ip))


def start_call(args, client_ip, peer_call):
    my_call = next(call_ids)
    if my_call == peer_call:        # the kernel's call ID table is one for both ends here
        my_call = next(call_ids)
    path = os.path.join(args.run_dir, "kpptpd-%d.sock" % my_call)
    if os.path.exists(path):
        os.unlink(path)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(1)
    pppd = subprocess.Popen([args.pppd, "plugin", args.plugin, "mailtun-socket", path,
                             "file", "/etc/ppp/pptpd-options", "nodetach", "logfile", args.pppd_log,
                             "ipparam", client_ip], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    say("pppd %d started for %s" % (pppd.pid, client_ip))
    t = threading.Thread(target=answer_plugin, args=(lsock, client_ip, args.listen, my_call, peer_call),
                         daemon=True)
    t.start()
    return my_call, pppd, lsock, path


def serve(conn, client_ip, args):
    buf, pppd, lsock, path = b"", None, None, None

    def watch(p):
        p.wait()
        say("pppd %d exited %d" % (p.pid, p.returncode))
        try:
            conn.shutdown(socket.SHUT_RDWR)     # like pptpd: the call ends with pppd
        except OSError:
            pass

    try:
        while True:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while len(buf) >= 12:
                length, mtype, magic, ctype, _ = struct.unpack(">HHIHH", buf[:12])
                if mtype != 1 or magic != MAGIC or length < 12:
                    say("bad control message from %s" % client_ip)
                    return
                if len(buf) < length:
                    break
                body, buf = buf[12:length], buf[length:]
                if ctype == 1:      # SCCRQ -> SCCRP
                    conn.sendall(msg(2, struct.pack(">HBBIIHH", 0x0100, 1, 0, 1, 1, 1, 1)
                                     + b"kpptpd".ljust(64, b"\0") + b"mailtun-lab".ljust(64, b"\0")))
                elif ctype == 7 and pppd is None:    # OCRQ -> pppd, OCRP
                    peer_call = struct.unpack(">H", body[:2])[0]
                    my_call, pppd, lsock, path = start_call(args, client_ip, peer_call)
                    conn.sendall(msg(8, struct.pack(">HHBBHIHHI", my_call, peer_call, 1, 0, 0,
                                                    100000000, 64, 0, 0)))
                    threading.Thread(target=watch, args=(pppd,), daemon=True).start()
                elif ctype == 5:    # Echo-Request -> Echo-Reply
                    conn.sendall(msg(6, body[:4] + struct.pack(">BBH", 1, 0, 0)))
                elif ctype == 12:   # CCRQ -> CDN
                    conn.sendall(msg(13, struct.pack(">HBBHH", 0, 3, 0, 0, 0) + b"\0" * 128))
                    return
                elif ctype == 3:    # StopCCRQ -> StopCCRP
                    conn.sendall(msg(4, struct.pack(">BBH", 1, 0, 0)))
                    return
    except (ConnectionError, OSError):
        return
    finally:
        if pppd is not None and pppd.poll() is None:
            pppd.send_signal(signal.SIGTERM)
        if lsock is not None:
            lsock.close()
            os.unlink(path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--plugin", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--pppd-log", required=True)
    p.add_argument("--pppd", default="/usr/sbin/pppd")
    args = p.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.listen, 1723))
    s.listen(8)
    say("listening on %s:1723" % args.listen)

    def handle(conn, peer):
        say("connect from %s" % peer[0])
        with conn:
            serve(conn, peer[0], args)
        say("connection from %s closed" % peer[0])

    while True:
        conn, peer = s.accept()
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
