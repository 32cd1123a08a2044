#!/bin/bash
# crash_tunneld.sh — mailtund killed with SIGKILL while the tunnel is up, restarted, ROUNDS times.
#
# Same scripted peers as mailtund_peers.sh (tests/host/peers/peers_lib.sh: a fake PPTP server in
# a provider namespace, a fake pppd, the customer namespace with the uplink). Each round:
# tunnel up with exactly one source rule, one default route in table 1723 and one host route
# to the server; SIGKILL (nothing gets cleaned up: the routes stay behind, pppd
# gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and must be gone within 5 s); a second SIGKILL lands at a random moment of the next
# start-up (dialling, pppd starting, routes being set) in odd rounds; then a normal restart
# must remove the stale routes and rule at start ("rule del"/"route del" logged), bring the tunnel up again and end
# with exactly one rule and one route each — no duplicates, nothing of the old instance left.
# The pid file is taken over.
# In the last round an impostor on the control socket (claiming pppd's pid in its HELLO) sends
# IP_DOWN: refused, the tunnel stays up. SIGTERM ends each round and removes everything. Bounded: about 5 s a round, ROUNDS=4 by default.
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers
ROUNDS=${ROUNDS:-4}

source "$PEERS/peers_lib.sh"

n_rules() { inc ip rule | grep -c "from 192.0.2.10 lookup 1723"; }
n_table() { inc ip route show table 1723 | grep -c "default dev ppp-fake"; }
n_host() { inc ip route show | grep -c "^203.0.113.1 via 198.51.100.1 dev vc$$"; }
consistent_up() { [ "$(n_rules)" = 1 ] && [ "$(n_table)" = 1 ] && [ "$(n_host)" = 1 ]; }
fake_pppds() { ip netns pids "$C" 2>/dev/null | while read -r p; do
                   grep -qa fake_pppd "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done; }

start_server
stale_logged=0 early_kills=0
for r in $(seq 1 "$ROUNDS"); do
    : >"$work/mailtund.log.round"
    start_mailtund
    wait_for 15 "round $r: tunnel up" state_is up
    wait_for 5 "round $r: routes consistent (rules=$(n_rules) table=$(n_table) host=$(n_host))" consistent_up
    [ -f "$work/mailtund.pid" ] && [ "$(cat "$work/mailtund.pid")" = "$daemon" ] ||
        fail "round $r: pid file does not name the running mailtund ($(cat "$work/mailtund.pid" 2>/dev/null) vs $daemon)"
    kill -9 "$daemon"; wait "$daemon" 2>/dev/null
    [ "$(n_rules)" = 1 ] || fail "round $r: after SIGKILL want the stale rule still there, have $(n_rules)"
    # pppd dies with mailtund (PR_SET_PDEATHSIG): nothing may be left to hold the call
    no_pppd() { [ -z "$(fake_pppds)" ]; }
    wait_for 5 "round $r: pppd to follow the killed mailtund" no_pppd
    from=$(($(wc -l <"$work/mailtund.log") + 1))   # what the next starts log
    if [ $((r % 2)) = 1 ]; then
        # a kill during start-up: after 50..550 ms (dialling, pppd, routes)
        start_mailtund
        ms=$((RANDOM % 500 + 50))
        sleep "0.$(printf %03d "$ms")"
        kill -9 "$daemon"; wait "$daemon" 2>/dev/null
        wait_for 5 "round $r: pppd to follow mailtund killed during start-up" no_pppd
        early_kills=$((early_kills + 1))
        [ "$(n_rules)" -le 1 ] || fail "round $r: $(n_rules) rules after a kill during start-up"
    fi
    start_mailtund
    wait_for 15 "round $r: tunnel up after the restart" state_is up
    wait_for 5 "round $r: routes consistent after restart (rules=$(n_rules) table=$(n_table) host=$(n_host))" consistent_up
    # the stale rule and routes are deleted at start (by the killed start-up or the restart),
    # each with a log line
    tail -n +"$from" "$work/mailtund.log" | grep -q "rule del .*192.0.2.10" ||
        fail "round $r: the restart did not log removing the stale rule: $(tail -n +"$from" "$work/mailtund.log" | grep -m3 'rule\|route')"
    stale=$(tail -n +"$from" "$work/mailtund.log" | grep -c "route del\|rule del")
    stale_logged=$((stale_logged + stale))
    if [ "$r" = "$ROUNDS" ]; then
        # An impostor on the control socket claims to be the plugin of the running pppd (its
        # HELLO carries pppd's pid) and says the link went down: refused by SO_PEERCRED pid.
        ppid=$(fake_pppds | head -n 1)
        PYTHONPATH=$PEERS /usr/bin/python3 - "$work/mailtund.sock" "$ppid" <<'EOP' || fail "impostor could not talk to the socket"
import socket, sys, time, mtipc
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(mtipc.frame(mtipc.HELLO, [(mtipc.A_ROLE, b"plugin"), (mtipc.A_PID, mtipc.u32(int(sys.argv[2])))]))
mtipc.recv_frame(s)
s.sendall(mtipc.frame(mtipc.PPP_IP_DOWN))
s.sendall(mtipc.frame(mtipc.PPP_EXIT, [(mtipc.A_REASON, b"impostor")]))
time.sleep(0.5)
EOP
        wait_for 5 "impostor refused" grep -q 'plugin message refused .*not our pppd' "$work/mailtund.log"
        sleep 0.3
        state_is up && consistent_up || fail "an impostor's IP_DOWN took the tunnel down"
        ok "impostor claiming pppd's pid $ppid refused (SO_PEERCRED), tunnel still up"
    fi
    kill -TERM "$daemon"
    for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$daemon" 2>/dev/null && fail "round $r: mailtund still running 10 s after SIGTERM"
    wait "$daemon" 2>/dev/null
    [ "$(n_rules)" = 0 ] && [ "$(n_table)" = 0 ] && [ "$(n_host)" = 0 ] ||
        fail "round $r: SIGTERM left rules=$(n_rules) table=$(n_table) host=$(n_host)"
    [ -z "$(fake_pppds)" ] || fail "round $r: pppd left running after SIGTERM"
    ok "round $r: up, SIGKILL$([ $((r % 2)) = 1 ] && echo ", SIGKILL during start-up after ${ms} ms"), restart: up again with one rule, one table route, one host route; SIGTERM cleans up"
done
grep -h "rule del\|route del" "$work/mailtund.log" | head -n 3 | sed 's/^/    /'
echo "figures: rounds=$ROUNDS sigkill_while_up=$ROUNDS sigkill_during_startup=$early_kills stale_entries_removed_at_start=$stale_logged orphaned_pppd=0 (pppd follows a killed mailtund)"
sanitizer_clean
echo "crash_tunneld: all checks passed"
