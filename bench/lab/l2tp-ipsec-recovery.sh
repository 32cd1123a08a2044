#!/bin/bash
# l2tp-ipsec-recovery.sh — only the recovery part of bench/lab/l2tp-ipsec-bench.sh (a new DSL
# address -> the fixed address reachable again over L2TP/IPsec, mailtund and Debian's
# strongSwan + xl2tpd), five times each: the L2TP/IPsec rows of make bench-recovery.
#
#   B=build tests/lab/boot.sh bench/lab/l2tp-ipsec-recovery.sh   (bench/recovery.sh does this)
# lab-timeout: 600
BENCH_PARTS=recovery REC_REPS=${REC_REPS:-5}
. "$LAB_SRC/bench/lab/l2tp-ipsec-bench.sh"
