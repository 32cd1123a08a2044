/*
 * spool_trailer.h — the envelope a committed message carries at the end of its data file.
 *
 * A message is committed as one file, <qid>.data = the message octets (env.size of them),
 * then the envelope's text (envelope.h), then a fixed-size footer that says how long that
 * text is:
 *
 *     <message octets><envelope text, ends "end\n">envelope-length NNNNNNNNNN\n
 *
 * One file means one fdatasync per message. A later change of the envelope (a delivery
 * attempt, a bounce) is written to <qid>.env beside it, which then takes precedence; the
 * trailer is never rewritten. Readers of the message stop after env.size octets.
 * Pure functions: no I/O.
 */
#ifndef MAILTUN_SPOOL_TRAILER_H
#define MAILTUN_SPOOL_TRAILER_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_FOOTER_LEN 27u          /* "envelope-length " + 10 digits + "\n" */

/* Writes the footer for an envelope text of env_len octets into out (no NUL). */
void spool_footer_encode(char out[SPOOL_FOOTER_LEN], size_t env_len);

/* Parses a footer; *env_len gets the envelope text's length. 0, or -1 with why. */
int spool_footer_decode(const char *p, size_t n, size_t *env_len, char *why, size_t whylen);

#endif
