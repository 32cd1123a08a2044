/*
 * status.c — `mailtunctl status [--json]`: both daemons' state in one view.
 *
 * Plain output is "daemon key value" lines an admin reads and greps; --json is one object
 * per daemon for scripts. A daemon that is not running is shown as such (exit status 1).
 */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static int show(const struct ctl_opts *o, const char *daemon, const char *path, int *first)
{
    struct ipc_builder req;
    uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg ans;
    int ok;

    ipc_begin(&req, IPC_STATUS);
    ok = ctl_request(path, daemon, &req, buf, &ans, o->timeout_ms) == 0;
    if (o->json) {
        printf("%s\n  ", *first ? "{" : ",");
        json_string(daemon);
        printf(": {");
        json_string("running");
        printf(": %s", ok ? "true" : "false");
    } else if (!ok) {
        printf("%-10s running no\n", daemon);
    }
    *first = 0;
    for (size_t i = 0; ok && i < ans.nattrs; i++) {
        char kv[600], *eq;
        if (ans.attrs[i].type != ATTR_KV || ans.attrs[i].len >= sizeof(kv))
            continue;
        memcpy(kv, ans.attrs[i].val, ans.attrs[i].len);
        kv[ans.attrs[i].len] = '\0';
        if (!(eq = strchr(kv, '=')))
            continue;
        *eq = '\0';
        if (o->json) {
            printf(", ");
            json_string(kv);
            printf(": ");
            json_string(eq + 1);
        } else {
            printf("%-10s %-16s %s\n", daemon, kv, eq + 1);
        }
    }
    if (o->json)
        printf("}");
    return ok ? 0 : 1;
}

int verb_status(const struct ctl_opts *o, int argc, char **argv)
{
    int first = 1, rc = 0;
    if (argc > 1) {
        fprintf(stderr, "mailtunctl status: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    rc |= show(o, "mailtund", o->tunneld_socket, &first);
    rc |= show(o, "mailrelayd", o->relayd_socket, &first);
    if (o->json)
        printf("\n}\n");
    return rc;
}
