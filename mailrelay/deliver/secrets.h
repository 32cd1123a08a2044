/*
 * secrets.h — the SMTP AUTH credentials for the provider's smarthost ([outbound] secrets).
 *
 * The file holds one line "user password" (the password is the rest of the line, so it may
 * contain blanks; blank lines and lines starting with '#' are ignored). It must be a regular
 * file owned by root (or by the user running mailrelayd) and closed to group and others
 * (chmod 600): anything else is refused with the file's name and the fix. mailrelayd reads it
 * as root, before dropping privileges.
 *
 * Needs: libc only.
 */
#ifndef MAILTUN_SECRETS_H
#define MAILTUN_SECRETS_H

#include <stddef.h>

#define SECRETS_MAX_FIELD 255       /* octets of the user name and of the password */
#define SECRETS_MAX_FILE 4096       /* a bigger file is refused */

struct smtp_secret {
    char user[SECRETS_MAX_FIELD + 1];
    char pass[SECRETS_MAX_FIELD + 1];
};

/* Fills *s from path. 0, or -1 with err naming the file, the problem and the fix. */
int secrets_load(const char *path, struct smtp_secret *s, char *err, size_t errlen);

/* Parses the file's text (no I/O, for tests). 0, or -1 with err ("line 3: ..."). */
int secrets_parse(const char *text, size_t len, struct smtp_secret *s, char *err, size_t errlen);

/* Overwrites the credentials (explicit_bzero). */
void secrets_wipe(struct smtp_secret *s);

#endif
