# mailtun_lib.sh — lab helpers for scenarios that run mailtun itself on the customer side
# (sourced after lib.sh). Binaries come from the build directory the results live in.

LAB_BUILD=$(dirname "$(dirname "$LAB_RESULTS")")
MT_CONF=$LAB_RUN/mailtun.conf
MT_SOCK=/run/mailtun/mailtund.sock

# mt_config [extra [tunnel] lines...] — the customer's mailtun.conf for the lab provider.
mt_config() {
    mkdir -p /run/mailtun
    {
        echo "[tunnel]"
        echo "server = $LAB_PPTP_SERVER"
        echo "user = $LAB_PPTP_USER"
        echo "remotename = $LAB_PPTP_NAME"
        echo "fixed_address = $LAB_FIXED"
        echo "uplink = $LAB_IF_CUSTOMER"
        echo "plugin = $LAB_BUILD/pppd-plugin/mailtun.so"
        echo "pppd_logfile = $LAB_RESULTS/customer-pppd.log"
        echo "metrics_file = $LAB_RESULTS/mailtund.prom"
        echo "backoff_min = 1s"
        echo "backoff_max = 8s"
        echo "log_level = debug"
        local line
        for line in "$@"; do echo "$line"; done
    } >"$MT_CONF"
}

# mt_tunnel_up — start mailtund in the customer namespace (log: mailtund.log).
mt_tunnel_up() {
    [ -f "$MT_CONF" ] || mt_config
    lab_spawn $LAB_NS_CUSTOMER mailtund "$LAB_BUILD/tunneld/mailtund" -f -c "$MT_CONF"
    MT_PID=$LAB_PID
}

# mt_status — mailtunctl status of mailtund.
mt_status() { "$LAB_BUILD/ctl/mailtunctl" --tunneld-socket "$MT_SOCK" --relayd-socket /nonexistent status 2>/dev/null; }
mt_state_is() { mt_status | grep -q "state  *$1\$"; }
