#!/bin/bash
# guest.sh — one boot of the power-cut scenario, inside the UML guest (see
# tests/lab/scenarios/power-cut.sh, the host side, which boots this again and again on the
# same disk image and cuts the power).
#
# Kernel command-line keys (set by the host side):
#   pc_boot=<n>      boot number (message ids carry it)
#   pc_mode=<m>      ordered | writeback: ext4's data= mode for the spool disk
#   pc_kind=<k>      commit    load running, the cut lands in group commits and renames
#                    fill      as commit, but the inside server is down: the queue grows
#                    recovery  as commit; the host cuts 0-200 ms after "mounting" (the journal
#                              replay) or 0-350 ms after mailrelayd's first log line (its spool
#                              recovery, the first deliveries of what the previous cut left)
#                    delivery  the inside server answers 250 only 300 ms after the dot: the host
#                              cuts while deliveries wait for it or just after (delivered, not yet
#                              removed from the spool)
#                    drain     no load and no cut: deliver everything, stop cleanly, exit 0
#   pc_build=<dir>   build directory with mailrelay/mailrelayd, ctl/mailtunctl, tunneld/mailtund
#                    and pppd-plugin/mailtun.so
#
# The spool is /dev/ubdb (a file on the host) mounted on /spool; every record that must
# survive the cut goes to the results directory (hostfs: written through to the host file
# by each write(), nothing waits in the guest's page cache):
#   events     "<time> <what>": mounting, mounted, journal-replayed, state, relay-start, load
#   acks.log   the generator's "S <id>" (dot sent) and "A <id> <qid>" (250 read) lines
#   deliv.log  the sink's "D <id> in|out" lines (recorded before its 250)
#   relay.log  mailrelayd's log; mailtund.log mailtund's (its state_dir and metrics file live on
#              the spool disk too)
set -u
. "$LAB_DIR/lib.sh"

boot=0 mode=ordered kind=commit build=
for kv in $(</proc/cmdline); do
    case $kv in
    pc_boot=*) boot=${kv#*=};;
    pc_mode=*) mode=${kv#*=};;
    pc_kind=*) kind=${kv#*=};;
    pc_build=*) build=${kv#*=};;
    esac
done
R=$LAB_RESULTS
PC="/usr/bin/python3 $LAB_DIR/power-cut/pc.py"
ev() { echo "$EPOCHREALTIME $*" >>"$R/events"; }
count() { local f n=0; for f in "$1"/*; do [ -e "$f" ] && n=$((n + 1)); done; echo $n; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[ -x "$build/mailrelay/mailrelayd" ] || lab_fail "no mailrelayd in pc_build=$build"
ip link set lo up || lab_fail "cannot bring lo up"
opts=
[ "$mode" = writeback ] && opts=data=writeback
mkdir -p /spool
ev mounting
mount -t ext4 ${opts:+-o $opts} /dev/ubdb /spool || lab_fail "cannot mount the spool disk /dev/ubdb ($mode)"
ev mounted
dmesg | grep -q 'ubdb.*recovery complete' && ev journal-replayed
sp=/spool/mailtun
[ -d $sp ] && ev "state incoming=$(count $sp/incoming) queue=$(count $sp/queue) hold=$(count $sp/hold) quarantine=$(count $sp/quarantine)"
lab_log "boot $boot ($kind, ext4 $(awk '$2 == "/spool" { print $4 }' /proc/mounts))"

conf=$LAB_RUN/mailtun.conf
cat >"$conf" <<EOC
[relay]
listen = 127.0.0.1:2525
lan_listen = 127.0.0.2:2587
hostname = mx.example.net
domains = example.net
provider_networks = 127.0.0.1/32
lan_networks = 127.0.0.2/32
spool = $sp
tls_dir = /spool/tls
user = nobody
control_socket = $LAB_RUN/relayd.sock
mailtund_socket = $LAB_RUN/no-mailtund.sock
max_sessions_per_client = 50
log_level = info

[inside]
server = 127.0.0.1:2526
starttls = no
connections = 4
retry_base = 1s
retry_max = 2s

[outbound]
smarthost = 127.0.0.1:2627
require_tls = no
EOC

# mailrelayd's own STARTTLS key (the provider pins it) lives on the cut disk too: tls_dir.
# mailrelayd first: its recovery is what a cut during recovery must hit.
ev relay-start
"$build/mailrelay/mailrelayd" -f -c "$conf" >>"$R/relay.log" 2>&1 </dev/null &
relay=$!
# mailtund keeps its state_dir (pid file, control socket) and metrics file on the same disk:
# what a cut leaves there must not keep it from starting. (Its uplink "lo" has no gateway, so
# it waits for the uplink; its state is what matters here, not the tunnel. It writes the
# metrics file on state changes only, so here at its clean stop.)
mt=/spool/mailtund
mkdir -p $mt
prom=none
[ -e $mt/mailtund.prom ] && prom=$(wc -c <$mt/mailtund.prom)
ev "mailtund-left pid_file=$([ -e $mt/mailtund.pid ] && echo yes || echo no) socket=$([ -S $mt/mailtund.sock ] && echo yes || echo no) metrics_bytes=$prom"
cat >"$LAB_RUN/mailtund.conf" <<EOC
[tunnel]
server = 203.0.113.1
user = pc
fixed_address = 192.0.2.10
uplink = lo
plugin = $build/pppd-plugin/mailtun.so
state_dir = $mt
control_socket = $mt/mailtund.sock
metrics_file = $mt/mailtund.prom
pppd_logfile = $R/pppd.log
backoff_min = 5s
backoff_max = 10s
EOC
"$build/tunneld/mailtund" -f -c "$LAB_RUN/mailtund.conf" >>"$R/mailtund.log" 2>&1 </dev/null &
tund=$!

delay=0
[ "$kind" = delivery ] && delay=300
[ "$kind" = fill ] || $PC sink --in 2526 --out 2627 --log "$R/deliv.log" --delay-ms $delay >>"$R/sink.out" 2>&1 </dev/null &

if [ "$kind" != drain ]; then
    ev load
    $PC gen --port 2525 --lan-port 2587 --threads 5 --out-threads 2 --log "$R/acks.log" \
        --prefix "$mode-b$boot" >>"$R/gen.out" 2>&1 </dev/null &
    # The power cut comes from the host; until then the load runs.
    while :; do lab_sleep 10; done
fi

LAB_POLL=0.2 lab_wait 30 "mailrelayd listening" port_open 2525
LAB_POLL=0.2 lab_wait 10 "the sink listening" port_open 2526
"$build/ctl/mailtunctl" -c "$conf" queue flush >/dev/null 2>&1
drained() { [ "$(count $sp/queue)" = 0 ] && [ "$(count $sp/incoming)" = 0 ]; }
LAB_POLL=0.5 lab_wait 90 "the spool drained ($(count $sp/queue) in queue/)" drained
lab_wait_line 20 "mailtund started" "$R/mailtund.log" "*mailtund started*"
kill -TERM $relay $tund
wait $relay
rc=$?
wait $tund
trc=$?
ev "state incoming=$(count $sp/incoming) queue=$(count $sp/queue) hold=$(count $sp/hold) quarantine=$(count $sp/quarantine)"
umount /spool || lab_fail "umount of the spool disk failed"
[ $rc = 0 ] || lab_fail "mailrelayd exited $rc after SIGTERM"
[ $trc = 0 ] || lab_fail "mailtund exited $trc after SIGTERM"
lab_log "drained: every message in the spool delivered, mailrelayd and mailtund stopped cleanly"
exit 0
