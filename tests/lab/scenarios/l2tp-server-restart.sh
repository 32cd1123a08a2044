#!/bin/bash
# l2tp-server-restart.sh — tunnel-server-restart.sh over L2TP: mailtund with transport = l2tp against the provider's
# xl2tpd (conf/provider/l2tp/, kernel data path), every check of tunnel-server-restart.sh unchanged.
# lab-timeout: 200
MT_TRANSPORT=l2tp
. "$LAB_DIR/scenarios/tunnel-server-restart.sh"
