#!/bin/bash
# outbound_smarthost.sh — outbound mail from the LAN through the provider's smarthost.
#
# The smarthost is a private Postfix instance on 127.0.0.1 that requires STARTTLS
# (smtpd_tls_security_level = encrypt) with a certificate for smarthost.test from a CA this
# test makes, and SASL AUTH (Cyrus, sasldb) before it relays. mailrelayd's fixed address is
# 127.0.0.3 (its first [relay] listen), its LAN listener 127.0.0.2 for lan_networks
# 127.0.1.0/24. Cases:
#   1. a LAN client's mail to a foreign domain goes out via the smarthost: Postfix logs the
#      client as 127.0.0.3 (bound source), TLS, and sasl_username=
#   2. a client outside lan_networks cannot relay (LAN listener refuses it, the fixed-address
#      listener takes only [relay] domains)
#   3. wrong password: deferred with the server's 535 logged, not bounced, not sent
#   4. wrong certificate (tls_name mismatch; a CA that did not sign it): deferred, the
#      smarthost never sees MAIL FROM or AUTH in clear text
#   5. a server without STARTTLS (a small Python server, it records every command):
#      require_tls = yes -> deferred; require_tls = no with credentials -> deferred, as
#      credentials never go in clear text; neither sends AUTH or MAIL FROM
#   6. tunnel state unknown (mailtund's socket there, nobody answering), then down (scripted
#      mailtund): mail waits with attempts=0; LINK_UP -> sent at once
# The password never appears in mailrelayd's log (debug level), in clear or in base64.
set -u
. "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/host/lib/postfix_instance.sh"

pf_need swaks python3 openssl saslpasswd2 base64
sasl_plugin() { compgen -G "/usr/lib/*/sasl2/lib$1.so*" >/dev/null || compgen -G "/usr/lib/sasl2/lib$1.so*" >/dev/null; }
sasl_plugin sasldb || { echo "skip: Cyrus SASL sasldb plugin missing (package libsasl2-modules-db; run tests/deps.sh)"; exit 77; }
sasl_plugin plain && sasl_plugin login || { echo "skip: Cyrus SASL PLAIN/LOGIN plugins missing (package libsasl2-modules; run tests/deps.sh)"; exit 77; }
[ -x "$RELAYD" ] && [ -x "$CTL" ] || { echo "mailrelayd/mailtunctl not built in $B"; exit 1; }

pf_work outbound-smarthost
PASS='Sm4rt-h0st pass'        # with a blank: the password is the rest of the line
SUSER=gw@provider.test
RPID=
port_open_at() { python3 -c "import socket,sys; socket.create_connection(('$1',$2),1).close()"; }
in_log() { grep -q -- "$1" "$work/relayd.log"; }

# --- a test CA, the smarthost's certificate, and a second CA that did not sign it ----------
mkcert() {   # DIR: ca.crt ca.key, and (with a name) name.crt name.key signed by it
    local d=$1
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=mailtun test CA $(basename "$d")" -keyout "$d/ca.key" -out "$d/ca.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log"; fail "openssl: CA"; }
}
mkcert "$work/ca"
mkcert "$work/ca2"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=smarthost.test" \
    -keyout "$work/ca/sh.key" -out "$work/ca/sh.csr" >>"$work/ca/openssl.log" 2>&1 || fail "openssl: CSR"
printf 'subjectAltName=DNS:smarthost.test\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$work/ca/ext"
openssl x509 -req -in "$work/ca/sh.csr" -CA "$work/ca/ca.crt" -CAkey "$work/ca/ca.key" -CAcreateserial \
    -days 2 -extfile "$work/ca/ext" -out "$work/ca/sh.crt" >>"$work/ca/openssl.log" 2>&1 || fail "openssl: sign"
chmod 644 "$work/ca/sh.key"      # Postfix's smtpd reads it; a throw-away test key
openssl verify -CAfile "$work/ca/ca.crt" "$work/ca/sh.crt" >/dev/null || fail "test certificate does not verify"
ok "test CA and a certificate for smarthost.test signed by it; a second, unrelated CA"

# --- the smarthost: Postfix with STARTTLS required and Cyrus SASL (sasldb) ------------------
PFP=$(free_port) P=$(free_port) PL=$(free_port) PLAIN=$(free_port) DEAD=$(free_port)
# Debian's smtpd reads $config_directory/sasl/smtpd.conf; the sasldb (owned by postfix)
# stays outside the instance, where postfix check wants everything owned by root
SASL=$work/sasl
mkdir -p "$SASL" "$PF/sasl"
printf '%s' "$PASS" | saslpasswd2 -c -p -f "$SASL/sasldb2" -u provider.test gw || fail "saslpasswd2"
chown postfix "$SASL/sasldb2"
chmod 600 "$SASL/sasldb2"
sasl_mechs() {
    printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: %s\n' \
        "$SASL/sasldb2" "$1" >"$PF/sasl/smtpd.conf"
}
sasl_mechs "PLAIN LOGIN"
printf '/^Message-Id:/ INFO\n' >"$work/header_checks"
pf_instance "$PF" "$PFP" "mynetworks = 127.0.0.254/32" \
    "smtpd_relay_restrictions = permit_sasl_authenticated, reject" \
    "smtpd_tls_security_level = encrypt" "smtpd_tls_cert_file = $work/ca/sh.crt" \
    "smtpd_tls_key_file = $work/ca/sh.key" "smtpd_tls_loglevel = 1" "smtpd_tls_auth_only = yes" \
    "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = cyrus" "smtpd_sasl_path = smtpd" \
    "cyrus_sasl_config_path = $PF/sasl" "smtpd_sasl_security_options = noanonymous" \
    "header_checks = regexp:$work/header_checks" "default_transport = discard:smarthost test" \
    "relay_transport = discard:smarthost test"
ok "smarthost Postfix on 127.0.0.1:$PFP: STARTTLS required, AUTH PLAIN/LOGIN (sasldb), relays only authenticated clients"

# --- a server without STARTTLS that records every command -----------------------------------
cat >"$work/plain_smtp.py" <<'EOPY'
import socket, sys, threading
port, log = int(sys.argv[1]), sys.argv[2]
def session(c):
    f = c.makefile("rb")
    c.sendall(b"220 plain.test ESMTP no TLS here\r\n")
    while True:
        line = f.readline()
        if not line:
            return
        with open(log, "ab") as o:
            o.write(line)
        v = line[:4].upper()
        if v in (b"EHLO", b"HELO"):
            c.sendall(b"250-plain.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n")
        elif v == b"QUIT":
            c.sendall(b"221 bye\r\n"); c.close(); return
        else:
            c.sendall(b"250 ok\r\n")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=session, args=(c,), daemon=True).start()
EOPY
python3 "$work/plain_smtp.py" "$PLAIN" "$work/plain.log" >"$work/plain.out" 2>&1 &
pids+=($!)
wait_for 10 "plain SMTP server" port_open "$PLAIN"

# --- mailrelayd -------------------------------------------------------------------------------
printf '%s %s\n' "$SUSER" "$PASS" >"$work/secret-good"
printf '%s %s\n' "$SUSER" "wrong-$PASS" >"$work/secret-bad"
chmod 600 "$work/secret-good" "$work/secret-bad"

n_run=0
# relayd_with KEY=VALUE... (smarthost, ca_file, tls_name, require_tls, secrets, mailtund)
relayd_with() {
    local smarthost=127.0.0.1:$PFP ca=$work/ca/ca.crt name=smarthost.test req=   # default: yes
    local secrets=$work/secret-good mtd=$work/no-mailtund.sock kv
    for kv in "$@"; do
        case $kv in
        smarthost=*) smarthost=${kv#*=};; ca_file=*) ca=${kv#*=};; tls_name=*) name=${kv#*=};;
        require_tls=*) req=${kv#*=};; secrets=*) secrets=${kv#*=};; mailtund=*) mtd=${kv#*=};;
        esac
    done
    n_run=$((n_run + 1))
    write_relay_conf <<EOC
listen = 127.0.0.3:$P
lan_listen = 127.0.0.2:$PL
lan_networks = 127.0.1.0/24
hostname = gw.example.net
spool = $work/spool-$n_run
mailtund_socket = $mtd

[inside]
server = 127.0.0.1:$DEAD
retry_base = 1s

[outbound]
smarthost = $smarthost
ca_file = $ca
tls_name = $name
${req:+require_tls = $req}
${secrets:+secrets = $secrets}
EOC
    "$RELAYD" -f -d -c "$work/mailtun.conf" >>"$work/relayd.log" 2>&1 &
    RPID=$!
    wait_for 10 "mailrelayd on the LAN listener" port_open_at 127.0.0.2 "$PL"
}
stop_relayd() {
    kill -TERM "$RPID"; wait "$RPID"; local rc=$?
    RPID=
    [ "$rc" = 0 ] || fail "mailrelayd exit $rc"
}
# send_lan ID: a LAN client (127.0.1.5) sends message ID to a foreign domain
send_lan() {
    swaks --server 127.0.0.2:$PL --local-interface 127.0.1.5 --from "user@example.net" \
          --to "friend@foreign.test" --header "Message-Id: <$1@lan.test>" --header "Subject: $1" \
          >"$work/swaks-$1.log" 2>&1 || { cat "$work/swaks-$1.log"; fail "mailrelayd did not take message $1"; }
}
queue() { "$CTL" --relayd-socket "$work/relayd.sock" --tunneld-socket /nonexistent queue list 2>&1; }
sh_got() { grep -q "Message-Id: <$1@lan.test>" "$PF/maillog"; }

# 1. LAN client -> smarthost with TLS, AUTH, from the fixed address
relayd_with
in_log "outbound smarthost=127.0.0.1:$PFP source=127.0.0.3 tls=verify auth=$SUSER" || fail "outbound settings not logged"
send_lan m1
wait_for 20 "m1 at the smarthost" sh_got m1
wait_for 10 "m1 logged as sent" in_log "to=<friend@foreign.test> relay=127.0.0.1\[127.0.0.1\]:$PFP .*status=sent"
grep -q "connect from .*\[127.0.0.3\]" "$PF/maillog" || fail "smarthost did not see the fixed address 127.0.0.3 as client"
grep -q "TLS connection established from .*\[127.0.0.3\]" "$PF/maillog" || fail "no TLS at the smarthost"
grep -q "client=.*\[127.0.0.3\], sasl_method=PLAIN, sasl_username=$SUSER" "$PF/maillog" ||
    fail "no authenticated (sasl_username=) submission at the smarthost"
in_log "smtpc tls relay=.*verified=yes" || fail "mailrelayd did not log a verified TLS session"
in_log "smtpc auth relay=.* mechanism=PLAIN user=$SUSER" || fail "mailrelayd did not log AUTH"
ok "LAN mail relayed: $(grep -o 'client=.*sasl_username=[^ ]*' "$PF/maillog" | head -n 1), TLS verified"
# connection reuse: two more messages, one TLS handshake more at most
tls_before=$(grep -c "smtpc tls relay=" "$work/relayd.log")
send_lan m2; send_lan m3
wait_for 20 "m2, m3 at the smarthost" sh_got m3
wait_for 20 "m2 at the smarthost" sh_got m2
tls_after=$(grep -c "smtpc tls relay=" "$work/relayd.log")
[ $((tls_after - tls_before)) -le 1 ] || fail "no connection reuse: $((tls_after - tls_before)) new TLS sessions for 2 messages"
ok "connection reused for the next messages ($((tls_after - tls_before)) new TLS session(s) for 2)"

# 2. only lan_networks may relay
if swaks --server 127.0.0.2:$PL --from a@example.org --to x@foreign.test >"$work/swaks-nonlan.log" 2>&1; then
    fail "a client outside lan_networks was accepted on the LAN listener"
fi
grep -q "<\*\* 554" "$work/swaks-nonlan.log" || { cat "$work/swaks-nonlan.log"; fail "LAN listener: no 554 for a non-LAN client"; }
if swaks --server 127.0.0.3:$P --from a@example.org --to x@foreign.test >"$work/swaks-relay.log" 2>&1; then
    fail "the fixed-address listener relayed to a foreign domain"
fi
grep -q "<\*\* 5[0-9][0-9] .*RCPT\|<\*\* 55[0-9]" "$work/swaks-relay.log" || { cat "$work/swaks-relay.log"; fail "no 5xx for relaying on the fixed address"; }
ok "non-LAN clients: refused on the LAN listener (554), relaying refused on the fixed address"
stop_relayd

# 1b. a smarthost that offers only LOGIN
sasl_mechs LOGIN
postfix -c "$PF" reload >/dev/null 2>&1 || fail "postfix reload"
sleep 1
relayd_with
send_lan m1b
wait_for 20 "m1b at the smarthost (LOGIN)" sh_got m1b
grep -q "sasl_method=LOGIN, sasl_username=$SUSER" "$PF/maillog" || fail "no AUTH LOGIN at the smarthost"
in_log "smtpc auth relay=.* mechanism=LOGIN user=$SUSER" || fail "mailrelayd did not log AUTH LOGIN"
stop_relayd
sasl_mechs "PLAIN LOGIN"
postfix -c "$PF" reload >/dev/null 2>&1 || fail "postfix reload"
sleep 1
ok "AUTH LOGIN when the smarthost offers only LOGIN"

# 3. wrong password
before=$(grep -c "sasl_username=" "$PF/maillog")
relayd_with secrets="$work/secret-bad"
send_lan m4
wait_for 20 "the AUTH failure logged" in_log "SMTP AUTH PLAIN as $SUSER refused by .*535"
wait_for 10 "m4 deferred" in_log "to=<friend@foreign.test> relay=.*status=deferred (451 4.4.1 SMTP AUTH PLAIN as $SUSER refused"
sleep 1
sh_got m4 && fail "m4 reached the smarthost with a wrong password"
queue | grep -q "from=<user@example.net>" || fail "m4 is no longer queued"
in_log "status=bounced\|non-delivery notification" && fail "a wrong password bounced the mail"
ok "wrong password: deferred ($(grep -o 'refused by .*: 535[^)"]*' "$work/relayd.log" | head -n 1)), kept, not bounced"
stop_relayd

# 4. wrong certificate: name mismatch, then a CA that did not sign it
for variant in "tls_name=other.test" "ca_file=$work/ca2/ca.crt"; do
    nclient=$(grep -c "client=" "$PF/maillog")
    relayd_with "$variant"
    send_lan "m5-${variant%%=*}"
    wait_for 20 "TLS failure logged ($variant)" in_log "TLS with .* failed: .*certificate verify failed"
    wait_for 10 "deferred ($variant)" in_log "id=.*to=<friend@foreign.test> relay=[^ ]* .*status=deferred (451 4.4.1 TLS with"
    sleep 1
    [ "$(grep -c "client=" "$PF/maillog")" = "$nclient" ] || fail "smarthost took a message despite the wrong certificate ($variant)"
    grep -q "Must issue a STARTTLS command first" "$PF/maillog" && fail "something was sent in clear text ($variant)"
    stop_relayd
    ok "wrong certificate ($variant): deferred, nothing sent"
done

# 5. no STARTTLS at all
relayd_with smarthost=127.0.0.1:$PLAIN
send_lan m6
wait_for 20 "no-STARTTLS failure" in_log "TLS is required, but host 127.0.0.1\[127.0.0.1\]:$PLAIN does not offer STARTTLS"
wait_for 10 "m6 deferred" in_log "status=deferred (451 4.4.1 TLS is required"
stop_relayd
relayd_with smarthost=127.0.0.1:$PLAIN require_tls=no
send_lan m7
wait_for 20 "AUTH refused in clear text" in_log "not authenticating with 127.0.0.1\[127.0.0.1\]:$PLAIN: the session is not encrypted"
wait_for 10 "m7 deferred" in_log "status=deferred (451 4.4.1 not authenticating"
stop_relayd
grep -q "^EHLO gw.example.net" "$work/plain.log" || fail "the plain server saw no EHLO (test broken)"
grep -qi "^MAIL\|^AUTH\|^RCPT\|^DATA" "$work/plain.log" && { cat "$work/plain.log"; fail "sent to a server without TLS"; }
ok "server without STARTTLS: deferred with require_tls=yes and, with credentials, with require_tls=no; it saw only: $(sort -u "$work/plain.log" | tr -d '\r' | tr '\n' ' ')"

# 6. tunnel state: unknown while mailtund's socket exists but nobody answers, then down
#    (scripted mailtund), then up. Mail waits with attempts=0 and goes out on LINK_UP.
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$work/mailtund.sock"
relayd_with mailtund="$work/mailtund.sock"
send_lan m8
wait_for 10 "outbound held (state unknown)" in_log "delivery held host=127.0.0.1 reason=\"the tunnel's state is unknown"
rm -f "$work/mailtund.sock"
"$ROOT/tests/host/peers/link_mailtund.py" "$work/mailtund.sock" --up-when "$work/link-up" >"$work/fake.log" 2>&1 &
pids+=($!)
wait_for 20 "subscribed to link events" in_log "link events from=subscribing to=subscribed"
send_lan m9                                        # a commit runs the scheduler
wait_for 10 "outbound held (down)" in_log "delivery held host=127.0.0.1 reason=\"the tunnel is down\""
sleep 2                                            # retry_base is 1 s: attempts would show
sh_got m8 && fail "m8 left while the tunnel was not up"
sh_got m9 && fail "m9 left while the tunnel was down"
[ "$(queue | grep -c "attempts=0 .*from=<user@example.net>")" = 2 ] || { queue; fail "m8, m9 not queued with attempts=0 while the tunnel is down"; }
ok "tunnel state unknown, then down: m8, m9 wait with attempts=0"
t0=$(date +%s%3N)
touch "$work/link-up"
wait_for 20 "m8 at the smarthost after LINK_UP" sh_got m8
wait_for 20 "m9 at the smarthost after LINK_UP" sh_got m9
in_log "delivery resumed host=127.0.0.1" || fail "resume not logged"
ok "LINK_UP: m8 and m9 at the smarthost $(( $(date +%s%3N) - t0 )) ms later"
stop_relayd

# --- the password never in mailrelayd's log -------------------------------------------------
b64a=$(printf '\0%s\0%s' "$SUSER" "$PASS" | base64 -w0)
b64b=$(printf '%s' "$PASS" | base64 -w0)
grep -qF -- "$PASS" "$work/relayd.log" && fail "the password is in mailrelayd's log"
grep -qF -- "$b64a" "$work/relayd.log" && fail "the AUTH PLAIN string is in mailrelayd's log"
grep -qF -- "$b64b" "$work/relayd.log" && fail "the base64 password is in mailrelayd's log"
grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$work/relayd.log" && fail "sanitizer report"
ok "password absent from mailrelayd's debug log ($(wc -l <"$work/relayd.log") lines)"
echo "outbound_smarthost: all checks passed"
