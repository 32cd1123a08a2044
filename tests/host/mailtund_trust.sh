#!/bin/bash
# mailtund_trust.sh — what mailtund believes on its control socket, and from whom (issue 18,
# items 9, 10, 11), against the fake PPTP server and fake pppd of mailtund_peers.sh.
#
#   trace    starting a trace needs root; it takes no directory; files go to <state_dir>/trace,
#            0700, never through a planted symlink, never into a symlinked directory
#   plugin   plugin messages from a non-root process holding pppd's pid are refused; an
#            ip-up naming the uplink or a non-ppp device is refused
#   late     an ip-up arriving after a failure (back-off) or after SIGTERM does not bring the
#            link up; after SIGTERM mailtund stops
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers

source "$PEERS/peers_lib.sh"
command -v setpriv >/dev/null || { echo "skip: setpriv (util-linux) missing (run tests/deps.sh)"; exit 77; }
# gid 0 owns the socket, so a process with uid 65534 and gid 0 reaches it as a group member would
echo "control_group = root" >>"$work/mailtun.conf"
chmod 0711 "$work"   # mktemp made it 0700: uid 65534 must reach the socket
ctl() { "$B/ctl/mailtunctl" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent "$@"; }
as_member() { setpriv --reuid=65534 --regid=0 --clear-groups "$@"; }
not_up_for() {   # SECONDS: the link must not come up meanwhile
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt $end ]; do state_is up && fail "link came up: $(grep 'link up' "$work/mailtund.log")"; sleep 0.2; done
}

start_server
# --- trace (item 9) ------------------------------------------------------------------------
echo "FAKE_PPP_IFNAME=ppp-fake" >"$work/fake_pppd.conf"
mkdir -m 0755 "$work/trace"
echo precious >"$work/victim"; chmod 0644 "$work/victim"
# the names the next trace would take (seq 00 of a fresh daemon), planted as symlinks
for d in 0 1 2 3; do ln -s "$work/victim" "$work/trace/trace-$(date -d "+$d sec" +%Y%m%d-%H%M%S)-00.pcap"; done
start_mailtund
wait_for 10 "control socket" test -S "$work/mailtund.sock"
ctl trace start >"$work/trace.out" 2>&1 || fail "trace start as root: $(cat "$work/trace.out")"
[ "$(cat "$work/victim")" = precious ] || fail "trace wrote through a planted symlink: victim now $(wc -c <"$work/victim") bytes"
[ "$(stat -c %a "$work/victim")" = 644 ] || fail "trace chmod'ed through a planted symlink: $(stat -c %a "$work/victim")"
f=$(sed -n 's/^trace started: //p' "$work/trace.out")
[ -f "$f" ] && [ ! -L "$f" ] && [ "$(stat -c %a "$f")" = 600 ] || fail "trace file $f: $(ls -l "$f" 2>&1)"
[ "$(stat -c %a "$work/trace")" = 700 ] || fail "trace directory mode $(stat -c %a "$work/trace"), want 700"
ok "trace: planted symlinks not followed, $f 0600 in a 0700 directory"
ctl trace stop >/dev/null 2>&1 || fail "trace stop"

as_member "$B/ctl/mailtunctl" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent trace start \
    >"$work/trace.out" 2>&1 && { ctl trace stop >/dev/null 2>&1; fail "a non-root group member started a trace: $(cat "$work/trace.out")"; }
grep -q "needs root" "$work/trace.out" || fail "non-root trace start: $(cat "$work/trace.out")"
ok "trace start as uid 65534 refused: $(cat "$work/trace.out")"

python3 - "$work/mailtund.sock" "$work/elsewhere" "$PEERS" >"$work/trace.out" 2>&1 <<'EOP' || fail "trace start with a directory: $(cat "$work/trace.out")"
import socket, sys
sys.path.insert(0, sys.argv[3])
import mtipc
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(mtipc.frame(50, [(14, sys.argv[2].encode())]))   # TRACE_START, ATTR_PATH
t, attrs = mtipc.recv_frame(s)
print(t, mtipc.attr(attrs, mtipc.A_TEXT))
sys.exit(0 if t == mtipc.ERROR else 1)
EOP
[ -e "$work/elsewhere" ] && fail "trace created the directory the client named"
ok "trace start naming a directory refused: $(cat "$work/trace.out")"

mv "$work/trace" "$work/trace.old"; mkdir "$work/elsewhere"; ln -s "$work/elsewhere" "$work/trace"
ctl trace start >"$work/trace.out" 2>&1 && { ctl trace stop >/dev/null 2>&1; fail "trace followed a symlinked directory: $(cat "$work/trace.out")"; }
[ -z "$(ls "$work/elsewhere")" ] || fail "files written into the symlink's target: $(ls "$work/elsewhere")"
ok "symlinked trace directory refused: $(cat "$work/trace.out")"
stop_mailtund

# --- plugin messages from a non-root process with pppd's pid (item 10) ---------------------
echo "FAKE_PPP_UID=65534" >>"$work/fake_pppd.conf"
start_mailtund
wait_for 10 "refusal logged" grep -q 'plugin message refused .*uid=65534.*reason="not root"' "$work/mailtund.log"
not_up_for 2
ok "uid 65534 holding pppd's pid refused: $(grep -o 'plugin message refused.*' "$work/mailtund.log" | head -n 1)"
stop_mailtund

# --- ip-up naming the uplink, or a device that is not ppp (item 10) ------------------------
for dev in "vc$$" lo; do
    : >"$work/mailtund.log"
    echo "FAKE_PPP_IFNAME=$dev" >"$work/fake_pppd.conf"
    start_mailtund
    wait_for 10 "ip-up on $dev refused" grep -q "link refused: ip-up names interface $dev" "$work/mailtund.log"
    not_up_for 1
    inc ip route show table 1723 2>/dev/null | grep -q . && fail "table 1723 routed: $(inc ip route show table 1723)"
    ok "$(grep -o 'link refused: ip-up names[^"]*' "$work/mailtund.log" | head -n 1)"
    stop_mailtund
done

# --- ip-up after a failure: the set-up timeout (2 x connect_timeout) fails the attempt and
# stops pppd, whose ip-up then arrives in back-off (item 11) -----------------------------------
: >"$work/mailtund.log"
printf 'FAKE_PPP_IFNAME=ppp-fake\nFAKE_PPP_IPUP_ON_TERM=1\n' >"$work/fake_pppd.conf"
start_mailtund
wait_for 20 "late ip-up in back-off" grep -q 'plugin event ignored .*type=PPP_IP_UP state=backoff' "$work/mailtund.log"
grep -q "tunnel state backoff -> up" "$work/mailtund.log" && fail "late ip-up moved backoff -> up"
inc ip route show table 1723 2>/dev/null | grep -q . && fail "table 1723 routed after a late ip-up: $(inc ip route show table 1723)"
ok "late ip-up after a failed attempt ignored: $(grep -o 'plugin event ignored .*state=backoff[^"]*' "$work/mailtund.log" | head -n 1)"
stop_mailtund

# --- ip-up after SIGTERM (item 11) ---------------------------------------------------------
: >"$work/mailtund.log"
start_mailtund
wait_for 10 "call handed to pppd" grep -q "call handed to pppd" "$work/mailtund.log"
kill -TERM "$daemon"
for _ in $(seq 200); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && fail "mailtund alive 20 s after SIGTERM: $(grep 'tunnel state' "$work/mailtund.log" | tail -n 3)"
grep -q "tunnel state stopping -> up" "$work/mailtund.log" && fail "late ip-up moved stopping -> up"
grep -q 'plugin event ignored .*type=PPP_IP_UP state=stopping' "$work/mailtund.log" || fail "late ip-up not logged as ignored"
inc ip route show table 1723 2>/dev/null | grep -q . && fail "table 1723 left: $(inc ip route show table 1723)"
ok "late ip-up ignored, mailtund stopped: $(grep -o 'tunnel state [a-z-]* -> stopped.*' "$work/mailtund.log")"
sanitizer_clean
echo "all mailtund trust checks passed"
