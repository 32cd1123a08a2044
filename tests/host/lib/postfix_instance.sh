# postfix_instance.sh — a private Postfix instance for host tests (sourced).
#
#   pf_instance DIR SMTPD_PORT [key=value ...]   config, queue, data and log (DIR/maillog)
#                                                under DIR, smtpd on 127.0.0.1:SMTPD_PORT,
#                                                extra main.cf settings as arguments; started
#   pf_stop DIR                                  stop it and kill what is left of it
#   pf_need [CMD...]        skip (77, naming what) unless root, postfix, postconf, the CMDs,
#                           the postfix user and the postdrop group are there
#   pf_work NAME            make_work NAME; PF=$work/postfix, stopped on exit; a fail_context
#                           showing the last lines of the Postfix and mailrelayd logs
# The caller provides fail, wait_for and port_open (common.sh). Nothing of the system's Postfix is
# touched: no syslog, no /etc/postfix, no system queue. Exits 77 if Postfix cannot run
# as a private instance here.

pf_instance() {
    local PF=$1 PFP=$2; shift 2
    mkdir -p "$PF/queue" "$PF/data"
    chown postfix "$PF/data"
    cat >"$PF/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = provider.test
mydomain = provider.test
myorigin = provider.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:no local delivery here
biff = no
notify_classes =
EOC
    cat >"$PF/master.cf" <<EOC
127.0.0.1:$PFP inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOC
    local kv
    for kv in "$@"; do postconf -c "$PF" -e "$kv" || fail "postconf $kv"; done
    script -qec "postfix -c $PF check" /dev/null >"$PF/check.log" 2>&1 ||
        { cat "$PF/check.log"; fail "postfix check rejects the private instance in $PF (see above)"; }
    postfix -c "$PF" start >"$PF/start.log" 2>&1 || { cat "$PF/start.log"; fail "postfix start"; }
    wait_for 20 "Postfix smtpd on $PFP" port_open "$PFP"
}

pf_stop() {
    local PF=$1 mpid
    [ -f "$PF/main.cf" ] || return 0
    postfix -c "$PF" stop >/dev/null 2>&1
    mpid=$(tr -d ' ' <"$PF/queue/pid/master.pid" 2>/dev/null)
    if [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null; then
        sleep 1
        pkill -9 -P "$mpid" 2>/dev/null
        kill -9 "$mpid" 2>/dev/null
    fi
}

pf_need() {
    need_root "Postfix and mailrelayd"
    need_cmd postfix postconf "$@"
    id postfix >/dev/null 2>&1 && getent group postdrop >/dev/null ||
        skip "postfix user/postdrop group missing (the postfix package makes them; run tests/deps.sh)"
}

pf_work() {
    make_work "$1"
    PF=$work/postfix
    at_exit 'pf_stop "${PF:-}"'
    fail_context() {
        echo "--- Postfix log (last 20 lines)"; tail -n 20 "$PF/maillog" 2>/dev/null
        echo "--- mailrelayd log (last 20 lines)"; tail -n 20 "$work/relayd.log" 2>/dev/null
    }
}
