#!/usr/bin/env python3
"""relay_run.py — one measured run of bench/relay.sh: smtp-source -> relay -> smtp-sink.

    relay_run.py run  --kind postfix|mailrelayd --pid PID --queue DIR --sink-log FILE
                      --source BIN --port P --n N --sessions S --size BYTES [--timeout SEC]
    relay_run.py idle --port P --n N --pid PID [--kind ...] [--hold SEC]

run: starts smtp-source against 127.0.0.1:P and measures, from its start,
  accept_s  until smtp-source exits (every message answered 250 by the relay)
  e2e_s     until the sink has counted N more messages than before the run
  cpu_s     CPU seconds of the relay over the whole run, taken once its queue is empty
            again: mailrelayd = utime+stime of the process (all threads); postfix = the
            master's utime+stime+cutime+cstime (children it reaped) + utime+stime of its
            live children, after minus before
  rss_kb    peak over the run of the relay's RSS (postfix: sum over master and children,
            sampled every 0.2 s; mailrelayd: VmHWM growth is not resettable, so the sampled
            VmRSS peak as for Postfix), pss_kb the same for PSS (shared pages split)
and prints them as one line of key=value. The sink's count is smtp-sink -c's last "mesg=N".
idle: opens N connections to P, each reads the greeting and the EHLO reply and stays;
  prints the relay's RSS (and PSS, process count) with all of them open, then closes them.
Exit 0, or 1 with the reason on stderr (timeout, smtp-source failure, lost or extra mail).
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # the command name may contain spaces: split after the closing parenthesis
    return s[s.rindex(")") + 2:].split()


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if int(stat_fields(d)[1]) == pid:   # field 4: ppid
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return out


def procs(kind, pid):
    return [pid] + (children(pid) if kind == "postfix" else [])


def cpu_ticks(kind, pid):
    f = stat_fields(pid)
    # fields 14..17 (utime stime cutime cstime) are at index 11..14 after the name
    total = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    if kind == "postfix":
        for c in children(pid):
            try:
                cf = stat_fields(c)
                total += int(cf[11]) + int(cf[12])
            except OSError:
                pass    # exited between listing and reading: counted in cutime later
    return total


def mem_kb(kind, pid):
    rss = pss = 0
    ps = procs(kind, pid)
    for p in ps:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss, len(ps)


def sink_count(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 256))
            tail = f.read().decode("ascii", "replace")
    except OSError:
        return 0
    m = re.findall(r"mesg=(\d+)", tail)
    return int(m[-1]) if m else 0


def queue_files(paths):
    n = 0
    for path in paths:
        for _, _, files in os.walk(path):
            n += len(files)
    return n


def run(a):
    c0 = sink_count(a.sink_log)
    cpu0 = cpu_ticks(a.kind, a.pid)
    la0 = open("/proc/loadavg").read().split()[0]
    cmd = [a.source, "-s", str(a.sessions), "-m", str(a.n), "-l", str(a.size),
           "-f", "bench@example.org", "-t", "user@example.net", f"127.0.0.1:{a.port}"]
    t0 = time.monotonic()
    src = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t_acc = t_end = None
    rss_peak = pss_peak = nproc = 0
    next_mem = t0
    deadline = t0 + a.timeout
    while t_end is None or t_acc is None:
        now = time.monotonic()
        if now > deadline:
            src.kill()
            sys.exit(f"timeout after {a.timeout}s: sink has {sink_count(a.sink_log) - c0} of {a.n}")
        if t_acc is None and src.poll() is not None:
            t_acc = now
            err = src.stderr.read().decode(errors="replace").strip()
            if src.returncode != 0 or err:
                sys.exit(f"smtp-source exit {src.returncode}: {err[:400]}")
        if t_end is None and sink_count(a.sink_log) - c0 >= a.n:
            t_end = now
        if now >= next_mem:
            rss, pss, np_ = mem_kb(a.kind, a.pid)
            if rss > rss_peak:
                rss_peak, nproc = rss, np_
            pss_peak = max(pss_peak, pss)
            next_mem = now + 0.2
        time.sleep(0.005)
    # let the relay finish its own bookkeeping (queue files removed) before taking the CPU
    while queue_files(a.queue) > 0:
        if time.monotonic() > deadline:
            sys.exit(f"timeout: the relay's queue {a.queue} did not empty")
        time.sleep(0.02)
    time.sleep(0.3)
    got = sink_count(a.sink_log) - c0
    if got != a.n:
        sys.exit(f"sink counted {got} messages, expected {a.n}")
    cpu1 = cpu_ticks(a.kind, a.pid)
    la1 = open("/proc/loadavg").read().split()[0]
    print(f"n={a.n} accept_s={t_acc - t0:.3f} e2e_s={t_end - t0:.3f} "
          f"cpu_s={(cpu1 - cpu0) / HZ:.2f} rss_kb={rss_peak} pss_kb={pss_peak} "
          f"procs={nproc} load_before={la0} load_after={la1}")


def read_reply(f):
    while True:
        line = f.readline()
        if not line:
            raise OSError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            return line


def idle(a):
    socks = []
    try:
        for i in range(a.n):
            s = socket.create_connection(("127.0.0.1", a.port), 5)
            f = s.makefile("rb")
            if not read_reply(f).startswith(b"220"):
                sys.exit(f"session {i}: no 220 greeting")
            s.sendall(b"EHLO idle%d.example.org\r\n" % i)
            if not read_reply(f).startswith(b"250"):
                sys.exit(f"session {i}: EHLO not answered 250")
            socks.append((s, f))
        time.sleep(a.hold)
        rss, pss, np_ = mem_kb(a.kind, a.pid)
        print(f"sessions={len(socks)} rss_kb={rss} pss_kb={pss} procs={np_}")
    finally:
        for s, f in socks:
            f.close()
            s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run", "idle"])
    p.add_argument("--kind", choices=["postfix", "mailrelayd"], default="mailrelayd")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--queue", action="append", default=[])
    p.add_argument("--sink-log")
    p.add_argument("--source", default="smtp-source")
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=10240)
    p.add_argument("--timeout", type=float, default=180)
    p.add_argument("--hold", type=float, default=1.0)
    a = p.parse_args()
    if a.mode == "run":
        run(a)
    else:
        idle(a)


if __name__ == "__main__":
    main()
