#!/bin/bash
# mail-flow.sh — the whole story (also what `make demo` shows): the provider's MTA pushes a
# mail for example.net through the tunnel to mailrelayd on the fixed address, which hands it
# to the inside mail server; then the DSL line is cut and comes back with a new address
# (the daily forced disconnect), mail sent meanwhile waits at the provider (its retries are
# an hour apart here, as on a real provider), mailtund re-dials at once, and on LINK_UP
# mailrelayd's ETRN brings the held mail in. Every mail arrives exactly once, and every push
# runs over TLS with the key of the customer's mailrelayd pinned by the provider's Postfix.
#
# timing.txt: setup_seconds, first_mail_seconds, recovery_reachable_seconds (new uplink
# address -> fixed address reachable from the provider), held_mail_seconds (new uplink
# address -> last held mail inside).
# lab-timeout: 240
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_base_up
lab_provider_up
LAB_POSTFIX_RETRY=slow lab_provider_postfix_up
lab_log "provider ready: $LAB_PROVIDER_DAEMON, and Postfix as MX for $LAB_CUSTOMER_DOMAIN -> [$LAB_FIXED]:25 (retries hourly, ETRN allowed)"

mt_config
mt_relay_config
mt_inside_up
mt_relay_up
lab_log "customer: inside mail server on 127.0.0.1:$MT_INSIDE_PORT; mailrelayd listening on $LAB_FIXED:25 before the tunnel exists"

t0=$(lab_now)
mt_tunnel_up
lab_wait_ip_up 20 $LAB_FIXED
lab_result setup_seconds "$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")"
lab_log "tunnel up: $LAB_FIXED on $LAB_IP_UP_IF, $(lab_elapsed "$t0" "$LAB_IP_UP_TIME")s after mailtund started (MS-CHAPv2, MPPE-128)"

# --- a mail from the Internet ---------------------------------------------------------------
m1=first-${EPOCHREALTIME/./}
mt_send "$m1" || lab_fail "the provider's MX refused the mail (swaks.log)"
t=$(lab_now)        # the provider MTA has it queued now
LAB_POLL=0.1 lab_wait 20 "the first mail at the inside server" mt_inside_has "$m1"
lab_result first_mail_seconds "$(lab_elapsed "$t")"
lab_log "mail to postmaster@$LAB_CUSTOMER_DOMAIN: provider MX -> tunnel -> mailrelayd -> inside server in $(lab_elapsed "$t")s"
lab_wait_line 5 "mailrelayd's delivery line" "$LAB_RESULTS/mailrelayd.out" "*to=<postmaster@$LAB_CUSTOMER_DOMAIN>*status=sent*"
lab_log "mailrelayd: ${LAB_LINE#*info: }"

# --- the DSL line drops and comes back with a new address -----------------------------------
lab_uplink_down
lab_log "DSL line cut (forced disconnect)"
LAB_POLL=0.1 lab_wait 10 "mailtund noticing" mt_state_is wait-uplink
held=()
for i in 1 2 3; do
    held+=("held$i-${EPOCHREALTIME/./}")
    mt_send "${held[-1]}" || lab_fail "the provider's MX refused held mail $i"
done
lab_log "3 mails sent to the provider while the line is down: they wait in its queue"
lab_wait_line 20 "the provider deferring mail for the tunnel" "$LAB_RESULTS/provider-postfix.log" "*to=<postmaster@$LAB_CUSTOMER_DOMAIN>*status=deferred*"

ip -n $LAB_NS_CUSTOMER addr flush dev $LAB_IF_CUSTOMER
ip -n $LAB_NS_CUSTOMER addr add 198.51.100.3/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
t_new=$(lab_now)
lab_uplink_up
lab_log "DSL line back with a new address 198.51.100.3"
lab_wait_line 10 "mailtund re-dialling" "$LAB_RESULTS/mailtund.out" "*uplink usable again*"
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
reach() { lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 1 >/dev/null; }
LAB_POLL=0.1 lab_wait 30 "the fixed address reachable again" reach
lab_result recovery_reachable_seconds "$(lab_elapsed "$t_new")"
lab_log "fixed address reachable from the provider again $(lab_elapsed "$t_new")s after the new DSL address"
all_held_inside() { local m; for m in "${held[@]}"; do mt_inside_has "$m" || return 1; done; }
LAB_POLL=0.1 lab_wait 30 "the 3 held mails inside" all_held_inside
lab_result held_mail_seconds "$(lab_elapsed "$t_new")"
lab_log "all 3 held mails inside $(lab_elapsed "$t_new")s after the new DSL address"
lab_wait_line 5 "mailrelayd's ETRN line" "$LAB_RESULTS/mailrelayd.out" "*etrn host=*reply=*"
lab_log "mailrelayd: ${LAB_LINE#*info: }"

for m in "$m1" "${held[@]}"; do
    n=$(mt_inside_count "$m")
    [ "$n" = 1 ] || lab_fail "mail $m arrived $n times"
done
lab_log "every mail arrived exactly once (4 by Message-ID)"
v=$(lab_provider_verified_pushes) || lab_fail "a push to $LAB_FIXED without a verified (pinned) TLS session: $v"
lab_log "provider: every push over TLS with the pinned key ($v)"
lab_stop mailtund 10
lab_stop mailrelayd 10
lab_log "PASS"
exit 0
