#!/usr/bin/python3
"""pc.py — the power-cut scenario's load generator, counting sink, cutter and tally.

  gen   --port P --lan-port L --threads N --out-threads M --log FILE --prefix TAG
        (guest) N sessions push inbound mail (rcpt @example.net) to 127.0.0.1:P, M sessions
        push outbound mail (rcpt @example.org) to the LAN listener 127.0.0.2:L, without pause,
        reconnecting while mailrelayd is away. Per message it appends to FILE: "S <id>" just before the
        final dot, "A <id> <qid>" the moment the 250 is read. FILE lives on the results dir
        (hostfs): each write() is a write() on the host file before it returns, so a line is
        on the host before the next message starts and survives a power cut of the guest.
  sink  --in P --out P --log FILE [--delay-ms D]
        (guest) the inside server (P) and the smarthost (P) in one process: accepts every
        message, appends "D <id> <in|out>" to FILE after the final dot and only then (after D
        ms) answers 250 — so every delivery mailrelayd saw acknowledged is on record.
  cut   --pid-file F --file FILE --match S [--nth N] --delay-ms LO HI --timeout T
        (host) waits for the N-th line of FILE containing S, waits a random LO..HI ms and
        kills the UML guest's whole process group with SIGKILL: the power cut. Prints
        "cut <ms-after-match>"; exit 1 if the match never came (guest failed first).
  tally --dir D [--expect lost0|loss] [--final-boot B]
        (host) reads every boot-*/acks.log and boot-*/deliv.log under D and prints
        "power-cut: R rounds, A acknowledged, D delivered, lost L, duplicated U" with the
        evidence behind it. --expect lost0 fails on any loss, --expect loss fails on none.

Message ids: <prefix>-<i|o><session>-<n>@pc.test, unique over a whole run.
"""
import argparse
import asyncio
import glob
import os
import random
import re
import signal
import socket
import sys
import threading
import time

QUEUED = re.compile(rb"queued as ([A-Za-z0-9]+)", re.I)
WAY = re.compile(r"-([io])[0-9]+-[0-9]+@")
MSGID = re.compile(rb"^Message-Id: <([^>]+)>", re.I | re.M)


def append(fd, line):
    os.write(fd, line.encode() + b"\n")     # O_APPEND: one write per line, whole lines


# ---- gen ------------------------------------------------------------------------------------

class Smtp:
    def __init__(self, port, host="127.0.0.1"):
        # from the listener's own address: 127.0.0.2 is the LAN, 127.0.0.1 the provider
        self.s = socket.create_connection((host, port), timeout=20, source_address=(host, 0))
        self.buf = b""

    def reply(self):
        while True:
            i = self.buf.find(b"\r\n")
            while i >= 0:
                line, rest = self.buf[:i], self.buf[i + 2:]
                if len(line) >= 4 and line[3:4] == b" ":
                    self.buf = rest
                    return int(line[:3]), line
                self.buf = rest
                i = self.buf.find(b"\r\n")
            d = self.s.recv(4096)
            if not d:
                raise EOFError("connection closed")
            self.buf += d

    def cmd(self, data):
        self.s.sendall(data)
        return self.reply()


def body(msgid, size):
    head = ("From: <load@pc.test>\r\nSubject: power cut\r\nMessage-Id: <%s>\r\n\r\n" % msgid).encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, size // 78)


def cmd_gen(a):
    fd = os.open(a.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def worker(kind, n, host, port, rcpt):
        seq = 0
        while True:
            try:
                c = Smtp(port, host)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                if c.reply()[0] != 220 or c.cmd(b"EHLO load.pc.test\r\n")[0] != 250:
                    raise EOFError("greeting")
                while True:
                    seq += 1
                    msgid = "%s-%s%d-%d@pc.test" % (a.prefix, kind, n, seq)
                    if c.cmd(b"MAIL FROM:<load@example.net>\r\n")[0] != 250:
                        break
                    if c.cmd(("RCPT TO:<%s>\r\n" % rcpt).encode())[0] != 250:
                        break
                    if c.cmd(b"DATA\r\n")[0] != 354:
                        break
                    c.s.sendall(body(msgid, random.choice(a.sizes)))
                    append(fd, "S " + msgid)
                    code, text = c.cmd(b".\r\n")
                    if code == 250:
                        m = QUEUED.search(text)
                        append(fd, "A %s %s" % (msgid, m.group(1).decode() if m else "-"))
            except (OSError, EOFError, ValueError):
                pass
            c.s.close()
            time.sleep(0.05)

    ts = [threading.Thread(target=worker, args=("i", n, "127.0.0.1", a.port, "u%d@example.net" % n), daemon=True)
          for n in range(a.threads)]
    ts += [threading.Thread(target=worker, args=("o", n, "127.0.0.2", a.lan_port, "far%d@example.org" % n), daemon=True)
           for n in range(a.out_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


# ---- sink -----------------------------------------------------------------------------------

def cmd_sink(a):
    fd = os.open(a.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def session(reader, writer, tag):
        async def say(s):
            writer.write(s)
            await writer.drain()
        try:
            await say(b"220 sink.pc.test ESMTP\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    break
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    await say(b"250 sink.pc.test\r\n")
                elif verb == b"DATA":
                    await say(b"354 go on\r\n")
                    data = []
                    while True:
                        l = await reader.readline()
                        if not l:
                            return
                        if l == b".\r\n":
                            break
                        data.append(l)
                    m = MSGID.search(b"".join(data[:10]))
                    append(fd, "D %s %s" % (m.group(1).decode() if m else "-", tag))
                    if a.delay_ms:
                        await asyncio.sleep(a.delay_ms / 1000)
                    await say(b"250 2.0.0 kept\r\n")
                elif verb == b"QUIT":
                    await say(b"221 bye\r\n")
                    break
                else:
                    await say(b"250 ok\r\n")
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main():
        s1 = await asyncio.start_server(lambda r, w: session(r, w, "in"), "127.0.0.1", a.inp)
        s2 = await asyncio.start_server(lambda r, w: session(r, w, "out"), "127.0.0.1", a.outp)
        async with s1, s2:
            await asyncio.gather(s1.serve_forever(), s2.serve_forever())

    asyncio.run(main())


# ---- cut ------------------------------------------------------------------------------------

def cmd_cut(a):
    end = time.monotonic() + a.timeout
    pid = None
    while pid is None:
        try:
            pid = int(open(a.pid_file).read().strip())
        except (OSError, ValueError):
            if time.monotonic() > end:
                print("cut never: no guest pid in %s" % a.pid_file)
                return 1
            time.sleep(0.01)
    seen, pos, rest = 0, 0, b""
    while seen < a.nth:
        if time.monotonic() > end:
            print("cut never: no %d-th line with %r in %s" % (a.nth, a.match, a.file))
            return 1
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("cut never: the guest ended before %r" % a.match)
            return 1
        try:
            with open(a.file, "rb") as f:
                f.seek(pos)
                d = f.read()
        except FileNotFoundError:
            d = b""
        if not d:
            time.sleep(0.002)
            continue
        pos += len(d)
        d = rest + d
        lines = d.split(b"\n")
        rest = lines.pop()
        seen += sum(1 for l in lines if a.match.encode() in l)
    t = time.monotonic()
    time.sleep(random.uniform(a.delay_ms[0], a.delay_ms[1]) / 1000)
    try:
        os.killpg(pid, signal.SIGKILL)      # UML leads its own group: every helper goes
    except ProcessLookupError:
        print("cut never: the guest ended by itself")
        return 1
    print("cut %d" % ((time.monotonic() - t) * 1000))
    return 0


# ---- tally ----------------------------------------------------------------------------------

def cmd_tally(a):
    boots = sorted((p for p in glob.glob(os.path.join(a.dir, "boot-*")) if os.path.isdir(p)), key=lambda p: int(p.rsplit("-", 1)[1]))
    acked, sent, occurrences, qid = {}, set(), {}, {}
    deliveries = {}
    for b in boots:
        n = int(b.rsplit("-", 1)[1])
        for l in open(os.path.join(b, "acks.log"), errors="replace") if os.path.exists(os.path.join(b, "acks.log")) else []:
            p = l.split()
            if len(p) >= 2 and p[0] == "S":
                sent.add(p[1])
            elif len(p) >= 3 and p[0] == "A":
                acked[p[1]] = n
                qid[p[1]] = p[2]
        for l in open(os.path.join(b, "deliv.log"), errors="replace") if os.path.exists(os.path.join(b, "deliv.log")) else []:
            p = l.split()
            if len(p) >= 2 and p[0] == "D":
                deliveries[p[1]] = deliveries.get(p[1], 0) + 1
                occurrences.setdefault(p[1], []).append(n)
    rounds = len(boots) - 1
    lost = sorted(m for m in acked if m not in deliveries)
    delivered = sum(1 for m in acked if m in deliveries)
    dups = {m: c - 1 for m, c in deliveries.items() if c > 1}
    unacked_delivered = sum(1 for m in deliveries if m not in acked)
    inflight = sum(1 for m in sent if m not in acked)
    print("power-cut: %d rounds, %d acknowledged, %d delivered, lost %d, duplicated %d"
          % (rounds, len(acked), delivered, len(lost), sum(dups.values())))
    def way(m):
        w = WAY.search(m)
        return w.group(1) if w else "?"
    for kind, name in (("i", "inbound"), ("o", "outbound")):
        ak = [m for m in acked if way(m) == kind]
        print("  %s: %d acknowledged, %d delivered, lost %d, duplicated %d"
              % (name, len(ak), sum(1 for m in ak if m in deliveries),
                 sum(1 for m in ak if m not in deliveries), sum(v for m, v in dups.items() if way(m) == kind)))
    print("  in flight at a cut (dot sent, no 250 read): %d, of which delivered anyway: %d"
          % (inflight, unacked_delivered))
    # Each delivery but a message's last one was repeated: charge it to the cut that ended its
    # boot, and say why from that boot's log: was the removal logged (its unlink was not yet
    # durable) or did the cut come between the inside server's 250 and the removal?
    per, why, logs = {}, {}, {}
    for m, bs in occurrences.items():
        for b in bs[:-1]:
            per[b] = per.get(b, 0) + 1
            if b not in logs:
                f = os.path.join(a.dir, "boot-%d" % b, "relay.log")
                logs[b] = open(f, errors="replace").read() if os.path.exists(f) else ""
            k = ("removal logged, its unlink not yet durable" if m in qid and ("id=%s removed" % qid[m]) in logs[b]
                 else "delivered, cut before the removal" if m in qid else "never acknowledged (in flight at a cut)")
            why[k] = why.get(k, 0) + 1
    if per:
        print("  duplicates by the cut that caused them: %s (max %d per cut)"
              % (" ".join("boot-%d:%d" % kv for kv in sorted(per.items())), max(per.values())))
        print("  duplicates by cause: %s" % "; ".join("%s: %d" % kv for kv in sorted(why.items())))
    for m in lost[:5]:
        print("  LOST %s (acknowledged in boot-%d)" % (m, acked[m]))
    if len(lost) > 5:
        print("  ... and %d more lost" % (len(lost) - 5))
    if a.expect == "lost0" and (lost or not acked):
        return 1
    if a.expect == "loss" and not lost:
        return 1
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    x = sub.add_parser("gen")
    x.add_argument("--port", type=int, required=True)
    x.add_argument("--lan-port", type=int, required=True)
    x.add_argument("--threads", type=int, default=4)
    x.add_argument("--out-threads", type=int, default=1)
    x.add_argument("--log", required=True)
    x.add_argument("--prefix", required=True)
    x.add_argument("--sizes", type=int, nargs="*", default=[600, 3000, 12000])
    x = sub.add_parser("sink")
    x.add_argument("--in", dest="inp", type=int, required=True)
    x.add_argument("--out", dest="outp", type=int, required=True)
    x.add_argument("--log", required=True)
    x.add_argument("--delay-ms", type=int, default=0)
    x = sub.add_parser("cut")
    x.add_argument("--pid-file", required=True)
    x.add_argument("--file", required=True)
    x.add_argument("--match", required=True)
    x.add_argument("--nth", type=int, default=1)
    x.add_argument("--delay-ms", type=float, nargs=2, required=True)
    x.add_argument("--timeout", type=float, default=60)
    x = sub.add_parser("tally")
    x.add_argument("--dir", required=True)
    x.add_argument("--expect", choices=["lost0", "loss", "none"], default="none")
    a = p.parse_args()
    return {"gen": cmd_gen, "sink": cmd_sink, "cut": cmd_cut, "tally": cmd_tally}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
