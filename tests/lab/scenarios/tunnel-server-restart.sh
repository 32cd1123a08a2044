#!/bin/bash
# tunnel-server-restart.sh — the provider's pptpd crashes while the tunnel is up: pptpd, its
# pptpctrl and the session's pppd are SIGKILLed (the kernel closes their sockets). mailtund
# must notice (control connection lost), drop the link, keep re-dialling with back-off while
# nothing listens on TCP 1723, and be up again soon after pptpd is back.
#
# Records in <results>/timing.txt:
#   detect_seconds        kill -> mailtund logs "link down" (mailtund's own log time)
#   failed_dials_while_down  dials refused while pptpd was gone
#   back_seconds          pptpd listening again -> the provider reaches the fixed address over TCP
#   outage_seconds        kill -> the provider reaches the fixed address again
# lab-timeout: 200
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

[ -x "$MT_MAILTUND" ] || lab_fail "mailtund not built ($MT_MAILTUND): make check builds it first"
log=$LAB_RESULTS/mailtund.out
down_for=6                  # seconds pptpd stays dead after mailtund noticed

# log_epoch <mailtund log line> — the line's time ("YYYY-MM-DD HH:MM:SS.mmm ...") in epoch seconds.
log_epoch() { local d t; read -r d t _ <<<"$1"; date -d "$d $t" +%s.%N; }

# descendants <pid> — the pid and all its descendants, children last.
descendants() {
    local c
    echo "$1"
    for c in $(pgrep -P "$1"); do descendants "$c"; done
}

# count_ip_up — ip-up hook lines with the fixed address as local address.
count_ip_up() { grep -c " ip-up .*local=$LAB_FIXED " "$LAB_RESULTS/ppp-hooks.log" 2>/dev/null; }


lab_base_up
lab_provider_up
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
mt_config
mt_tunnel_up
lab_wait_ip_up 25 $LAB_FIXED
lab_wait 5 "mailtund reporting the link up" mt_state_is up
lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5 >/dev/null || lab_fail "provider cannot reach $LAB_FIXED:2525 before the crash"
ups=$(count_ip_up)
lab_log "tunnel up, provider reaches $LAB_FIXED:2525"

# Crash: pptpd, pptpctrl and the provider's pppd, all at once.
read -r pptpd_pid <"$LAB_RUN/$LAB_PROVIDER_DAEMON.pid"
victims=$(descendants "$pptpd_pid" | tr '\n' ' ')
grep -q pppd <<<"$(for p in $victims; do cat /proc/$p/comm 2>/dev/null; done)" ||
    lab_fail "no provider pppd below $LAB_PROVIDER_DAEMON (pids $victims)"
disown -a          # no "Killed" job report from bash for pptpd (a job of this shell)
t_kill=$(lab_now)
kill -KILL $victims
lab_log "SIGKILL $LAB_PROVIDER_DAEMON and its children: $victims"

# PPTP: the kernel resets the dead server's TCP connection at the next segment (seconds).
# L2TP: the LNS's death sends no reset; once the kernel tunnel is on the UDP socket, Linux
# (6.1) gives ICMP errors to the tunnel, not to mailtund, so mailtund's HELLO after
# l2tp_hello_interval (10 s) of silence, unacknowledged for as long again, ends it: 10-20 s
# (pppd's LCP echoes, 10 s x 3, would take ~38 s, as it did before that).
detect_limit=$([ "${MT_TRANSPORT:-pptp}" = l2tp ] && echo 25 || echo 15)
lab_wait_line $detect_limit "mailtund to notice the crash (link down)" "$log" '*notice: link down *'
t_detect=$(log_epoch "$LAB_LINE")
detect=$(lab_elapsed "$t_kill" "$t_detect")
lab_result detect_seconds "$detect"
lab_log "detected after ${detect}s: ${LAB_LINE#*notice: }"
lab_wait_line 5 "the failure and its back-off" "$log" '*tunnel failed reason=*'
lab_log "${LAB_LINE#*warn: }"

# While pptpd is gone every dial must fail (connection refused) and back off.
lab_sleep $down_for
for p in $victims; do lab_gone "$p" || lab_fail "pid $p survived SIGKILL"; done
lab_provider_listening && lab_fail "the provider's $LAB_PROVIDER_DAEMON still takes calls"
failed=$(awk '/notice: link down /{ on = 1 } on && /tunnel failed reason=/{ n++ } END { print n + 0 }' "$log")
mt_state_is up && lab_fail "mailtund says up while the server is dead"

t_restart0=$(lab_now)
lab_provider_up
t_restart=$(lab_now)
lab_log "$LAB_PROVIDER_DAEMON restarted (${failed} failed attempts while it was gone)"
lab_result failed_dials_while_down "$failed"
[ "$failed" -ge 2 ] || lab_fail "only $failed failure(s) logged while $LAB_PROVIDER_DAEMON was gone"

t_back=$(lab_reach_loop $LAB_NS_PROVIDER $LAB_FIXED 2525 30) || lab_fail "the provider cannot reach $LAB_FIXED:2525 within 30 s of pptpd's restart"
back=$(lab_elapsed "$t_restart" "$t_back")
outage=$(lab_elapsed "$t_kill" "$t_back")
lab_result back_seconds "$back"
lab_result outage_seconds "$outage"
lab_log "provider reaches $LAB_FIXED:2525 again ${back}s after pptpd listened (outage ${outage}s;" \
    "pptpd's own start took $(lab_elapsed "$t_restart0" "$t_restart")s)"
[ "$(count_ip_up)" -gt "$ups" ] || lab_fail "no new ip-up with $LAB_FIXED"
lab_wait 5 "mailtund reporting the link up" mt_state_is up
grep -q "from $LAB_FIXED lookup 1723" <<<"$(ip -n $LAB_NS_CUSTOMER rule)" || lab_fail "no source rule after the re-dial"
# Back-off never ran away: the refused dials were spaced (no more than one a second overall).
dials=$(grep -c ' dial server=' "$log")
[ "$dials" -le $((2 + ${outage%.*})) ] || lab_fail "$dials dials in a ${outage}s outage"
lab_log "$dials dials in total; source rule back; mailtunctl: $(mt_status | grep -E ' (state|dials|reconnects) ' | tr -s ' ' | paste -sd';')"

lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_log "PASS"
exit 0
