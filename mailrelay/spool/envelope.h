/*
 * envelope.h — the envelope of one spooled message and its text codec (pure, no I/O).
 *
 * The envelope is everything about a message except its bytes: who sent it, to whom, where it
 * came from, and per recipient how delivery went. It is stored next to the data file as text:
 *
 *   mailtun-envelope 1
 *   id 0005f3a1c2d4e0001a2b3
 *   arrival 1700000000
 *   direction inbound
 *   client 192.0.2.7
 *   helo mx.example.org
 *   sender alice@example.org          ("-" = null sender <>)
 *   body 8bitmime,smtputf8            ("-" = none)
 *   size 10240
 *   rcpt pending 2 1700000900 bob@example.com 451%204.3.0%20try%20later
 *   end
 *
 * Every value is one token: bytes <= 0x20, >= 0x7f and '%' are written as %XX, an empty value
 * as "-" (a literal "-" as %2D). The final "end" line makes a truncated file detectable.
 * The parser is strict (fixed line order, known keys, bounded sizes) and says why it refused.
 */
#ifndef MAILTUN_ENVELOPE_H
#define MAILTUN_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue_id.h"

#define ENV_MAX_RCPT 1000        /* recipients per message */
#define ENV_MAX_ADDR 512         /* octets of an address (decoded) */
#define ENV_MAX_TEXT 1024        /* octets of a reply text, helo or client (decoded) */
#define ENV_MAX_ENCODED (2u << 20) /* largest envelope file accepted */

enum env_direction { ENV_INBOUND, ENV_OUTBOUND };

enum rcpt_state { RCPT_PENDING, RCPT_SENT, RCPT_BOUNCED };

#define ENV_BODY_8BITMIME 0x1u
#define ENV_BODY_SMTPUTF8 0x2u
#define ENV_BODY_BINARYMIME 0x4u

struct env_rcpt {
    char *addr;              /* without angle brackets */
    enum rcpt_state state;
    unsigned attempts;       /* delivery attempts so far */
    int64_t next_attempt;    /* seconds since the epoch; meaningful while pending */
    char *last_reply;        /* last server reply or local reason, "" if none */
};

struct envelope {
    char qid[QUEUE_ID_SIZE];
    int64_t arrival;         /* seconds since the epoch */
    enum env_direction direction;
    char *client;            /* client address as text, "" if local */
    char *helo;              /* HELO/EHLO argument, "" if none */
    char *sender;            /* "" = null sender (a bounce) */
    unsigned body_flags;     /* ENV_BODY_* */
    uint64_t size;           /* octets in the data file */
    size_t nrcpt;
    struct env_rcpt *rcpt;
};

/* Zeroes env and sets the strings to "" (so it is safe to free and to encode). 0 or -1 (ENOMEM). */
int envelope_init(struct envelope *env);
void envelope_free(struct envelope *env);
/* Deep copy; dst must not hold anything. 0 or -1 (ENOMEM). */
int envelope_copy(struct envelope *dst, const struct envelope *src);

/* Replaces a string field (sender, helo, client, a reply) with a copy of val. 0 or -1. */
int envelope_set(char **field, const char *val);
/* Adds a pending recipient with 0 attempts, due at next_attempt. 0 or -1 (ENOMEM, too many). */
int envelope_add_rcpt(struct envelope *env, const char *addr, int64_t next_attempt);

/* Earliest next_attempt of pending recipients; INT64_MAX if none is pending. */
int64_t envelope_next_due(const struct envelope *env);
/* Number of recipients in a state. */
size_t envelope_count(const struct envelope *env, enum rcpt_state state);

const char *env_direction_name(enum env_direction d);
const char *rcpt_state_name(enum rcpt_state s);

/* Encodes env into a malloc'd text (NUL-terminated); *len gets its length. NULL on ENOMEM or
 * on an envelope that breaks the limits above (err says which). */
char *envelope_encode(const struct envelope *env, size_t *len, char *err, size_t errlen);

/* Decodes buf[0..len) into env (which is initialised here; free it with envelope_free()
 * even on failure). 0, or -1 with a reason in err ("line 4: bad direction"). */
int envelope_decode(const char *buf, size_t len, struct envelope *env, char *err, size_t errlen);

#endif
