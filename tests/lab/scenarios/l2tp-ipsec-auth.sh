#!/bin/bash
# l2tp-ipsec-auth.sh — the other ways into the provider's L2TP/IPsec, in one guest, through
# the carrier NAT, against the provider kit's variants as shipped (swanctl.conf,
# swanctl-cert.conf, swanctl-ikev1.conf in one charon) and a throwaway CA made with `pki`:
#   1. certificates, IKEv2, but mailtund's ipsec_ca is another CA: the provider's certificate
#      is refused, and mailtund's reason says it is not issued by ipsec_ca;
#   2. the right CA into the same file (read at each dial): up with certificates, no restart;
#      the provider reaches the fixed address; its SA is the certificate connection's;
#      2b. the other CA again (mailtund restarted; charon still holds the lab CA): refused;
#   3. a pre-shared key over IKEv1 (main mode, the kit's group key): up, reachable, IKEv1.
# The NAT's outside line carries nothing but IKE and ESP-in-UDP throughout.
#
# Records in <results>/timing.txt: other_ca_named_seconds, cert_up_seconds, ikev1_up_seconds.
# About 40 s in a quiet guest, 60 s under load: the limit leaves room for a loaded host.
# lab-timeout: 200
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

log=$LAB_RESULTS/mailtund.out
kitdir=$LAB_SRC/conf/provider/l2tp-ipsec
command -v pki >/dev/null || lab_skip "certificates need strongSwan's pki (package strongswan-pki; run tests/deps.sh)"

lab_nat_base_up
lab_ipsec_modules
lab_spawn $LAB_NS_CARRIER capture tcpdump -i $LAB_IF_NAT_WAN -U -s 0 -w "$LAB_RESULTS/outside.pcap"
LAB_POLL=0.05 lab_wait 5 "tcpdump running" test -s "$LAB_RESULTS/outside.pcap"

# --- a throwaway CA, as the kit's README tells the provider to make one -------------------
pkd=$LAB_RUN/pki; mkdir -p "$pkd"; chmod 700 "$pkd"
# ca NAME DN — a self-signed CA: NAME.key, NAME.pem
ca() {
    pki --gen --type ecdsa --size 256 --outform pem >"$pkd/$1.key" &&
        pki --self --ca --lifetime 7 --in "$pkd/$1.key" --type ecdsa --dn "$2" --outform pem >"$pkd/$1.pem" ||
        lab_fail "pki could not make the CA $1"
}
# cert NAME CA DN SAN — a certificate CA issued: NAME.key, NAME.pem
cert() {
    pki --gen --type ecdsa --size 256 --outform pem >"$pkd/$1.key" &&
        pki --pub --in "$pkd/$1.key" --type ecdsa |
        pki --issue --lifetime 7 --cacert "$pkd/$2.pem" --cakey "$pkd/$2.key" --dn "$3" --san "$4" \
            --outform pem >"$pkd/$1.pem" || lab_fail "pki could not issue $1"
}
# pki's stderr (its TPM plugin's complaints) goes to pki.err
{ ca lab-ca "C=XX, O=mailtun lab, CN=mailtun lab CA"
  ca other-ca "C=XX, O=somebody else, CN=another CA"
  cert vpn lab-ca "C=XX, O=mailtun lab, CN=vpn.example.com" vpn.example.com
  cert customer1 lab-ca "C=XX, O=mailtun lab, CN=customer1@example.net" customer1@example.net
} 2>"$LAB_RESULTS/pki.err"
chmod 600 "$pkd"/*.key; chmod 644 "$pkd"/*.pem
lab_log "pki: lab CA, another CA, certificates for vpn.example.com and customer1@example.net"

# --- the provider: the three kit files in one charon, its certificates where swanctl looks --
pdir=$LAB_IPSEC/provider
mkdir -p "$pdir/x509ca" "$pdir/x509" "$pdir/private"
install -m 644 "$pkd/lab-ca.pem" "$pdir/x509ca/mailtun-ca.pem"
install -m 644 "$pkd/vpn.pem" "$pdir/x509/vpn.example.com.pem"
install -m 600 "$pkd/vpn.key" "$pdir/private/vpn.example.com.key"
cat "$kitdir/swanctl.conf" "$kitdir/swanctl-cert.conf" "$kitdir/swanctl-ikev1.conf" >"$LAB_RUN/provider-swanctl.conf"
lab_charon_up $LAB_NS_PROVIDER provider "$LAB_RUN/provider-swanctl.conf"
grep -q "loaded connection 'mailtun-l2tp-cert'" "$LAB_RESULTS/swanctl-load-provider.out" &&
    grep -q "loaded connection 'mailtun-l2tp-ikev1'" "$LAB_RESULTS/swanctl-load-provider.out" ||
    lab_fail "the kit's certificate and IKEv1 connections did not load: $(tail -n 5 "$LAB_RESULTS/swanctl-load-provider.out")"
lab_provider_xl2tpd_up
: >"$LAB_RUN/swanctl-empty.conf"
lab_charon_up $LAB_NS_CUSTOMER customer1 "$LAB_RUN/swanctl-empty.conf"
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer

# up_and_reachable PHASE — the fixed address up again (a new ip-up line), the provider reaches it.
hooks=$LAB_RESULTS/ppp-hooks.log
up_and_reachable() {
    lab_wait_ip_up 60 $LAB_FIXED
    lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5 >/dev/null || lab_fail "$1: provider cannot reach $LAB_FIXED:2525"
}
# next_phase NAME — stop mailtund, keep this phase's hook lines aside (lab_wait_ip_up reads all).
next_phase() {
    lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
    LAB_POLL=0.1 lab_wait 15 "the provider's session gone" eval '! ip -n $LAB_NS_PROVIDER route | grep -q "^$LAB_FIXED "'
    cat "$hooks" >>"$LAB_RESULTS/ppp-hooks-$1.log" 2>/dev/null; : >"$hooks"
    mv "$log" "$LAB_RESULTS/mailtund-$1.out"
}

# --- 1. certificates, the wrong CA ------------------------------------------------------------
install -m 644 "$pkd/other-ca.pem" "$pkd/trusted-ca.pem"
mt_config "transport = l2tp-ipsec" "ipsec_socket = unix://$LAB_IPSEC/customer1/charon.vici" \
    "ipsec_ca = $pkd/trusted-ca.pem" "ipsec_cert = $pkd/customer1.pem" "ipsec_key = $pkd/customer1.key" \
    "ipsec_id = customer1@example.net" "ipsec_remote_id = vpn.example.com"
t0=$(lab_now)
mt_tunnel_up
lab_wait_line 60 "the other CA named" "$log" "*tunnel failed reason=\"IPsec SA not established: the provider's certificate is not issued by ipsec_ca*"
lab_result other_ca_named_seconds "$(lab_elapsed "$t0")"
lab_log "1. another CA in ipsec_ca, after $(lab_elapsed "$t0")s: ${LAB_LINE#*warn: }"
grep -q "tunnel state .* -> up" "$log" && lab_fail "the tunnel came up with the provider's certificate from another CA"

# --- 2. the right CA, no restart ----------------------------------------------------------------
t0=$(lab_now)
install -m 644 "$pkd/lab-ca.pem" "$pkd/trusted-ca.pem.new" && mv "$pkd/trusted-ca.pem.new" "$pkd/trusted-ca.pem"
up_and_reachable "certificates"
lab_result cert_up_seconds "$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")"
grep -q "ipsec dial conn=mailtun .* ike=v2 auth=certificate " "$log" || lab_fail "no certificate dial in mailtund's log"
sas=$(lab_swanctl provider --list-sas 2>&1)
grep -q "mailtun-l2tp-cert: #[0-9]*, ESTABLISHED, IKEv2" <<<"$sas" || lab_fail "the provider holds no certificate SA: $sas"
grep -q "remote 'customer1@example.net'" <<<"$sas" || lab_fail "the provider's SA is not customer1's: $sas"
lab_log "2. lab CA into ipsec_ca: up with certificates over IKEv2 without a restart, $LAB_FIXED reachable ($(grep -o 'mailtun-l2tp-cert: #[0-9]*, ESTABLISHED, IKEv2' <<<"$sas"))"
next_phase certificates

# --- 2b. the other CA again, after charon has held the lab CA --------------------------------------
# charon keeps CA certificates it was given; the connection's cacerts constraint must still
# refuse a provider certificate that does not chain to what ipsec_ca names now.
install -m 644 "$pkd/other-ca.pem" "$pkd/trusted-ca.pem.new" && mv "$pkd/trusted-ca.pem.new" "$pkd/trusted-ca.pem"
t0=$(lab_now)
mt_tunnel_up
lab_wait_line 60 "the other CA named again" "$log" "*tunnel failed reason=\"IPsec SA not established: the provider's certificate is not issued by ipsec_ca*"
lab_log "2b. another CA in ipsec_ca after the lab CA was loaded: refused again, ${LAB_LINE#*charon: }"
grep -q "tunnel state .* -> up" "$log" && lab_fail "the tunnel came up with ipsec_ca naming another CA"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
mv "$log" "$LAB_RESULTS/mailtund-other-ca-again.out"

# --- 3. a pre-shared key over IKEv1 ---------------------------------------------------------------
( umask 077; awk '$1 == "id" && $3 == "203.0.113.1" { f = 1 } f && $1 == "secret" { gsub(/"/, "", $3); print $3; exit }' \
    "$kitdir/swanctl-ikev1.conf" >"$LAB_RUN/ikev1.psk" )
[ -s "$LAB_RUN/ikev1.psk" ] || lab_fail "no IKEv1 group key in $kitdir/swanctl-ikev1.conf"
mt_config "transport = l2tp-ipsec" "ipsec_socket = unix://$LAB_IPSEC/customer1/charon.vici" \
    "ipsec_ike_version = 1" "ipsec_id = customer1@example.net" "ipsec_remote_id = $LAB_PPTP_SERVER" \
    "ipsec_psk_file = $LAB_RUN/ikev1.psk"
t0=$(lab_now)
mt_tunnel_up
up_and_reachable "IKEv1"
lab_result ikev1_up_seconds "$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")"
grep -q "ipsec dial conn=mailtun .* ike=v1 auth=psk " "$log" || lab_fail "no IKEv1 dial in mailtund's log"
sas=$(lab_swanctl provider --list-sas 2>&1)
grep -q "mailtun-l2tp-ikev1: #[0-9]*, ESTABLISHED, IKEv1" <<<"$sas" || lab_fail "the provider holds no IKEv1 SA: $sas"
lab_log "3. pre-shared key over IKEv1: up $(lab_elapsed "$t0" "$LAB_IP_UP_TIME")s after start, $LAB_FIXED reachable ($(grep -o 'mailtun-l2tp-ikev1: #[0-9]*, ESTABLISHED, IKEv1' <<<"$sas"))"
next_phase ikev1

# --- the outside line ----------------------------------------------------------------------------
lab_stop capture 5
# IGMP: the namespaces' own multicast membership reports when their links come up, not traffic
outside_other='ip and not igmp and not (udp port 500 or udp port 4500)'
other=$(tcpdump -nr "$LAB_RESULTS/outside.pcap" "$outside_other" 2>/dev/null | wc -l)
total=$(tcpdump -nr "$LAB_RESULTS/outside.pcap" ip 2>/dev/null | wc -l)
[ "$total" -gt 20 ] || lab_fail "only $total packets on the NAT's outside line"
[ "$other" = 0 ] || lab_fail "$other packets other than IKE/ESP-in-UDP outside: $(tcpdump -nr "$LAB_RESULTS/outside.pcap" "$outside_other" 2>/dev/null | head -n 3)"
lab_log "outside line: $total packets, all IKE or ESP-in-UDP ($(tcpdump -nr "$LAB_RESULTS/outside.pcap" igmp 2>/dev/null | wc -l) IGMP reports aside)"
lab_charon_down customer1; lab_charon_down provider
lab_log "PASS: another CA refused and named; certificates over IKEv2 and a PSK over IKEv1 up through the NAT"
