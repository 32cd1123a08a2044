#!/bin/bash
# tls_pin_postfix.sh — the provider kit's Postfix pins mailrelayd's own key.
#
# A private Postfix instance gets conf/provider/postfix/{main.cf,master.cf,tunnel_pool.cidr}
# as shipped (only /etc/postfix/ and the snakeoil certificate paths templated into the test's
# directory); its transport sends example.net through the kit's "tunnel" transport to
# mailrelayd on loopback, and its tls_policy holds exactly what `mailtunctl tls --policy`
# prints on the customer's side (the README's two commands). Checks:
#   1. with mailrelayd's own key: every mail is delivered over TLS, Postfix logs a verified
#      (fingerprint-matched) TLS connection for each;
#   2. mailrelayd restarted with another key (what a stolen VPN account would show): every
#      mail is deferred, none reaches that mailrelayd, the log names the fingerprint failure;
#   3. the right key back: the deferred mail is delivered, each message exactly once.
set -u
. "$(dirname "$0")/lib/common.sh"
KIT=$ROOT/conf/provider/postfix
source "$ROOT/tests/host/lib/postfix_instance.sh"

pf_need swaks python3 postmap postqueue openssl
id nobody >/dev/null 2>&1 || { echo "skip: no user nobody"; exit 77; }
[ -x "$RELAYD" ] && [ -x "$CTL" ] || { echo "mailrelayd/mailtunctl not built in $B"; exit 1; }

pf_work tls-pin
RPID=
count() { grep -c -- "$1" "$PF/maillog" 2>/dev/null; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
queued() { find "$work/spool/queue" -name '*.data' 2>/dev/null | wc -l; }

P=$(free_port) PFP=$(free_port)

# --- mailrelayd with its own key (tls_dir), as on the customer's gateway -------------------------
relayd_conf() {     # TLS_DIR
    write_relay_conf <<EOC
hostname = mx.example.net
tls_dir = $1

[inside]
server = 127.0.0.1:1
starttls = no
EOC
}
stop_relayd() { kill -TERM "$RPID"; wait "$RPID" 2>/dev/null; RPID=; }
relayd_conf "$work/tls"
start_relayd "$work/mailtun.conf"
# --- the provider: Postfix with the kit's files ----------------------------------------------------
mkdir -p "$PF/sasl"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=provider.test \
    -keyout "$work/smtpd.key" -out "$work/smtpd.crt" >/dev/null 2>&1 || fail "openssl: provider certificate"
chmod 644 "$work/smtpd.key"       # a throw-away test key; Postfix's smtpd reads it
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: PLAIN LOGIN\n' \
    "$work/sasldb2" >"$PF/sasl/smtpd.conf"
settings=()
while IFS= read -r line; do
    case $line in ''|'#'*) continue;; esac
    line=${line//\/etc\/postfix\//$PF/}
    line=${line//\/etc\/ssl\/certs\/ssl-cert-snakeoil.pem/$work/smtpd.crt}
    line=${line//\/etc\/ssl\/private\/ssl-cert-snakeoil.key/$work/smtpd.key}
    settings+=("$line")
done <"$KIT/main.cf"
cp "$KIT/tunnel_pool.cidr" "$PF/tunnel_pool.cidr"
echo "example.net tunnel:[127.0.0.1]:$P" >"$PF/transport"
# The README's two commands: on the customer's gateway, then on the provider.
"$CTL" -c "$work/mailtun.conf" tls --policy >"$work/policy.line" || fail "mailtunctl tls --policy"
{ grep '^#' "$KIT/tls_policy"; cat "$work/policy.line"; } >"$PF/tls_policy"
pin=$(cat "$work/policy.line")
ok "customer: mailtunctl tls --policy -> $pin"
# master.cf first (pf_instance writes it), then the tunnel transport appended as shipped
pf_instance "$PF" "$PFP" "${settings[@]}" "cyrus_sasl_config_path = $PF/sasl"
postmap -c "$PF" "hash:$PF/transport" || fail "postmap transport"
postmap -c "$PF" "hash:$PF/tls_policy" || fail "postmap tls_policy"
cat "$KIT/master.cf" >>"$PF/master.cf"
postfix -c "$PF" reload >/dev/null 2>&1 || fail "postfix reload"
sleep 1
ok "provider Postfix with conf/provider/postfix as shipped on 127.0.0.1:$PFP"

send() {    # MARKER
    swaks --server 127.0.0.1:$PFP --from sender@example.org --to "postmaster@example.net" \
        --header "Message-Id: <$1@example.org>" --timeout 10 >>"$work/swaks.log" 2>&1 || fail "Postfix refused $1"
}
flush() { postqueue -c "$PF" -f >/dev/null 2>&1; }
in_spool() { grep -l "^Message-Id: <$1@example.org>" "$work"/spool/queue/*.data 2>/dev/null | wc -l; }

# 1. the right key
for i in 1 2 3; do send "good$i"; done
wait_for 60 "3 mails sent" at_least "status=sent" 3
verified=$(count "Verified TLS connection established to 127.0.0.1\[127.0.0.1\]:$P")
[ "$verified" -ge 3 ] || fail "only $verified verified TLS connections for 3 deliveries"
for i in 1 2 3; do [ "$(in_spool "good$i")" = 1 ] || fail "good$i not in mailrelayd's spool"; done
ok "pinned key: 3 mails delivered, $verified 'Verified TLS connection established' lines"

# 2. another key on the same address: nothing delivered
stop_relayd
relayd_conf "$work/tls-other"
start_relayd "$work/mailtun.conf"
before=$(queued)
for i in 1 2 3; do send "stolen$i"; done
wait_for 60 "3 mails deferred" at_least "to=<postmaster@example.net>.*status=deferred" 3
flush; sleep 3
[ "$(queued)" = "$before" ] || fail "mailrelayd with another key received mail ($(queued) queued, $before before)"
[ "$(count "status=sent")" = 3 ] || fail "a mail was sent to the wrong key"
# Postfix checks "fingerprint" match= lists as DANE-style records of its own: a key that
# matches none of them is logged as "no matching DANE TLSA records", the mail deferred as
# "Server certificate not verified".
grep -q "server certificate verification failed for 127.0.0.1\[127.0.0.1\]:$P: num=65:no matching DANE TLSA records" \
    "$PF/maillog" || fail "no fingerprint-mismatch line in the Postfix log"
at_least "status=deferred (Server certificate not verified)" 3 || fail "the deferrals do not name the certificate"
ok "another key: every mail deferred ('Server certificate not verified'), 0 received by that mailrelayd"

# 3. the right key back: the deferred mail arrives, once each
stop_relayd
relayd_conf "$work/tls"
start_relayd "$work/mailtun.conf"
flush
all_in() { for i in 1 2 3; do [ "$(in_spool "stolen$i")" = 1 ] || return 1; done; }
wait_for 90 "the 3 deferred mails at the right key" all_in
for i in 1 2 3; do
    n=$(in_spool "stolen$i"); [ "$n" = 1 ] || fail "stolen$i arrived $n times"
    n=$(in_spool "good$i"); [ "$n" = 1 ] || fail "good$i arrived $n times"
done
ok "right key back: the 3 deferred mails delivered, every mail exactly once"
