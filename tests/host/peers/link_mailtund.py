#!/usr/bin/python3
"""link_mailtund.py SOCKET [--up-when FILE] [--hold SECONDS] — a scripted mailtund for the
relay's tests: answers HELLO and SUBSCRIBE with OK, sends LINK_UP (ppp0, 192.0.2.10,
203.0.113.1) once FILE exists (at once without --up-when), and LINK_DOWN "test is over"
after --hold seconds (never without it). Prints one line per event it sends."""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtipc  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("socket")
p.add_argument("--up-when")
p.add_argument("--hold", type=float)
a = p.parse_args()
s = socket.socket(socket.AF_UNIX)
s.bind(a.socket)
os.chmod(a.socket, 0o666)
s.listen(4)
c, _ = s.accept()
types = [mtipc.recv_frame(c)[0], mtipc.recv_frame(c)[0]]
assert types == [mtipc.HELLO, mtipc.SUBSCRIBE], types
c.sendall(mtipc.frame(mtipc.OK) + mtipc.frame(mtipc.OK))
while a.up_when and not os.path.exists(a.up_when):
    time.sleep(0.05)
c.sendall(mtipc.frame(mtipc.LINK_UP, [(mtipc.A_IFNAME, b"ppp0"), (mtipc.A_LOCAL, mtipc.in4("192.0.2.10")),
                                      (mtipc.A_PEER, mtipc.in4("203.0.113.1"))]))
print("sent LINK_UP", flush=True)
if a.hold is None:
    while True:
        time.sleep(3600)
time.sleep(a.hold)
c.sendall(mtipc.frame(mtipc.LINK_DOWN, [(mtipc.A_REASON, b"test is over")]))
print("sent LINK_DOWN", flush=True)
time.sleep(1)
