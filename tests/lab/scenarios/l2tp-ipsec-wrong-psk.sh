#!/bin/bash
# l2tp-ipsec-wrong-psk.sh — transport = l2tp-ipsec through the carrier NAT with a wrong
# pre-shared key in the customer's key file:
#   1. every dial fails at IKE, and mailtund names the wrong key, in its log ("tunnel failed
#      reason=...wrong pre-shared key...") and in `mailtunctl status` (last_error);
#   2. it backs off with growing waits and never dials before a wait is over (no hammering of
#      the provider), and no tunnel comes up: no L2TP session, no ip-up;
#   3. the admin puts the right key into the file (read at each dial): the next dial comes up,
#      without a restart.
#
# Records in <results>/timing.txt: wrong_psk_named_seconds (start -> first failure),
# retry_ms_1..3, dials (until the third failure), right_key_up_seconds (key fixed -> ip-up).
# lab-timeout: 200
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

log=$LAB_RESULTS/mailtund.out
psk=$LAB_RUN/ipsec.psk

lab_nat_base_up
lab_ipsec_modules
lab_charon_up $LAB_NS_PROVIDER provider "$LAB_IPSEC_KIT"
lab_provider_xl2tpd_up
lab_ipsec_customer_up $LAB_NS_CUSTOMER customer1

# --- 1. a wrong key, named --------------------------------------------------------------------
( umask 077; echo "not-the-key-of-customer1-${EPOCHREALTIME/./}" >"$psk" )
mt_ipsec_config "$psk"
mt_config "transport = l2tp-ipsec" "${MT_IPSEC[@]}"
t0=$(lab_now)
mt_tunnel_up
lab_wait_line 60 "the first failure" "$log" '*tunnel failed reason=*failures=1'
named=$(lab_elapsed "$t0")
lab_result wrong_psk_named_seconds "$named"
[[ $LAB_LINE == *'reason="IPsec SA not established:'*'wrong pre-shared key'* ]] ||
    lab_fail "the failure does not name the wrong key: ${LAB_LINE#*warn: }"
lab_log "wrong key, after ${named}s: ${LAB_LINE#*warn: }"
last_error=$(mt_status | sed -n 's/^mailtund *last_error *//p')
[[ $last_error == *'wrong pre-shared key'* ]] || lab_fail "mailtunctl status last_error does not name the wrong key: $(mt_status)"
lab_log "mailtunctl status last_error: $last_error"

# --- 2. back-off, no tunnel -------------------------------------------------------------------
lab_wait_line 60 "the third failure" "$log" '*tunnel failed reason=*failures=3'
mapfile -t fails < <(grep 'tunnel failed reason=' "$log" | head -n 3)
retry=()
for i in 0 1 2; do
    [[ ${fails[$i]} == *'wrong pre-shared key'* ]] || lab_fail "failure $((i + 1)) does not name the key: ${fails[$i]#*warn: }"
    r=${fails[$i]##*retry_in_ms=}; retry+=("${r%% *}")
    lab_result "retry_ms_$((i + 1))" "${retry[$i]}"
done
[ "${retry[0]}" -lt "${retry[1]}" ] && [ "${retry[1]}" -lt "${retry[2]}" ] ||
    lab_fail "the back-off does not grow: retry_in_ms ${retry[*]}"
gaps=$(mt_backoff_gaps "$log") || lab_fail "a dial came before its back-off was over (gap/wait ms: $gaps)"
dials=$(grep -c ' dial server=' "$log")
lab_result dials "$dials"
[ "$dials" -le 4 ] || lab_fail "$dials dials by the third failure (3, at most one more begun, expected)"
grep -q "tunnel state .* -> up" "$log" && lab_fail "the tunnel came up with a wrong key"
grep -q " ip-up .* local=$LAB_FIXED " "$LAB_RESULTS/ppp-hooks.log" 2>/dev/null && lab_fail "IPCP came up with a wrong key"
grep -q "Connection established to $LAB_NAT_OUTSIDE" "$LAB_RESULTS/xl2tpd.out" 2>/dev/null &&
    lab_fail "an L2TP tunnel reached the provider's xl2tpd with a wrong key"
lab_log "back-off grows (retry_in_ms ${retry[*]}), no dial before its wait (gap/wait ms: $gaps), $dials dials; no tunnel"

# --- 3. the right key, no restart -------------------------------------------------------------
lab_ipsec_psk_file customer1@example.net "$psk"
t=$(lab_now)
lab_wait_ip_up 60 $LAB_FIXED
lab_result right_key_up_seconds "$(lab_elapsed "$t" "$LAB_IP_UP_TIME")"
lab_wait 10 "mailtund reporting the link up" mt_state_is up
lab_log "right key in the file: $LAB_FIXED up on $LAB_IP_UP_IF $(lab_elapsed "$t" "$LAB_IP_UP_TIME")s later, no restart ($(grep -o 'ipsec up conn=mailtun local_port=[0-9]*' "$log" | tail -n 1))"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_log "PASS: a wrong pre-shared key named in the log and status, backed off, no tunnel; the right key brought it up"
