#!/usr/bin/env python3
"""fake_mailtund.py SOCKET MODE LOG — one connection of mailtund's side of the plugin protocol.

MODE: reply (OK to HELLO, then CALL_REPLY), refuse (ERROR "no uplink"), hangup (close right
after CALL_REPLY), kick (CALL_REPLY, then ERROR "uplink address changed"), drip (an OK every
second, never a call), silent (never answers the call request), flood (CALL_REPLY, then OK
frames without pause until the plugin stops reading), l2tp (an L2TP CALL_REPLY: tunnel 101/202,
session 303/404, LNS port 1701), l2tp-bad (one without session ids). Every frame received
is written to LOG as "TYPE attr=value ..." (lib/ipc.h framing)."""
import os, socket, struct, sys, time

NAMES = {1: "HELLO", 2: "OK", 3: "ERROR", 10: "CALL_REQUEST", 11: "CALL_REPLY", 12: "PPP_AUTH_UP",
         13: "PPP_IP_UP", 14: "PPP_IP_DOWN", 15: "PPP_EXIT", 16: "CALL_ATTACHED"}
ATTRS = {1: "text", 2: "role", 3: "pid", 4: "server", 5: "local_call_id", 6: "peer_call_id",
         7: "ifname", 8: "local", 9: "peer", 10: "mtu", 11: "reason"}

def frame(t, attrs):
    body = b"".join(struct.pack(">HH", a, len(v)) + v for a, v in attrs)
    return struct.pack(">HBBHH", 0x4D54, 1, 0, t, len(body)) + body

def read_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            return None
        b += d
    return b

def show(t, body):
    out, off = [NAMES.get(t, str(t))], 0
    while off + 4 <= len(body):
        a, l = struct.unpack(">HH", body[off:off + 4]); v = body[off + 4:off + 4 + l]; off += 4 + l
        name = ATTRS.get(a, str(a))
        if name in ("server", "local", "peer"):
            v = socket.inet_ntoa(v)
        elif name in ("pid", "mtu"):
            v = str(struct.unpack(">I", v)[0])
        elif name.endswith("call_id"):
            v = str(struct.unpack(">H", v)[0])
        else:
            v = v.decode()
        out.append("%s=%s" % (name, v))
    return " ".join(out)

path, mode, log = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
open(path + ".ready", "w").close()
s.settimeout(10)
c, _ = s.accept()
c.settimeout(10)
with open(log, "w") as f:
    while True:
        h = read_exact(c, 8)
        if h is None:
            f.write("EOF\n"); break
        magic, ver, _, t, plen = struct.unpack(">HBBHH", h)
        body = read_exact(c, plen) or b""
        f.write(show(t, body) + "\n"); f.flush()
        if t == 1:
            c.sendall(frame(2, []))
        elif t == 10:
            if mode == "drip":
                for _ in range(60):
                    c.sendall(frame(2, [])); time.sleep(1)
                break
            if mode == "silent":
                time.sleep(40); break
            if mode == "refuse":
                c.sendall(frame(3, [(1, b"no uplink")])); continue
            if mode == "l2tp":
                c.sendall(frame(11, [(15, b"l2tp"), (4, socket.inet_aton("127.0.0.1")),
                                     (8, socket.inet_aton("127.0.0.1")),
                                     (5, struct.pack(">H", 101)), (6, struct.pack(">H", 202)),
                                     (16, struct.pack(">H", 303)), (17, struct.pack(">H", 404)),
                                     (18, struct.pack(">H", 1701)), (19, struct.pack(">H", 40000))]))
                continue
            if mode == "l2tp-bad":          # session ids missing
                c.sendall(frame(11, [(15, b"l2tp"), (4, socket.inet_aton("127.0.0.1")),
                                     (5, struct.pack(">H", 101)), (6, struct.pack(">H", 202))]))
                continue
            c.sendall(frame(11, [(4, socket.inet_aton("127.0.0.1")), (5, struct.pack(">H", 4711)),
                                 (6, struct.pack(">H", 815)), (8, socket.inet_aton("127.0.0.1"))]))
            if mode == "hangup":
                # Read what the plugin sent meanwhile (CALL_ATTACHED): a close with unread
                # data is a reset, not the plain end of a daemon that went away.
                time.sleep(0.2); c.settimeout(0.1)
                try:
                    while c.recv(4096):
                        pass
                except OSError:
                    pass
                c.close(); f.write("CLOSED\n"); break
            if mode == "kick":
                c.sendall(frame(3, [(1, b"uplink address changed")]))
            if mode == "flood":
                try:
                    while True:
                        c.sendall(frame(2, []) * 4096)
                except OSError:
                    f.write("FLOOD ended\n"); break
