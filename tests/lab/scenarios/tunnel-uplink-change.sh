#!/bin/bash
# tunnel-uplink-change.sh — the DSL line's forced disconnect: while the tunnel is up, the
# customer's uplink loses 198.51.100.2 and gets 198.51.100.3 (lab_uplink_readdress).
#
# Shows: mailtund drops the old call at once and dials from the new address within a second
# ("tunnel redial reason=uplink ..."); the provider reaches the fixed address over TCP again.
# The old session cannot be cleared from the customer side (its address is gone, so neither
# TCP 1723 nor GRE from it reach the provider). The provider's side does it: pptpd with
# "delegate" lets the new call through, and once the new session has authenticated and got the
# fixed address, conf/provider/ip-pre-up.d/pptpd-replace-session ends the old one (its log
# line is checked) — instead of waiting for its LCP echoes to go unanswered. No dial is reset.
#
# Records in <results>/timing.txt:
#   (the "new address" time is mailtund's log line "uplink change ... now=... addr=<new>")
#   redial_seconds            new address -> mailtund's first dial from it
#   provider_release_seconds  new address -> the provider's old session ends (its ip-down)
#   refused_dials             dials the provider reset (0: the new call replaces the old session)
#   recovery_seconds          new address -> the provider reaches the fixed address over TCP
# lab-timeout: 200
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

[ -x "$MT_MAILTUND" ] || lab_fail "mailtund not built ($MT_MAILTUND): make check builds it first"
log=$LAB_RESULTS/mailtund.out
hooks=$LAB_RESULTS/ppp-hooks.log
new_addr=198.51.100.3
limit=20                    # recovery must happen within this (one set-up; the lab is slow)

log_epoch() { local d t; read -r d t _ <<<"$1"; date -d "$d $t" +%s.%N; }


lab_base_up
lab_provider_up
lab_log "provider LCP settings: $(grep -E '^lcp-' "$LAB_PROVIDER_PPP_OPTIONS" | sed 's/[[:space:]]*#.*//' | paste -sd, -)"
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
mt_config
mt_tunnel_up
lab_wait_ip_up 25 $LAB_FIXED
lab_wait 5 "mailtund reporting the link up" mt_state_is up
lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5 >/dev/null || lab_fail "provider cannot reach $LAB_FIXED:2525 before the change"
lab_log "tunnel up over $LAB_UPLINK_ADDR; provider reaches $LAB_FIXED:2525"
lines_before=$(grep -c . "$log")

t0=$(lab_now)
lab_uplink_readdress $new_addr
t1=$(lab_now)
# "New address" = when the kernel told mailtund it is on dsl0 (lab_uplink_readdress flushes,
# adds and fixes the route in three steps; mailtund's log line marks the one that counts).
lab_wait_line 5 "mailtund to see the new address" "$log" "*uplink change ifname=$LAB_IF_CUSTOMER *now=\"*addr=$new_addr\"*"
t_new=$(log_epoch "$LAB_LINE")
lab_log "uplink readdressed to $new_addr (lab_uplink_readdress took $(lab_elapsed "$t0" "$t1")s;" \
    "mailtund saw the new address $(lab_elapsed "$t0" "$t_new")s after it began)"

t_back=$(lab_reach_loop $LAB_NS_PROVIDER $LAB_FIXED 2525 $limit) || lab_fail "the provider did not reach $LAB_FIXED:2525 within ${limit}s of the new address"
recovery=$(lab_elapsed "$t_new" "$t_back")
lab_result recovery_seconds "$recovery"
lab_log "provider reaches $LAB_FIXED:2525 again ${recovery}s after the new address"

# What happened in between, from mailtund's log (lines after the change only).
tail -n +$((lines_before + 1)) "$log" >"$LAB_RUN/after.log"
grep -q 'tunnel redial reason="uplink \(address changed\|usable again\)' "$LAB_RUN/after.log" ||
    lab_fail "mailtund logged no redial for the uplink change: $(grep -m3 'uplink' "$LAB_RUN/after.log")"
lab_log "mailtund: $(grep -m1 -o 'tunnel redial reason="uplink[^"]*"' "$LAB_RUN/after.log")"
first_dial=$(grep -m1 ' dial server=' "$LAB_RUN/after.log") || lab_fail "no dial after the change"
redial=$(lab_elapsed "$t_new" "$(log_epoch "$first_dial")")
lab_result redial_seconds "$redial"
[ "${redial%.*}" -lt 1 ] || lab_fail "first dial ${redial}s after the new address (expected < 1 s)"
grep -q "call established .* local=$new_addr " "$LAB_RUN/after.log" ||
    lab_fail "no call from the new address $new_addr"
refused=$(grep -c 'tunnel failed reason="connection lost: \(TCP error: Connection reset by peer\|server closed the TCP connection\)' "$LAB_RUN/after.log")
lab_result refused_dials "$refused"
lab_log "first dial ${redial}s after the new address; $refused dial(s) reset by the provider"

# The provider replaced the old session on the new call (its hook says so in syslog); no dial
# was turned away meanwhile.
# pptpd tells pppd the caller's address (ipparam); xl2tpd does not, so the hook logs "from ?".
caller=$([ "${MT_TRANSPORT:-pptp}" = l2tp ] && echo '?' || echo "$new_addr")
grep -q "pptpd-replace-session: $LAB_FIXED: new session of $LAB_PPTP_USER from $caller (pppd [0-9]*, ppp[0-9]*) replaces the dead one on ppp[0-9]* (no echo answer in 1 s" "$LAB_RESULTS/syslog.log" ||
    lab_fail "the provider's pptpd-replace-session hook did not replace the old session (syslog.log)"
[ "$refused" = 0 ] || lab_fail "$refused dial(s) reset by the provider; with delegate + the replace hook none should be"
lab_log "provider: $(grep -m1 -o "pptpd-replace-session: .*" "$LAB_RESULTS/syslog.log")"

# When did the provider let the old session go? Its ip-down (local = provider end) after t0.
release=$(awk -v t0="$t0" -v me="$LAB_PPP_LOCAL" '$2 == "ip-down" && $0 ~ "local=" me " " && $1 > t0 { print $1; exit }' "$hooks")
if [ -n "$release" ]; then
    lab_result provider_release_seconds "$(lab_elapsed "$t_new" "$release")"
    lab_log "provider's old session ended (replaced) $(lab_elapsed "$t_new" "$release")s after the new address"
else
    lab_log "the provider's old session did not run ip-down (it ended without IPCP down?)"
fi

# The link is really back: mailtund up, rule in place, host route follows the uplink.
lab_wait 5 "mailtund reporting the link up" mt_state_is up
grep -q "from $LAB_FIXED lookup 1723" <<<"$(ip -n $LAB_NS_CUSTOMER rule)" || lab_fail "no source rule after the re-dial"
grep -q "$LAB_PPTP_SERVER via $LAB_UPLINK_GW dev $LAB_IF_CUSTOMER" <<<"$(ip -n $LAB_NS_CUSTOMER route)" ||
    lab_fail "no host route to the server: $(ip -n $LAB_NS_CUSTOMER route)"
grep -q "accepted from $LAB_PPP_LOCAL:" "$LAB_RESULTS/tcp-customer.out" || lab_fail "listener saw no connection from $LAB_PPP_LOCAL"
lab_log "mailtunctl: $(mt_status | grep -E ' (state|uplink_address|dials|reconnects) ' | tr -s ' ' | paste -sd';')"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_log "PASS"
exit 0
