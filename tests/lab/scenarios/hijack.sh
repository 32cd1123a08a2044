#!/bin/bash
# hijack.sh — a stolen PPTP secret gets no mail and cannot evict a live customer.
#
# MS-CHAPv2 falls to one captured handshake, so the lab assumes the worst: a third namespace,
# "attacker", on its own DSL line (198.51.100.130) dials the provider with the customer's own
# credentials (Debian's pptp client + pppd) and runs an SMTP server with STARTTLS on the fixed
# address (a mailrelayd with a key of its own, the best it can do without the customer's key).
# The provider runs conf/provider/ as shipped: the replace hook with its liveness check, and
# Postfix pinning the customer's key (the lab hands the fingerprint over with mailtunctl tls).
#
#   (a) customer up: the attacker's call is refused (hook: "refused: the session on pppN is
#       alive"), the customer keeps 192.0.2.10, mail keeps flowing.
#   (b) customer's line down: the old session does not answer, so the attacker gets the
#       address; the provider's Postfix defers every mail for example.net (log: no matching
#       fingerprint, "Server certificate not verified"), the attacker's server receives 0 mails.
#       The attacker's line goes away, the customer's line comes back: the customer takes the
#       address again (replacing the attacker's dead session) and every deferred mail arrives
#       exactly once, over pinned TLS.
#   (c) with the fixed address, the attacker cannot relay through the provider: no AUTH, no relay.
# A live attacker session would keep the address (the newest wins only over a dead one):
# that is a denial of service until the provider changes the secret, never a mail leak.
# lab-timeout: 300
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

NS_ATK=attacker
ATK_IF=dsl1 ATK_GW_IF=isp1
ATK_ADDR=198.51.100.130 ATK_GW=198.51.100.129
syslog=$LAB_RESULTS/syslog.log
pflog=$LAB_RESULTS/provider-postfix.log

lab_base_up
lab_provider_pptpd_up
lab_provider_postfix_up

# --- the customer: mailtun, pinned at the provider ----------------------------------------------
mt_config
mt_relay_config
mt_inside_up
mt_relay_up                       # also hands the fingerprint to the provider (mt_pin_at_provider)
mt_tunnel_up
lab_wait_ip_up 30 $LAB_FIXED
cust_if=$LAB_IP_UP_IF
lab_log "customer up: $LAB_FIXED on $cust_if (mailtund), mailrelayd's key pinned at the provider"

# --- the attacker: its own line, the customer's secret, an SMTP server with its own key ----------
ip netns add $NS_ATK || lab_fail "ip netns add $NS_ATK"
ip -n $NS_ATK link set lo up
ip netns exec $NS_ATK sleep infinity </dev/null >/dev/null 2>&1 &
echo $! >"$LAB_RUN/ns-$NS_ATK.pid"
ip link add $ATK_IF netns $NS_ATK type veth peer name $ATK_GW_IF netns $LAB_NS_PROVIDER ||
    lab_fail "cannot create the attacker's veth pair"
ip -n $LAB_NS_PROVIDER addr add $ATK_GW/30 dev $ATK_GW_IF
ip -n $LAB_NS_PROVIDER link set $ATK_GW_IF up
ip -n $NS_ATK addr add $ATK_ADDR/30 dev $ATK_IF
ip -n $NS_ATK link set $ATK_IF up
ip -n $NS_ATK route add default via $ATK_GW dev $ATK_IF || lab_fail "attacker default route"
cat >"$LAB_RUN/attacker.conf" <<EOC
[relay]
listen = $LAB_FIXED:25
hostname = mx.$LAB_CUSTOMER_DOMAIN
domains = $LAB_CUSTOMER_DOMAIN
spool = $LAB_RUN/attacker-spool
user = mailtun
control_socket = /run/mailtun/attacker-relayd.sock
mailtund_socket = /run/mailtun/attacker-none.sock
tls_dir = $LAB_RUN/attacker-tls
log_level = info

[inside]
server = 127.0.0.1:1
EOC
lab_spawn $NS_ATK attacker-relayd "$LAB_BUILD/mailrelay/mailrelayd" -f -c "$LAB_RUN/attacker.conf"
LAB_POLL=0.05 lab_wait 10 "the attacker's SMTP server on $LAB_FIXED:25" lab_listening $NS_ATK $LAB_FIXED 25
atk_received() { find "$LAB_RUN/attacker-spool" -name '*.data' 2>/dev/null | wc -l; }
lab_log "attacker: line $ATK_ADDR, the customer's secret ($LAB_PPTP_USER), STARTTLS server with its own key on $LAB_FIXED:25"

atk_dial() {
    rm -f "$LAB_RUN/attacker-pppd.pid"
    lab_spawn $NS_ATK attacker-pppd pppd nodetach \
        pty "pptp $LAB_PPTP_SERVER --nolaunchpppd --loglevel 1" \
        name "$LAB_PPTP_USER" remotename "$LAB_PPTP_NAME" \
        noauth refuse-pap refuse-chap refuse-mschap refuse-eap require-mppe-128 \
        nobsdcomp nodeflate novj novjccomp nodefaultroute noipdefault noipv6 \
        lcp-echo-interval 2 lcp-echo-failure 3 ipparam attacker \
        logfile "$LAB_RESULTS/attacker-pppd.log" debug
}
atk_has_fixed() { ip -n $NS_ATK -4 -o addr show 2>/dev/null | grep -q " $LAB_FIXED peer"; }
cust_has_fixed() { lab_has_addr $LAB_NS_CUSTOMER "$cust_if" $LAB_FIXED; }
# the provider routes the fixed address to this interface (its end of some session)
provider_route_if() { ip -n $LAB_NS_PROVIDER -4 -o route show $LAB_FIXED 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i+1); exit } }'; }

# --- (a) the customer is up: the attacker is refused ---------------------------------------------
m=a1-${EPOCHREALTIME/./}
mt_send "$m" || lab_fail "the provider's MX refused $m"
LAB_POLL=0.1 lab_wait 30 "mail $m inside" mt_inside_has "$m"
route_before=$(provider_route_if)
atk_dial
lab_wait_line 40 "the replace hook refusing the attacker" "$syslog" "*pptpd-replace-session*$LAB_FIXED: new session of $LAB_PPTP_USER from $ATK_ADDR*refused: the session on * is alive*"
lab_log "(a) provider: ${LAB_LINE#*pptpd-replace-session: }"
pid=$(cat "$LAB_RUN/attacker-pppd.pid")
LAB_POLL=0.1 lab_wait 20 "the attacker's pppd giving up" lab_gone "$pid"
atk_has_fixed && lab_fail "(a) the attacker has $LAB_FIXED while the customer is up"
cust_has_fixed || lab_fail "(a) the customer lost $LAB_FIXED"
[ "$(provider_route_if)" = "$route_before" ] || lab_fail "(a) the provider now routes $LAB_FIXED to $(provider_route_if), not $route_before"
mt_state_is up || lab_fail "(a) mailtund is no longer up"
m=a2-${EPOCHREALTIME/./}
mt_send "$m" || lab_fail "the provider's MX refused $m"
LAB_POLL=0.1 lab_wait 30 "mail $m inside after the attack" mt_inside_has "$m"
lab_log "(a) attacker refused; the customer kept $LAB_FIXED (provider route still via $route_before); mail still flows"

# --- (b) the customer's line is down: the attacker gets the address, but no mail -----------------
lab_uplink_down
atk_dial                          # at once: the provider still holds the customer's dead session
lab_log "(b) customer's DSL line down; the attacker dials"
LAB_POLL=0.1 lab_wait 10 "mailtund noticing the line is down" mt_state_is wait-uplink
LAB_POLL=0.2 lab_wait 40 "the attacker holding $LAB_FIXED" atk_has_fixed
if grep -q "pptpd-replace-session.*from $ATK_ADDR.*replaces the dead one" "$syslog"; then
    lab_log "(b) provider: $(grep -o "pptpd-replace-session: .*from $ATK_ADDR.*replaces the dead one.*" "$syslog" | tail -n 1)"
else
    lab_log "(b) the customer's dead session had already ended (LCP echoes) when the attacker dialled"
fi
lab_log "(b) the attacker has $LAB_FIXED"
held=()
for i in 1 2 3; do
    held+=("b$i-${EPOCHREALTIME/./}")
    mt_send "${held[-1]}" || lab_fail "the provider's MX refused ${held[-1]}"
done
# every one of them deferred for the key
deferred_for_key() {
    local m qid
    for m in "${held[@]}"; do
        qid=$(grep -o "postfix/cleanup\[[0-9]*\]: [0-9A-F]*: message-id=<$m@example.org>" "$pflog" | awk '{ sub(/:$/, "", $2); print $2 }' | tail -n 1)
        [ -n "$qid" ] || return 1
        grep -q "$qid: to=<postmaster@$LAB_CUSTOMER_DOMAIN>, relay=$LAB_FIXED\[$LAB_FIXED\]:25.*status=deferred (Server certificate not verified)" "$pflog" || return 1
    done
}
LAB_POLL=0.5 lab_wait 60 "the provider deferring all 3 mails for the attacker's key" deferred_for_key
grep -q "server certificate verification failed for $LAB_FIXED\[$LAB_FIXED\]:25: num=65:no matching DANE TLSA records" "$pflog" ||
    lab_fail "(b) no fingerprint-mismatch line in the provider's log"
lab_log "(b) provider: $(grep -o "server certificate verification failed for $LAB_FIXED.*" "$pflog" | tail -n 1)"
lab_log "(b) provider: 3 mails deferred (Server certificate not verified)"
n=$(atk_received)
[ "$n" = 0 ] || lab_fail "(b) the attacker's server received $n mails"
lab_log "(b) the attacker's server received 0 mails ($(grep -c "smtp tls started" "$LAB_RESULTS/attacker-relayd.out") TLS handshakes, each ended by the provider)"

# --- (c) the attacker cannot relay through the provider --------------------------------------------
out=$(lab_in $NS_ATK swaks --server $LAB_PPP_LOCAL --from someone@$LAB_CUSTOMER_DOMAIN --to victim@example.org \
    --header "Subject: relay test" --timeout 10 2>&1)
grep -q "Relay access denied" <<<"$out" || { echo "$out" >"$LAB_RESULTS/attacker-relay.log"; lab_fail "(c) the attacker's relay attempt was not refused (attacker-relay.log)"; }
grep -q "NOQUEUE: reject: RCPT from .*\[$LAB_FIXED\]: 554 5.7.1 <victim@example.org>: Relay access denied" "$pflog" ||
    lab_fail "(c) no 'Relay access denied' for $LAB_FIXED in the provider's log"
grep "to=<victim@example.org>" "$pflog" | grep -qv "NOQUEUE: reject" && lab_fail "(c) the provider queued the attacker's relay mail"
lab_log "(c) attacker from $LAB_FIXED -> provider $LAB_PPP_LOCAL:25: $(grep -o "<\*\* *[45][0-9][0-9].*Relay access denied" <<<"$out" | head -n 1 | sed 's/^<\*\* *//')"

# --- the attacker's line goes, the customer's line comes back ---------------------------------------
ip -n $NS_ATK link set $ATK_IF down
lab_log "attacker's line gone (its session is now dead at the provider)"
ip -n $LAB_NS_CUSTOMER addr flush dev $LAB_IF_CUSTOMER
ip -n $LAB_NS_CUSTOMER addr add 198.51.100.3/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
lab_uplink_up
lab_log "customer's DSL line back with 198.51.100.3"
LAB_POLL=0.2 lab_wait 60 "the customer holding $LAB_FIXED again" mt_state_is up
if grep -q "pptpd-replace-session: $LAB_FIXED: new session of $LAB_PPTP_USER from 198.51.100.3 .* replaces the dead one on ppp[0-9]" "$syslog"; then
    lab_log "customer up again: $(grep -o "pptpd-replace-session: .*from 198.51.100.3.*replaces the dead one.*" "$syslog" | tail -n 1)"
else
    lab_log "customer up again (the attacker's dead session had already ended by its LCP echoes)"
fi
all_held_inside() { local m; for m in "${held[@]}"; do mt_inside_has "$m" || return 1; done; }
LAB_POLL=0.2 lab_wait 60 "the 3 deferred mails at the inside server" all_held_inside
for m in "${held[@]}"; do
    n=$(mt_inside_count "$m"); [ "$n" = 1 ] || lab_fail "mail $m arrived $n times"
done
n=$(atk_received)
[ "$n" = 0 ] || lab_fail "the attacker's server received $n mails"
v=$(lab_provider_verified_pushes) || lab_fail "a push without a verified (pinned) TLS session: $v"
lab_log "(b) customer back: all 3 deferred mails inside, each exactly once; attacker received 0; $v"
lab_stop attacker-relayd 5
lab_stop mailtund 10
lab_stop mailrelayd 10
lab_log "PASS"
exit 0
