#!/bin/bash
# run.sh — drives mailtun.so inside fake_pppd (stub pppd 2.4.9) against fake_mailtund.py.
# Checks the IPC sequence, the log lines admins grep for, and the clean end when mailtund
# vanishes. On a host without the pptp module the kernel socket fails: that message is
# checked too. Usage: pppd-plugin/test/run.sh [build-dir]   (exit 0 pass, 1 fail)
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d /tmp/mt-plugin.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
FAILS=0
make -C "$ROOT" --no-print-directory "$B/pppd-plugin/mailtun.so" >/dev/null || exit 1
cc -std=gnu11 -Wall -Wno-unused-parameter -I/usr/include/pppd -rdynamic -o "$T/fake_pppd" "$HERE/fake_pppd.c" -ldl || exit 1
SO=$ROOT/$B/pppd-plugin/mailtun.so

has() { if grep -qF -- "$2" "$3"; then echo "ok: $1"; else echo "FAIL: $1 (no '$2' in $3)"; sed 's/^/   /' "$3"; FAILS=$((FAILS+1)); fi; }
daemon() { rm -f "$T/sock" "$T/sock.ready"; python3 "$HERE/fake_mailtund.py" "$T/sock" "$1" "$T/d.log" & for _ in $(seq 50); do [ -e "$T/sock.ready" ] && break; sleep 0.1; done; }

# 1. normal call: the sequence, the kernel socket (missing here, or present in the lab)
daemon reply
"$T/fake_pppd" "$SO" options "$T/sock" connect auth_up ip_up ip_down exit 16 > "$T/p.log"; wait
has "pppd_version exported" "pppd_version: 2.4.9" "$T/p.log"
has "channel set, modem off" "modem=0 channel=set" "$T/p.log"
has "hello" "HELLO role=plugin pid=" "$T/d.log"
has "call request" "CALL_REQUEST" "$T/d.log"
if grep -q "connect: -1" "$T/p.log"; then
    has "missing pptp module named" "mailtun: kernel module pptp not loaded (modprobe pptp)" "$T/p.log"
else
    has "call up logged" "mailtun: call up server=127.0.0.1 local=127.0.0.1 local_call_id=4711 peer_call_id=815" "$T/p.log"
fi
has "auth up sent" "PPP_AUTH_UP" "$T/d.log"
has "ip up sent" "PPP_IP_UP ifname=ppp3 local=203.0.113.77 peer=203.0.113.1 mtu=1400" "$T/d.log"
has "ip up logged" "mailtun: ip up ifname=ppp3 local=203.0.113.77 peer=203.0.113.1 mtu=1400" "$T/p.log"
has "ip down sent" "PPP_IP_DOWN" "$T/d.log"
has "exit sent" "PPP_EXIT reason=exit 16 (hangup)" "$T/d.log"

# 1b. a refused login: pppd sets its exit status and enters the terminate phase; mailtund
#     hears the reason then (phase 9), not only at exit; a plain phase change says nothing.
daemon reply
"$T/fake_pppd" "$SO" options "$T/sock" connect phase 5 status 19 phase 9 exit 19 > "$T/p.log"; wait
has "reason told at terminate" "link ends with exit 19 (authentication to peer failed); telling mailtund" "$T/p.log"
n=$(grep -c "PPP_EXIT reason=exit 19 (authentication to peer failed)" "$T/d.log")
[ "$n" -eq 2 ] && echo "ok: reason sent at terminate and at exit" ||
    { echo "FAIL: expected 2 PPP_EXIT frames with exit 19, got $n"; sed 's/^/   /' "$T/d.log"; FAILS=$((FAILS+1)); }
[ "$(grep -c PPP_EXIT "$T/d.log")" -eq 2 ] && echo "ok: phase 5 sends nothing" ||
    { echo "FAIL: unexpected PPP_EXIT frames"; sed 's/^/   /' "$T/d.log"; FAILS=$((FAILS+1)); }

# 2. mailtund refuses
daemon refuse
"$T/fake_pppd" "$SO" options "$T/sock" connect > "$T/p.log"; kill %1 2>/dev/null; wait
has "refusal logged" "error: mailtun: mailtund refused the call: no uplink" "$T/p.log"
has "connect fails" "connect: -1" "$T/p.log"

# 3. no mailtund at all
rm -f "$T/sock"
"$T/fake_pppd" "$SO" options "$T/sock" connect > "$T/p.log"
has "unreachable daemon logged" "error: mailtun: cannot reach mailtund at $T/sock" "$T/p.log"

# 4. kernel socket faked: bind/connect use the call IDs; mailtund dies -> clean end
daemon hangup
FAKE_PPTP=1 "$T/fake_pppd" "$SO" options "$T/sock" connect sleep sleep watch auth_up exit 1 > "$T/p.log"; wait
has "bind: our call id and address" "pptp bind: call_id=4711 addr=127.0.0.1" "$T/p.log"
has "connect: peer call id and server" "pptp connect: call_id=815 addr=127.0.0.1" "$T/p.log"
has "call up logged" "notice: mailtun: call up server=127.0.0.1 local=127.0.0.1 local_call_id=4711 peer_call_id=815" "$T/p.log"
has "watchdog armed" "watch: armed" "$T/p.log"
has "pptp: LCP starts at once" "listen_time=0" "$T/p.log"
has "daemon loss logged" "error: mailtun: lost mailtund (connection closed); ending the link" "$T/p.log"
has "link closed with fatal status" "lcp_close: lost mailtund (connection closed) (status 1)" "$T/p.log"

# 4b. mailtund sends ERROR: the link ends with its reason
daemon kick
FAKE_PPTP=1 "$T/fake_pppd" "$SO" options "$T/sock" connect sleep watch exit 5 > "$T/p.log"; wait
has "kick logged" "error: mailtun: mailtund ends the call: uplink address changed; ending the link" "$T/p.log"
has "kick closes link" "lcp_close: mailtund ends the call: uplink address changed (status 5)" "$T/p.log"
has "exit still reported after a kick" "PPP_EXIT reason=exit 5 (user request)" "$T/d.log"

# 6. one deadline for the whole call wait: an OK every second does not extend mailtun-timeout
daemon drip; dpid=$!
t0=$SECONDS
timeout -k 2 20 "$T/fake_pppd" "$SO" options "$T/sock" timeout 2 connect > "$T/p.log"
el=$((SECONDS - t0)); kill $dpid 2>/dev/null; wait $dpid 2>/dev/null
has "deadline named" "error: mailtun: no call from mailtund within mailtun-timeout 2 s" "$T/p.log"
[ $el -le 4 ] && echo "ok: call wait ended after ${el} s (mailtun-timeout 2) despite an OK every second" ||
    { echo "FAIL: call wait took ${el} s with mailtun-timeout 2"; FAILS=$((FAILS+1)); }

# 7. pppd's SIGTERM ends the call wait at once (mailtun-timeout 30)
daemon silent; dpid=$!
"$T/fake_pppd" "$SO" options "$T/sock" timeout 30 connect > "$T/p.log" & ppid=$!
sleep 1; kill -TERM $ppid
for _ in $(seq 30); do kill -0 $ppid 2>/dev/null || break; sleep 0.1; done
if kill -0 $ppid 2>/dev/null; then
    echo "FAIL: plugin still waiting 3 s after SIGTERM"; FAILS=$((FAILS+1)); kill -9 $ppid
else
    echo "ok: SIGTERM ended the call wait"
fi
wait $ppid 2>/dev/null; kill $dpid 2>/dev/null; wait $dpid 2>/dev/null
has "stop named" "error: mailtun: no call from mailtund: pppd is stopping (signal)" "$T/p.log"

# 8. the watchdog reads a bounded number of frames per tick, even while mailtund floods it
daemon flood; dpid=$!
t0=$SECONDS
FAKE_PPTP=1 timeout -k 2 10 "$T/fake_pppd" "$SO" options "$T/sock" connect sleep watch exit 1 > "$T/p.log"
el=$((SECONDS - t0)); kill $dpid 2>/dev/null; wait $dpid 2>/dev/null
has "watchdog tick returns under a frame flood" "watch: returned" "$T/p.log"
# The socket was full before the tick (the daemon flooded during "sleep"): one tick may take
# 16 frames, however many wait. Each frame read is one "ignoring OK" debug line.
n=$(grep -c "dbglog: mailtun: ignoring OK from mailtund" "$T/p.log")
[ "$n" -ge 1 ] && [ "$n" -le 16 ] && [ $el -le 3 ] && echo "ok: one watchdog tick read $n frames of the flood (${el} s)" ||
    { echo "FAIL: one watchdog tick read $n frames (want 1..16), run took ${el} s"; FAILS=$((FAILS+1)); }

# 5. bad option value is refused
"$T/fake_pppd" "$SO" options relative/path > "$T/p.log"; rc=$?
has "relative socket path refused" "mailtun-socket must be an absolute path" "$T/p.log"
[ $rc -eq 2 ] && echo "ok: option error exit 2" || { echo "FAIL: option error exit $rc"; FAILS=$((FAILS+1)); }

# 6. an L2TP call: the PPPoL2TP socket with both tunnel and both session ids, the LNS's
#    address; on a host without l2tp_ppp the real socket fails with the module named
daemon l2tp
"$T/fake_pppd" "$SO" options "$T/sock" connect exit 16 > "$T/p.log"; wait
if grep -q "connect: -1" "$T/p.log"; then
    has "missing l2tp_ppp named" "mailtun: kernel module l2tp_ppp not loaded (modprobe l2tp_ppp)" "$T/p.log"
else
    has "l2tp call up logged" "mailtun: call up transport=l2tp server=127.0.0.1 tunnel_id=101 peer_tunnel_id=202 session_id=303 peer_session_id=404" "$T/p.log"
fi
daemon l2tp
FAKE_PPTP=1 "$T/fake_pppd" "$SO" options "$T/sock" connect auth_up exit 16 > "$T/p.log"; wait
has "l2tp session socket" "l2tp connect: tunnel=101/202 session=303/404 server=127.0.0.1:1701 fd=-1 len_ok=1" "$T/p.log"
has "l2tp: attached reported (mailtund's ICCN waits for it)" "CALL_ATTACHED" "$T/d.log"
has "l2tp: LCP listens first (the LNS starts its pppd on our ICCN)" "listen_time=3000" "$T/p.log"
has "l2tp call up logged" "notice: mailtun: call up transport=l2tp server=127.0.0.1 tunnel_id=101 peer_tunnel_id=202 session_id=303 peer_session_id=404" "$T/p.log"
if grep -q "pptp bind\|pptp connect" "$T/p.log"; then echo "FAIL: a PPTP socket for an L2TP call"; FAILS=$((FAILS+1));
else echo "ok: no PPTP socket for an L2TP call"; fi
daemon l2tp-bad
FAKE_PPTP=1 "$T/fake_pppd" "$SO" options "$T/sock" connect > "$T/p.log"; wait
has "incomplete L2TP call refused" "mailtun: malformed CALL_REPLY from mailtund: L2TP CALL_REPLY without non-zero tunnel ids, session ids and server port" "$T/p.log"

[ $FAILS -eq 0 ] && { echo "PASS: plugin"; exit 0; }
echo "FAIL: $FAILS check(s)"; exit 1
