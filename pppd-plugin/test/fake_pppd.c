/*
 * fake_pppd.c — just enough of pppd 2.4.9 to load mailtun.so and drive it without a PPP kernel.
 *
 * Usage: fake_pppd PLUGIN.so STEP...   (run by pppd-plugin/test/run.sh, built with -rdynamic)
 * Steps: options SOCKET | timeout SECONDS | connect | auth_up | ip_up | ip_down | watch | exit CODE
 * Like pppd, SIGTERM only sets got_sigterm (the handler does not restart system calls).
 * Every pppd log call prints "LEVEL: text" on stdout; lcp_close prints "lcp_close: reason".
 * With FAKE_PPTP=1 the kernel PPTP or PPPoL2TP socket is faked (socket/bind/connect
 * interposed) so the steps after a successful connect can run on a host without the pptp
 * or l2tp_ppp module.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_pppox.h>

#include <pppd/pppd.h>
#include <pppd/fsm.h>
#include <pppd/lcp.h>
#include <pppd/ipcp.h>

/* pppd's globals */
struct notifier *auth_up_notifier, *ip_up_notifier, *ip_down_notifier, *exitnotify, *phasechange;
struct channel *the_channel;
int ifunit = 3;
char ifname[MAXIFNAMELEN] = "ppp3";
bool modem = 1;
bool persist;
volatile int status;
int got_sigterm;
char ppp_devnam[MAXPATHLEN];
int listen_time;
ipcp_options ipcp_gotoptions[1], ipcp_hisoptions[1];
lcp_options lcp_wantoptions[1], lcp_allowoptions[1];
static option_t *plugin_options;
static void (*timer_fn)(void *);

/* A small subset of pppd's formatter: %s %d %u %I (u32 network order) %m %%. */
int slprintf(char *buf, int size, char *fmt, ...)
{
    va_list ap;
    int saved = errno, n = 0;
    char *p;

    va_start(ap, fmt);
    buf[0] = '\0';
    for (p = fmt; *p && n < size - 1; p++) {
        char tmp[64];
        const char *s = tmp;
        if (*p != '%') { buf[n++] = *p; buf[n] = '\0'; continue; }
        switch (*++p) {
        case 's': s = va_arg(ap, const char *); break;
        case 'd': snprintf(tmp, sizeof(tmp), "%d", va_arg(ap, int)); break;
        case 'u': snprintf(tmp, sizeof(tmp), "%u", va_arg(ap, unsigned)); break;
        case 'I': { struct in_addr a = { va_arg(ap, u_int32_t) }; snprintf(tmp, sizeof(tmp), "%s", inet_ntoa(a)); break; }
        case 'm': s = strerror(saved); break;
        case '%': s = "%"; break;
        default: s = "?"; break;
        }
        n += snprintf(buf + n, (size_t)(size - n), "%s", s);
        if (n >= size) n = size - 1;
    }
    va_end(ap);
    return n;
}

#define LOGGER(name)                                                            \
    void name(char *fmt, ...)                                                   \
    {                                                                           \
        char line[1024]; va_list ap; int saved = errno; char f2[512];           \
        /* re-dispatch through slprintf with the caller's varargs */            \
        va_start(ap, fmt);                                                      \
        void *a1 = va_arg(ap, void *), *a2 = va_arg(ap, void *), *a3 = va_arg(ap, void *), \
             *a4 = va_arg(ap, void *), *a5 = va_arg(ap, void *);                \
        va_end(ap);                                                             \
        snprintf(f2, sizeof(f2), "%s", fmt);                                    \
        errno = saved;                                                          \
        slprintf(line, sizeof(line), f2, a1, a2, a3, a4, a5);                   \
        printf("%s: %s\n", #name, line);                                        \
        fflush(stdout);                                                         \
    }
LOGGER(dbglog)
LOGGER(info)
LOGGER(notice)
LOGGER(warn)
LOGGER(error)
LOGGER(option_error)

size_t strlcpy(char *d, const char *s, size_t n) { size_t l = strlen(s); if (n) { size_t c = l < n - 1 ? l : n - 1; memcpy(d, s, c); d[c] = 0; } return l; }
void add_options(option_t *o) { plugin_options = o; }
void add_notifier(struct notifier **list, notify_func f, void *arg)
{
    struct notifier *n = calloc(1, sizeof(*n));
    n->func = f; n->arg = arg; n->next = *list; *list = n;
}
static void run(struct notifier *n, int arg) { for (; n; n = n->next) n->func(n->arg, arg); }
void timeout(void (*f)(void *), void *arg, int s, int us) { (void)arg; (void)s; (void)us; timer_fn = f; }
void untimeout(void (*f)(void *), void *arg) { (void)arg; if (timer_fn == f) timer_fn = NULL; }
void lcp_close(int unit, char *reason) { (void)unit; printf("lcp_close: %s (status %d)\n", reason, status); fflush(stdout); }
int netif_get_mtu(int unit) { (void)unit; return 1400; }
void netif_set_mtu(int unit, int mtu) { printf("set_mtu: ppp%d %d\n", unit, mtu); }
int generic_establish_ppp(int fd) { return fd; }
void generic_disestablish_ppp(int fd) { (void)fd; }

/* Interposed for the plugin (this executable is searched first). */
static int fake_fd = -1;
int socket(int domain, int type, int protocol)
{
    if (domain == AF_PPPOX && getenv("FAKE_PPTP")) {
        fake_fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
        return fake_fd;
    }
    return (int)syscall(SYS_socket, domain, type, protocol);
}
int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (fd >= 0 && fd == fake_fd) {
        const struct sockaddr_pppox *p = (const void *)sa;
        printf("pptp bind: call_id=%u addr=%s\n", p->sa_addr.pptp.call_id, inet_ntoa(p->sa_addr.pptp.sin_addr));
        return 0;
    }
    return (int)syscall(SYS_bind, fd, sa, len);
}
int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (fd >= 0 && fd == fake_fd) {
        const struct sockaddr_pppox *p = (const void *)sa;
        if (p->sa_protocol == PX_PROTO_OL2TP) {
            const struct sockaddr_pppol2tp *l = (const void *)sa;
            printf("l2tp connect: tunnel=%u/%u session=%u/%u server=%s:%u fd=%d len_ok=%d\n",
                   l->pppol2tp.s_tunnel, l->pppol2tp.d_tunnel, l->pppol2tp.s_session,
                   l->pppol2tp.d_session, inet_ntoa(l->pppol2tp.addr.sin_addr),
                   ntohs(l->pppol2tp.addr.sin_port), l->pppol2tp.fd, len == sizeof(*l));
            return 0;
        }
        printf("pptp connect: call_id=%u addr=%s\n", p->sa_addr.pptp.call_id, inet_ntoa(p->sa_addr.pptp.sin_addr));
        return 0;
    }
    return (int)syscall(SYS_connect, fd, sa, len);
}

static void on_term(int sig) { got_sigterm = sig; }

int main(int argc, char **argv)
{
    void *h;
    void (*init)(void);
    int i;
    struct sigaction sa = { .sa_handler = on_term };

    sigaction(SIGTERM, &sa, NULL);

    if (argc < 2 || (h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL)) == NULL) {
        printf("dlopen: %s\n", argc < 2 ? "no plugin" : dlerror());
        return 2;
    }
    printf("pppd_version: %s\n", (char *)dlsym(h, "pppd_version"));
    init = (void (*)(void))dlsym(h, "plugin_init");
    init();
    printf("modem=%d channel=%s\n", modem, the_channel ? "set" : "unset");
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "options") == 0 && i + 1 < argc) {
            /* As pppd 2.4.9's options.c does for o_string: copy into a static buffer, or
             * strdup and free the previous value (so a literal default would crash here too). */
            option_t *o = &plugin_options[0];              /* mailtun-socket */
            i++;
            if (o->flags & OPT_STATIC) {
                snprintf((char *)o->addr, (size_t)o->upper_limit, "%s", argv[i]);
            } else {
                char **p = (char **)o->addr;
                free(*p);
                *p = strdup(argv[i]);
            }
            the_channel->check_options();
        } else if (strcmp(argv[i], "timeout") == 0 && i + 1 < argc) {
            *(int *)plugin_options[1].addr = atoi(argv[++i]);    /* mailtun-timeout */
        } else if (strcmp(argv[i], "connect") == 0) {
            printf("connect: %d\n", the_channel->connect());
            printf("listen_time=%d\n", listen_time);
        } else if (strcmp(argv[i], "auth_up") == 0) {
            run(auth_up_notifier, 0);
        } else if (strcmp(argv[i], "ip_up") == 0) {
            inet_pton(AF_INET, "203.0.113.77", &ipcp_gotoptions[0].ouraddr);
            inet_pton(AF_INET, "203.0.113.1", &ipcp_hisoptions[0].hisaddr);
            run(ip_up_notifier, 0);
        } else if (strcmp(argv[i], "ip_down") == 0) {
            run(ip_down_notifier, 0);
        } else if (strcmp(argv[i], "watch") == 0) {
            void (*f)(void *) = timer_fn;
            printf("watch: %s\n", f ? "armed" : "not armed");
            if (f) f(NULL);
            printf("watch: returned\n");
        } else if (strcmp(argv[i], "status") == 0 && i + 1 < argc) {
            status = atoi(argv[++i]);
        } else if (strcmp(argv[i], "phase") == 0 && i + 1 < argc) {
            run(phasechange, atoi(argv[++i]));
        } else if (strcmp(argv[i], "exit") == 0 && i + 1 < argc) {
            run(exitnotify, atoi(argv[++i]));
        } else if (strcmp(argv[i], "sleep") == 0) {
            struct timespec t = { 0, 300 * 1000000L }; nanosleep(&t, NULL);
        }
        fflush(stdout);
    }
    return 0;
}
