#!/bin/bash
# l2tp-mail-flow.sh — mail-flow.sh over L2TP: mailtund with transport = l2tp against the provider's
# xl2tpd (conf/provider/l2tp/, kernel data path), every check of mail-flow.sh unchanged.
# lab-timeout: 240
MT_TRANSPORT=l2tp
. "$LAB_DIR/scenarios/mail-flow.sh"
