"""lns_kernel.py — the LNS end of the kernel's L2TP data path, for fake_lns.py in the lab.

As xl2tpd does in kernel mode: a UDP socket connected to the LAC (the kernel sends data
messages only on a connected socket), a PPPoL2TP tunnel context on it (session 0/0), one
PPPoL2TP session socket, and a real pppd attached to that socket through Debian's
pppol2tp.so plugin. Control messages still reach the caller on the UDP socket.
Needs: Linux with l2tp_ppp, ctypes (Python's socket module cannot spell a PPPoX address).
"""
import ctypes
import os
import signal
import socket
import struct
import subprocess

AF_PPPOX, PX_PROTO_OL2TP = 24, 1
_libc = ctypes.CDLL(None, use_errno=True)


def _pppol2tp_connect(sock, udp_fd, peer, tid, sid, ptid, psid):
    # struct sockaddr_pppol2tp is packed: family u16, protocol u32, then pppol2tp_addr
    # (pid, fd, sockaddr_in, s_tunnel, s_session, d_tunnel, d_session): 38 bytes.
    sin = struct.pack("=H", socket.AF_INET) + struct.pack(">H", peer[1]) + socket.inet_aton(peer[0]) + bytes(8)
    sa = struct.pack("=HIii", AF_PPPOX, PX_PROTO_OL2TP, 0, udp_fd) + sin + struct.pack("=HHHH", tid, sid, ptid, psid)
    buf = ctypes.create_string_buffer(sa, len(sa))
    if _libc.connect(sock.fileno(), buf, len(sa)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "PPPoL2TP connect tunnel %d/%d session %d/%d: %s" % (tid, ptid, sid, psid, os.strerror(e)))


def connected_udp(listen, peer):
    """A second UDP socket on the LNS's address and port, connected to the LAC."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(listen)
    s.connect(peer)
    return s


class KernelCall:
    """The data path of one call with pppd on it; stop() ends both."""

    def __init__(self, udp, peer, tid, ptid, sid, psid, pppd_options, log):
        self.tunnel = socket.socket(AF_PPPOX, socket.SOCK_DGRAM, PX_PROTO_OL2TP)
        _pppol2tp_connect(self.tunnel, udp.fileno(), peer, tid, 0, ptid, 0)
        self.session = socket.socket(AF_PPPOX, socket.SOCK_DGRAM, PX_PROTO_OL2TP)
        _pppol2tp_connect(self.session, udp.fileno(), peer, tid, sid, ptid, psid)
        fd = self.session.fileno()
        cmd = ["/usr/sbin/pppd", "plugin", "pppol2tp.so", "pppol2tp", str(fd), "pppol2tp_lns_mode",
               "pppol2tp_tunnel_id", str(tid), "pppol2tp_session_id", str(sid),
               "passive", "nodetach", "auth", "refuse-pap", "file", pppd_options]
        self.pppd = subprocess.Popen(cmd, pass_fds=(fd,), stdin=subprocess.DEVNULL)
        log.write("PPPD pid=%d tunnel=%d/%d session=%d/%d\n" % (self.pppd.pid, tid, ptid, sid, psid))

    def stop(self, sig=signal.SIGTERM):
        if self.pppd.poll() is None:
            self.pppd.send_signal(sig)
            try:
                self.pppd.wait(3)
            except subprocess.TimeoutExpired:
                self.pppd.kill()
                self.pppd.wait()
        self.session.close()
        self.tunnel.close()
