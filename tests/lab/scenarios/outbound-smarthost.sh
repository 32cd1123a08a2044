#!/bin/bash
# outbound-smarthost.sh — mail from the LAN goes out through the tunnel: the inside server
# hands a mail for another domain to mailrelayd's LAN listener, mailrelayd sends it from the
# fixed address through the tunnel to the provider's Postfix (its smarthost), which delivers
# it to a mailbox on the provider side. The provider trusts no address of the tunnel pool
# for relaying (conf/provider/postfix/main.cf): mailrelayd logs in with SMTP AUTH, which it
# sends only after STARTTLS. The lab provider's certificate is self-signed, so this scenario
# sets require_tls = no (opportunistic TLS, still no AUTH in clear); a verified smarthost
# certificate is covered by tests/host/outbound_smarthost.sh.
# lab-timeout: 200
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_base_up
lab_provider_pptpd_up
lab_provider_postfix_up
# A mailbox on the provider side for example.org: an smtp-sink the provider's Postfix delivers to.
box=$LAB_RESULTS/provider-mailbox
mkdir -p "$box"; chmod 777 "$box"
lab_spawn $LAB_NS_PROVIDER mailbox smtp-sink -u nobody -h mailbox.example.org -d "$box/%H%M%S." 127.0.0.1:2626 16
LAB_POLL=0.05 lab_wait 5 "the provider's mailbox on 127.0.0.1:2626" lab_listening $LAB_NS_PROVIDER 127.0.0.1 2626
pf=$LAB_RUN/provider-postfix
echo "example.org smtp:[127.0.0.1]:2626" >>"$pf/transport"
lab_in $LAB_NS_PROVIDER postmap -c "$pf" "hash:$pf/transport" || lab_fail "postmap"
lab_log "provider: mail for example.org goes to a mailbox (smtp-sink) on the provider side"

lab_provider_sasl_user customer1@$LAB_PROVIDER_DOMAIN 'lab smtp pass'
printf 'customer1@%s lab smtp pass\n' "$LAB_PROVIDER_DOMAIN" >"$LAB_RUN/smarthost-secret"
chmod 600 "$LAB_RUN/smarthost-secret"

mt_config
mt_relay_config
cat >>"$MT_CONF" <<EOC

[relay]
lan_listen = 127.0.0.1:2587
lan_networks = 127.0.0.0/8

[outbound]
smarthost = $LAB_PPP_LOCAL:25
require_tls = no
secrets = $LAB_RUN/smarthost-secret
EOC
mt_relay_up
mt_tunnel_up
lab_wait_ip_up 30 $LAB_FIXED
relay_link_up() { "$MT_MAILTUNCTL" --relayd-socket "$MT_RELAY_SOCK" --tunneld-socket /nonexistent status 2>/dev/null | grep -q "link  *up$"; }
LAB_POLL=0.2 lab_wait 15 "mailrelayd hearing LINK_UP" relay_link_up
lab_log "tunnel up ($LAB_FIXED on $LAB_IP_UP_IF); mailrelayd heard LINK_UP"

marker=out-${EPOCHREALTIME/./}
lab_in $LAB_NS_CUSTOMER swaks --server 127.0.0.1:2587 --ehlo inside.$LAB_CUSTOMER_DOMAIN --from alice@$LAB_CUSTOMER_DOMAIN --to bob@example.org \
    --header "Message-Id: <$marker@example.net>" --timeout 10 >>"$LAB_RESULTS/swaks.log" 2>&1 ||
    lab_fail "mailrelayd's LAN listener refused the outbound mail (swaks.log)"
t=$(lab_now)
in_box() { grep -lq "^Message-Id: <$marker@example.net>" "$box"/* 2>/dev/null; }
LAB_POLL=0.1 lab_wait 30 "the mail in the provider's mailbox" in_box
lab_result outbound_seconds "$(lab_elapsed "$t")"
lab_log "LAN -> mailrelayd -> tunnel -> provider Postfix -> mailbox in $(lab_elapsed "$t")s"
lab_wait_line 5 "mailrelayd's smarthost line" "$LAB_RESULTS/mailrelayd.out" "*to=<bob@example.org> relay=$LAB_PPP_LOCAL*status=sent*"
lab_log "mailrelayd: ${LAB_LINE#*info: }"
lab_wait_line 5 "the provider's Postfix naming the fixed address as client" "$LAB_RESULTS/provider-postfix.log" "*smtpd*client=*\[$LAB_FIXED\]*"
lab_log "provider: ${LAB_LINE#* postfix/}"
lab_wait_line 5 "the provider's Postfix naming the SMTP AUTH user" "$LAB_RESULTS/provider-postfix.log" "*smtpd*sasl_username=customer1@$LAB_PROVIDER_DOMAIN*"
lab_log "provider: relayed for the authenticated customer1@$LAB_PROVIDER_DOMAIN (the tunnel pool is not in mynetworks)"
n=$(grep -l "^Message-Id: <$marker@example.net>" "$box"/* | wc -l)
[ "$n" = 1 ] || lab_fail "the mail arrived $n times"
lab_stop mailtund 10
lab_stop mailrelayd 10
lab_log "PASS"
exit 0
