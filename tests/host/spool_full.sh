#!/bin/bash
# spool_full.sh — a full spool disk is a temporary condition, never a corrupt spool.
#
# The spool is a 2 MB tmpfs the test mounts (and unmounts on every exit path). mailrelayd
# (inside server down) takes 100 kB messages until the disk is full, then 2 kB ones until even
# those fail: each refusal must be "452 4.3.1" (temporary), the daemon stays up, queue/ holds
# only complete messages (<qid>.data ending with its envelope trailer), incoming/
# holds nothing of the refused messages. Then smtp-sink comes up, the queue drains, and the
# same daemon accepts mail again without anyone touching it; every acknowledged message is in
# the sink. Last, with the daemon stopped, one envelope trailer is corrupted and a foreign file, a
# foreign directory and an orphan envelope are dropped into queue/: the restart quarantines
# them with a log line each, keeps the good message, and serves. Bounded: about 20 s.
set -u
. "$(dirname "$0")/lib/common.sh"
H=$ROOT/tests/host/peers/hardening.py

need_relayd "tmpfs mount"
PY=$(ls /usr/bin/python3 2>/dev/null || command -v python3) || { echo "skip: python3 missing (run tests/deps.sh)"; exit 77; }
need_sink

make_work spool-full
# the spool is a small tmpfs: unmounted before the work directory goes (a busy one stays, and so
# does the directory)
at_exit '[ "${mounted:-0}" = 1 ] && { umount "$work/spool" 2>/dev/null || umount -l "$work/spool" 2>/dev/null; }; mountpoint -q "$work/spool" && KEEP=1'
mkdir "$work/spool"
mounted=0
count() { find "$work/spool/$1" -type f 2>/dev/null | wc -l; }
queue_empty() { [ "$(count queue)" = 0 ]; }
alive() { kill -0 "$RPID" 2>/dev/null || fail "mailrelayd died"; }

mount -t tmpfs -o "size=2m,mode=700,uid=$(id -u nobody),gid=$(id -g nobody)" mailtun-test "$work/spool" 2>/dev/null ||
    { echo "skip: cannot mount a tmpfs here"; exit 77; }
mounted=1

P=$(free_port) SP=$(free_port)
write_relay_conf <<EOC
[inside]
server = 127.0.0.1:$SP
starttls = no
retry_base = 1s
retry_max = 2s
EOC
# Every message in queue/ complete: its data file ends with the envelope trailer's footer
# (mailrelay/spool/spool_trailer.h), and an envelope rewritten beside it (.env) has its data.
check_pairs() {
    local e d n=0
    for d in "$work/spool/queue"/*.data; do
        [ -e "$d" ] || continue
        tail -c 27 "$d" | grep -q '^envelope-length [0-9]\{10\}$' || fail "data without envelope trailer: $(basename "$d")"
        n=$((n + 1))
    done
    for e in "$work/spool/queue"/*.env; do
        [ -e "$e" ] || continue
        [ -f "${e%.env}.data" ] || fail "envelope without data: $(basename "$e")"
    done
    [ "$(count incoming)" = 0 ] || { ls -la "$work/spool/incoming"; fail "incoming/ keeps $(count incoming) files of refused messages"; }
    echo "$n"
}

start_relayd "$work/mailtun.conf"
out=$($PY "$H" fill --port "$P" --size 100000 --count 60 --prefix big); echo "    $out"
grep -q "temp=1 last=452 4.3.1" <<<"$out" || fail "the full disk did not give 452 4.3.1: $out"
acked_big=$(sed -n 's/.*acked=\([0-9]*\).*/\1/p' <<<"$out")
[ "$acked_big" -gt 5 ] || fail "only $acked_big messages fit into 2 MB"
alive
n=$(check_pairs) || exit 1
[ "$n" = "$acked_big" ] || fail "queue holds $n messages, $acked_big acknowledged"
ok "full disk: $acked_big x 100 kB acknowledged, then 452 4.3.1; queue/ holds exactly those $n complete messages"

out=$($PY "$H" fill --port "$P" --size 2000 --count 400 --prefix small); echo "    $out"
grep -q "temp=1 last=452 4.3.1" <<<"$out" || fail "the full disk did not give 452 4.3.1: $out"
acked_small=$(sed -n 's/.*acked=\([0-9]*\).*/\1/p' <<<"$out")
out=$($PY "$H" fill --port "$P" --size 1000 --count 3 --prefix tiny --stop-after-temp 3); echo "    $out"
grep -q "acked=0 temp=3 last=452 4.3.1" <<<"$out" || fail "a disk to the last block did not give three 452 4.3.1: $out"
alive
n=$(check_pairs) || exit 1
[ "$n" = $((acked_big + acked_small)) ] || fail "queue holds $n messages, $((acked_big + acked_small)) acknowledged"
echo "    spool: $(df -k "$work/spool" | awk 'NR==2 {print $3 " kB used, " $4 " kB free"}')"
ok "to the last block: $acked_small x 2 kB more, then 452 4.3.1 every time; $n complete messages, incoming/ empty, daemon up"

# Free space: the inside server comes up and the queue drains; no restart, no admin.
mkdir -p "$work/sink" && chmod 777 "$work/sink"
"$SINK" -u nobody -d "$work/sink/%M." 127.0.0.1:$SP 50 >"$work/sink.log" 2>&1 &
SINKPID=$!; pids+=("$SINKPID")
wait_for 10 "smtp-sink" port_open "$SP"
"$CTL" -c "$work/mailtun.conf" queue flush >/dev/null 2>&1 || true
wait_for 30 "queue drained ($(count queue) files left)" queue_empty
out=$($PY "$H" fill --port "$P" --size 100000 --count 3 --prefix after); echo "    $out"
grep -q "acked=3 temp=0" <<<"$out" || fail "not accepting again after the disk was freed: $out"
wait_for 30 "the new messages delivered" queue_empty
delivered=$(cat "$work/sink"/* | grep -ci '^Message-ID: <\(big\|small\|after\)-')
distinct=$(cat "$work/sink"/* | grep -i '^Message-ID: <\(big\|small\|after\)-' | sort -u | wc -l)
want=$((acked_big + acked_small + 3))
[ "$distinct" = "$want" ] || fail "the sink has $distinct distinct messages, $want acknowledged"
ok "space freed by delivery: accepting again without intervention; sink got all $want acknowledged ($delivered deliveries)"

# Corrupt envelope, foreign files, orphan envelope: quarantined and logged at restart.
kill -9 "$SINKPID"; wait "$SINKPID" 2>/dev/null    # the sink: two messages stay queued
out=$($PY "$H" fill --port "$P" --size 3000 --count 2 --prefix keep); echo "    $out"
grep -q "acked=2" <<<"$out" || fail "two messages for the corruption test not accepted: $out"
kill -TERM "$RPID"; wait "$RPID" || fail "exit status $? after SIGTERM"
datas=("$work/spool/queue"/*.data)
[ "${#datas[@]}" = 2 ] || fail "want 2 queued messages, have ${#datas[@]}"
bad=$(basename "${datas[0]}" .data) good=$(basename "${datas[1]}" .data)
# damage the bad one's envelope trailer; give the good one's envelope to a queue ID without data
$PY - "${datas[0]}" "${datas[1]}" "$work/spool/queue/${good%?????}fffff.env" <<'PY'
import sys
bad, good, orphan = sys.argv[1:4]
b = open(bad, "rb").read()
i = b.rindex(b"mailtun-envelope 1\n")
open(bad, "wb").write(b[:i] + b"mailtun-envelope X\n" + b[i + 19:])
g = open(good, "rb").read()
n = int(g[-11:-1])
env = g[-27 - n:-27].replace(good.rsplit("/", 1)[1][:-5].encode(), orphan.rsplit("/", 1)[1][:-4].encode())
open(orphan, "wb").write(env)
PY
echo "hello" >"$work/spool/queue/README"
mkdir "$work/spool/queue/somedir"; chown nobody "$work/spool/queue/somedir"
: >"$work/relayd.log.restart"
"$RELAYD" -f -c "$work/mailtun.conf" >"$work/relayd.log.restart" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_for 10 "mailrelayd listening after the corrupt restart" port_open "$P"
sed -n 's/^.*\(spool quarantined.*\)/    \1/p; s/^.*\(spool open .*\)/    \1/p' "$work/relayd.log.restart"
grep -q "spool quarantined id=$bad file=queue/$bad.data" "$work/relayd.log.restart" || fail "corrupt envelope trailer not quarantined"
grep -q "spool quarantined .*file=queue/README" "$work/relayd.log.restart" || fail "foreign file not quarantined"
grep -q "spool quarantined .*file=queue/somedir" "$work/relayd.log.restart" || fail "foreign directory not quarantined"
grep -q "spool quarantined .*file=queue/${good%?????}fffff.env" "$work/relayd.log.restart" || fail "orphan envelope not quarantined"
grep -q "spool open .*loaded=1 " "$work/relayd.log.restart" || fail "the good message was not kept"
[ -f "$work/spool/quarantine/$bad.data" ] && [ -f "$work/spool/quarantine/README" ] || fail "quarantine/ lacks the files"
[ -f "$work/spool/queue/$good.data" ] || fail "the good message left queue/"
$PY "$H" legit --port "$P" >/dev/null || fail "not serving after the corrupt restart"
ok "corrupt envelope, foreign file and directory, orphan envelope: quarantined and logged, good message kept, serving"

kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$work"/relayd.log*; then
    grep -h -A30 "Sanitizer\|runtime error" "$work"/relayd.log* | head -60
    fail "sanitizer report"
fi
echo "spool_full: all checks passed"
