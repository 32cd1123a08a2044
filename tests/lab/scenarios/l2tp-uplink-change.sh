#!/bin/bash
# l2tp-uplink-change.sh — tunnel-uplink-change.sh over L2TP: mailtund with transport = l2tp against the provider's
# xl2tpd (conf/provider/l2tp/, kernel data path), every check of tunnel-uplink-change.sh unchanged.
# lab-timeout: 200
MT_TRANSPORT=l2tp
. "$LAB_DIR/scenarios/tunnel-uplink-change.sh"
