/*
 * spool_trailer.c — the footer of a committed message's data file (see spool_trailer.h).
 */
#include "spool_trailer.h"

#include <stdio.h>
#include <string.h>

#include "envelope.h"

#define FOOTER_KEY "envelope-length "
#define FOOTER_KEY_LEN (sizeof(FOOTER_KEY) - 1)
#define FOOTER_DIGITS 10u

void spool_footer_encode(char out[SPOOL_FOOTER_LEN], size_t env_len)
{
    char tmp[SPOOL_FOOTER_LEN + 1];

    snprintf(tmp, sizeof(tmp), FOOTER_KEY "%010zu\n", env_len % 10000000000u);
    memcpy(out, tmp, SPOOL_FOOTER_LEN);
}

int spool_footer_decode(const char *p, size_t n, size_t *env_len, char *why, size_t whylen)
{
    size_t v = 0;

    if (n != SPOOL_FOOTER_LEN || memcmp(p, FOOTER_KEY, FOOTER_KEY_LEN) != 0 ||
        p[SPOOL_FOOTER_LEN - 1] != '\n') {
        snprintf(why, whylen, "no envelope trailer (commit cut short?)");
        return -1;
    }
    for (size_t i = FOOTER_KEY_LEN; i < FOOTER_KEY_LEN + FOOTER_DIGITS; i++) {
        if (p[i] < '0' || p[i] > '9') {
            snprintf(why, whylen, "envelope trailer length is not a number");
            return -1;
        }
        v = v * 10 + (size_t)(p[i] - '0');
    }
    if (v == 0 || v > ENV_MAX_ENCODED) {
        snprintf(why, whylen, "envelope trailer length %zu out of range (1..%u)", v,
                 (unsigned)ENV_MAX_ENCODED);
        return -1;
    }
    *env_len = v;
    return 0;
}
