#!/bin/bash
# mail-flaps.sh — mail keeps coming while the DSL line flaps: a background loop sends a marked
# mail to the provider's MX about every second (mt_send, from the provider namespace) while
# the customer's line goes down and up again and again — QUICK flaps in a row (down 1 s, up
# 2 s: the tunnel never gets back in between; every other one with a new address), then FULL
# flaps where the tunnel comes back and mail flows before the next cut (each with a new
# address, so the provider's old session has to time out), then one long outage (LONG_S s
# down, new address): "gone for minutes" scaled down to fit make check — any outage longer
# than the provider's LCP echo timeout (~8 s here) behaves alike, only the queue grows.
# The provider's Postfix uses the lab's quick retries plus mailrelayd's ETRN at link-up.
# At the end every mail the provider accepted (swaks got 250) is at the inside server exactly
# once (by Message-ID). The issue's twenty flaps in a row: bench/lab/recovery-bench.sh
# (make bench-recovery) runs 20 quick ones; here fewer, to stay near 3 minutes.
#
# timing.txt: flaps_quick, flaps_full, long_outage_seconds, recovery_after_long_seconds
# (line back -> mailtund up), mails_accepted, mails_refused, mails_inside (distinct),
# mails_duplicated, mails_missing, drain_seconds (sender stopped -> last mail inside).
# lab-timeout: 600
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

QUICK=8 FULL=3 LONG_S=40
[ -x "$MT_MAILTUND" ] || lab_fail "mailtund not built ($MT_MAILTUND): make check builds it first"
[ -x "$MT_MAILRELAYD" ] || lab_fail "mailrelayd not built: make check builds it first"
command -v swaks >/dev/null || lab_skip "swaks not installed (run tests/deps.sh)"

lab_base_up
lab_provider_pptpd_up
lab_provider_postfix_up
mt_config
mt_relay_config
mt_inside_up
mt_relay_up
mt_tunnel_up
lab_wait_ip_up 30 $LAB_FIXED
LAB_POLL=0.2 lab_wait 10 "mailtund up" mt_state_is up
lab_log "tunnel up; starting the mail loop"

accepted=$LAB_RESULTS/mails-accepted.txt refused=$LAB_RESULTS/mails-refused.txt stop=$LAB_RUN/stop-sender
: >"$accepted"; : >"$refused"
sender() {
    local k=0 m
    while [ ! -e "$stop" ]; do
        k=$((k + 1)); m=flaps$k-${EPOCHREALTIME/./}
        if mt_send "$m"; then echo "$m" >>"$accepted"; else echo "$m" >>"$refused"; fi
        lab_sleep 1
    done
}
sender &
spid=$!

addr=2
readdress_up() {
    addr=$((addr + 1))
    ip -n $LAB_NS_CUSTOMER addr flush dev $LAB_IF_CUSTOMER
    ip -n $LAB_NS_CUSTOMER addr add 198.51.100.$addr/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
    lab_uplink_up
}
lab_sleep 3

for k in $(seq 1 $QUICK); do
    lab_uplink_down; lab_sleep 1
    if [ $((k % 2)) = 1 ]; then readdress_up; else lab_uplink_up; fi
    lab_sleep 2
done
lab_log "$QUICK quick flaps done (down 1 s, up 2 s); now at 198.51.100.$addr"
LAB_POLL=0.5 lab_wait 60 "mailtund up after the quick flaps" mt_state_is up
lab_log "tunnel back after the quick flaps"

for k in $(seq 1 $FULL); do
    lab_sleep 4                     # mail flows, then the cut lands in the middle of it
    lab_uplink_down; lab_sleep 2
    readdress_up
    t=$(lab_now)
    LAB_POLL=0.5 lab_wait 60 "mailtund up after full flap $k" mt_state_is up
    lab_log "full flap $k: new address 198.51.100.$addr, tunnel up again after $(lab_elapsed "$t")s"
done

lab_sleep 4
lab_uplink_down
lab_log "long outage: line down for ${LONG_S}s"
lab_sleep $LONG_S
readdress_up
t=$(lab_now)
LAB_POLL=0.5 lab_wait 60 "mailtund up after the long outage" mt_state_is up
lab_result recovery_after_long_seconds "$(lab_elapsed "$t")"
lab_log "long outage over: new address 198.51.100.$addr, tunnel up after $(lab_elapsed "$t")s"
lab_sleep 4

: >"$stop"
wait $spid
t_stop=$(lab_now)
mapfile -t acc <"$accepted"
mapfile -t ref <"$refused"
lab_log "mail loop stopped: ${#acc[@]} accepted, ${#ref[@]} refused by the provider's MX"
[ ${#acc[@]} -ge 5 ] || lab_fail "only ${#acc[@]} mails accepted: the loop did not run"

# Message-IDs at the inside server, one per line, with their counts.
inside_ids() { grep -h '^Message-Id: <' "$MT_INSIDE"/* 2>/dev/null | sed 's/^Message-Id: <\(.*\)@example.org>.*/\1/' | sort | uniq -c; }
all_inside() {
    local -A have=(); local n id m
    while read -r n id; do have[$id]=$n; done < <(inside_ids)
    for m in "${acc[@]}"; do [ -n "${have[$m]:-}" ] || return 1; done
}
LAB_POLL=1 lab_wait 120 "every accepted mail at the inside server" all_inside
lab_result drain_seconds "$(lab_elapsed "$t_stop")"

declare -A have=()
while read -r n id; do have[$id]=$n; done < <(inside_ids)
missing=0 dup=0
for m in "${acc[@]}"; do
    n=${have[$m]:-0}
    [ "$n" = 0 ] && { missing=$((missing + 1)); lab_log "missing: $m"; }
    [ "$n" -gt 1 ] && { dup=$((dup + 1)); lab_log "duplicated ($n copies): $m"; }
done
for m in "${ref[@]}"; do [ -n "${have[$m]:-}" ] && lab_log "refused by swaks but arrived: $m"; done
lab_result flaps_quick $QUICK; lab_result flaps_full $FULL; lab_result long_outage_seconds $LONG_S
lab_result mails_accepted ${#acc[@]}; lab_result mails_refused ${#ref[@]}
lab_result mails_inside ${#have[@]}; lab_result mails_duplicated $dup; lab_result mails_missing $missing
[ "$missing" = 0 ] || lab_fail "$missing accepted mail(s) never reached the inside server"
[ "$dup" = 0 ] || lab_fail "$dup mail(s) arrived more than once"
lab_log "$((QUICK + FULL + 1)) line drops ($QUICK quick, $FULL full, one of ${LONG_S}s): all ${#acc[@]} accepted mails inside exactly once"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_stop mailrelayd 10
lab_log "PASS"
exit 0
