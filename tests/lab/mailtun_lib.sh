# mailtun_lib.sh — lab helpers for scenarios that run mailtun itself on the customer side
# (sourced after lib.sh). Binaries come from the build directory the results live in, or
# with LAB_PACKAGES=1 (make lab PACKAGES=1) from what the .debs installed: the daemons are
# then started with their systemd units' command lines (ExecCondition and ExecStartPre must
# pass, ExecStart runs with -f added: the guest has no syslog), the config is
# /etc/mailtun/mailtun.conf and the spool the package's /var/spool/mailtun.

LAB_BUILD=$(dirname "$(dirname "$LAB_RESULTS")")
MT_SOCK=/run/mailtun/mailtund.sock
if [ "${LAB_PACKAGES:-}" = 1 ]; then
    MT_MAILTUND=/usr/sbin/mailtund MT_MAILRELAYD=/usr/sbin/mailrelayd MT_MAILTUNCTL=/usr/sbin/mailtunctl
    MT_PLUGIN=$(dpkg -L mailtun | grep '^/usr/lib/pppd/.*/mailtun\.so$')
    MT_CONF=/etc/mailtun/mailtun.conf MT_SPOOL=/var/spool/mailtun
else
    MT_MAILTUND=$LAB_BUILD/tunneld/mailtund MT_MAILRELAYD=$LAB_BUILD/mailrelay/mailrelayd
    MT_MAILTUNCTL=$LAB_BUILD/ctl/mailtunctl MT_PLUGIN=$LAB_BUILD/pppd-plugin/mailtun.so
    MT_CONF=$LAB_RUN/mailtun.conf MT_SPOOL=$LAB_RUN/spool
fi

# mt_start <ns> <name> <build-binary> — start mailtund or mailrelayd: from the build with -f -c,
# or (packages) as the installed unit <name>.service would, checking its ExecCondition and
# ExecStartPre first and its program afterwards.
mt_start() {
    local ns=$1 name=$2 bin=$3 unit=/lib/systemd/system/$2.service line cmd
    if [ "${LAB_PACKAGES:-}" != 1 ]; then
        lab_spawn "$ns" "$name" "$bin" -f -c "$MT_CONF"
        return
    fi
    line=$(sed -n 's/^ExecCondition=//p' "$unit")
    [ -n "$line" ] && ! eval "$line" >>"$LAB_RESULTS/$name.out" 2>&1 &&
        lab_fail "$unit's ExecCondition skips the start with the lab's $MT_CONF"
    line=$(sed -n 's/^ExecStartPre=//p' "$unit")
    # shellcheck disable=SC2086  # a unit's command line is words, as systemd splits it here
    [ -n "$line" ] && ! lab_in "$ns" $line >>"$LAB_RESULTS/$name.out" 2>&1 &&
        lab_fail "$unit's ExecStartPre ($line) failed (see $name.out)"
    read -ra cmd <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
    [ "${#cmd[@]}" -gt 0 ] || lab_fail "$unit has no ExecStart"
    lab_spawn "$ns" "$name" "${cmd[@]}" -f
    lab_log "$name from the package: ${cmd[*]} -f ($name.service's ExecStart)"
    # ip netns exec execs the daemon: then the pid runs the installed program (its path is
    # another mount namespace's, so compare the file itself)
    mt_exe_is() { cmp -s "/proc/$LAB_PID/exe" "$1"; }
    LAB_POLL=0.05 lab_wait 5 "$name (pid $LAB_PID) running /usr/sbin/$name" mt_exe_is "/usr/sbin/$name"
}

# mt_config [extra [tunnel] lines...] — the customer's mailtun.conf for the lab provider.
mt_config() {
    mkdir -p /run/mailtun
    # As make install does: mailrelayd's user, whose group may use mailtund's control socket.
    # (The guest's /etc is an overlay: nothing reaches the host.)
    getent passwd mailtun >/dev/null || adduser --quiet --system --group --no-create-home mailtun ||
        lab_fail "cannot create the mailtun user in the guest"
    {
        echo "[tunnel]"
        echo "server = $LAB_PPTP_SERVER"
        echo "user = $LAB_PPTP_USER"
        echo "remotename = $LAB_PPTP_NAME"
        echo "fixed_address = $LAB_FIXED"
        echo "uplink = $LAB_IF_CUSTOMER"
        echo "plugin = $MT_PLUGIN"
        echo "pppd_logfile = $LAB_RESULTS/customer-pppd.log"
        echo "metrics_file = $LAB_RESULTS/mailtund.prom"
        echo "backoff_min = 1s"
        echo "backoff_max = 8s"
        echo "log_level = debug"
        [ "${MT_TRANSPORT:-pptp}" = pptp ] || echo "transport = $MT_TRANSPORT"
        local line
        for line in "$@"; do echo "$line"; done
    } >"$MT_CONF"
}

# mt_tunnel_up — start mailtund in the customer namespace (log: mailtund.log).
mt_tunnel_up() {
    [ -f "$MT_CONF" ] || mt_config
    mt_start $LAB_NS_CUSTOMER mailtund "$MT_MAILTUND"
    MT_PID=$LAB_PID
}

# mt_status — mailtunctl status of mailtund.
mt_status() { "$MT_MAILTUNCTL" --tunneld-socket "$MT_SOCK" --relayd-socket /nonexistent status 2>/dev/null; }
mt_state_is() { mt_status | grep -q "state  *$1\$"; }

# mt_relay_config [conf fixed domain dir] — append mailrelayd's sections to a customer's
# mailtun.conf (default: $MT_CONF, $LAB_FIXED, $LAB_CUSTOMER_DOMAIN, /run/mailtun): SMTP on the
# fixed address (freebind: before the tunnel is up), only the provider may push, delivery to
# the inside server (an smtp-sink on 127.0.0.1:2526 in the customer namespace), ETRN to the
# provider MTA on link-up. Another dir (a second customer in the same guest) gets its own
# sockets, spool and TLS key under it, and no ETRN (no provider MTA is assumed).
MT_INSIDE_PORT=2526
MT_RELAY_SOCK=/run/mailtun/mailrelayd.sock
mt_relay_config() {
    local conf=${1:-$MT_CONF} fixed=${2:-$LAB_FIXED} domain=${3:-$LAB_CUSTOMER_DOMAIN} dir=${4:-/run/mailtun}
    local spool=$MT_SPOOL extra=''
    [ "$dir" = /run/mailtun ] || { spool=$dir/spool; extra="tls_dir = $dir/tls"; }
    # mailrelayd creates its spool owned by its user; it refuses one owned by someone else
    cat >>"$conf" <<EOC

[relay]
listen = $fixed:25
hostname = mx.$domain
domains = $domain
provider_networks = $LAB_PPP_LOCAL/32, $LAB_PROVIDER_MX/32
spool = $spool
user = mailtun
control_socket = $dir/mailrelayd.sock
mailtund_socket = $dir/mailtund.sock
log_level = info
$extra

[inside]
server = 127.0.0.1:$MT_INSIDE_PORT
retry_base = 2s
retry_max = 4s
EOC
    [ "$dir" = /run/mailtun ] && cat >>"$conf" <<EOC

[outbound]
etrn_host = $LAB_PPP_LOCAL:25
etrn_domains = $domain
EOC
    return 0
}

# mt_inside_up [ns suffix] — the inside mail server of the customer in <ns> (default the
# customer namespace): smtp-sink on 127.0.0.1:2526 writing one file per mail into
# <results>/inside<suffix>/ (MT_INSIDE; log inside<suffix>.out).
mt_inside_up() {
    local ns=${1:-$LAB_NS_CUSTOMER} n=${2:-}
    MT_INSIDE=$LAB_RESULTS/inside$n
    mkdir -p "$MT_INSIDE"; chmod 777 "$MT_INSIDE"
    lab_spawn "$ns" "inside$n" smtp-sink -u nobody -h inside.$LAB_CUSTOMER_DOMAIN \
        -d "$MT_INSIDE/%H%M%S." 127.0.0.1:$MT_INSIDE_PORT 16
    LAB_POLL=0.05 lab_wait 5 "inside server on 127.0.0.1:$MT_INSIDE_PORT in $ns" lab_listening "$ns" 127.0.0.1 $MT_INSIDE_PORT
}

# mt_relay_up — start mailrelayd in the customer namespace (log: mailrelayd.out).
mt_relay_up() {
    mt_start $LAB_NS_CUSTOMER mailrelayd "$MT_MAILRELAYD"
    LAB_POLL=0.05 lab_wait 10 "mailrelayd on $LAB_FIXED:25 (freebind, tunnel still down)" lab_listening $LAB_NS_CUSTOMER $LAB_FIXED 25
    [ -d "$LAB_RUN/provider-postfix" ] && mt_pin_at_provider
    return 0
}

# mt_pin_at_provider — the fingerprint hand-over of conf/provider/README.md: the customer's
# `mailtunctl tls --policy` (mailrelayd made its own key at its first start), the provider's
# tls_policy + postmap.
mt_pin_at_provider() {
    local line
    line=$("$LAB_BUILD/ctl/mailtunctl" -c "$MT_CONF" tls --policy) || lab_fail "mailtunctl tls --policy failed"
    lab_provider_pin "$line"
    lab_log "pinned: customer's mailtunctl tls --policy -> provider's tls_policy: ${line:0:60}..."
}

# mt_send <subject-marker> — the Internet sends a mail for postmaster@example.net to the
# provider's MX (from the provider namespace).
mt_send() {
    lab_in $LAB_NS_PROVIDER swaks --server $LAB_PROVIDER_MX --from sender@example.org \
        --to postmaster@$LAB_CUSTOMER_DOMAIN --header "Subject: $1" --header "Message-Id: <$1@example.org>" \
        --timeout 10 >>"$LAB_RESULTS/swaks.log" 2>&1
}

# mt_inside_count <marker> [dir] — how many copies of that mail the inside server (default
# $MT_INSIDE) has.
mt_inside_count() { grep -l "^Message-Id: <$1@example.org>" "${2:-$MT_INSIDE}"/* 2>/dev/null | wc -l; }
mt_inside_has() { [ "$(mt_inside_count "$@")" -ge 1 ]; }

# ---- checks the tunnel-up scenarios share (tunnel-up, l2tp-up) ----------------------------

# mt_capture_start — tcpdump the DSL line (the customer's uplink) into <results>/uplink.pcap
# (--immediate-mode: otherwise the last packets can stay in the kernel's ring at the stop).
mt_capture_start() {
    lab_spawn $LAB_NS_CUSTOMER capture tcpdump -i $LAB_IF_CUSTOMER --immediate-mode -U -s 0 -w "$LAB_RESULTS/uplink.pcap"
    LAB_POLL=0.05 lab_wait 5 "tcpdump running" test -s "$LAB_RESULTS/uplink.pcap"
}

# mt_check_link — with the link up: MPPE-128 at both ends, the source rule, the host route to
# the server via the DSL gateway, the default route left on the DSL line.
mt_check_link() {
    local rules routes
    lab_wait_line 5 "MPPE-128 on the customer" "$LAB_RESULTS/customer-pppd.log" '*MPPE 128-bit stateless compression enabled*'
    lab_wait_line 5 "MPPE-128 on the provider" "$LAB_RESULTS/provider-pppd.log" '*MPPE 128-bit stateless compression enabled*'
    lab_log "MPPE 128-bit stateless on both ends"
    rules=$(ip -n $LAB_NS_CUSTOMER rule) routes=$(ip -n $LAB_NS_CUSTOMER route)
    grep -q "from $LAB_FIXED lookup 1723" <<<"$rules" || lab_fail "no source rule: $rules"
    grep -q "$LAB_PPTP_SERVER via $LAB_UPLINK_GW dev $LAB_IF_CUSTOMER" <<<"$routes" || lab_fail "no host route: $routes"
    grep -q "^default via $LAB_UPLINK_GW" <<<"$routes" || lab_fail "default route moved off the DSL line: $routes"
    lab_log "routes: rule from $LAB_FIXED lookup 1723, host route to $LAB_PPTP_SERVER via $LAB_UPLINK_GW, default unchanged"
}

# mt_check_reached — the provider reaches the customer's listener on $LAB_FIXED:2525 and sends
# a marker through the tunnel ($MT_MARKER; mt_check_uplink_only looks for it on the line).
mt_check_reached() {
    local greeting
    greeting=$(lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5) || lab_fail "provider cannot reach $LAB_FIXED:2525"
    lab_log "TCP from the provider reached $LAB_FIXED:2525 ('$greeting')"
    MT_MARKER="MAIL FROM:<secret-${EPOCHREALTIME/./}@example.org>"
    lab_in $LAB_NS_PROVIDER $LAB_PY - "$LAB_FIXED" "$MT_MARKER" <<'PY' || lab_fail "sending the marker through the tunnel"
import socket, sys
s = socket.create_connection((sys.argv[1], 2525), timeout=5)
s.recv(100)
s.sendall((sys.argv[2] + "\r\n").encode() * 20)
s.close()
PY
}

# mt_stop_clean — SIGTERM to mailtund: the provider's pppd sees the hang-up, the customer's
# pppd is gone, the source rule and the host route are removed.
mt_stop_clean() {
    lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
    lab_wait_line 10 "the provider's pppd to see the hang-up" "$LAB_RESULTS/provider-pppd.log" '*Connection terminated*'
    pgrep -x pppd -a | grep -q "mailtun.so" && lab_fail "the customer's pppd survived mailtund"
    ip -n $LAB_NS_CUSTOMER rule | grep -q "lookup 1723" && lab_fail "source rule left behind"
    ip -n $LAB_NS_CUSTOMER route | grep -q "$LAB_PPTP_SERVER" && lab_fail "host route left behind"
    lab_log "SIGTERM: pppd gone, rule and host route removed, provider saw the hang-up"
}

# mt_check_uplink_only <carrier filter> <data filter> — stop the capture: the DSL line carried
# only what the transport needs (a pcap filter), more than 10 data packets, never the marker in
# clear.
mt_check_uplink_only() {
    local carrier=$1 data=$2 pcap=$LAB_RESULTS/uplink.pcap others n all
    lab_stop capture 5
    others=$(tcpdump -nr "$pcap" "ip and not ($carrier)" 2>/dev/null | grep -v -c "ICMP echo\|ARP")
    n=$(tcpdump -nr "$pcap" "$data" 2>/dev/null | wc -l)
    all=$(tcpdump -nr "$pcap" "$carrier" 2>/dev/null | wc -l)
    [ "$n" -gt 10 ] || lab_fail "only $n packets of '$data' on the DSL line"
    [ "$others" = 0 ] || lab_fail "the DSL line carried other IP traffic: $(tcpdump -nr "$pcap" "ip and not ($carrier)" 2>/dev/null | head -5)"
    grep -aq "secret-" "$pcap" && lab_fail "the marker crossed the DSL line in clear"
    lab_log "DSL line: $all packets of '$carrier' ($n of '$data'), nothing else; the marker never in clear"
}

# mt_ipsec_config <psk-file> [charon-name] — customer1's IPsec lines of [tunnel] for the lab
# provider, in MT_IPSEC (an array: mt_config "transport = l2tp-ipsec" "${MT_IPSEC[@]}").
mt_ipsec_config() {
    MT_IPSEC=("ipsec_socket = unix://$LAB_IPSEC/${2:-customer1}/charon.vici"
              "ipsec_id = customer1@example.net" "ipsec_remote_id = vpn.example.com" "ipsec_psk_file = $1")
}

# mt_backoff_gaps <mailtund-log> — no dial before its back-off is over: for each "tunnel
# failed ... retry_in_ms=W", the next dial comes at least W ms later (log times have
# milliseconds; 20 ms of slack for rounding). Prints "gap/wait " pairs (ms); false if one is short.
mt_backoff_gaps() {
    awk -v slack=20 '
        function ms(t,  a) { split(t, a, ":"); return ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }
        / tunnel failed reason=/ { f = ms($2); w = $0; sub(/.*retry_in_ms=/, "", w); sub(/ .*/, "", w); pending = 1; next }
        / dial server=/ && pending { g = ms($2) - f; if (g < 0) g += 86400000
                                     printf "%d/%d ", g, w; if (g + slack < w + 0) bad = 1; pending = 0 }
        END { exit bad }' "$1"
}
