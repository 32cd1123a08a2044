"""mtipc.py — the mailtun control-socket frame codec (lib/ipc.h) for test peers in Python.

Frame: u16 magic 0x4D54 | u8 version 1 | u8 0 | u16 type | u16 payload length, then
attributes u16 type | u16 length | value, all big-endian.
"""
import socket
import struct

HELLO, OK, ERROR, SUBSCRIBE = 1, 2, 3, 4
CALL_REQUEST, CALL_REPLY, PPP_AUTH_UP, PPP_IP_UP, PPP_IP_DOWN, PPP_EXIT = 10, 11, 12, 13, 14, 15
CALL_ATTACHED = 16
LINK_UP, LINK_DOWN, STATUS, STATUS_REPLY = 20, 21, 30, 31
A_TEXT, A_ROLE, A_PID, A_SERVER, A_LOCAL_CALL_ID, A_PEER_CALL_ID = 1, 2, 3, 4, 5, 6
A_IFNAME, A_LOCAL, A_PEER, A_MTU, A_REASON, A_KV = 7, 8, 9, 10, 11, 12


def frame(mtype, attrs=()):
    payload = b"".join(struct.pack(">HH", t, len(v)) + v for t, v in attrs)
    return struct.pack(">HBBHH", 0x4D54, 1, 0, mtype, len(payload)) + payload


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def in4(text):
    return socket.inet_aton(text)


def recv_frame(sock):
    head = _exact(sock, 8)
    magic, ver, _, mtype, plen = struct.unpack(">HBBHH", head)
    if magic != 0x4D54 or ver != 1:
        raise ValueError("bad frame header")
    payload = _exact(sock, plen)
    attrs, off = [], 0
    while off < plen:
        t, l = struct.unpack(">HH", payload[off:off + 4])
        attrs.append((t, payload[off + 4:off + 4 + l]))
        off += 4 + l
    return mtype, attrs


def attr(attrs, t):
    for k, v in attrs:
        if k == t:
            return v
    return None


def _exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf
