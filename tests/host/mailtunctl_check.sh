#!/bin/bash
# mailtunctl_check.sh — `mailtunctl check` and the command line's error paths: every problem
# is one FAIL line with its fix, the count matches, a broken config is named by file, line
# and key, --defaults lists every key, and bad arguments or absent daemons give clear errors
# with exit 2 (usage) or 1 (refused / not running).
set -u
. "$(dirname "$0")/lib/common.sh"
[ -x "$CTL" ] || { echo "mailtunctl not built in $B"; exit 1; }
make_work mailtunctl-check
run() { out=$("$CTL" "$@" 2>&1); rc=$?; }

# --- no config file (a fresh install): say how to get one, not "correct the named line" ---
# The default path is hidden behind an empty tmpfs in a mount namespace of our own, so this
# also runs on a machine that has /etc/mailtun/mailtun.conf.
nocfg() {
    if [ ! -e /etc/mailtun/mailtun.conf ]; then "$CTL" check
    elif [ "$(id -u)" = 0 ]; then unshare -m sh -c 'mount -t tmpfs none /etc/mailtun && exec "$0" check' "$CTL"
    else return 99
    fi
}
out=$(nocfg 2>&1); rc=$?
if [ "$rc" = 99 ]; then
    echo "note: /etc/mailtun/mailtun.conf exists and not root: the missing default config not exercised"
else
    [ "$rc" = 1 ] || fail "no config: exit $rc, want 1 ($out)"
    grep -qx 'FAIL  configuration /etc/mailtun/mailtun.conf: no such file; fix: install the sample with `make install` from the source tree and edit it, or name your file with -c FILE' <<<"$out" ||
        fail "no config: not told to run make install or use -c: $out"
    grep -q 'correct the named line' <<<"$out" && fail "no config: still says 'correct the named line': $out"
    ok "no /etc/mailtun/mailtun.conf: $(head -n 1 <<<"$out")"
fi
run -c "$work/absent.conf" check
[ "$rc" = 1 ] && grep -qx "FAIL  $work/absent.conf: no such file (named with -c); fix: give the path of an existing mailtun.conf" <<<"$out" ||
    fail "-c with an absent file: exit $rc: $out"
ok "-c with an absent file names it"

# --- a consistent config: problems are listed with fixes, and counted ----------------------
sed "s|^;spool = .*|spool = $work/spool|" "$ROOT/conf/mailtun.conf" >"$work/good.conf"
run -c "$work/good.conf" check
fails=$(grep -c '^FAIL ' <<<"$out")
grep -q "^ok    configuration \[tunnel\] loads" <<<"$out" || fail "config not reported as loading: $out"
grep '^FAIL ' <<<"$out" | grep -v '; fix: ' && fail "a FAIL line without its fix"
grep -qx "$fails problems\? found" <<<"$out" || fail "count line does not match $fails FAIL lines: $(tail -n 1 <<<"$out")"
if [ "$fails" = 0 ]; then [ "$rc" = 0 ] || fail "exit $rc with no problems"; else [ "$rc" = 1 ] || fail "exit $rc with $fails problems"; fi
grep -q "$work/spool: missing; fix: " <<<"$out" || fail "missing spool not reported: $out"
ver=$(pppd --version 2>&1 | sed -n 's/^pppd version //p')
grep -q "^ok    pppd $ver$" <<<"$out" || fail "pppd version not checked: $out"
sed 's|^;plugin = .*|plugin = /usr/lib/pppd/0.0.1/mailtun.so|' "$work/good.conf" >"$work/oldplugin.conf"
run -c "$work/oldplugin.conf" check
grep -q "FAIL  pppd version: installed pppd is $ver but \[tunnel\] plugin is /usr/lib/pppd/0.0.1/mailtun.so; fix: " <<<"$out" ||
    fail "a plugin for another pppd version not reported: $out"
ok "check: $fails problem(s) on this machine, each with its fix, exit $rc"

# --- the route to the PPTP server, read in a namespace with known routes --------------------
if [ "$(id -u)" = 0 ] && ip netns add "mtck$$" 2>/dev/null; then
    trap 'ip netns del "mtck$$" 2>/dev/null; rm -rf "$work"' EXIT
    ip -n "mtck$$" link add vx0 type veth peer name vx1
    ip -n "mtck$$" link set vx0 up; ip -n "mtck$$" link set vx1 up; ip -n "mtck$$" link set lo up
    ip -n "mtck$$" addr add 198.51.100.2/24 dev vx0
    sed 's/^uplink = .*/uplink = vx0/' "$work/good.conf" >"$work/ns.conf"
    nsrun() { out=$(ip netns exec "mtck$$" "$CTL" -c "$work/ns.conf" check 2>&1); }
    nsrun
    grep -q "^FAIL  route to the PPTP server 203.0.113.1: none outside the tunnel; fix: " <<<"$out" || fail "no route not reported: $out"
    ip -n "mtck$$" route add default via 198.51.100.1 dev vx0
    nsrun
    grep -q "^ok    route to the PPTP server 203.0.113.1 via vx0$" <<<"$out" || fail "route via the uplink not seen: $out"
    sed -i 's/^uplink = vx0/uplink = dsl9/' "$work/ns.conf"
    nsrun
    grep -q "^FAIL  route to the PPTP server 203.0.113.1 via vx0 (not the configured uplink!)" <<<"$out" || fail "wrong uplink not reported: $out"
    ok "route to the PPTP server: none / via the uplink / via another interface, each reported"
else
    echo "note: not root or no network namespaces: route check not exercised"
fi

# --- a broken config is named by file, line and key ----------------------------------------
sed 's/^fixed_address = 192.0.2.10/fixed_address = 192.0.2.300/' "$work/good.conf" >"$work/bad.conf"
line=$(grep -n '^fixed_address' "$work/bad.conf" | cut -d: -f1)
run -c "$work/bad.conf" check
[ "$rc" = 1 ] || fail "broken config: exit $rc"
grep -q "FAIL  configuration \[tunnel\]: $work/bad.conf:$line: \[tunnel\] fixed_address: not an IPv4 address: '192.0.2.300'; fix: " <<<"$out" \
    || fail "broken config not named precisely: $out"
ok "broken config: $(grep -o "$work/bad.conf:$line: [^;]*" <<<"$out")"
"$B/tunneld/mailtund" -n -c "$work/bad.conf" >/dev/null 2>"$work/err" && fail "mailtund -n accepted the broken config"
grep -q "bad.conf:$line: \[tunnel\] fixed_address" "$work/err" || fail "mailtund -n: $(cat "$work/err")"
ok "mailtund -n refuses it the same way"

# --- --defaults lists every key --------------------------------------------------------------
run check --defaults
[ "$rc" = 0 ] || fail "check --defaults: exit $rc"
for k in server fixed_address reconnect_at listen max_message_size smarthost etrn_domains; do
    grep -q "^;$k = " <<<"$out" || fail "--defaults lacks $k"
done
ok "check --defaults lists the keys with their defaults"

# --- usage errors exit 2, absent daemons exit 1 ---------------------------------------------
for args in "check bogus" "" "bogus" "trace" "trace start relative/dir" "status extra" "--timeout 0 status"; do
    # shellcheck disable=SC2086
    run $args
    [ "$rc" = 2 ] || fail "'mailtunctl $args': exit $rc, want 2 ($out)"
done
ok "usage errors exit 2 (check bogus, no verb, unknown verb, trace without start/stop, relative trace dir, extra argument, bad timeout)"
run --tunneld-socket "$work/none.sock" trace stop
[ "$rc" = 1 ] && grep -q "mailtund is not running" <<<"$out" || fail "trace without mailtund: exit $rc: $out"
run --tunneld-socket "$work/none.sock" --relayd-socket "$work/none2.sock" status
[ "$rc" = 1 ] && grep -q "mailtund  *running no" <<<"$out" || fail "status without daemons: exit $rc: $out"
ok "absent daemons: 'not running', exit 1"
# --- transport = l2tp: the L2TP kernel modules are checked instead of PPTP's ---------------
sed 's/^;transport = pptp$/transport = l2tp/' "$work/good.conf" >"$work/l2tp.conf"
run -c "$work/l2tp.conf" check
grep -q "transport l2tp" <<<"$out" && grep -q "kernel module l2tp_ppp" <<<"$out" ||
    fail "transport = l2tp: no l2tp_ppp check: $out"
grep -q "kernel module pptp" <<<"$out" && fail "transport = l2tp: still checks the pptp module: $out"
ok "transport = l2tp: $(grep -m1 'kernel module l2tp_ppp' <<<"$out")"
sed 's/^;transport = pptp$/transport = gre/' "$work/good.conf" >"$work/badtransport.conf"
run -c "$work/badtransport.conf" check
[ "$rc" = 1 ] && grep -q "transport: 'gre' is not pptp, l2tp" <<<"$out" ||
    fail "an unknown transport is not named: exit $rc: $out"
ok "an unknown transport is named: $(grep -m1 "transport: 'gre' is not" <<<"$out")"
# --- transport = l2tp-ipsec: the key or certificate files, as mailtund reads them at each dial ---
if [ "$(id -u)" = 0 ]; then
    ( umask 077; echo "a-pre-shared-key-long-enough" >"$work/ipsec.psk" )
    sed "s|^;transport = pptp\$|transport = l2tp-ipsec|; s|^;ipsec_id = |ipsec_id = |; s|^;ipsec_psk_file = .*|ipsec_psk_file = $work/ipsec.psk|" \
        "$work/good.conf" >"$work/ipsec.conf"
    run -c "$work/ipsec.conf" check
    grep -q "^ok    IPsec pre-shared key file private" <<<"$out" || fail "l2tp-ipsec: the key file not checked: $out"
    chmod 644 "$work/ipsec.psk"
    run -c "$work/ipsec.conf" check
    [ "$rc" = 1 ] && grep -q "^FAIL  IPsec credentials: ipsec_psk_file $work/ipsec.psk must be a regular file owned by root, mode 600" <<<"$out" ||
        fail "l2tp-ipsec: a key file others can read is not named: exit $rc: $out"
    ok "transport = l2tp-ipsec: $(grep -m1 '^FAIL  IPsec credentials' <<<"$out" | cut -c1-110)..."
    # auto dials PPTP and may go over to L2TP/IPsec: both data paths' modules
    chmod 600 "$work/ipsec.psk"
    sed 's/^transport = l2tp-ipsec$/transport = auto/' "$work/ipsec.conf" >"$work/auto.conf"
    run -c "$work/auto.conf" check
    grep -q "transport auto" <<<"$out" && grep -q "kernel module pptp" <<<"$out" &&
        grep -q "kernel module l2tp_ppp" <<<"$out" || fail "transport = auto: not both transports' modules: $out"
    ok "transport = auto: $(grep -m1 'transport auto' <<<"$out"); pptp and l2tp_ppp checked"
else
    echo "note: not root: the IPsec key file's ownership check not exercised"
fi
echo "mailtunctl_check: all checks passed"
