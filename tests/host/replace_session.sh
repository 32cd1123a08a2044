#!/bin/bash
# replace_session.sh — the provider's pptpd-replace-session hook hands the fixed address to a
# new session only when the old one is dead.
#
# Two network namespaces: "provider" routes 192.0.2.10 to the old session's interface (a veth
# with point-to-point addresses, as pppd sets them), "customer" holds 192.0.2.10 behind it.
# The hook runs in the provider namespace as pppd would run it (ip-pre-up arguments, PPPD_PID
# of a process named pppd whose parent is named pptpctrl). Checks:
#   1. old session alive (answers the echo): the hook refuses the new session — its "pppd" gets
#      SIGKILL — and leaves the address and route of the old one alone, within about a second;
#   2. old session dead (no answer): the new session's "pppd" lives, the address is taken off the
#      old interface, after the 1 s echo timeout;
#   3. no old session: nothing done, at once;
#   4. the same refusal for a session xl2tpd serves (pppd's parent named xl2tpd: L2TP customers);
#   5. a pppd neither pptpd nor xl2tpd started: the hook stays out, even with a live old session.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HOOK=$ROOT/conf/provider/ip-pre-up.d/pptpd-replace-session

[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
command -v ping >/dev/null || command -v busybox >/dev/null || { echo "skip: neither ping nor busybox"; exit 77; }
ip netns add rs-probe-$$ 2>/dev/null && ip netns del rs-probe-$$ || { echo "skip: cannot create network namespaces"; exit 77; }

work=$(mktemp -d /tmp/replace-session.XXXXXX)
P=rsprov$$ C=rscust$$
FIXED=192.0.2.10 LOCAL=192.0.2.1
cleanup() {
    [ -n "${CTRL:-}" ] && kill -9 "$CTRL" 2>/dev/null
    [ -n "${PPPD:-}" ] && kill -9 "$PPPD" 2>/dev/null
    ip netns del $P 2>/dev/null; ip netns del $C 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- hook output"; cat "$work/hook.out" 2>/dev/null; exit 1; }
ok() { echo "ok: $*"; }

ip netns add $P && ip netns add $C || fail "ip netns add"
ip link add rsold0 netns $P type veth peer name rsold1 netns $C || fail "veth"
ip -n $P addr add $LOCAL peer $FIXED/32 dev rsold0
ip -n $C addr add $FIXED peer $LOCAL/32 dev rsold1
ip -n $P link set rsold0 up; ip -n $C link set rsold1 up
ip -n $P link set lo up; ip -n $C link set lo up

# A stand-in for pptpd's pptpctrl and the new session's pppd (the names are what the hook checks).
mkdir -p "$work/bin"
cp "$(command -v sleep)" "$work/bin/pppd"
for parent in pptpctrl xl2tpd other; do
    printf '#!/bin/sh\n"%s" 300 &\necho $! >"%s"\nwait\n' "$work/bin/pppd" "$work/pppd.pid" >"$work/bin/$parent"
    chmod 755 "$work/bin/$parent"
done
new_session() {
    rm -f "$work/pppd.pid"
    "$work/bin/${1:-pptpctrl}" & CTRL=$!
    for _ in $(seq 50); do [ -s "$work/pppd.pid" ] && break; sleep 0.05; done
    PPPD=$(cat "$work/pppd.pid")
}
# run the hook as pppd's ip-pre-up does: ifname tty speed local remote ipparam
run_hook() {
    local t0=$EPOCHREALTIME
    PPPD_PID=$PPPD PEERNAME=customer1 ip netns exec $P "$HOOK" rsnew0 /dev/pts/9 115200 $LOCAL $FIXED 198.51.100.66 \
        >"$work/hook.out" 2>&1
    HOOK_RC=$?
    HOOK_MS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
}
route_dev() { ip -n $P -4 -o route show $FIXED | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i+1) }'; }
ip netns exec $P busybox ping -c 1 -W 1 $FIXED >/dev/null 2>&1 || ip netns exec $P ping -c 1 -W 1 $FIXED >/dev/null 2>&1 ||
    fail "the old session's end does not answer pings (set-up)"

# 1. alive: refused
new_session
run_hook
sleep 0.2
kill -0 "$PPPD" 2>/dev/null && fail "old session alive: the new session's pppd still runs (hook exit $HOOK_RC)"
[ "$(route_dev)" = rsold0 ] || fail "old session alive: the route to $FIXED moved to '$(route_dev)'"
[ "$HOOK_MS" -lt 2000 ] || fail "the alive check took $HOOK_MS ms"
wait "$CTRL" 2>/dev/null; CTRL= PPPD=
ok "old session alive: new session refused (its pppd killed), route still via rsold0 (hook $HOOK_MS ms, exit $HOOK_RC)"

# 2. dead: the customer's end no longer answers (its address gone, as after a DSL reconnect)
ip -n $C addr flush dev rsold1
new_session
run_hook
kill -0 "$PPPD" 2>/dev/null || fail "old session dead: the new session's pppd was killed"
[ -z "$(route_dev)" ] || fail "old session dead: $FIXED still routed to $(route_dev)"
[ "$HOOK_RC" = 0 ] || fail "old session dead: hook exit $HOOK_RC"
[ "$HOOK_MS" -ge 900 ] && [ "$HOOK_MS" -lt 3000 ] || fail "old session dead: the hook took $HOOK_MS ms (want the ~1 s echo timeout)"
ok "old session dead: replaced (address taken off rsold0) after $HOOK_MS ms, new session's pppd kept"

# 3. no old session: nothing to do
run_hook
kill -0 "$PPPD" 2>/dev/null || fail "no old session: the new session's pppd was killed"
[ "$HOOK_RC" = 0 ] && [ "$HOOK_MS" -lt 900 ] || fail "no old session: exit $HOOK_RC after $HOOK_MS ms"
ok "no old session: nothing done ($HOOK_MS ms)"

# 4. xl2tpd's sessions: the old one alive again (the customer's end answers), refused
ip -n $C addr add $FIXED peer $LOCAL/32 dev rsold1
ip -n $P addr add $LOCAL peer $FIXED/32 dev rsold0 2>/dev/null
ip -n $C link set rsold1 up; ip -n $P link set rsold0 up
[ "$(route_dev)" = rsold0 ] || fail "set-up of 4: no route to $FIXED via rsold0"
kill -9 "$CTRL" "$PPPD" 2>/dev/null; wait "$CTRL" 2>/dev/null
new_session xl2tpd
run_hook
sleep 0.2
kill -0 "$PPPD" 2>/dev/null && fail "xl2tpd session, old one alive: the new session's pppd still runs (hook exit $HOOK_RC)"
[ "$(route_dev)" = rsold0 ] || fail "xl2tpd session, old one alive: the route moved to '$(route_dev)'"
wait "$CTRL" 2>/dev/null; CTRL= PPPD=
ok "xl2tpd session, old one alive: refused as for pptpd (hook $HOOK_MS ms, exit $HOOK_RC)"

# 5. not a pptpd or xl2tpd session: left alone
new_session other
run_hook
kill -0 "$PPPD" 2>/dev/null || fail "a pppd of another parent was killed by the hook"
[ "$HOOK_RC" = 0 ] && [ "$HOOK_MS" -lt 900 ] || fail "another parent: exit $HOOK_RC after $HOOK_MS ms"
ok "a pppd neither pptpd nor xl2tpd started: hook stays out ($HOOK_MS ms)"
