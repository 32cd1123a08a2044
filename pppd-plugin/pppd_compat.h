/*
 * pppd_compat.h — one name for each pppd service the plugin uses, on pppd 2.4.9 and 2.5.x.
 *
 * pppd 2.5 renamed its plugin API (add_options -> ppp_add_options, notifier lists ->
 * ppp_add_notify(NF_...), globals -> accessors, VERSION -> PPPD_VERSION in pppdconf.h).
 * mailtun.c calls only the mt_* names below. Include this instead of <pppd/pppd.h>.
 * Never include <stdbool.h> next to it: pppd 2.4's headers typedef their own bool.
 */
#ifndef MAILTUN_PPPD_COMPAT_H
#define MAILTUN_PPPD_COMPAT_H

/* The Makefile passes PPPD_VERSION derived from 2.4's patchlevel.h; 2.5's pppdconf.h defines
 * its own, so drop ours before it can clash. */
#undef PPPD_VERSION
/* pppd 2.5's headers declare `int f();` without void; their style, not our warning. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <pppd/pppd.h>
#include <pppd/fsm.h>
#include <pppd/lcp.h>
#include <pppd/ipcp.h>
#if defined(PPP_PPPDCONF_H)
#include <pppd/options.h>
#endif
#pragma GCC diagnostic pop

#if defined(PPP_PPPDCONF_H)
/* ---- pppd 2.5.x ---------------------------------------------------------------------- */
#define MT_PPPD_VERSION          PPPD_VERSION
#define mt_add_options(o)        ppp_add_options(o)
#define mt_notify_auth_up(f)     ppp_add_notify(NF_AUTH_UP, (f), NULL)
#define mt_notify_ip_up(f)       ppp_add_notify(NF_IP_UP, (f), NULL)
#define mt_notify_ip_down(f)     ppp_add_notify(NF_IP_DOWN, (f), NULL)
#define mt_notify_exit(f)        ppp_add_notify(NF_EXIT, (f), NULL)
#define mt_notify_phase(f)       ppp_add_notify(NF_PHASE_CHANGE, (f), NULL)
#define mt_set_modem(on)         ppp_set_modem(on)
#define mt_ifunit()              ppp_ifunit()
#define mt_ifname()              ppp_ifname()
#define mt_get_mtu(u)            ppp_get_mtu(u)
#define mt_set_mtu(u, m)         ppp_set_mtu((u), (m))
#define mt_set_devnam(s)         ppp_set_pppdevnam(s)
#define mt_set_status(s)         ppp_set_status(s)
#define mt_get_status()          ((int)ppp_status())
#define mt_persist()             ppp_persist()
#define mt_timeout(f, a, s)      ppp_timeout((f), (a), (s), 0)
#define mt_untimeout(f, a)       ppp_untimeout((f), (a))
#define mt_establish             ppp_generic_establish
#define mt_disestablish          ppp_generic_disestablish
#define mt_option_error          ppp_option_error
#define mt_got_sigterm()         ppp_signaled(SIGTERM)
/* listen_time is not in 2.5's plugin API: LCP starts at once, as pppd does by default. */
#define mt_set_listen_ms(ms)     ((void)(ms))

#elif defined(VERSION)
/* ---- pppd 2.4.x (patchlevel.h's VERSION) ------------------------------------------------ */
#if !defined(__linux__)
#error "mailtun.so needs Linux (AF_PPPOX / PX_PROTO_PPTP)"
#endif
#define MT_PPPD_VERSION          VERSION
#define mt_add_options(o)        add_options(o)
#define mt_notify_auth_up(f)     add_notifier(&auth_up_notifier, (f), NULL)
#define mt_notify_ip_up(f)       add_notifier(&ip_up_notifier, (f), NULL)
#define mt_notify_ip_down(f)     add_notifier(&ip_down_notifier, (f), NULL)
#define mt_notify_exit(f)        add_notifier(&exitnotify, (f), NULL)
#define mt_notify_phase(f)       add_notifier(&phasechange, (f), NULL)
#define mt_set_modem(on)         (modem = (on))
#define mt_ifunit()              ifunit
#define mt_ifname()              ((const char *)ifname)
#define mt_get_mtu(u)            netif_get_mtu(u)
#define mt_set_mtu(u, m)         netif_set_mtu((u), (m))
#define mt_set_devnam(s)         strlcpy(ppp_devnam, (s), sizeof(ppp_devnam))
#define mt_set_status(s)         (status = (s))
#define mt_get_status()          ((int)status)
#define mt_persist()             persist
#define mt_timeout(f, a, s)      timeout((f), (a), (s), 0)
#define mt_untimeout(f, a)       untimeout((f), (a))
#define mt_establish             generic_establish_ppp
#define mt_disestablish          generic_disestablish_ppp
#define mt_option_error          option_error
#define mt_got_sigterm()         got_sigterm
#define mt_set_listen_ms(ms)     (listen_time = (ms))

#else
#error "unknown pppd headers: neither 2.4.x (patchlevel.h VERSION) nor 2.5.x (pppdconf.h); mailtun.so supports pppd 2.4.9 and 2.5.x"
#endif

#endif
