#!/bin/bash
# baseline-pptp-linux.sh — the reference run mailtun is compared against: Debian's pptp
# (pptp-linux) client under pppd dials the provider's real pptpd (conf/provider/), gets the
# fixed address 192.0.2.10 with MS-CHAPv2 + MPPE-128, and the provider reaches that address:
# a plain TCP connection, then a mail that the provider's Postfix pushes to [192.0.2.10]:25.
#
# Records in <results>/timing.txt:
#   setup_seconds              dial -> fixed address on the customer's ppp interface
#   provider_pppd_launch_seconds  dial -> pptpd starts its pppd (pptpd's own launch delay
#                              dominates; the control connection takes milliseconds here)
#   ppp_negotiation_seconds    provider pppd started -> fixed address up (LCP, MS-CHAPv2, CCP, IPCP)
#   mail_push_seconds          the provider MTA has queued a mail (swaks got 250) -> it is in
#                              the customer's sink on 192.0.2.10:25
# Needs: run by tests/lab/boot.sh (inside the lab guest).
set -u
. "$LAB_DIR/lib.sh"

lab_base_up
lab_provider_pptpd_up
# The reference customer (pptp-linux + a plain smtp-sink, no mailtun) has no TLS: the tunnel
# transport gets back the clear-text push it had before pinning, for this comparison only.
LAB_POSTFIX_TUNNEL_TLS=may lab_provider_postfix_up
lab_log "provider up: pptpd on $LAB_PPTP_SERVER:1723, Postfix on $LAB_PROVIDER_MX:25 routes $LAB_CUSTOMER_DOMAIN to [$LAB_FIXED]:25"

# Listeners on the fixed address before it exists (freebind), like a real customer gateway.
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
sink=$LAB_RESULTS/customer-sink          # one file per mail received
mkdir -p "$sink"; chmod 777 "$sink"
lab_spawn $LAB_NS_CUSTOMER customer-sink smtp-sink -u nobody -h mail.$LAB_CUSTOMER_DOMAIN -d "$sink/%H%M%S." 0.0.0.0:25 16
LAB_POLL=0.05 lab_wait 5 "customer SMTP sink on :25" lab_listening $LAB_NS_CUSTOMER 0.0.0.0 25

lab_log "dial: pptp $LAB_PPTP_SERVER as $LAB_PPTP_USER (MS-CHAPv2, require-mppe-128)"
t_dial=$(lab_now)
lab_customer_pptp_linux_up
lab_wait_ip_up 20 $LAB_FIXED
ppp_if=$LAB_IP_UP_IF peer=$LAB_IP_UP_PEER
setup=$(lab_elapsed "$t_dial" "$LAB_IP_UP_TIME")
lab_log "fixed address up: $LAB_FIXED on $ppp_if (peer $peer) ${setup}s after the dial"
[ "$peer" = "$LAB_PPP_LOCAL" ] || lab_fail "peer address is '$peer', expected $LAB_PPP_LOCAL"
lab_has_addr $LAB_NS_CUSTOMER "$ppp_if" $LAB_FIXED ||
    lab_fail "$ppp_if in the customer namespace does not carry $LAB_FIXED: $(ip -n $LAB_NS_CUSTOMER -4 -o addr show)"
lab_result setup_seconds "$setup"

read -r t_launch _ <"$LAB_RESULTS/provider-pppd-launch.log" 2>/dev/null
if [ -n "${t_launch:-}" ]; then
    lab_result provider_pppd_launch_seconds "$(lab_elapsed "$t_dial" "$t_launch")"
    lab_result ppp_negotiation_seconds "$(lab_elapsed "$t_launch" "$LAB_IP_UP_TIME")"
    lab_log "of that: pptpd started its pppd $(lab_elapsed "$t_dial" "$t_launch")s after the dial;" \
        "PPP negotiation (LCP, MS-CHAPv2, CCP, IPCP) took $(lab_elapsed "$t_launch" "$LAB_IP_UP_TIME")s"
fi

# MPPE must be on at both ends (pppd logs it when CCP comes up).
lab_wait_line 5 "MPPE-128 in the customer's pppd log" "$LAB_RESULTS/customer-pppd.log" '*MPPE 128-bit stateless compression enabled*'
lab_wait_line 5 "MPPE-128 in the provider's pppd log" "$LAB_RESULTS/provider-pppd.log" '*MPPE 128-bit stateless compression enabled*'
lab_log "MPPE 128-bit stateless enabled on both ends"

# The provider reaches the fixed address through the tunnel.
greeting=$(lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5) || lab_fail "provider cannot reach $LAB_FIXED:2525"
[ "$greeting" = "lab-listener customer" ] || lab_fail "unexpected greeting '$greeting'"
grep -q "accepted from $LAB_PPP_LOCAL:" "$LAB_RESULTS/tcp-customer.out" ||
    lab_fail "listener did not see the provider's tunnel address $LAB_PPP_LOCAL as the source"
lab_log "TCP from the provider reached $LAB_FIXED:2525 (source $LAB_PPP_LOCAL, through $ppp_if)"

# The provider MTA pushes mail for the customer's domain through the tunnel.
marker="lab-${EPOCHREALTIME/./}"
lab_in $LAB_NS_PROVIDER swaks --server $LAB_PROVIDER_MX --from sender@example.org \
    --to postmaster@$LAB_CUSTOMER_DOMAIN --header "Subject: $marker" --timeout 10 \
    >>"$LAB_RESULTS/swaks.log" 2>&1 || lab_fail "provider Postfix refused the mail (see swaks.log)"
t=$(lab_now)        # the provider MTA has the mail queued now
LAB_POLL=0.05 lab_wait 15 "the mail in the customer's SMTP sink" lab_grep_dir "$sink" "*$marker*"
push=$(lab_elapsed "$t")
lab_result mail_push_seconds "$push"
lab_log "mail for postmaster@$LAB_CUSTOMER_DOMAIN queued at the provider arrived at $LAB_FIXED:25 after ${push}s"

# Hang up cleanly and check the provider noticed.
lab_customer_pppd_down
lab_wait_line 10 "the provider's pppd to see the hang-up" "$LAB_RESULTS/provider-pppd.log" 'Connection terminated*'
lab_log "hung up; PASS"
exit 0
