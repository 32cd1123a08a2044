#!/bin/bash
# l2tp-hostile.sh — mailtund with transport = l2tp against a scripted LNS that misbehaves in
# the session and established phases (tests/host/peers/fake_lns.py --pppd: after ICCN it puts
# the kernel's data path and a real pppd on its side, so the call reaches PPP up and mailtund's
# "up"). One mailtund, one boot, case after case; the host test mailtund_l2tp.sh covers the
# tunnel phase. Every case: mailtund is alive, answers `mailtunctl status`, its VmRSS stays
# within MEM_SLACK_KB of what it was after the first call, and it logs the reason named here.
#
#   set-up     ICRP with session id 0, ICRP without Assigned Session ID, CDN instead of ICRP
#   up         trace (UDP 1701 control packets in mailtunctl trace; status and check say l2tp),
#              CDN, StopCCN, an unknown mandatory AVP, Ns/Nr games, a duplicate flood and a
#              garbage flood (these three must not end the call), an LNS that crashes and
#              restarts (storms of ZLBs for the tunnel it forgot, a new tunnel id), and an LNS
#              whose control channel goes silent (noticed within twice l2tp_hello_interval:
#              its data path keeps working, so only HELLO can notice), once quietly and once
#              while it keeps sending junk that only looks like life
#
# Records in <results>/timing.txt: l2tp_dead_lns_seconds, l2tp_zombie_lns_seconds (silence ->
# tunnel failed).
# lab-timeout: 360
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

MEM_SLACK_KB=4096
HELLO_S=10                      # l2tp_hello_interval: silence before HELLO, and how long an
                                # unacknowledged one (retransmitted at 1, 3, 7 s) may wait

lab_base_up
lab_l2tp_modules
lab_provider_l2tp_ppp
LNS_LOG=$LAB_RESULTS/lns.log LNS_CTL=$LAB_RUN/lns.ctl
mkfifo "$LNS_CTL"
lab_spawn $LAB_NS_PROVIDER lns $LAB_PY "$LAB_SRC/tests/host/peers/fake_lns.py" --listen $LAB_PPTP_SERVER \
    --log "$LNS_LOG" --control "$LNS_CTL" --pppd /etc/ppp/options.xl2tpd --mode icrp_sid0,icrp_nosid,cdn_setup,normal
lab_wait_line 10 "fake LNS listening" "$LNS_LOG" "LISTEN *"
exec {LNS_FD}<>"$LNS_CTL"
lns() { echo "$*" >&"$LNS_FD"; }

MT_TRANSPORT=l2tp
mt_config "l2tp_hello_interval = ${HELLO_S}s" "lcp_echo_interval = 1s" "lcp_echo_failure = 3"
MT_LOG=$LAB_RESULTS/mailtund.out

# count <file> <glob> — lines of <file> matching the glob (builtins only)
count() {
    local n=0 line; local -a lines
    [ -r "$1" ] && mapfile -t lines <"$1"
    # shellcheck disable=SC2053  # $2 is a glob on purpose
    for line in "${lines[@]}"; do [[ $line == $2 ]] && n=$((n + 1)); done
    echo $n
}
# wait_more <timeout> <what> <file> <glob> <n> — until more than n lines match
wait_more() {
    local limit=$1 what=$2 file=$3 pat=$4 n=$5
    local deadline=$(( ${EPOCHREALTIME/./} + $(lab_us "$limit") ))
    while [ "$(count "$file" "$pat")" -le "$n" ]; do
        [ "${EPOCHREALTIME/./}" -ge $deadline ] && lab_fail "timeout after ${limit}s waiting for $what"
        lab_sleep 0.1
    done
}
rss_kb() { local k v _; while read -r k v _; do [ "$k" = VmRSS: ] && { echo "$v"; return; }; done </proc/"$MT_PID"/status; echo 0; }
# healthy <case> — alive, answering status, memory bounded
healthy() {
    lab_gone "$MT_PID" && lab_fail "$1: mailtund died: $(tail -n 5 "$MT_LOG")"
    mt_status | grep -q "transport  *l2tp" || lab_fail "$1: mailtunctl status does not answer (or forgot l2tp): $(mt_status | head -n 3)"
    local rss; rss=$(rss_kb)
    [ "$rss" -le $((RSS0 + MEM_SLACK_KB)) ] || lab_fail "$1: mailtund's VmRSS grew from $RSS0 to $rss kB"
    RSS=$rss
}
status_val() { mt_status | awk -v k="$1" '$2 == k { print $3 }'; }   # "mailtund  key  value"
# fails_with <case> <reason-glob> <timeout> — the next "tunnel failed" line names the reason
fails_with() {
    wait_more "$3" "$1: tunnel failed" "$MT_LOG" '*tunnel failed reason=*' "$FAILS"
    FAILS=$((FAILS + 1))
    local line; local -a lines; mapfile -t lines <"$MT_LOG"
    for line in "${lines[@]}"; do [[ $line == *"tunnel failed reason="* ]] && REASON=${line#*reason=}; done
    # shellcheck disable=SC2053
    [[ $REASON == *"$2"* ]] || lab_fail "$1: tunnel failed with $REASON, want \"$2..."
    healthy "$1"
    lab_log "$1: tunnel failed reason=${REASON%% retry_in*} (rss $RSS kB)"
}
# up <case> — the link is up again (a fresh call with PPP), the previous failure counted
up() {
    wait_more 40 "$1: link up" "$MT_LOG" '*link up ifname=*' "$UPS"
    UPS=$((UPS + 1))
    lab_wait 5 "$1: mailtund reporting up" mt_state_is up
}
FAILS=0 UPS=0

# ---- set-up phase: the first three dials (fake_lns --mode: one per tunnel) meet ICRPs and a
# CDN that cannot be gone on from; the fourth tunnel and all after it get a plain LNS -------
mt_tunnel_up
lab_wait_line 10 "mailtund's first SCCRQ" "$LNS_LOG" "RECV SCCRQ *"
RSS0=$(rss_kb)
fails_with icrp-session-0 "LNS assigned session id 0 in its ICRP" 20
fails_with icrp-no-session-id "LNS sent ICRP without its Assigned Session ID AVP" 20
fails_with cdn-in-set-up "LNS cleared the call (CDN): result 2 (general error" 20
grep -q "RECV StopCCN" "$LNS_LOG" || lab_fail "no StopCCN to the LNS after the refused calls"

# ---- the first real call: trace, status, check -------------------------------------------
up first-call
RSS0=$(rss_kb)
lab_log "up: transport $(status_val transport), LNS tunnel $(status_val peer_tunnel_id) session $(status_val peer_session_id) (rss $RSS0 kB)"
st=$(mt_status)
grep -q "transport  *l2tp$" <<<"$st" || lab_fail "status does not name the transport: $st"
chk=$("$MT_MAILTUNCTL" -c "$MT_CONF" --tunneld-socket "$MT_SOCK" --relayd-socket /nonexistent check 2>&1)
grep -q "transport l2tp" <<<"$chk" || lab_fail "mailtunctl check does not name the transport: $chk"
grep -q "kernel module l2tp_ppp" <<<"$chk" || lab_fail "mailtunctl check does not look for l2tp_ppp: $chk"
lab_log "check: $(grep -E 'transport|l2tp' <<<"$chk" | tr -s ' ' | paste -sd';')"
trace=$("$MT_MAILTUNCTL" --tunneld-socket "$MT_SOCK" --relayd-socket /nonexistent trace start 2>&1) ||
    lab_fail "trace start: $trace"
lab_log "$trace"

# ---- up: the LNS clears the call -----------------------------------------------------------
lns cdn
fails_with cdn-when-up "LNS cleared the call (CDN): result 3 (administrative" 20
up after-cdn
out=$("$MT_MAILTUNCTL" --tunneld-socket "$MT_SOCK" --relayd-socket /nonexistent trace stop 2>&1) ||
    lab_fail "trace stop: $out"
pcap=${trace#*: }
[ -s "$pcap" ] || lab_fail "no trace file: $trace"
cp "$pcap" "$LAB_RESULTS/trace.pcap"
ctl=$(tcpdump -nr "$pcap" 'udp port 1701 and udp[8] & 0x80 != 0' 2>/dev/null | wc -l)
types=$(tcpdump -nr "$pcap" 'udp port 1701' 2>/dev/null | grep -o 'MSGTYPE([A-Za-z]*)' | sort -u | paste -sd' ')
other=$(tcpdump -nr "$pcap" 'not udp port 1701' 2>/dev/null | wc -l)
for m in CDN StopCCN SCCRQ SCCRP ICRQ ICRP ICCN; do
    grep -q "MSGTYPE($m)" <<<"$types" || lab_fail "the trace has no L2TP $m: $ctl control packets, types: $types"
done
[ "$other" = 0 ] || lab_fail "the trace holds $other packets besides UDP 1701"
lab_log "trace: $ctl L2TP control packets on UDP 1701 ($types), nothing else ($out)"

# ---- up: StopCCN, an unknown mandatory AVP -------------------------------------------------
lns stopccn
fails_with stopccn-when-up "LNS stopped the tunnel (StopCCN): result 1 (general request" 20
up after-stopccn
lns unknown_m
fails_with unknown-m-when-up "LNS sent unknown AVP 9/99 with the M bit in HELLO" 20
up after-unknown-m

# ---- up: games the call must survive ------------------------------------------------------
for game in nsnr dupflood garbage; do
    sid=$(status_val peer_tunnel_id) d0=$(status_val l2tp_dropped)
    lns $game
    wait_more 10 "$game sent" "$LNS_LOG" "CMD $game *" 0
    lab_sleep 2
    [ "$(count "$MT_LOG" '*tunnel failed reason=*')" = $FAILS ] || lab_fail "$game ended the call: $(grep 'tunnel failed' "$MT_LOG" | tail -n 1)"
    mt_state_is up || lab_fail "$game: link not up: $(mt_status | head -n 4)"
    [ "$(status_val peer_tunnel_id)" = "$sid" ] || lab_fail "$game: a new tunnel"
    healthy "$game"
    d1=$(status_val l2tp_dropped)
    [ "$d1" -gt "$d0" ] || lab_fail "$game: nothing counted as dropped ($d0 -> $d1)"
    lab_log "$game: call still up (tunnel $sid), l2tp_dropped $d0 -> $d1 (rss $RSS kB)"
done

# ---- up: the LNS crashes and restarts (ZLB storm for the forgotten tunnel, new tunnel id) ---
old=$(status_val peer_tunnel_id)
lns reset
fails_with reset "" 30
lab_log "reset: noticed as ${REASON%% retry_in*}"
up after-reset
new=$(status_val peer_tunnel_id)
[ "$new" != "$old" ] || lab_fail "reset: the new call reuses tunnel id $old"
grep -q "RECV \(StopCCN\|CDN\|HELLO\)" "$LNS_LOG" || lab_fail "reset: nothing reached the forgotten tunnel (no storm)"
healthy reset
lab_log "reset: up again on LNS tunnel $new (was $old)"

# ---- up: the LNS's control channel dies, its data path lives --------------------------------
# dead_lns <case> <silent command> — noticed through HELLO within the bound, timed from the
# daemons' own clocks (when the LNS went silent, when mailtund gave up)
dead_lns() {
    lns "$2"
    fails_with "$1" "LNS silent: HELLO not acknowledged" $((2 * HELLO_S + 20))
    lab_wait_line 5 "the LNS going silent ($2)" "$LNS_LOG" "CMD $2 at=*"
    local line t0 t1 took
    line=$(grep "^CMD $2 at=" "$LNS_LOG" | tail -n 1); t0=${line##*at=}
    line=$(grep 'tunnel failed reason="LNS silent' "$MT_LOG" | tail -n 1)
    t1=$(date -d "${line:0:23}" +%s.%N) || lab_fail "$1: no time stamp in mailtund's line: $line"
    took=$(lab_elapsed "$t0" "$t1")
    lab_result "l2tp_${1//-/_}_seconds" "$took"
    [ "$(lab_us "$took")" -le $(( (2 * HELLO_S + 2) * 1000000 )) ] ||
        lab_fail "$1: noticed after ${took}s, bound twice l2tp_hello_interval = $((2 * HELLO_S))s (+2 s)"
    lab_log "$1: noticed after ${took}s (bound twice l2tp_hello_interval, $((2 * HELLO_S))s)"
}
dead_lns dead-lns silent
up after-dead-lns
# the same while the LNS keeps sending what only looks like life (ZLBs acking nothing,
# Ns from the future, replays): none of it may hold HELLO back
dead_lns zombie-lns "silent junk"
up after-zombie-lns
healthy final
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_log "PASS: $FAILS failures, each named; VmRSS $RSS0 -> $RSS kB"
exit 0
