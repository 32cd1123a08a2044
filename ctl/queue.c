/*
 * queue.c — `mailtunctl queue list|show ID|flush [ID]|delete ID|hold ID|release ID`:
 * mailrelayd's spool, seen and changed through its control socket.
 *
 * list prints one line a message (oldest first) and pages through long queues; show prints
 * the envelope and per-recipient state; the others print mailrelayd's one-line answer.
 * --json prints list/show as JSON. Exit status: 0 done, 1 mailrelayd refused or is not
 * running (the reason is printed), 2 wrong usage.
 */
#include "ctl.h"
#include "queue_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_USAGE "usage: mailtunctl queue list | show ID | flush [ID] | delete ID | hold ID | release ID"
#define MAX_PAGES 100000

static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Copies attribute i if it is a KV; returns the position of '=' or NULL. */
static char *kv_at(const struct ipc_msg *m, size_t i, char *buf, size_t bufsz)
{
    if (m->attrs[i].type != ATTR_KV || m->attrs[i].len >= bufsz)
        return NULL;
    memcpy(buf, m->attrs[i].val, m->attrs[i].len);
    buf[m->attrs[i].len] = '\0';
    return strchr(buf, '=');
}

static int do_list(const struct ctl_opts *o)
{
    struct ipc_builder req;
    uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg ans;
    unsigned long start = 0;
    size_t total = 0;
    int first = 1;

    if (o->json)
        printf("[");
    for (int page = 0; page < MAX_PAGES; page++) {
        unsigned long next = 0;
        ipc_begin(&req, IPC_QUEUE_LIST);
        if (start)
            ipc_put_kv(&req, "start", "%lu", start);
        if (ctl_request(o->relayd_socket, "mailrelayd", &req, buf, &ans, o->timeout_ms) < 0) {
            if (o->json)
                printf("]\n");
            return 1;
        }
        for (size_t i = 0; i < ans.nattrs; i++) {
            char kv[600], *eq = kv_at(&ans, i, kv, sizeof(kv));
            if (!eq)
                continue;
            *eq = '\0';
            if (strcmp(kv, "next") == 0) {
                next = strtoul(eq + 1, NULL, 10);
                continue;
            }
            if (o->json) {
                printf("%s\n  {\"id\": ", first ? "" : ",");
                json_str(kv, strlen(kv));
                printf(", \"info\": ");
                json_str(eq + 1, strlen(eq + 1));
                printf("}");
            } else {
                if (first)
                    printf("%-20s %s\n", "ID", "STATE AND ENVELOPE");
                printf("%-20s %s\n", kv, eq + 1);
            }
            first = 0;
            total++;
        }
        if (!next || next <= start)
            break;
        start = next;
    }
    if (o->json)
        printf("%s]\n", first ? "" : "\n");
    else
        printf("%zu message%s\n", total, total == 1 ? "" : "s");
    return 0;
}

static int do_show(const struct ctl_opts *o, const char *qid)
{
    struct ipc_builder req;
    uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg ans;
    int first = 1;

    ipc_begin(&req, IPC_QUEUE_SHOW);
    ipc_put_str(&req, ATTR_QUEUE_ID, qid);
    if (ctl_request(o->relayd_socket, "mailrelayd", &req, buf, &ans, o->timeout_ms) < 0)
        return 1;
    if (o->json)
        printf("{");
    for (size_t i = 0; i < ans.nattrs; i++) {
        char kv[600], *eq = kv_at(&ans, i, kv, sizeof(kv));
        if (!eq)
            continue;
        *eq = '\0';
        if (o->json) {
            /* rcpt repeats: numbered keys keep the object valid */
            printf("%s\n  ", first ? "" : ",");
            if (strcmp(kv, "rcpt") == 0) {
                char key[32];
                static unsigned nr;
                snprintf(key, sizeof(key), "rcpt%u", nr++);
                json_str(key, strlen(key));
            } else {
                json_str(kv, strlen(kv));
            }
            printf(": ");
            json_str(eq + 1, strlen(eq + 1));
        } else {
            printf("%-12s %s\n", kv, eq + 1);
        }
        first = 0;
    }
    if (o->json)
        printf("\n}\n");
    return 0;
}

static int do_simple(const struct ctl_opts *o, uint16_t type, const char *qid)
{
    struct ipc_builder req;
    uint8_t buf[IPC_MAX_FRAME];
    struct ipc_msg ans;
    char text[256] = "";

    ipc_begin(&req, type);
    if (qid)
        ipc_put_str(&req, ATTR_QUEUE_ID, qid);
    if (ctl_request(o->relayd_socket, "mailrelayd", &req, buf, &ans, o->timeout_ms) < 0)
        return 1;
    ipc_get_str(&ans, ATTR_TEXT, text, sizeof(text));
    printf("%s\n", text[0] ? text : "ok");
    return 0;
}

static const struct {
    const char *name;
    uint16_t type;
    int id;                     /* 0 none, 1 required, 2 optional */
} subverbs[] = {
    { "list", IPC_QUEUE_LIST, 0 },
    { "show", IPC_QUEUE_SHOW, 1 },
    { "flush", IPC_QUEUE_FLUSH, 2 },
    { "delete", IPC_QUEUE_DELETE, 1 },
    { "hold", IPC_QUEUE_HOLD, 1 },
    { "release", IPC_QUEUE_RELEASE, 1 },
};

int verb_queue(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "mailtunctl queue: missing subcommand\n" QUEUE_USAGE "\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof(subverbs) / sizeof(subverbs[0]); i++) {
        const char *qid;
        if (strcmp(argv[1], subverbs[i].name) != 0)
            continue;
        if (argc > (subverbs[i].id ? 3 : 2)) {
            fprintf(stderr, "mailtunctl queue %s: unexpected argument '%s'\n" QUEUE_USAGE "\n",
                    argv[1], argv[subverbs[i].id ? 3 : 2]);
            return 2;
        }
        qid = argc > 2 ? argv[2] : NULL;
        if (subverbs[i].id == 1 && !qid) {
            fprintf(stderr, "mailtunctl queue %s: missing queue ID\n" QUEUE_USAGE "\n", argv[1]);
            return 2;
        }
        if (qid && !queue_id_valid(qid)) {
            fprintf(stderr, "mailtunctl queue %s: '%s' is not a queue ID (20 lowercase hex digits, "
                            "as in 'mailtunctl queue list')\n", argv[1], qid);
            return 2;
        }
        switch (subverbs[i].type) {
        case IPC_QUEUE_LIST: return do_list(o);
        case IPC_QUEUE_SHOW: return do_show(o, qid);
        default: return do_simple(o, subverbs[i].type, qid);
        }
    }
    fprintf(stderr, "mailtunctl queue: unknown subcommand '%s'\n" QUEUE_USAGE "\n", argv[1]);
    return 2;
}
