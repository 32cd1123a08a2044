#!/bin/bash
# tls_own.sh — mailrelayd offers STARTTLS without any configured certificate, with its own key.
#
# mailrelayd runs as root (dropping to nobody) with no tls_cert/tls_key and tls_dir in the
# test's directory. Checks: the first start makes tls_dir (0700), key.pem (0600) and cert.pem;
# STARTTLS is offered and the certificate a client sees has the fingerprints `mailtunctl tls`
# prints, which are also what `openssl x509 -fingerprint -sha256` and the openssl public-key
# pipeline print; a restart shows the same certificate; a damaged key.pem stops the start with
# a message naming the file (and the file is left alone); a configured tls_cert/tls_key wins.
set -u
. "$(dirname "$0")/lib/common.sh"

need_relayd "mailrelayd makes its key as root, then drops to nobody" openssl python3 swaks
[ -x "$CTL" ] || { echo "mailtunctl not built in $B"; exit 1; }

make_work tls-own
RPID=

P=$(free_port)
TLS=$work/var/lib/mailtun/tls
write_conf() {      # extra lines for [relay] as arguments
    printf '%s\n' "tls_dir = $TLS" "$@" "[inside]" "server = 127.0.0.1:1" "starttls = no" | write_relay_conf
}
stop_relayd() { kill -TERM "$RPID"; wait "$RPID" 2>/dev/null; RPID=; }
# The certificate a STARTTLS client is shown, as its SHA-256 fingerprint (openssl's form).
seen_fp() {
    openssl s_client -starttls smtp -connect 127.0.0.1:$P -servername mx.test </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 | sed 's/^.*=//'
}
file_fp() { openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/^.*=//'; }
pkey_fp() {
    openssl x509 -noout -pubkey -in "$1" | openssl pkey -pubin -outform DER |
        openssl dgst -sha256 -c | sed 's/^.*= *//' | tr a-f A-F
}
mode_of() { stat -c %a "$1"; }

# 1. first start: the key is made, as root, in a root-only directory
write_conf
start_relayd "$work/mailtun.conf"
[ -f "$TLS/key.pem" ] && [ -f "$TLS/cert.pem" ] || fail "no key.pem/cert.pem in $TLS"
[ "$(mode_of "$TLS")" = 700 ] || fail "tls_dir has mode $(mode_of "$TLS"), want 700"
[ "$(mode_of "$TLS/key.pem")" = 600 ] || fail "key.pem has mode $(mode_of "$TLS/key.pem"), want 600"
[ "$(stat -c %u "$TLS/key.pem")" = 0 ] || fail "key.pem not owned by root"
grep -q "tls own key created cert=$TLS/cert.pem" "$work/relayd.log" || fail "no 'tls own key created' log line"
openssl x509 -noout -text -in "$TLS/cert.pem" | grep -q "prime256v1" || fail "the own key is not P-256"
ok "first start made a P-256 key and a self-signed certificate in a 0700 directory (key 0600, root)"

# 2. STARTTLS offered; the fingerprints agree with openssl's
out=$(swaks --server 127.0.0.1:$P --tls --to bob@example.net --from a@example.org 2>&1)
grep -q "<-  250.STARTTLS" <<<"$out" || { echo "$out"; fail "STARTTLS not offered"; }
grep -q "TLS started" <<<"$out" || { echo "$out"; fail "TLS handshake failed"; }
fp1=$(seen_fp)
[ -n "$fp1" ] || fail "openssl s_client saw no certificate"
[ "$fp1" = "$(file_fp "$TLS/cert.pem")" ] || fail "the client sees $fp1, not cert.pem"
"$CTL" -c "$work/mailtun.conf" tls >"$work/ctl.out" 2>&1 || { cat "$work/ctl.out"; fail "mailtunctl tls failed"; }
grep -q "^sha256       $fp1\$" "$work/ctl.out" || { cat "$work/ctl.out"; fail "mailtunctl tls does not print $fp1"; }
pk=$(pkey_fp "$TLS/cert.pem")
grep -q "^pkey-sha256  $pk\$" "$work/ctl.out" || { cat "$work/ctl.out"; fail "mailtunctl tls does not print the public-key fingerprint $pk"; }
pol=$("$CTL" -c "$work/mailtun.conf" tls --policy)
[ "$pol" = "[127.0.0.1]:$P fingerprint match=$fp1|$pk" ] || fail "policy line is '$pol'"
ok "STARTTLS offered; client, openssl and mailtunctl tls agree: $fp1"

# 3. a restart keeps the key
stop_relayd
start_relayd "$work/mailtun.conf"
[ "$(seen_fp)" = "$fp1" ] || fail "after a restart the client sees another certificate"
[ "$(grep -c "tls own key created" "$work/relayd.log")" = 1 ] || fail "the restart made a new key"
grep -q "tls own key cert=$TLS/cert.pem sha256=$fp1 pkey-sha256=$pk" "$work/relayd.log" ||
    fail "the restart does not log the fingerprints in use"
ok "restart: same certificate, same fingerprint"
stop_relayd

# 4. a damaged key stops the start, with the file named; the file is not replaced
cp "$TLS/key.pem" "$work/key.good"
printf -- '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n' >"$TLS/key.pem"
cp "$TLS/key.pem" "$work/key.bad"
timeout 10 "$RELAYD" -f -c "$work/mailtun.conf" >"$work/bad.log" 2>&1
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "mailrelayd started (exit $rc) with a damaged key"
grep -q "$TLS/key.pem is not a PEM private key" "$work/bad.log" || { cat "$work/bad.log"; fail "no clear error for the damaged key"; }
cmp -s "$TLS/key.pem" "$work/key.bad" || fail "the damaged key file was replaced"
"$RELAYD" -n -c "$work/mailtun.conf" >"$work/check.log" 2>&1 && fail "mailrelayd -n accepts a damaged key"
grep -q "is not a PEM private key" "$work/check.log" || { cat "$work/check.log"; fail "-n does not say why"; }
ok "damaged key.pem: exit $rc, '$(grep -o "key.pem is not a PEM private key" "$work/bad.log" | head -n 1)', file left alone"
cp "$work/key.good" "$TLS/key.pem"

# 5. a configured certificate wins
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/conf.key" -out "$work/conf.crt" \
    -days 2 -subj /CN=configured.test >/dev/null 2>&1 || fail "openssl req"
write_conf "tls_cert = $work/conf.crt" "tls_key = $work/conf.key"
start_relayd "$work/mailtun.conf"
fpc=$(file_fp "$work/conf.crt")
[ "$(seen_fp)" = "$fpc" ] || fail "with tls_cert set the client does not see the configured certificate"
"$CTL" -c "$work/mailtun.conf" tls | grep -q "^sha256       $fpc\$" || fail "mailtunctl tls does not show the configured certificate"
ok "configured tls_cert/tls_key win over the own key"
