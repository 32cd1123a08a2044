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
