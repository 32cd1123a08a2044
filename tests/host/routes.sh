#!/bin/bash
# routes.sh — host test of tunneld/routes.c in a network namespace of its own.
#
# Builds a namespace with an "uplink" veth (198.51.100.2/24, default via 198.51.100.1) and a
# veth named ppp-test standing in for pppN (this kernel may lack the dummy driver), then
# drives build/tests/host/routes_tool (one process = one daemon lifetime) and checks with
# `ip route` / `ip rule` that: leftovers of an earlier run are removed and foreign routes kept;
# the server host route is added, left alone when right and follows a gateway change; the
# source rule and table are exact, switch to "unreachable" on link down; and everything is
# gone after remove. Needs root and `ip netns`; exit 77 otherwise.
set -u

B=${B:-build}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=$HERE/$B/tests/host/routes_tool
TABLE=1723
PRIO=1723
SERVER=203.0.113.10
FIXED=203.0.113.77
NS=mt-routes-$$-$RANDOM
LOG=$(mktemp /tmp/mt-routes-log.XXXXXX)
FAILS=0

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "ip (iproute2) not installed (run tests/deps.sh)"
[ -x "$TOOL" ] || make -C "$HERE" --no-print-directory "$B/tests/host/routes_tool" >/dev/null || { echo "FAIL: cannot build $TOOL"; exit 1; }
ip netns add "$NS" 2>/dev/null || skip "ip netns add not possible here"

TOOL_PID=
cleanup() {
    [ -n "${TOOL_PID:-}" ] && kill "$TOOL_PID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n() { ip -n "$NS" "$@"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
# expect "what" "actual" "expected"
expect() {
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1"; echo "   expected: [$3]"; echo "   got:      [$2]"; fi
}

n link set lo up
n link add veth0 type veth peer name veth1 || { echo "FAIL: veth"; exit 1; }
n link add ppp-test type veth peer name ppp-peer || { echo "FAIL: veth ppp-test"; exit 1; }
for i in veth0 veth1 ppp-test ppp-peer; do n link set "$i" up; done
n addr add 198.51.100.2/24 dev veth0
n addr add $FIXED/32 dev ppp-test
n route add default via 198.51.100.1 dev veth0

start_tool() {
    coproc RT { exec ip netns exec "$NS" "$TOOL" $TABLE $PRIO 2>>"$LOG"; }
    TOOL_PID=$RT_PID
    local line
    read -r -t 10 -u "${RT[0]}" line
    expect "tool starts" "$line" "ready"
}
# ask "command" -> prints the tool's one-line answer
ask() {
    local line=
    echo "$1" >&"${RT[1]}"
    read -r -t 10 -u "${RT[0]}" line || line="(no answer)"
    echo "$line"
}
stop_tool() {
    echo quit >&"${RT[1]}"
    wait "$TOOL_PID" 2>/dev/null
    TOOL_PID=
}
ours() { n route show table all proto 77; n rule show priority $PRIO; }

# --- leftovers of an earlier run go, foreign routes stay -----------------------------------
n route add 192.0.2.99 via 198.51.100.1 proto 77
n route add default dev ppp-test table $TABLE proto 77
n rule add from 203.0.113.50 lookup $TABLE priority $PRIO
n route add 192.0.2.98 via 198.51.100.1 proto static
start_tool
expect "stale routes and rule removed" "$(ours)" ""
expect "foreign route kept" "$(n route show 192.0.2.98)" "192.0.2.98 via 198.51.100.1 dev veth0 proto static "

# --- host route to the server -------------------------------------------------------------
expect "host route added" "$(ask "host $SERVER")" "changed"
expect "host route in main" "$(n route show $SERVER/32)" "$SERVER via 198.51.100.1 dev veth0 proto 77 "
expect "kernel routes server via uplink" "$(ask "lookup $SERVER")" "gw=198.51.100.1 dev=veth0 table=254"
expect "host route left alone when right" "$(ask "host $SERVER")" "unchanged"
expect "logged once" "$(grep -c "route add dst=$SERVER/32 gw=198.51.100.1 dev=veth0 table=main" "$LOG")" "1"

# --- fixed source rule and table ------------------------------------------------------------
expect "source route added" "$(ask "fixed $FIXED ppp-test")" "changed"
expect "rule" "$(n rule show priority $PRIO)" "$PRIO:	from $FIXED lookup $TABLE proto 77"
expect "table" "$(n route show table $TABLE)" "default dev ppp-test proto 77 scope link "
expect "fixed source leaves via ppp-test" \
    "$(n route get 192.0.2.1 from $FIXED | head -1 | awk '{print $1, $4, $5}')" "192.0.2.1 dev ppp-test"
expect "other sources leave via uplink" \
    "$(n route get 192.0.2.1 | head -1 | awk '{print $1, $2, $3, $4, $5}')" "192.0.2.1 via 198.51.100.1 dev veth0"
expect "source route idempotent" "$(ask "fixed $FIXED ppp-test")" "unchanged"
expect "still one rule" "$(n rule show priority $PRIO | wc -l)" "1"

# --- uplink gateway changes: the host route follows -----------------------------------------
n route replace default via 198.51.100.254 dev veth0
expect "uplink path ignores our host route" "$(ask "uplink $SERVER")" "gw=198.51.100.254 dev=veth0 table=254"
expect "host route updated" "$(ask "host $SERVER")" "changed"
expect "host route follows gateway" "$(n route show $SERVER/32)" "$SERVER via 198.51.100.254 dev veth0 proto 77 "
expect "change logged" "$(grep -c "route change dst=$SERVER/32 gw=198.51.100.254 dev=veth0 table=main was dst=$SERVER/32 gw=198.51.100.1" "$LOG")" "1"

# --- server on the uplink's own subnet: direct host route ------------------------------------
expect "on-link server" "$(ask "host 198.51.100.7")" "changed"
expect "direct host route, old one gone" "$(n route show table main proto 77)" "198.51.100.7 dev veth0 scope link "
expect "back to the real server" "$(ask "host $SERVER")" "changed"

# --- link down: unreachable, link up again ---------------------------------------------------
expect "link down" "$(ask "down $FIXED")" "changed"
expect "table unreachable" "$(n route show table $TABLE)" "unreachable default proto 77 "
expect "rule kept while down" "$(n rule show priority $PRIO)" "$PRIO:	from $FIXED lookup $TABLE proto 77"
expect "link up again" "$(ask "fixed $FIXED ppp-test")" "changed"
expect "table back on ppp-test" "$(n route show table $TABLE)" "default dev ppp-test proto 77 scope link "

# --- a new fixed address replaces the rule ----------------------------------------------------
n addr add 203.0.113.78/32 dev ppp-test
expect "new fixed address" "$(ask "fixed 203.0.113.78 ppp-test")" "changed"
expect "one rule, new address" "$(n rule show priority $PRIO)" "$PRIO:	from 203.0.113.78 lookup $TABLE proto 77"

# --- errors are reported, not crashed on -------------------------------------------------------
expect "missing interface" "$(ask "fixed $FIXED ppp-nope")" "error fixed source route: no interface ppp-nope"
n route add unreachable 192.0.2.0/24
expect "unreachable server" "$(ask "host 192.0.2.5")" "error route to 192.0.2.5 in table main is unreachable"

# --- remove: everything gone ------------------------------------------------------------------
expect "remove" "$(ask remove)" "ok"
expect "nothing of ours left" "$(ours)" ""
expect "uplink default untouched" "$(n route show default)" "default via 198.51.100.254 dev veth0 "
expect "foreign route still kept" "$(n route show 192.0.2.98)" "192.0.2.98 via 198.51.100.1 dev veth0 proto static "
stop_tool

# --- a run that dies without cleaning up: the next run removes its leftovers ------------------
start_tool
ask "host $SERVER" >/dev/null
ask "fixed $FIXED ppp-test" >/dev/null
expect "leftovers exist before restart" "$(ours | wc -l)" "3"
stop_tool
start_tool
expect "restart removed leftovers" "$(ours)" ""
stop_tool

if [ $FAILS -ne 0 ]; then
    echo "--- routes_tool log"; cat "$LOG"
    echo "FAIL: $FAILS check(s) failed"
    exit 1
fi
echo "PASS: routes"
exit 0
