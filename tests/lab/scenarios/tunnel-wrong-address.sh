#!/bin/bash
# tunnel-wrong-address.sh — the provider hands out another address than the customer's
# configured fixed_address (pptpd pins 192.0.2.10 for customer1; the customer's mailtun.conf
# says 192.0.2.20).
#
# Two attempts, each must end without the link:
#  A. mailtund as shipped: pppd asks IPCP for fixed_address; the provider Naks with its own
#     address until pppd gives up ("Peer refused to agree to our IP address"). No link up,
#     no source route via ppp, a failure logged and a back-off armed.
#  B. with "ipcp-accept-local" in the [tunnel] pppd_options file, pppd takes the provider's
#     address and reports it: mailtund must refuse the link with
#     "link refused: IPCP gave 192.0.2.10 but fixed_address is 192.0.2.20", publish no
#     LINK_UP, install no source route, and back off.
#
# Records in <results>/timing.txt: refused_a_seconds / refused_b_seconds (start of mailtund
# -> first "tunnel failed").
# lab-timeout: 200
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

[ -x "$MT_MAILTUND" ] || lab_fail "mailtund not built ($MT_MAILTUND): make check builds it first"
wrong=192.0.2.20            # what the customer believes; the provider pins $LAB_FIXED
log=$LAB_RESULTS/mailtund.out

lab_base_up
lab_provider_pptpd_up

# no_link <phase> — nothing of a link may exist on the customer side.
no_link() {
    grep -q 'link up ' "$log" && lab_fail "$1: mailtund reported the link up: $(grep 'link up ' "$log")"
    ip -n $LAB_NS_CUSTOMER rule | grep -q "lookup 1723" && lab_fail "$1: source rule installed: $(ip -n $LAB_NS_CUSTOMER rule)"
    ip -n $LAB_NS_CUSTOMER route show table 1723 2>/dev/null | grep -q "dev ppp" &&
        lab_fail "$1: route via ppp in table 1723: $(ip -n $LAB_NS_CUSTOMER route show table 1723)"
    mt_state_is up && lab_fail "$1: mailtunctl says the link is up"
    return 0
}

# ---- A: mailtund's own pppd options ----
mt_config "fixed_address = $wrong"
sed -i "/^fixed_address = $LAB_FIXED\$/d" "$MT_CONF"
grep -q "^fixed_address = $wrong\$" "$MT_CONF" || lab_fail "mt_config did not take fixed_address = $wrong"
t0=$(lab_now)
mt_tunnel_up
lab_log "A: mailtund with fixed_address $wrong, provider pins $LAB_FIXED"
lab_wait_line 30 "A: the first failed attempt" "$log" '*tunnel failed reason=*'
lab_result refused_a_seconds "$(lab_elapsed "$t0")"
lab_log "A: ${LAB_LINE#*warn: }"
no_link A
grep -q "rcvd \[IPCP ConfNak id=0x[0-9a-f]* <addr $LAB_FIXED>\]" "$LAB_RESULTS/customer-pppd.log" ||
    lab_fail "A: the customer's pppd log shows no IPCP Nak offering $LAB_FIXED"
grep -q "Peer refused to agree to our IP address\|Refused our IP address" "$LAB_RESULTS/customer-pppd.log" &&
    lab_log "A: customer pppd: $(grep -m1 -o 'Peer refused to agree to our IP address\|Refused our IP address' "$LAB_RESULTS/customer-pppd.log")"
if grep -q "link refused: IPCP gave $LAB_FIXED but fixed_address is $wrong" "$log"; then
    lab_log "A: mailtund named the address conflict"
else
    lab_log "A: note: mailtund's reason does not name the address conflict (pppd without ipcp-accept-local never reaches ip-up)"
fi
lab_stop mailtund 10 || lab_fail "A: mailtund did not stop on SIGTERM"
no_link A
mv "$log" "$LAB_RESULTS/mailtund-a.out"
mv "$LAB_RESULTS/customer-pppd.log" "$LAB_RESULTS/customer-pppd-a.log"

# The provider must have let the old session go: B starts clean (nothing to replace).
LAB_POLL=0.25 lab_wait 15 "A: the provider's pppd to end" sh -c '! pgrep -f "^/usr/sbin/pppd local file /etc/ppp/pptpd-options" >/dev/null'

# ---- B: pppd may take the provider's address; mailtund must refuse it ----
opts=$LAB_RUN/pppd-accept-local
echo "ipcp-accept-local" >"$opts"
echo "pppd_options = $opts" >>"$MT_CONF"
# A longer first back-off, so mailtunctl still shows this failure when it is asked.
sed -i 's/^backoff_min = .*/backoff_min = 6s/' "$MT_CONF"
t0=$(lab_now)
mt_tunnel_up
lab_log "B: mailtund with pppd_options: ipcp-accept-local"
lab_wait_line 30 "B: mailtund refusing the link" "$log" \
    "*link refused: IPCP gave $LAB_FIXED but fixed_address is $wrong*"
lab_log "B: ${LAB_LINE#*]: }"
lab_wait_line 10 "B: the failure and its back-off" "$log" \
    "*tunnel failed reason=\"link refused: IPCP gave $LAB_FIXED but fixed_address is $wrong\" retry_in_ms=*"
lab_result refused_b_seconds "$(lab_elapsed "$t0")"
lab_log "B: ${LAB_LINE#*warn: }"
no_link B
# mailtunctl shows the reason to the admin.
mt_status | grep -q "last_error.*link refused: IPCP gave $LAB_FIXED" ||
    lab_fail "B: mailtunctl status does not show the refusal: $(mt_status | grep last_error)"
lab_stop mailtund 10 || lab_fail "B: mailtund did not stop on SIGTERM"
no_link B
pgrep -x pppd -a | grep -q mailtun.so && lab_fail "the customer's pppd survived mailtund"
lab_log "no LINK_UP, no source rule, no route via ppp in either attempt"
lab_log "PASS"
exit 0
