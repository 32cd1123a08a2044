#!/bin/bash
# tunnel-wrong-password.sh — the customer's pppd answers MS-CHAPv2 with a wrong secret
# (a [tunnel] pppd_options file saying "password ..."; pppd prefers it over chap-secrets on
# the client side, while the provider keeps checking the real line of chap-secrets).
#
# Shows: the provider refuses the login; mailtund names the cause (pppd's exit 19,
# "authentication to the peer failed") in "tunnel failed reason=", backs off with growing
# waits (retry_in_ms), never re-dials before the announced wait is over, never brings the
# link up and leaves no source rule behind.
#
# Every LCP Terminate-Ack to the customer is dropped (the worst case of pppd's goodbye, see
# below): pppd still finishes on its own within mailtund's grace, never stopped or killed.
#
# Records in <results>/timing.txt: first_failure_seconds (start -> first "tunnel failed"),
# dials and window_seconds (dials made from the start until the third failure, and how long
# that took), retry_ms_1..3 (the announced waits), termacks_dropped, pppd_goodbye_ms_max
# (pppd's first word to mailtund -> its exit), pppd_killed_after_exit19 (must be 0).
# lab-timeout: 200
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

[ -x "$MT_MAILTUND" ] || lab_fail "mailtund not built ($MT_MAILTUND): make check builds it first"
lab_base_up
lab_provider_up

# The worst case of pppd's goodbye, every time: the provider's pppd gives up the call once it
# has its own Terminate-Ack, and the Terminate-Ack it sends back for ours can be lost on the
# way (on a real line, or by pptpd when its pppd exits right after writing it). Dropping
# every LCP Terminate-Ack (protocol c021, code 06) that reaches the customer makes the
# customer's pppd wait out its Terminate-Request timers each time; mailtund must still let
# it finish (pppd_killed_after_exit19=0).
command -v iptables-legacy >/dev/null || lab_skip "dropping LCP Terminate-Acks needs iptables-legacy (package iptables; run tests/deps.sh)"
modprobe -a ip_tables iptable_filter xt_tcpudp xt_string ts_bm ||
    lab_fail "modprobe ip_tables iptable_filter xt_tcpudp xt_string ts_bm failed"
case ${MT_TRANSPORT:-pptp} in
pptp) lost_ack_match=(-p gre);;
*) lost_ack_match=(-p udp --sport 1701);;
esac
lab_in $LAB_NS_CUSTOMER iptables-legacy -A INPUT "${lost_ack_match[@]}" -m string --algo bm \
    --hex-string '|c02106|' -j DROP || lab_fail "cannot drop LCP Terminate-Acks in the customer namespace"

log=$LAB_RESULTS/mailtund.out
opts=$LAB_RUN/pppd-wrong-password
( umask 077; echo "password not-the-secret-${EPOCHREALTIME/./}" >"$opts" )
mt_config "pppd_options = $opts"
t0=$(lab_now)
mt_tunnel_up
lab_log "mailtund started with pppd_options $opts (a wrong MS-CHAPv2 secret)"

lab_wait_line 25 "the first failed attempt" "$log" '*tunnel failed reason=*failures=1'
lab_result first_failure_seconds "$(lab_elapsed "$t0")"
lab_log "first failure: ${LAB_LINE#*warn: }"
lab_wait_line 40 "the third failed attempt" "$log" '*tunnel failed reason=*failures=3'
window=$(lab_elapsed "$t0")
lab_log "third failure after ${window}s"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"

# The provider refused the login, and the customer's pppd said why.
grep -q "MS-CHAP authentication failed\|CHAP peer authentication failed\|failed CHAP authentication" \
    "$LAB_RESULTS/provider-pppd.log" || lab_fail "the provider's pppd log shows no refused login"
grep -q "CHAP authentication failed" "$LAB_RESULTS/customer-pppd.log" ||
    lab_fail "the customer's pppd log does not say the authentication failed"

# Every attempt ends with pppd's exit 19, and mailtund logs it ("pppd exited exit 19 ...").
# Every "tunnel failed" reason names pppd's exit 19, also when the server's TCP close
# arrives before pppd has exited (mailtund then reports pppd's own word first).
mapfile -t fails < <(grep 'tunnel failed reason=' "$log")
[ ${#fails[@]} -ge 3 ] || lab_fail "expected 3 'tunnel failed' lines, got ${#fails[@]}"
# pppd's own word reaches mailtund through the plugin ("pppd exiting ... reason=exit 19") as it
# ends the link, and is what every failure names: pppd 2.4.9 then exits with 16 (hangup) when
# its goodbye ends without a Terminate-Ack, as it does here every time.
exits=$(grep -c 'pppd exiting pid=[0-9]* reason="exit 19 (authentication to peer failed)"' "$log")
[ "$exits" -ge 3 ] || lab_fail "only $exits of the 3 attempts reached mailtund with pppd's exit 19"
dropped=$(lab_in $LAB_NS_CUSTOMER iptables-legacy -nvxL INPUT | awk '$3 == "DROP" { print $1; exit }')
lab_result termacks_dropped "${dropped:-0}"
[ "${dropped:-0}" -ge 3 ] || lab_fail "only ${dropped:-0} LCP Terminate-Acks were dropped: the worst case was not exercised"
# pppd's goodbye (its word to mailtund -> its exit, ms) must fit mailtund's grace for it.
goodbye=$(awk '
    function ms(t,  a) { split(t, a, ":"); return ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }
    / pppd exiting pid=/ && !said { said = ms($2); next }
    / pppd exited / && said { g = ms($2) - said; if (g < 0) g += 86400000; if (g > max) max = g; said = 0 }
    END { printf "%d", max }' "$log")
lab_result pppd_goodbye_ms_max "$goodbye"
# Stopped by mailtund after it said why (SIGTERM, then maybe SIGKILL) counts as killed.
killed=$(grep 'pppd stop pid=.* after it said \|pppd killed pid=' "$log" | grep -o 'pid=[0-9]*' | sort -u | wc -l)
lab_result pppd_killed_after_exit19 "$killed"
[ "$killed" -eq 0 ] || lab_fail "$killed pppd were stopped after reporting exit 19 (longest goodbye ${goodbye} ms): $(grep -m1 'pppd stop pid=.* after it said \|pppd killed pid=' "$log")"
lab_log "pppd's goodbye took at most ${goodbye} ms with ${dropped} Terminate-Acks lost; never killed"
named=0
for l in "${fails[@]}"; do
    case $l in
    *'reason="pppd exit 19 (authentication to'*) named=$((named + 1));;
    *) lab_fail "a failure that does not name the authentication failure: ${l#*warn: }";;
    esac
done
lab_result failures_named_exit19 "$named"
lab_log "pppd exit 19 logged for all $exits attempts; every 'tunnel failed' names it ($named)"

# The waits grow: 1 s, 2 s, 4 s (+-25 % jitter keeps them strictly increasing).
retry=()
for i in 0 1 2; do
    r=${fails[$i]##*retry_in_ms=}; retry+=("${r%% *}")
    lab_result "retry_ms_$((i + 1))" "${retry[$i]}"
done
[ "${retry[0]}" -lt "${retry[1]}" ] && [ "${retry[1]}" -lt "${retry[2]}" ] ||
    lab_fail "the back-off does not grow: retry_in_ms ${retry[*]}"
lab_log "back-off grows: retry_in_ms ${retry[*]}"

# No dial before the announced wait is over.
gaps=$(mt_backoff_gaps "$log") || lab_fail "a dial came before its back-off was over (gap/wait ms: $gaps)"
lab_log "gaps between failure and next dial vs announced wait (ms): $gaps"

# No tight loop: the dials in the window fit the back-off (3 failed, at most one more begun).
dials=$(grep -c ' dial server=' "$log")
lab_result dials "$dials"
lab_result window_seconds "$window"
[ "$dials" -ge 3 ] && [ "$dials" -le 4 ] || lab_fail "$dials dials in ${window}s (expected 3 or 4)"
lab_log "$dials dials in ${window}s"

# Never up, nothing routed.
grep -q 'link up ' "$log" && lab_fail "mailtund reported the link up: $(grep 'link up ' "$log")"
grep -q " ip-up .*local=$LAB_FIXED" "$LAB_RESULTS/ppp-hooks.log" 2>/dev/null && lab_fail "IPCP came up with $LAB_FIXED"
ip -n $LAB_NS_CUSTOMER rule | grep -q "lookup 1723" && lab_fail "source rule left behind: $(ip -n $LAB_NS_CUSTOMER rule)"
pgrep -x pppd -a | grep -q mailtun.so && lab_fail "the customer's pppd survived mailtund"
lab_log "no link up, no ip-up, no source rule, no pppd left"
lab_log "PASS"
exit 0
