#!/bin/bash
# l2tp-wrong-password.sh — tunnel-wrong-password.sh over L2TP: mailtund with transport = l2tp against the provider's
# xl2tpd (conf/provider/l2tp/, kernel data path), every check of tunnel-wrong-password.sh unchanged.
# lab-timeout: 200
MT_TRANSPORT=l2tp
. "$LAB_DIR/scenarios/tunnel-wrong-password.sh"
