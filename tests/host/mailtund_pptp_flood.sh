#!/bin/bash
# mailtund_pptp_flood.sh — a PPTP server that floods Echo-Requests and never reads what we
# answer (issue 18 item 12). mailtund must not queue the replies without limit: the
# connection is closed with a named reason ("peer not reading") and mailtund's memory stays
# small, instead of growing by megabytes a second while the connection is kept.
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers

source "$PEERS/peers_lib.sh"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status" 2>/dev/null || echo 0; }
start_server --flood-echo
start_mailtund
wait_for 10 "flood started" grep -q "^FLOOD" "$work/pptpd.log"
rss0=$(rss_kb)
wait_for 20 "connection closed with a named reason" grep -q 'pptp closed reason="send buffer full: [0-9]* octets unsent, peer not reading"' "$work/mailtund.log"
rss1=$(rss_kb)
ok "flooding server dropped: $(grep -o 'pptp closed reason="[^"]*"' "$work/mailtund.log" | head -n 1)"
kill -0 "$daemon" 2>/dev/null || fail "mailtund died"
# the sanitizer build holds freed memory in its quarantine: a looser bound there
limit=$((20 * 1024)); case $B in *build-san*) limit=$((150 * 1024));; esac
[ "$rss1" -lt "$limit" ] || fail "mailtund VmRSS ${rss1} kB after the flood (limit ${limit} kB)"
ok "mailtund VmRSS ${rss0} kB at the flood's start, ${rss1} kB when it closed the connection"
stop_mailtund
sanitizer_clean
echo "all pptp flood checks passed"
