/*
 * test_envelope.c — envelope codec: round trip, escaping, and refusal of corrupt input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"

static void make(struct envelope *e)
{
    assert_int_equal(envelope_init(e), 0);
    memcpy(e->qid, "0005f3a1c2d4e0001a2b", QUEUE_ID_SIZE);
    e->arrival = 1700000000;
    e->direction = ENV_OUTBOUND;
    e->body_flags = ENV_BODY_8BITMIME | ENV_BODY_SMTPUTF8;
    e->size = 10240;
    assert_int_equal(envelope_set(&e->client, "192.0.2.7"), 0);
    assert_int_equal(envelope_set(&e->helo, "mx with space%and\tpercent"), 0);
    assert_int_equal(envelope_set(&e->sender, "alice@example.org"), 0);
    assert_int_equal(envelope_add_rcpt(e, "bob@example.com", 1700000060), 0);
    assert_int_equal(envelope_add_rcpt(e, "\"odd user\"@example.com", 1700000120), 0);
    assert_int_equal(envelope_add_rcpt(e, "-", 1700000000), 0);
    e->rcpt[0].state = RCPT_SENT;
    e->rcpt[0].attempts = 1;
    e->rcpt[1].attempts = 3;
    assert_int_equal(envelope_set(&e->rcpt[1].last_reply, "451 4.3.0 try again later"), 0);
    e->rcpt[2].state = RCPT_BOUNCED;
    assert_int_equal(envelope_set(&e->rcpt[2].last_reply, "550 5.1.1 \xc3\xa4 unknown"), 0);
}

static void assert_same(const struct envelope *a, const struct envelope *b)
{
    assert_string_equal(a->qid, b->qid);
    assert_int_equal(a->arrival, b->arrival);
    assert_int_equal(a->direction, b->direction);
    assert_int_equal(a->body_flags, b->body_flags);
    assert_int_equal(a->size, b->size);
    assert_string_equal(a->client, b->client);
    assert_string_equal(a->helo, b->helo);
    assert_string_equal(a->sender, b->sender);
    assert_int_equal(a->nrcpt, b->nrcpt);
    for (size_t i = 0; i < a->nrcpt; i++) {
        assert_string_equal(a->rcpt[i].addr, b->rcpt[i].addr);
        assert_int_equal(a->rcpt[i].state, b->rcpt[i].state);
        assert_int_equal(a->rcpt[i].attempts, b->rcpt[i].attempts);
        assert_int_equal(a->rcpt[i].next_attempt, b->rcpt[i].next_attempt);
        assert_string_equal(a->rcpt[i].last_reply, b->rcpt[i].last_reply);
    }
}

static void test_round_trip(void **state)
{
    struct envelope a, b, c;
    char err[200];
    size_t len;
    char *text;

    (void)state;
    make(&a);
    text = envelope_encode(&a, &len, err, sizeof(err));
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_null(strchr(text, '\t'));
    assert_non_null(strstr(text, "sender alice@example.org\n"));
    assert_non_null(strstr(text, "%2D"));
    assert_int_equal(envelope_decode(text, len, &b, err, sizeof(err)), 0);
    assert_same(&a, &b);
    assert_int_equal(envelope_copy(&c, &b), 0);
    assert_same(&a, &c);
    assert_int_equal(envelope_next_due(&a), 1700000000 + 120);
    assert_int_equal(envelope_count(&a, RCPT_PENDING), 1);
    free(text);
    envelope_free(&a);
    envelope_free(&b);
    envelope_free(&c);
}

static void test_null_sender(void **state)
{
    struct envelope a, b;
    char err[200];
    size_t len;
    char *text;

    (void)state;
    make(&a);
    assert_int_equal(envelope_set(&a.sender, ""), 0);
    text = envelope_encode(&a, &len, err, sizeof(err));
    assert_non_null(strstr(text, "sender -\n"));
    assert_int_equal(envelope_decode(text, len, &b, err, sizeof(err)), 0);
    assert_string_equal(b.sender, "");
    free(text);
    envelope_free(&a);
    envelope_free(&b);
}

/* Every cut of a valid envelope must be refused (the "end" line guards truncation). */
static void test_truncated(void **state)
{
    struct envelope a, b;
    char err[200];
    size_t len;
    char *text;

    (void)state;
    make(&a);
    text = envelope_encode(&a, &len, err, sizeof(err));
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(envelope_decode(text, cut, &b, err, sizeof(err)), -1);
        assert_true(strlen(err) > 0);
        envelope_free(&b);
    }
    free(text);
    envelope_free(&a);
}

static void expect_refused(const char *text, const char *why)
{
    struct envelope b;
    char err[200];

    assert_int_equal(envelope_decode(text, strlen(text), &b, err, sizeof(err)), -1);
    if (!strstr(err, why))
        fail_msg("reason \"%s\" does not mention \"%s\"", err, why);
    envelope_free(&b);
}

#define HEAD "mailtun-envelope 1\nid 0005f3a1c2d4e0001a2b\narrival 1700000000\n" \
             "direction inbound\nclient 192.0.2.1\nhelo h\nsender a@b\nbody -\nsize 5\n"

static void test_corrupt(void **state)
{
    struct envelope b;
    char err[200];

    (void)state;
    /* the valid base must pass, so the refusals below are about the one change */
    assert_int_equal(envelope_decode(HEAD "rcpt pending 0 0 c@d -\nend\n",
                                     strlen(HEAD "rcpt pending 0 0 c@d -\nend\n"), &b, err,
                                     sizeof(err)), 0);
    envelope_free(&b);
    expect_refused("garbage\n", "not a mailtun envelope");
    expect_refused(HEAD "end\n", "no recipients");
    expect_refused(HEAD "rcpt pending 0 0 c@d -\nend\nextra\n", "after");
    expect_refused(HEAD "rcpt waiting 0 0 c@d -\nend\n", "state");
    expect_refused(HEAD "rcpt pending x 0 c@d -\nend\n", "attempts");
    expect_refused(HEAD "rcpt pending 0 -5 c@d -\nend\n", "next attempt");
    expect_refused(HEAD "rcpt pending 0 0 c@d -\nfoo\n", "expected");
    expect_refused(HEAD "rcpt pending 0 0 c%0@d -\nend\n", "escape");
    expect_refused(HEAD "rcpt pending 0 0 c%00d -\nend\n", "escape");
    expect_refused(HEAD "rcpt pending 0 0 c@d - more\nend\n", "trailing");
    expect_refused(HEAD "rcpt pending 0 0 c@d\r -\nend\n", "control");
    expect_refused(HEAD "rcpt pending 0 0 - -\nend\n", "empty recipient");
    expect_refused(HEAD "rcpt pending 0 0 c@d -\nend", "newline");
    expect_refused("mailtun-envelope 1\nid ../../etc/passwd\n", "queue id");
    expect_refused("mailtun-envelope 1\nid 0005f3a1c2d4e0001a2b\narrival 99999999999999999999\n",
                   "arrival");
    expect_refused("mailtun-envelope 1\nid 0005f3a1c2d4e0001a2b\narrival 1\ndirection sideways\n",
                   "direction");
    {
        /* embedded NUL */
        const char t[] = "mailtun-envelope 1\nid 0005f3a1c2d4e0001a2b\0\n";

        assert_int_equal(envelope_decode(t, sizeof(t) - 1, &b, err, sizeof(err)), -1);
        envelope_free(&b);
    }
}

static void test_limits(void **state)
{
    struct envelope a;
    char err[200], *big;
    size_t len;

    (void)state;
    make(&a);
    big = malloc(ENV_MAX_ADDR + 2);
    memset(big, 'x', ENV_MAX_ADDR + 1);
    big[ENV_MAX_ADDR + 1] = '\0';
    assert_int_equal(envelope_set(&a.sender, big), 0);
    assert_null(envelope_encode(&a, &len, err, sizeof(err)));
    assert_non_null(strstr(err, "sender"));
    envelope_free(&a);
    free(big);

    assert_int_equal(envelope_init(&a), 0);
    for (int i = 0; i < ENV_MAX_RCPT; i++)
        assert_int_equal(envelope_add_rcpt(&a, "r@x", 0), 0);
    assert_int_equal(envelope_add_rcpt(&a, "r@x", 0), -1);
    envelope_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_null_sender),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
