# peers_lib.sh — sourced by the mailtund host tests: a "provider" and a "customer" network
# namespace joined by veth (documentation addresses), a fake PPTP server, mailtund with a
# fake pppd, and small helpers (ok, fail, wait_for, state_is). Cleans up on exit.
# Needs tests/host/lib/common.sh sourced first (ROOT, B, fail, wait_for, ...); the sourcing
# script sets PEERS.

[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces and routes"; exit 77; }
command -v ip >/dev/null || { echo "skip: iproute2 missing (run tests/deps.sh)"; exit 77; }
[ -x "$B/tunneld/mailtund" ] || { echo "mailtund not built in $B"; exit 1; }

P=mtp$$ C=mtc$$
make_work mailtund-peers
# pids are sent SIGTERM first (mailtund cleans its routes on it); then the namespaces go
at_exit 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done'
at_exit 'ip netns pids "$C" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns pids "$P" 2>/dev/null | xargs -r kill -9 2>/dev/null'
at_exit 'ip netns del "$C" 2>/dev/null; ip netns del "$P" 2>/dev/null'
fail_context() {
    echo "--- mailtund log (last 30 lines)"; tail -n 30 "$work/mailtund.log" 2>/dev/null
    echo "--- fake pptpd log"; tail -n 20 "$work/pptpd.log" 2>/dev/null
}
inc() { ip netns exec "$C" "$@"; }
state_is() { "$B/ctl/mailtunctl" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent status 2>/dev/null | grep -q "state  *$1\$"; }

ip netns add "$P" && ip netns add "$C" || { echo "skip: cannot create network namespaces"; exit 77; }
ip link add "vc$$" type veth peer name "vp$$" || fail "veth"
ip link set "vc$$" netns "$C"; ip link set "vp$$" netns "$P"
ip -n "$P" link set lo up; ip -n "$P" link set "vp$$" up
ip -n "$P" addr add 198.51.100.1/24 dev "vp$$"
ip -n "$P" addr add 203.0.113.1/32 dev lo
ip -n "$C" link set lo up; ip -n "$C" link set "vc$$" up
# The uplink's address; NO_UPLINK_ADDRESS=1 leaves it to the test (a line still coming up).
uplink_address() { ip -n "$C" addr add "$1/24" dev "vc$$" && ip -n "$C" route replace default via "${2:-198.51.100.1}"; }
[ "${NO_UPLINK_ADDRESS:-0}" = 1 ] || uplink_address 198.51.100.2
# stands in for pppN: the fake pppd reports it in ip-up
# (a veth end: this kernel may have no dummy driver)
ip -n "$C" link add ppp-fake type veth peer name ppp-fake-p && ip -n "$C" link set ppp-fake up && ip -n "$C" link set ppp-fake-p up
ip -n "$C" addr add 192.0.2.10/32 dev ppp-fake

cat >"$work/mailtun.conf" <<EOC
[tunnel]
server = 203.0.113.1
user = gw-test
fixed_address = 192.0.2.10
uplink = vc$$
pppd = $PEERS/fake_pppd.py
plugin = $B/pppd-plugin/mailtun.so
control_socket = $work/mailtund.sock
state_dir = $work
backoff_min = 1s
backoff_max = 2s
connect_timeout = 3s
log_level = debug
metrics_file = $work/mailtund.prom
reconnect_at = 04:00
EOC
echo "FAKE_PPP_IFNAME=ppp-fake" >"$work/fake_pppd.conf"

start_server() {
    ip netns exec "$P" "$PEERS/fake_pptpd.py" --listen 203.0.113.1 --log "$work/pptpd.log" "$@" &
    server=$!; pids+=("$server")
    wait_for 5 "fake pptpd listening" grep -q LISTEN "$work/pptpd.log"
}
start_mailtund() {
    ip netns exec "$C" "$B/tunneld/mailtund" -f -c "$work/mailtun.conf" >>"$work/mailtund.log" 2>&1 &
    daemon=$!; pids+=("$daemon")
}


# sanitizer_clean — a sanitizer build reports leaks and errors in the daemon's log, often
# without crashing it: any such report fails the test.
sanitizer_clean() {
    if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$work/mailtund.log"; then
        fail "sanitizer report in mailtund's log: $(grep -m1 -A12 'Sanitizer\|runtime error:' "$work/mailtund.log")"
    fi
}

# stop_mailtund: SIGTERM, then at most 10 s for it to exit (a test must not hang on it).
stop_mailtund() {
    kill -TERM "$daemon" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || { wait "$daemon" 2>/dev/null; return 0; }; sleep 0.1; done
    fail "mailtund still running 10 s after SIGTERM: $(tail -n 3 "$work/mailtund.log")"
}
