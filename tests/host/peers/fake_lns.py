#!/usr/bin/python3
"""fake_lns.py — a scripted L2TP LNS (RFC 2661) on UDP for mailtund's host tests.

  fake_lns.py --listen ADDR [--port 1701] --log FILE [--mode MODE]

Answers like a plain LNS (SCCRP, ZLB acks, ICRP, HELLO acks, StopCCN/CDN acks) and logs one
line per message received ("RECV SCCRQ ns=0 nr=0 tunnel=0 session=0 assigned_tunnel=..."),
"LISTEN" once bound. MODE makes it hostile, each time after mailtund's SCCRQ:
  normal        the plain LNS
  silent        never answers anything
  garbage       floods 5000 random datagrams, then nothing else
  badlen        SCCRP whose AVP lengths run past the message, then nothing
  hidden        SCCRP with a hidden Host Name (mailtund has no secret), then nothing
  unknown_m     SCCRP carrying an unknown vendor AVP with the M bit set
  nsnr          SCCRP with Ns from the future and an Nr acknowledging nothing we sent, repeated
  dupflood      the right SCCRP, then 500 copies of it (duplicates)
  stopccn       the right SCCRP, then StopCCN (result 2, "go away") after mailtund's ICRQ
  cdn           everything up to ICRP, then CDN for the session
  auth          demands tunnel authentication (Challenge in SCCRP)
  close         after SCCRP closes its socket: mailtund's next datagram gets ICMP port unreachable
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

NAMES = {0: "ZLB", 1: "SCCRQ", 2: "SCCRP", 3: "SCCCN", 4: "StopCCN", 6: "HELLO", 10: "ICRQ",
         11: "ICRP", 12: "ICCN", 14: "CDN"}


def avp(attr, value, m=True, hidden=False, vendor=0):
    flags = (0x8000 if m else 0) | (0x4000 if hidden else 0)
    return struct.pack(">HHH", flags | (6 + len(value)), vendor, attr) + value


def u16(attr, v):
    return avp(attr, struct.pack(">H", v))


def u32(attr, v):
    return avp(attr, struct.pack(">I", v))


def msg(tunnel, session, ns, nr, avps):
    body = b"".join(avps)
    return struct.pack(">HHHHHH", 0xC802, 12 + len(body), tunnel, session, ns, nr) + body


def parse(data):
    """(type, tunnel, session, ns, nr, {attr: value}) or None."""
    if len(data) < 12:
        return None
    flags, length, tunnel, session, ns, nr = struct.unpack(">HHHHHH", data[:12])
    if not flags & 0x8000:
        return None
    avps, off, mtype = {}, 12, 0
    while off + 6 <= min(length, len(data)):
        w, vendor, attr = struct.unpack(">HHH", data[off:off + 6])
        alen = w & 0x3ff
        if alen < 6:
            break
        avps[attr] = data[off + 6:off + alen]
        off += alen
    if 0 in avps:
        mtype = struct.unpack(">H", avps[0])[0]
    return mtype, tunnel, session, ns, nr, avps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=1701)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", default="normal")
    a = ap.parse_args()
    log = open(a.log, "a", buffering=1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.listen, a.port))
    log.write("LISTEN %s:%d mode=%s\n" % (a.listen, a.port, a.mode))
    my_tid, my_sid = 4242, 777
    ns = 0          # our next Ns
    nr = 0          # next Ns we expect from the LAC
    peer_tid = peer_sid = 0
    mode = a.mode

    def send(to, session, avps, count=True):
        nonlocal ns
        s.sendto(msg(peer_tid, session, ns, nr, avps), to)
        if count and avps:
            ns = (ns + 1) & 0xffff

    def sccrp(extra=()):
        return [u16(0, 2), u16(2, 0x0100), avp(7, b"fake-lns"), u32(3, 3), u16(9, my_tid),
                u16(10, 4)] + list(extra)

    while True:
        data, peer = s.recvfrom(65535)
        p = parse(data)
        if p is None:
            log.write("RECV junk len=%d\n" % len(data))
            continue
        mtype, tunnel, session, mns, mnr, avps = p
        desc = "RECV %s ns=%d nr=%d tunnel=%d session=%d" % (NAMES.get(mtype, mtype), mns, mnr, tunnel, session)
        if 9 in avps:
            desc += " assigned_tunnel=%d" % struct.unpack(">H", avps[9])[0]
        if 14 in avps:
            desc += " assigned_session=%d" % struct.unpack(">H", avps[14])[0]
        if 1 in avps:
            desc += " result=%d" % struct.unpack(">H", avps[1][:2])[0]
        log.write(desc + "\n")
        if mtype != 0 and mns == nr:
            nr = (nr + 1) & 0xffff
        if mode == "silent":
            continue
        if mtype == 1:                                   # SCCRQ: a new tunnel, fresh sequence numbers
            peer_tid = struct.unpack(">H", avps[9])[0]
            ns, nr = 0, (mns + 1) & 0xffff
            if mode == "garbage":
                for _ in range(5000):
                    s.sendto(os.urandom(random.randint(1, 200)), peer)
                mode = "silent"
            elif mode == "badlen":
                m = bytearray(msg(peer_tid, 0, ns, nr, sccrp()))
                m[12 + 8 + 1] = 0xff                    # Protocol Version AVP claims 255 octets
                s.sendto(bytes(m), peer)
                mode = "silent"
            elif mode == "hidden":
                rv = os.urandom(16)
                send(peer, 0, [u16(0, 2), u16(2, 0x0100), avp(36, rv), avp(7, os.urandom(18), hidden=True),
                               u32(3, 3), u16(9, my_tid)])
                mode = "silent"
            elif mode == "unknown_m":
                send(peer, 0, sccrp([avp(99, b"\x01\x02", vendor=9)]))
            elif mode == "nsnr":
                for i in range(50):
                    s.sendto(msg(peer_tid, 0, 1000 + i, 999, sccrp()), peer)
                mode = "silent"
            elif mode == "auth":
                send(peer, 0, sccrp([avp(11, os.urandom(16))]))
            elif mode == "dupflood":
                first = msg(peer_tid, 0, ns, nr, sccrp())
                ns += 1
                for _ in range(500):
                    s.sendto(first, peer)
            elif mode == "close":
                send(peer, 0, sccrp())
                s.close()
                log.write("CLOSED\n")
                time.sleep(3600)
            else:
                send(peer, 0, sccrp())
        elif mtype == 10:                                # ICRQ
            peer_sid = struct.unpack(">H", avps[14])[0]
            if mode == "stopccn":
                send(peer, 0, [u16(0, 4), u16(9, my_tid), avp(1, b"\x00\x02\x00\x00go away")])
            else:
                send(peer, peer_sid, [u16(0, 11), u16(14, my_sid)])
        elif mtype == 12:                                # ICCN
            if mode == "cdn":
                send(peer, peer_sid, [u16(0, 14), avp(1, b"\x00\x03"), u16(14, my_sid)])
            else:
                s.sendto(msg(peer_tid, 0, ns, nr, []), peer)
        elif mtype != 0:                                 # anything else: ack it
            s.sendto(msg(peer_tid, 0, ns, nr, []), peer)


if __name__ == "__main__":
    sys.exit(main())
