#!/usr/bin/python3
"""subscriber.py SOCKET LOG — subscribes to mailtund's link events and writes one line per
event ("LINK_UP ifname local peer" / "LINK_DOWN reason") to LOG, reconnecting while the
daemon restarts; stops when killed."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtipc  # noqa: E402

path, log = sys.argv[1], sys.argv[2]
while True:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(mtipc.frame(mtipc.SUBSCRIBE))
        while True:
            t, attrs = mtipc.recv_frame(s)
            with open(log, "a") as f:
                if t == mtipc.LINK_UP:
                    f.write("LINK_UP %s %s %s\n" % (mtipc.attr(attrs, mtipc.A_IFNAME).decode(),
                                                   socket.inet_ntoa(mtipc.attr(attrs, mtipc.A_LOCAL)),
                                                   socket.inet_ntoa(mtipc.attr(attrs, mtipc.A_PEER))))
                elif t == mtipc.LINK_DOWN:
                    f.write("LINK_DOWN %s\n" % mtipc.attr(attrs, mtipc.A_REASON).decode())
    except (OSError, EOFError, ValueError):
        time.sleep(0.2)
