#!/bin/bash
# recovery-bench.sh — lab benchmark (not part of make check): how fast the fixed address and
# the mail held at the provider come back after the DSL line's forced disconnect, mailtun
# against pptp-linux + pppd "persist", same provider (pptpd, Postfix retrying hourly).
#
#   B=build tests/lab/boot.sh bench/lab/recovery-bench.sh     (bench/recovery.sh does this)
#
# One repetition (same for both clients): tunnel up and the provider reaches FIXED:2525; the
# line is cut (lab_uplink_down); mailtun: one mail is sent to the provider's MX and the bench
# waits until the provider has deferred it (held, only ETRN or the hourly retry can bring it);
# pptp-linux: the line stays down as long as mailtun's median down time; then the uplink gets
# a new address (flush, add 198.51.100.N, route, link up, as mail-flow.sh does) — "t_new" is
# the moment the link goes up with it. Measured from t_new: the provider's TCP connect to
# FIXED:2525 greeted (one long-lived prober, a try every 20 ms), and for mailtun the held
# mail's file at the inside server (its mtime). pptp-linux runs under pppd with persist,
# maxfail 0, holdoff 5, lcp-echo-interval 10, lcp-echo-failure 3 (lab_customer_pptp_linux_up);
# it has no ETRN client, so its held mail would wait for the provider's hourly retry: n/a.
# Then SHORT_REPS short outages with mailtun (line down 1 s, new address: the provider still
# holds the old session, as at the usual forced disconnect; reachable only), and FLAPS quick
# flaps of the line in a row (down 1 s, up 2 s, every other one with a new
# address) with mailtun, and the time until the fixed address is reachable after the last.
#
# timing.txt: mailtun_reach_<i>, mailtun_mail_<i>, mailtun_down_<i>, mailtun_oldsession_<i>
# (1 = the provider still held the old session when the line came back), pptp_reach_<i>,
# pptp_oldsession_<i>, mailtun_short_reach_<i>, mailtun_short_oldsession_<i>,
# mailtun_short_reach_median, <client>_reach_median, mailtun_mail_median, mailtun_mails_sent,
# mailtun_mails_lost, mailtun_mails_duplicated, flaps, flaps_reach, guest_kernel.
# lab-timeout: 900
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

MT_REPS=${MT_REPS:-5} SHORT_REPS=${SHORT_REPS:-3} PL_REPS=${PL_REPS:-3} FLAPS=${FLAPS:-20}
probe=$LAB_SRC/bench/lab/tunnel_bench.py
hooks=$LAB_RESULTS/ppp-hooks.log
plog=$LAB_RESULTS/provider-postfix.log
[ -x "$LAB_BUILD/tunneld/mailtund" ] || lab_skip "mailtund not built ($LAB_BUILD/tunneld/mailtund)"
[ -x "$LAB_BUILD/mailrelay/mailrelayd" ] || lab_skip "mailrelayd not built"
command -v pptp >/dev/null || lab_skip "pptp (pptp-linux) not installed"
command -v swaks >/dev/null || lab_skip "swaks not installed"

lab_base_up
lab_provider_pptpd_up
LAB_POSTFIX_RETRY=slow lab_provider_postfix_up
lab_result guest_kernel "$(uname -r)"
read -r pptpd_pid <"$LAB_RUN/pptpd.pid"
lab_log "provider LCP settings: $(grep -E '^lcp-' /etc/ppp/pptpd-options | sed 's/[[:space:]]*#.*//' | paste -sd, -)"

lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
fifo=$LAB_RUN/reach.fifo reach=$LAB_RESULTS/reach.out
mkfifo "$fifo"; : >"$reach"
lab_spawn $LAB_NS_PROVIDER reach $LAB_PY "$probe" reach "$fifo" $LAB_FIXED 2525 "$reach"
exec {go}<>"$fifo"
mt_config
mt_relay_config
mt_inside_up
mt_relay_up
lab_sleep 1

nlines() { local -a l=(); [ -r "$1" ] && mapfile -t l <"$1"; echo ${#l[@]}; }
more_lines() { [ "$(nlines "$1")" -gt "$2" ]; }
last_line() { local -a l; mapfile -t l <"$1"; echo "${l[-1]}"; }
count() { local n; n=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${n:-0}"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "?"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# reach_go <limit-s> / reach_result — start the prober; wait for and echo its success time.
reach_go() { REACH_N=$(nlines "$reach"); echo "go $1" >&$go; REACH_LIMIT=$1; }
reach_result() {
    LAB_POLL=0.1 lab_wait $((REACH_LIMIT + 5)) "the reach prober's answer" more_lines "$reach" "$REACH_N"
    local r; r=$(last_line "$reach"); [ "$r" != timeout ] || return 1; echo "$r"
}
# provider_has_session — the provider's pppd for the fixed address is up (its last hook is ip-up).
provider_has_session() {
    awk -v me="$LAB_PPP_LOCAL" '$0 ~ "local=" me " " { s = $2 } END { exit !(s == "ip-up") }' "$hooks"
}
# new_address <n> — the line comes back with 198.51.100.<n>; prints t_new (link up).
new_address() {
    ip -n $LAB_NS_CUSTOMER addr flush dev $LAB_IF_CUSTOMER
    ip -n $LAB_NS_CUSTOMER addr add 198.51.100.$1/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
    local t; t=$(lab_now)
    lab_uplink_up
    echo "$t"
}
# inside_file <marker> — the inside server's file holding that mail.
inside_file() { grep -l "^Message-Id: <$1@example.org>" "$MT_INSIDE"/* 2>/dev/null | head -n 1; }

# ---------------- mailtun ----------------
mt_tunnel_up
lab_wait_ip_up 30 $LAB_FIXED
reach_go 30; reach_result >/dev/null || lab_fail "mailtun: provider cannot reach $LAB_FIXED:2525"
lab_log "mailtun up; provider reaches $LAB_FIXED:2525"
sent=() reaches='' mails='' downs='' addr=10
for i in $(seq 1 $MT_REPS); do
    LAB_POLL=0.2 lab_wait 20 "mailtund up before rep $i" mt_state_is up
    d0=$(count "$plog" 'status=deferred')
    t_down=$(lab_now)
    lab_uplink_down
    m=held$i-${EPOCHREALTIME/./}
    mt_send "$m" || lab_fail "rep $i: the provider's MX refused the held mail"
    sent+=("$m")
    LAB_POLL=0.2 lab_wait 60 "the provider deferring the held mail (rep $i)" sh -c "[ \$(grep -c status=deferred '$plog') -gt $d0 ]"
    old=0; provider_has_session && old=1
    addr=$((addr + 1))
    t_new=$(new_address $addr)
    reach_go 60
    down=$(lab_elapsed "$t_down" "$t_new")
    t=$(reach_result) || lab_fail "mailtun rep $i: not reachable within 60 s of the new address"
    r=$(lab_elapsed "$t_new" "$t")
    LAB_POLL=0.5 lab_wait 60 "held mail $i inside" mt_inside_has "$m"
    f=$(inside_file "$m")
    ml=$(lab_elapsed "$t_new" "$(date -r "$f" +%s.%N)")
    lab_result mailtun_reach_$i "$r"; lab_result mailtun_mail_$i "$ml"
    lab_result mailtun_down_$i "$down"; lab_result mailtun_oldsession_$i "$old"
    reaches+="$r " mails+="$ml " downs+="$down "
    lab_log "mailtun rep $i: line down ${down}s (provider old session at line-up: $old), reachable ${r}s, held mail inside ${ml}s after the new address 198.51.100.$addr"
done
lab_result mailtun_reach_median "$(tr ' ' '\n' <<<"$reaches" | grep . | median)"
lab_result mailtun_mail_median "$(tr ' ' '\n' <<<"$mails" | grep . | median)"
down_med=$(tr ' ' '\n' <<<"$downs" | grep . | median)
lab_log "mailtun: reachable $reaches; held mail $mails; down $downs"

# ---- the short outage: line down 1 s, back with a new address (the provider still holds the
# old session, which only its LCP echoes end) ----
quick=''
for i in $(seq 1 $SHORT_REPS); do
    LAB_POLL=0.2 lab_wait 30 "mailtund up before short rep $i" mt_state_is up
    reach_go 5; reach_result >/dev/null || lab_fail "short rep $i: not reachable before the cut"
    lab_uplink_down
    lab_sleep 1
    old=0; provider_has_session && old=1
    addr=$((addr + 1))
    t_new=$(new_address $addr)
    reach_go 60
    t=$(reach_result) || lab_fail "mailtun short rep $i: not reachable within 60 s of the new address"
    r=$(lab_elapsed "$t_new" "$t")
    lab_result mailtun_short_reach_$i "$r"; lab_result mailtun_short_oldsession_$i "$old"
    quick+="$r "
    lab_log "mailtun short rep $i: line down 1 s, reachable ${r}s after the new address 198.51.100.$addr (provider old session at line-up: $old)"
done
[ -n "$quick" ] && lab_result mailtun_short_reach_median "$(tr ' ' '\n' <<<"$quick" | grep . | median)"

# ---- FLAPS quick flaps in a row (down 1 s, up 2 s; every other one a new address) ----
if [ "$FLAPS" -gt 0 ]; then
    LAB_POLL=0.2 lab_wait 30 "mailtund up before the flaps" mt_state_is up
    for k in $(seq 1 $FLAPS); do
        lab_uplink_down
        lab_sleep 1
        if [ $((k % 2)) = 1 ]; then addr=$((addr + 1)); t_new=$(new_address $addr); else t_new=$(lab_now); lab_uplink_up; fi
        lab_sleep 2
    done
    m=afterflaps-${EPOCHREALTIME/./}
    mt_send "$m" || lab_fail "the provider's MX refused the mail after the flaps"
    sent+=("$m")
    reach_go 90
    t=$(reach_result) || lab_fail "not reachable within 90 s after $FLAPS flaps"
    lab_result flaps "$FLAPS"; lab_result flaps_reach "$(lab_elapsed "$t_new" "$t")"
    lab_log "$FLAPS flaps in a row: fixed address reachable $(lab_elapsed "$t_new" "$t")s after the last one came back"
    LAB_POLL=0.5 lab_wait 60 "the mail sent after the flaps inside" mt_inside_has "$m"
fi

# ---- every mailtun mail exactly once ----
lost=0 dup=0
for m in "${sent[@]}"; do
    n=$(mt_inside_count "$m")
    [ "$n" = 0 ] && lost=$((lost + 1))
    [ "$n" -gt 1 ] && dup=$((dup + 1))
done
lab_result mailtun_mails_sent ${#sent[@]}; lab_result mailtun_mails_lost $lost; lab_result mailtun_mails_duplicated $dup
lab_log "mailtun: ${#sent[@]} mails sent, $lost lost, $dup duplicated"
lab_stop mailtund 10 || lab_fail "mailtund did not stop"
lab_stop mailrelayd 10
LAB_POLL=0.2 lab_wait 30 "the provider's pptpctrl/pppd to end" sh -c "! pgrep -P $pptpd_pid >/dev/null"
LAB_POLL=0.2 lab_wait 10 "the customer's ppp0 to go" sh -c "! ip -n $LAB_NS_CUSTOMER link show ppp0 >/dev/null 2>&1"

# ---------------- pptp-linux + pppd persist ----------------
lab_customer_pptp_linux_up persist maxfail 0 holdoff 5
reach_go 40; reach_result >/dev/null || lab_fail "pptp-linux: provider cannot reach $LAB_FIXED:2525"
lab_log "pptp-linux up (persist, maxfail 0, holdoff 5, lcp-echo-interval 10, lcp-echo-failure 3); line down ${down_med}s each rep"
reaches=''
for i in $(seq 1 $PL_REPS); do
    [ "$i" = 1 ] || { reach_go 120; reach_result >/dev/null || lab_fail "pptp-linux not back before rep $i"; }
    lab_uplink_down
    lab_sleep "$down_med"
    old=0; provider_has_session && old=1
    addr=$((addr + 1))
    t_new=$(new_address $addr)
    reach_go 150
    t=$(reach_result) || lab_fail "pptp-linux rep $i: not reachable within 150 s of the new address"
    r=$(lab_elapsed "$t_new" "$t")
    lab_result pptp_reach_$i "$r"; lab_result pptp_oldsession_$i "$old"
    reaches+="$r "
    lab_log "pptp-linux rep $i: reachable ${r}s after the new address 198.51.100.$addr (provider old session at line-up: $old)"
done
lab_result pptp_reach_median "$(tr ' ' '\n' <<<"$reaches" | grep . | median)"
lab_customer_pppd_down
# Every figure is recorded by now; a lost mail still fails the run (bench/recovery.sh writes
# RESULTS.md and then fails too).
[ "$lost" = 0 ] || { lab_log "FAIL: $lost of ${#sent[@]} mailtun mails lost"; exit 1; }
lab_log "PASS"
exit 0
