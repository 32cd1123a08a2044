#!/bin/bash
# power-cut.sh — every "250" survives a power cut: the lab cuts the power of a guest running
# mailrelayd under load, again and again on the same spool disk, and counts the mail.
# lab-host-driver: yes
#
# Runs on the host (boot.sh execs it because of the line above) and boots
# tests/lab/power-cut/guest.sh in user-mode-linux once per round, all rounds on one ext4
# image (the guest's /dev/ubdb, a file on the host). In each round mailrelayd recovers what
# the last cut left (its own STARTTLS key, which the provider pins, is on that disk too and
# must never change), a generator pushes mail without pause (5 inbound sessions to the fixed
# address's listener, 2 outbound sessions from the LAN to the smarthost), a sink plays the
# inside server and the smarthost, and tests/lab/power-cut/pc.py cut kills the whole UML
# process group with SIGKILL at a random moment: the guest's page cache is gone, its disk
# holds what it had written out. A last boot without cut delivers everything and stops.
# Then: "power-cut: R rounds, A acknowledged, D delivered, lost L, duplicated U".
#
# Round kinds (guest.sh says what each does): commit (cut 0.3-2.5 s into the load: group
# commits, renames, removals), fill (inside server down, the queue grows), recovery
# (alternately 0-200 ms after the mount starts: ext4's journal replay; and 0-350 ms after
# mailrelayd's first log line: its spool recovery — ~300 ms for 130 messages in the guest —
# and the first redeliveries of the filled queue), delivery (inside server holds its 250 for 300 ms; the cut lands 0-400 ms
# after the 3rd delivery: between "delivered" and "removed from the spool").
#
# Where "250 read" is recorded, and its blind spot: the generator appends "A <id>" to a file
# in the results directory, a hostfs mount, right after reading the 250. hostfs writes through:
# write() returns once the host's write() did (checked: a line written without any sync, then
# the power cut 1 s later, is in the host file; a file on the ubd disk written the same way is
# not). The blind spot is the time between the generator reading the 250 and its write()
# returning: a cut there leaves an acknowledged message unrecorded, so its loss could not be
# seen. That is at most one message per session per cut; the "S <id>" line written before the
# dot bounds it ("in flight at a cut" in the summary). The sink records "D <id>" the same way
# before it answers 250.
#
# Environment: PC_ROUNDS (cuts per file system mode, default 10), PC_MODES (default
# "ordered writeback": ext4's default data=ordered, then data=writeback, where ext4 does not
# flush a file's data before the metadata that names it), NOFSYNC=1 (negative control: B must
# be a build with -DMAILTUN_TEST_NO_FSYNC, `make lab SCENARIO=power-cut NOFSYNC=1`; then the
# scenario passes only if mail WAS lost). Results in $B/lab-results/power-cut/<mode>/.
# lab-timeout: 900
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
src=$(cd "$here/../.." && pwd)
bdir=${B:-build}
case $bdir in /*) ;; *) bdir=$src/$bdir;; esac
PY=/usr/bin/python3
PC="$PY $here/power-cut/pc.py"
rounds=${PC_ROUNDS:-10}
modes=${PC_MODES:-ordered writeback}
top=$bdir/lab-results/power-cut
skip() { echo "power-cut: $*"; exit 77; }
fail() { echo "power-cut: FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "lab needs root; not root"
command -v linux.uml >/dev/null || skip "lab needs user-mode-linux (linux.uml not found; run tests/deps.sh)"
command -v mkfs.ext4 >/dev/null || skip "needs mkfs.ext4 (e2fsprogs) for the spool disk image"
[ -x "$PY" ] || skip "needs /usr/bin/python3 (generator, sink, cutter; run tests/deps.sh)"
[ -x "$bdir/mailrelay/mailrelayd" ] || fail "no $bdir/mailrelay/mailrelayd (make first)"
[ "$rounds" -ge 1 ] 2>/dev/null || fail "PC_ROUNDS must be a positive number: '$rounds'"

# The negative control must run the no-fsync build and the real test must not.
marker="TEST BUILD: spool fsyncs disabled"
if grep -q "$marker" "$bdir/mailrelay/mailrelayd"; then
    [ "${NOFSYNC:-0}" = 1 ] || fail "$bdir/mailrelay/mailrelayd is a MAILTUN_TEST_NO_FSYNC build: only NOFSYNC=1 may run it"
    expect=loss
else
    [ "${NOFSYNC:-0}" = 1 ] && fail "NOFSYNC=1 but $bdir/mailrelay/mailrelayd has its fsyncs (build with make NOFSYNC=1)"
    expect=lost0
fi

rm -rf "$top"
mkdir -p "$top"
# A guest leads its own session: if this script is stopped, cut the running one too.
cleanup() {
    local p
    for p in "$top"/*/pid; do
        [ -s "$p" ] && kill -KILL -- -"$(cat "$p")" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 1' INT TERM
kinds=(commit fill recovery delivery commit)
t0=$SECONDS
status=0
for mode in $modes; do
    case $mode in ordered|writeback) ;; *) fail "PC_MODES: unknown mode '$mode' (ordered, writeback)";; esac
    d=$top/$mode
    mkdir -p "$d"
    img=$d/spool.img
    truncate -s 128M "$img" && mkfs.ext4 -q -F "$img" || fail "cannot make the ext4 image $img"
    for k in $(seq 1 $((rounds + 1))); do
        kind=${kinds[$(((k - 1) % ${#kinds[@]}))]}
        [ "$k" -gt "$rounds" ] && kind=drain
        rm -f "$d/pid"
        args="ubdb=$img pc_boot=$k pc_mode=$mode pc_kind=$kind pc_build=$bdir"
        if [ $kind = drain ]; then
            LAB_RESULTS_DIR=$d/boot-$k LAB_TIMEOUT=150 LAB_UML_ARGS="$args" \
                "$here/boot.sh" "$here/power-cut/guest.sh" >"$d/boot-$k.out" 2>&1 ||
                { cat "$d/boot-$k.out"; fail "$mode: the last boot (no cut) did not drain the spool"; }
            echo "power-cut: $mode boot $k: drained ($(grep -h 'state ' "$d/boot-$k/events" | tail -n 1 | cut -d' ' -f3-))"
            break
        fi
        LAB_RESULTS_DIR=$d/boot-$k LAB_TIMEOUT=90 LAB_PIDFILE=$d/pid LAB_UML_ARGS="$args" \
            "$here/boot.sh" "$here/power-cut/guest.sh" >"$d/boot-$k.out" 2>&1 &
        bootpid=$!
        case $kind in
        commit|fill) cut=$($PC cut --pid-file "$d/pid" --file "$d/boot-$k/acks.log" --match "A " --delay-ms 300 2500 --timeout 75);;
        recovery)    # alternately into ext4's journal replay and into mailrelayd's spool recovery
                     nrec=$((${nrec:-0} + 1))
                     if [ $((nrec % 2)) = 1 ]; then
                         cut=$($PC cut --pid-file "$d/pid" --file "$d/boot-$k/events" --match " mounting" --delay-ms 0 200 --timeout 75)
                     else
                         cut=$($PC cut --pid-file "$d/pid" --file "$d/boot-$k/relay.log" --match "mailrelayd[" --delay-ms 0 350 --timeout 75)
                     fi;;
        delivery)    cut=$($PC cut --pid-file "$d/pid" --file "$d/boot-$k/deliv.log" --match "D " --nth 3 --delay-ms 0 400 --timeout 75);;
        esac
        crc=$?
        wait $bootpid
        [ $crc = 0 ] || { cat "$d/boot-$k.out"; fail "$mode boot $k ($kind): $cut"; }
        # What the cut hit, from the records that survived it.
        acks=$(grep -c '^A ' "$d/boot-$k/acks.log" 2>/dev/null)
        open=$(awk '$1 == "S" { s[$2] = 1 } $1 == "A" { delete s[$2] } END { print length(s) }' "$d/boot-$k/acks.log" 2>/dev/null)
        dl=$(grep -c '^D ' "$d/boot-$k/deliv.log" 2>/dev/null)
        rec=$(grep -c 'spool open' "$d/boot-$k/relay.log" 2>/dev/null)
        echo "power-cut: $mode boot $k: $kind, ${cut#cut } ms after the mark; ${acks:-0} acknowledged, ${open:-0} awaiting their 250 at the cut, ${dl:-0} delivered$([ "${rec:-0}" = 0 ] && echo ", cut before mailrelayd's recovery finished")"
    done
    for k in $(seq 2 $((rounds + 1))); do     # what each cut left on the disk, seen at the next mount
        st=$(grep -h ' state ' "$d/boot-$k/events" 2>/dev/null | head -n 1 | cut -d' ' -f3-)
        j=$(grep -c ' journal-replayed' "$d/boot-$k/events" 2>/dev/null)
        o=$(sed -n 's/.*spool open .*\(loaded=.*\)/\1/p' "$d/boot-$k/relay.log" 2>/dev/null | head -n 1)
        if ! grep -q ' mounted' "$d/boot-$k/events" 2>/dev/null; then
            echo "power-cut: $mode after cut $((k - 1)): the next boot was cut before its mount (journal replay) finished"
            continue
        fi
        echo "power-cut: $mode after cut $((k - 1)): ${st:-cut before the spool was looked at}; journal replayed: $([ "${j:-0}" -gt 0 ] && echo yes || echo no); recovery: ${o:-cut before it finished}"
    done
    # mailtund's state on the same disk: it must start on whatever a cut left there.
    started=0 refused=0 pidf=0 sock=0
    for k in $(seq 2 $((rounds + 1))); do
        grep -q 'mailtund started' "$d/boot-$k/mailtund.log" 2>/dev/null && started=$((started + 1))
        grep -q 'fatal\|another mailtund holds\|cannot' "$d/boot-$k/mailtund.log" 2>/dev/null && refused=$((refused + 1))
        grep -q ' mailtund-left pid_file=yes' "$d/boot-$k/events" 2>/dev/null && pidf=$((pidf + 1))
        grep -q ' mailtund-left .*socket=yes' "$d/boot-$k/events" 2>/dev/null && sock=$((sock + 1))
    done
    echo "power-cut: $mode mailtund: started in $started boots after a cut (with the pid file of a dead one there $pidf times, its socket $sock times), refused in $refused"
    [ $refused = 0 ] || { grep -h 'fatal\|another mailtund holds\|cannot' "$d"/boot-*/mailtund.log; status=1; }
    # mailrelayd's own TLS key, made once on the cut disk: the provider pins it, so no cut may
    # change it (or damage it: mailrelayd would refuse to start and the drain above fails).
    keys=$(sed -n 's/.*tls own key.* pkey-sha256=\([0-9A-F:]*\).*/\1/p' "$d"/boot-*/relay.log | sort -u | wc -l)
    made=$(cat "$d"/boot-*/relay.log | grep -c 'tls own key created')
    echo "power-cut: $mode mailrelayd's own TLS key: $keys key over all boots, created $made time(s)"
    [ "$keys" = 1 ] && [ "$made" -le 1 ] || { echo "power-cut: FAIL: mailrelayd's own TLS key changed across power cuts"; status=1; }
    out=$($PC tally --dir "$d" --expect $expect); rc=$?
    echo "$out" | sed "1s/^power-cut:/power-cut ($mode$([ $expect = loss ] && echo ', NO FSYNC')):/"
    [ $rc = 0 ] || status=1
done
echo "power-cut: $((SECONDS - t0)) s, modes: $modes, $rounds cuts each, logs in $top"
if [ $status != 0 ]; then
    [ $expect = loss ] && fail "negative control: the no-fsync build lost nothing; this test could not see a missing fsync"
    fail "acknowledged mail lost after a power cut"
fi
[ $expect = loss ] && echo "power-cut: PASS (negative control): without fsync the power cut loses acknowledged mail"
[ $expect = lost0 ] && echo "power-cut: PASS: lost 0"
exit 0
