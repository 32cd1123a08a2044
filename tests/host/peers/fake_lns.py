#!/usr/bin/python3
"""fake_lns.py — a scripted L2TP LNS (RFC 2661) on UDP for mailtund's host tests.

  fake_lns.py --listen ADDR [--port 1701] --log FILE [--mode MODE]

Answers like a plain LNS (SCCRP, ZLB acks, ICRP, HELLO acks, StopCCN/CDN acks) and logs one
line per message received ("RECV SCCRQ ns=0 nr=0 tunnel=0 session=0 assigned_tunnel=..."),
"LISTEN" once bound. MODE makes it hostile, each time after mailtund's SCCRQ ("m1,m2,...": m1 for the first
tunnel, m2 for the second, ..., the last for all that follow):
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
  icrp_sid0     ICRP assigning session id 0
  icrp_nosid    ICRP without the Assigned Session ID AVP
  cdn_setup     CDN instead of ICRP

With --pppd OPTIONS (the lab) each tunnel gets its own UDP socket connected to the LAC and,
after ICCN, the kernel's data path with a real pppd on it (lns_kernel.py), so the call goes all
the way to PPP up. With --control FIFO it takes one command a line, acting on the tunnel now:
  mode MODE     the MODE above for the tunnels that follow
  cdn           CDN for the call            stopccn   StopCCN for the tunnel
  unknown_m     HELLO with an unknown mandatory AVP
  nsnr          Ns from the future, Nr acknowledging what was never sent, replayed old Ns
  dupflood      500 copies of the last message it sent
  garbage       2000 datagrams: random, lying lengths, broken and hidden AVPs, wrong tunnels
  silent        no answer to anything for this tunnel any more (its pppd keeps running: only
                control is dead); the next SCCRQ is answered again
  silent junk   the same, but every 0.5 s ZLBs acking nothing or nothing new, a HELLO from
                the future and a replayed one, as a confused LNS might send forever
  reset         a crash and restart: pppd killed, the tunnel forgotten; what the LAC still
                sends to the old tunnel is answered with a storm of 50 ZLBs (Ns 0, Nr 0);
                the next tunnel gets a new id
Each command is logged as "CMD <line> at=<epoch seconds>" once carried out.
"""
import argparse
import os
import select
import signal
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
    ap.add_argument("--control", help="FIFO of commands (see above)")
    ap.add_argument("--pppd", help="pppd options file: attach a real pppd through the kernel")
    a = ap.parse_args()
    log = open(a.log, "a", buffering=1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.listen, a.port))
    log.write("LISTEN %s:%d mode=%s\n" % (a.listen, a.port, a.mode))
    ctl = None
    if a.control:
        ctl = os.open(a.control, os.O_RDWR | os.O_NONBLOCK)     # RDWR: never sees EOF
    if a.pppd:
        import lns_kernel
    tunnels = 0
    my_tid, my_sid = 4242, 777
    ns = 0          # our next Ns
    nr = 0          # next Ns we expect from the LAC
    peer_tid = peer_sid = 0
    mode, *queue = a.mode.split(",")    # one mode per tunnel, the last one stays
    quiet = False   # "silent": this tunnel gets no answer any more
    zombie = False  # "silent junk": ... but a stream of what only looks like life
    znr = 0
    ts = s          # the socket of the current tunnel (connected to the LAC with --pppd)
    lac = None      # the LAC's address
    call = None     # lns_kernel.KernelCall
    last = None     # the last message we sent, for dupflood
    forgotten = set()   # LAC addresses of tunnels a reset forgot
    pending = b""

    def send(to, session, avps, count=True):
        nonlocal ns, last
        last = msg(peer_tid, session, ns, nr, avps)
        ts.sendto(last, to)
        if count and avps:
            ns = (ns + 1) & 0xffff

    def sccrp(extra=()):
        return [u16(0, 2), u16(2, 0x0100), avp(7, b"fake-lns"), u32(3, 3), u16(9, my_tid),
                u16(10, 4)] + list(extra)

    def end_call(sig=signal.SIGTERM):
        nonlocal call
        if call is not None:
            call.stop(sig)
            log.write("PPPD stopped\n")
            call = None

    def garbage(n):
        for i in range(n):
            k = i % 8
            if k == 0:                                  # random bytes
                d = os.urandom(random.randint(1, 200))
            elif k == 1:                                # control header, length beyond the datagram
                d = struct.pack(">HHHHHH", 0xC802, 400, peer_tid, 0, ns, nr) + os.urandom(20)
            elif k == 2:                                # control header, length below the header
                d = struct.pack(">HHHHHH", 0xC802, 7, peer_tid, 0, ns, nr)
            elif k == 3:                                # AVP length 3 (below its own header)
                d = msg(peer_tid, 0, ns, nr, [u16(0, 6), struct.pack(">HHH", 0x8003, 0, 0)])
            elif k == 4:                                # AVP running past the message
                m = bytearray(msg(peer_tid, 0, ns, nr, [u16(0, 6)]))
                m[13] = 0xf0
                d = bytes(m)
            elif k == 5:                                # hidden AVP, and no secret to unhide it
                d = msg(peer_tid, 0, ns, nr, [u16(0, 6), avp(7, os.urandom(18), hidden=True)])
            elif k == 6:                                # another tunnel's message
                d = msg((peer_tid + 1 + i) & 0xffff, 0, ns, nr, [u16(0, 6)])
            else:                                       # a message without its type AVP
                d = msg(peer_tid, 0, ns, nr, [u32(3, 3)])
            ts.sendto(d, lac)

    def command(line):
        nonlocal mode, ns, ts, call, lac, quiet, zombie, znr
        w = line.split()
        if not w:
            return
        if w[0] == "mode":
            mode = w[1]
        elif lac is None:
            log.write("CMD ignored, no tunnel: %s\n" % line)
            return
        elif w[0] == "cdn":
            send(lac, peer_sid, [u16(0, 14), avp(1, b"\x00\x03\x00\x00admin says go"), u16(14, my_sid)])
            end_call()
        elif w[0] == "stopccn":
            send(lac, 0, [u16(0, 4), u16(9, my_tid), avp(1, b"\x00\x01\x00\x00shutting down")])
            end_call()
        elif w[0] == "unknown_m":
            send(lac, 0, [u16(0, 6), avp(99, b"\x01\x02", vendor=9)])
        elif w[0] == "nsnr":
            hello = [u16(0, 6)]
            for i in range(20):                          # from the future: never ours to ack
                ts.sendto(msg(peer_tid, 0, (ns + 100 + i) & 0xffff, nr, hello), lac)
            for i in range(20):                          # replays of Ns already delivered
                ts.sendto(msg(peer_tid, 0, (ns - 1 - i % 3) & 0xffff, nr, hello), lac)
            for i in range(20):                          # ZLBs acking messages never sent
                ts.sendto(msg(peer_tid, 0, ns, (nr + 50 + i) & 0xffff, []), lac)
        elif w[0] == "dupflood":
            for _ in range(500):
                ts.sendto(last, lac)
        elif w[0] == "garbage":
            garbage(2000)
        elif w[0] == "silent":
            quiet = True
            zombie = w[1:] == ["junk"]
            znr = nr            # what it acknowledged last: its junk never acks more
        elif w[0] == "reset":
            end_call(signal.SIGKILL)
            forgotten.add(lac)
            if ts is not s:
                ts.close()
            ts, lac, ns = s, None, 0
            mode = "normal"
        else:
            log.write("CMD unknown: %s\n" % line)
            return
        log.write("CMD %s at=%.3f\n" % (line, time.time()))

    while True:
        rd = [s] + ([ts] if ts is not s else []) + ([ctl] if ctl is not None else [])
        ready, _, _ = select.select(rd, [], [], 0.5 if zombie else None)
        if not ready:                                   # a zombie's heartbeat: never in step
            ts.sendto(msg(peer_tid, 0, ns, (znr + 50) & 0xffff, []), lac)
            ts.sendto(msg(peer_tid, 0, ns, znr, []), lac)
            ts.sendto(msg(peer_tid, 0, (ns + 100) & 0xffff, znr, [u16(0, 6)]), lac)
            ts.sendto(msg(peer_tid, 0, (ns - 1) & 0xffff, znr, [u16(0, 6)]), lac)
            continue
        if ctl is not None and ctl in ready:
            pending += os.read(ctl, 4096)
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command(line.decode(errors="replace").strip())
            continue
        sock = ts if ts in ready else s
        data, peer = sock.recvfrom(65535)
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
        if peer in forgotten and mtype != 1:             # after a reset: a tunnel we never heard of
            for _ in range(50):
                s.sendto(msg(peer_tid, 0, 0, 0, []), peer)
            continue
        if mtype != 0 and mns == nr:
            nr = (nr + 1) & 0xffff
        if mtype == 1:
            quiet = zombie = False
            if tunnels > 0 and queue:
                mode = queue.pop(0)
        if mode == "silent" or quiet:
            continue
        if mtype == 1:                                   # SCCRQ: a new tunnel, fresh sequence numbers
            end_call()
            peer_tid = struct.unpack(">H", avps[9])[0]
            ns, nr = 0, (mns + 1) & 0xffff
            tunnels += 1
            my_tid = 4241 + tunnels
            if a.pppd:
                if ts is not s:
                    ts.close()
                ts = lns_kernel.connected_udp((a.listen, a.port), peer)
            lac = peer
            log.write("TUNNEL %d lns_tunnel=%d lac_tunnel=%d mode=%s\n" % (tunnels, my_tid, peer_tid, mode))
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
                if ts is not s:
                    ts.close()
                log.write("CLOSED\n")
                time.sleep(3600)
            else:
                send(peer, 0, sccrp())
        elif mtype == 10:                                # ICRQ
            peer_sid = struct.unpack(">H", avps[14])[0]
            if mode == "stopccn":
                send(peer, 0, [u16(0, 4), u16(9, my_tid), avp(1, b"\x00\x02\x00\x00go away")])
            elif mode == "icrp_sid0":
                send(peer, peer_sid, [u16(0, 11), u16(14, 0)])
            elif mode == "icrp_nosid":
                send(peer, peer_sid, [u16(0, 11)])
            elif mode == "cdn_setup":
                send(peer, peer_sid, [u16(0, 14), avp(1, b"\x00\x02\x00\x00no call for you"), u16(14, my_sid)])
            else:
                send(peer, peer_sid, [u16(0, 11), u16(14, my_sid)])
        elif mtype == 12:                                # ICCN
            if mode == "cdn":
                send(peer, peer_sid, [u16(0, 14), avp(1, b"\x00\x03"), u16(14, my_sid)])
            else:
                ts.sendto(msg(peer_tid, 0, ns, nr, []), peer)
                if a.pppd:
                    try:
                        call = lns_kernel.KernelCall(ts, peer, my_tid, peer_tid, my_sid, peer_sid, a.pppd, log)
                    except OSError as e:
                        log.write("KERNEL failed: %s\n" % e)
        elif mtype != 0:                                 # anything else: ack it
            ts.sendto(msg(peer_tid, 0, ns, nr, []), peer)
            if mtype in (4, 14):                         # StopCCN, CDN: the call is over
                end_call()


if __name__ == "__main__":
    sys.exit(main())
