/*
 * test_policy.c — inbound recipient policy: domains, the recipients file, and an empty
 * recipients file refusing everyone (never accepting the whole domain).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy.h"

static char *domain_v[] = { "example.org" };

/* Writes text to a fresh temporary file; the caller unlinks and frees the path. */
static char *write_file(const char *text)
{
    char *path = strdup("/tmp/test_policy.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* The verdict for address from an inbound (fixed-address) client, recipients file as given. */
static enum smtp_verdict verdict(const char *recipients_text, const char *address)
{
    struct relay_conf c;
    char err[256] = "";
    char *path = recipients_text ? write_file(recipients_text) : NULL;

    memset(&c, 0, sizeof(c));
    c.domains.n = 1;
    c.domains.v = domain_v;
    c.recipients = path;
    struct policy *p = policy_new(&c, err, sizeof(err));
    if (!p)
        fail_msg("policy_new: %s", err);
    struct policy_client pc = { .policy = p };
    assert_int_equal(policy_client_allowed(&pc, "203.0.113.5"), SMTP_ACCEPT);
    enum smtp_verdict v = policy_rcpt_allowed(&pc, address);
    policy_free(p);
    if (path) {
        unlink(path);
        free(path);
    }
    return v;
}

static void test_domain_only(void **state)
{
    (void)state;
    assert_int_equal(verdict(NULL, "anyone@example.org"), SMTP_ACCEPT);
    assert_int_equal(verdict(NULL, "anyone@EXAMPLE.org"), SMTP_ACCEPT);
    assert_int_not_equal(verdict(NULL, "anyone@example.net"), SMTP_ACCEPT);
}

static void test_listed_only(void **state)
{
    (void)state;
    const char *file = "# who we take mail for\n\n  alice@example.org  \nbob@example.org\n";
    assert_int_equal(verdict(file, "alice@example.org"), SMTP_ACCEPT);
    assert_int_equal(verdict(file, "Bob@Example.org"), SMTP_ACCEPT);
    assert_int_equal(verdict(file, "carol@example.org"), SMTP_REJECT_UNKNOWN_USER);
    assert_int_not_equal(verdict(file, "alice@example.net"), SMTP_ACCEPT);
}

/* A configured file that lists nobody (empty, or only comments) must refuse every
 * recipient: falling back to "the whole domain" would open it to anyone. */
static void test_empty_file_refuses_all(void **state)
{
    (void)state;
    assert_int_not_equal(verdict("", "alice@example.org"), SMTP_ACCEPT);
    assert_int_not_equal(verdict("# nobody yet\n\n", "alice@example.org"), SMTP_ACCEPT);
    assert_int_not_equal(verdict("", "@example.org"), SMTP_ACCEPT);
    assert_int_not_equal(verdict("", ""), SMTP_ACCEPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_only),
        cmocka_unit_test(test_listed_only),
        cmocka_unit_test(test_empty_file_refuses_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
