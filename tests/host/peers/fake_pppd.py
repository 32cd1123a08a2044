#!/usr/bin/python3
"""fake_pppd.py — stands in for pppd + mailtun.so on a host without PPP.

mailtund starts it with pppd's command line. It does what the plugin does on the control
socket: HELLO, CALL_REQUEST (expects CALL_REPLY), AUTH_UP, IP_UP with the interface named in
$FAKE_PPP_IFNAME and the address in $FAKE_PPP_ADDRESS (default: the one pppd was asked for),
then waits for SIGTERM, sends IP_DOWN and EXIT and exits 5 like pppd does. Its argv is
appended to fake_pppd.argv beside the control socket, so tests can check the options.
mailtund gives pppd a clean environment, so settings come from fake_pppd.conf beside the
control socket (KEY=VALUE lines: FAKE_PPP_IFNAME, FAKE_PPP_ADDRESS, FAKE_PPP_EXIT,
FAKE_PPP_UID: drop to this uid (keeping gid 0) before connecting, as a process reusing
pppd's pid would be; FAKE_PPP_IPUP_ON_TERM=1: send IP_UP only after SIGTERM, then ignore
further SIGTERMs, the late IP_UP of a link set-up racing a stop; FAKE_PPP_SILENT=1: after the
call, never reach AUTH_UP or IP_UP, as pppd still resending LCP into a path that drops GRE,
until SIGTERM).
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtipc  # noqa: E402

argv = sys.argv[1:]
sock_path = argv[argv.index("mailtun-socket") + 1]
here = os.path.dirname(sock_path)
with open(os.path.join(here, "fake_pppd.argv"), "a") as f:
    f.write(" ".join(argv) + "\n")
settings = {}
if os.path.exists(os.path.join(here, "fake_pppd.conf")):
    for line in open(os.path.join(here, "fake_pppd.conf")):
        if "=" in line:
            k, v = line.strip().split("=", 1)
            settings[k] = v
wanted = [a[:-1] for a in argv if a.endswith(":") and a[0].isdigit()]
address = settings.get("FAKE_PPP_ADDRESS") or (wanted[0] if wanted else "0.0.0.0")
ifname = settings.get("FAKE_PPP_IFNAME", "ppp0")

if settings.get("FAKE_PPP_UID"):
    os.setgroups([])
    os.setresuid(*[int(settings["FAKE_PPP_UID"])] * 3)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
s.sendall(mtipc.frame(mtipc.HELLO, [(mtipc.A_ROLE, b"plugin"), (mtipc.A_PID, mtipc.u32(os.getpid()))]))
mtipc.recv_frame(s)
s.sendall(mtipc.frame(mtipc.CALL_REQUEST))
t, attrs = mtipc.recv_frame(s)
if t != mtipc.CALL_REPLY:
    print("fake_pppd: no call: %r" % (attrs,), file=sys.stderr)
    sys.exit(19)
# as mailtun.so does: a call without a server address (the GRE peer) is no call
srv = mtipc.attr(attrs, mtipc.A_SERVER)
if not srv or len(srv) != 4 or srv == b"\0\0\0\0" or not mtipc.attr(attrs, mtipc.A_LOCAL_CALL_ID) \
        or not mtipc.attr(attrs, mtipc.A_PEER_CALL_ID):
    print("fake_pppd: malformed CALL_REPLY (needs server, local and peer call ID): %r" % (attrs,), file=sys.stderr)
    sys.exit(8)
print("fake_pppd: call peer_call_id=%d" % int.from_bytes(mtipc.attr(attrs, mtipc.A_PEER_CALL_ID), "big"),
      file=sys.stderr)
s.sendall(mtipc.frame(mtipc.CALL_ATTACHED))   # the kernel channel is open (L2TP's ICCN waits for it)
stop = False


def on_term(signo, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
if settings.get("FAKE_PPP_EXIT"):
    # e.g. 10: LCP got no answer (what pppd does when GRE never arrives)
    time.sleep(0.2)
    sys.exit(int(settings["FAKE_PPP_EXIT"]))
if settings.get("FAKE_PPP_SILENT"):
    while not stop:
        time.sleep(0.05)
    s.sendall(mtipc.frame(mtipc.PPP_EXIT, [(mtipc.A_REASON, b"received signal")]))
    sys.exit(5)
time.sleep(0.2)   # LCP, MS-CHAPv2, CCP, IPCP would happen here
s.sendall(mtipc.frame(mtipc.PPP_AUTH_UP))
ip_up = mtipc.frame(mtipc.PPP_IP_UP, [(mtipc.A_IFNAME, ifname.encode()), (mtipc.A_LOCAL, mtipc.in4(address)),
                                      (mtipc.A_PEER, mtipc.in4("192.0.2.1")), (mtipc.A_MTU, mtipc.u32(1400))])
if settings.get("FAKE_PPP_IPUP_ON_TERM"):
    while not stop:
        time.sleep(0.05)
    s.sendall(ip_up)
    print("fake_pppd: ip-up sent after SIGTERM; ignoring SIGTERM now", file=sys.stderr)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
s.sendall(ip_up)
while not stop:
    time.sleep(0.05)
s.sendall(mtipc.frame(mtipc.PPP_IP_DOWN))
s.sendall(mtipc.frame(mtipc.PPP_EXIT, [(mtipc.A_REASON, b"received signal")]))
sys.exit(5)
