/*
 * smtp_parser.c — pure RFC 5321 codecs for the server side: the CRLF-only line splitter,
 * the command parser (strict path syntax, ESMTP parameters, RFC 6531 UTF-8 local parts)
 * and the DATA body processor (dot-unstuffing, end marker, size and line limits).
 *
 * No I/O and no allocation, so the unit tests and the fuzzer drive it directly.
 * Grammar references are to RFC 5321 section 4.1.2 unless said otherwise.
 */
#include "smtp_parser.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* ---- line splitter ---------------------------------------------------------------------- */

void smtp_line_init(struct smtp_linebuf *lb, size_t max)
{
    memset(lb, 0, sizeof(*lb));
    if (max < 8)
        max = 8;
    if (max > SMTP_LINE_MAX)
        max = SMTP_LINE_MAX;
    lb->max = max;
}

void smtp_line_reset(struct smtp_linebuf *lb)
{
    smtp_line_init(lb, lb->max);
}

static enum smtp_line_status line_finish(struct smtp_linebuf *lb, bool bare_lf)
{
    lb->ready = true;
    lb->cr = false;
    lb->buf[lb->len] = '\0';    /* len <= max - 2, so there is room */
    if (bare_lf)
        return SMTP_LINE_BARE_LF;
    if (lb->bare_cr)
        return SMTP_LINE_BARE_CR;
    if (lb->total > lb->max - 2)
        return SMTP_LINE_TOO_LONG;
    return SMTP_LINE_OK;
}

size_t smtp_line_feed(struct smtp_linebuf *lb, const char *in, size_t n,
                      enum smtp_line_status *st)
{
    if (lb->ready) {
        lb->ready = false;
        lb->len = 0;
        lb->total = 0;
        lb->bare_cr = false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (lb->cr) {
            lb->cr = false;
            if (c == '\n') {
                *st = line_finish(lb, false);
                return i + 1;
            }
            lb->bare_cr = true;
            lb->total++;
        }
        if (c == '\r') {
            lb->cr = true;
            continue;
        }
        if (c == '\n') {
            *st = line_finish(lb, true);
            return i + 1;
        }
        /* Past the limit only count: the rest of the line is skipped, not stored. */
        if (lb->total < lb->max - 2)
            lb->buf[lb->len++] = c;
        lb->total++;
    }
    *st = SMTP_LINE_NEED_MORE;
    return n;
}

const char *smtp_line_status_str(enum smtp_line_status st)
{
    switch (st) {
    case SMTP_LINE_NEED_MORE: return "incomplete line";
    case SMTP_LINE_OK: return "ok";
    case SMTP_LINE_TOO_LONG: return "line too long";
    case SMTP_LINE_BARE_CR: return "bare CR";
    case SMTP_LINE_BARE_LF: return "bare LF";
    }
    return "?";
}

/* ---- character classes ------------------------------------------------------------------ */

static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }

/* RFC 5322 atext */
static bool is_atext(unsigned char c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
static bool is_qtext(unsigned char c)
{
    return c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}

/* esmtp-value: %d33-60 / %d62-126 */
static bool is_esmtp_value(unsigned char c)
{
    return (c >= 33 && c <= 60) || (c >= 62 && c <= 126);
}

size_t smtp_utf8_seq_len(const unsigned char *p, size_t n)
{
    /* RFC 3629 section 4: no overlongs, no surrogates, nothing above U+10FFFF. */
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (n < len)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

bool smtp_utf8_valid(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        size_t l = smtp_utf8_seq_len(u + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

/* ---- domains and address literals ------------------------------------------------------- */

static bool ipv4_literal_valid(const char *p, size_t n)
{
    /* Snum "." Snum "." Snum "." Snum, Snum = 1*3DIGIT 0..255 */
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || p[i] != '.')
                return false;
            i++;
        }
        unsigned v = 0, digits = 0;
        while (i < n && is_digit((unsigned char)p[i]) && digits < 4) {
            v = v * 10 + (unsigned)(p[i] - '0');
            digits++;
            i++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return false;
    }
    return i == n;
}

static bool address_literal_valid(const char *p, size_t n)
{
    if (n < 3 || p[0] != '[' || p[n - 1] != ']')
        return false;
    p++;
    n -= 2;
    if (n > 5 && strncasecmp(p, "IPv6:", 5) == 0) {
        char buf[64];
        struct in6_addr a;
        if (n - 5 >= sizeof(buf))
            return false;
        for (size_t i = 5; i < n; i++)
            if (!is_alnum((unsigned char)p[i]) && p[i] != ':' && p[i] != '.')
                return false;
        memcpy(buf, p + 5, n - 5);
        buf[n - 5] = '\0';
        return inet_pton(AF_INET6, buf, &a) == 1;
    }
    /* General-address-literal needs an IANA-registered tag; none besides IPv6 exists. */
    return ipv4_literal_valid(p, n);
}

bool smtp_domain_valid(const char *p, size_t n, bool *is_literal)
{
    if (is_literal)
        *is_literal = false;
    if (n == 0 || n > SMTP_DOMAIN_MAX)
        return false;
    if (p[0] == '[') {
        if (is_literal)
            *is_literal = true;
        return address_literal_valid(p, n);
    }
    /* sub-domain = Let-dig [Ldh-str]; DNS labels are at most 63 octets. */
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '.') {
            if (label == 0 || p[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (is_alnum(c) || (c == '-' && label > 0))
            label++;
        else
            return false;
        if (label > 63)
            return false;
    }
    return label > 0 && p[n - 1] != '-';
}

/* ---- paths ------------------------------------------------------------------------------ */

/* Finds the ">" closing the path that starts with "<" at p[0], honouring quoted strings.
 * Returns the length of the path including both brackets, 0 if unterminated. */
static size_t path_extent(const char *p, size_t n)
{
    bool quoted = false;
    for (size_t i = 1; i < n; i++) {
        if (quoted) {
            if (p[i] == '\\' && i + 1 < n)
                i++;
            else if (p[i] == '"')
                quoted = false;
        } else if (p[i] == '"') {
            quoted = true;
        } else if (p[i] == '>') {
            return i + 1;
        }
    }
    return 0;
}

/* One non-ASCII character of a local part at u[i]: its length, or 0 with the status set. */
static size_t local_utf8(const unsigned char *u, size_t n, bool utf8,
                         enum smtp_parse_status *st, const char **why)
{
    if (!utf8) {
        *st = SMTP_PARSE_NON_ASCII;
        *why = "non-ASCII address without SMTPUTF8";
        return 0;
    }
    size_t l = smtp_utf8_seq_len(u, n);
    if (l < 2) {
        *st = SMTP_PARSE_BAD_PATH;
        *why = "invalid UTF-8 in local part";
        return 0;
    }
    return l;
}

/* '<' and '>' are legal in a quoted string (RFC 5321), but the client side (smtp_client.c
 * arg_ok) will not put them inside a path it sends: refuse them here too, so a recipient
 * that gets 250 can be delivered (one grammar for both sides). */
static bool is_path_delim(unsigned char c)
{
    return c == '<' || c == '>';
}

/* Local-part = Dot-string / Quoted-string. Returns its length, 0 with *st set on error. */
static size_t parse_local_part(const char *p, size_t n, bool utf8, bool *has_utf8,
                               enum smtp_parse_status *st, const char **why)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    *st = SMTP_PARSE_BAD_PATH;
    if (n > 0 && p[0] == '"') {
        for (i = 1; i < n; i++) {
            if (u[i] == '"')
                return i + 1;
            if (u[i] == '\\') {
                if (i + 1 >= n || u[i + 1] < 32 || u[i + 1] > 126) {
                    *why = "bad quoted-pair in local part";
                    return 0;
                }
                if (is_path_delim(u[i + 1])) {
                    *why = "'<' or '>' in local part";
                    return 0;
                }
                i++;
            } else if (u[i] >= 0x80) {
                size_t l = local_utf8(u + i, n - i, utf8, st, why);
                if (!l)
                    return 0;
                *has_utf8 = true;
                i += l - 1;
            } else if (!is_qtext(u[i])) {
                *why = "bad character in quoted local part";
                return 0;
            } else if (is_path_delim(u[i])) {
                *why = "'<' or '>' in local part";
                return 0;
            }
        }
        *why = "unterminated quoted local part";
        return 0;
    }
    bool atom_start = true;
    for (i = 0; i < n && p[i] != '@'; i++) {
        if (p[i] == '.') {
            if (atom_start) {
                *why = "empty atom in local part (leading or double dot)";
                return 0;
            }
            atom_start = true;
            continue;
        }
        if (u[i] >= 0x80) {
            size_t l = local_utf8(u + i, n - i, utf8, st, why);
            if (!l)
                return 0;
            *has_utf8 = true;
            i += l - 1;
        } else if (!is_atext(u[i])) {
            *why = "bad character in local part";
            return 0;
        }
        atom_start = false;
    }
    if (i == 0) {
        *why = "empty local part";
        return 0;
    }
    if (atom_start) {
        *why = "local part ends with a dot";
        return 0;
    }
    return i;
}

/* p/n is exactly "<...>". rcpt: allow <Postmaster>; mail: allow <>. */
static enum smtp_parse_status parse_path(const char *p, size_t n, bool is_mail, bool utf8,
                                         struct smtp_path *out, const char **why)
{
    enum smtp_parse_status st;
    memset(out, 0, sizeof(*out));
    if (n > SMTP_PATH_MAX) {
        *why = "path longer than 256 octets";
        return SMTP_PARSE_PATH_LENGTH;
    }
    const char *s = p + 1;
    size_t len = n - 2;
    if (len == 0) {
        if (!is_mail) {
            *why = "null path not allowed in RCPT";
            return SMTP_PARSE_BAD_PATH;
        }
        out->is_null = true;
        return SMTP_PARSE_OK;
    }
    /* A-d-l = At-domain *( "," At-domain ) ":" — accepted and ignored (RFC 5321 3.3, C). */
    if (s[0] == '@') {
        size_t colon = 0;
        while (colon < len && s[colon] != ':')
            colon++;
        if (colon == len) {
            *why = "source route without ':'";
            return SMTP_PARSE_BAD_PATH;
        }
        size_t i = 0;
        while (i < colon) {
            if (s[i] != '@') {
                *why = "bad source route";
                return SMTP_PARSE_BAD_PATH;
            }
            size_t e = i + 1;
            while (e < colon && s[e] != ',')
                e++;
            if (!smtp_domain_valid(s + i + 1, e - i - 1, NULL)) {
                *why = "bad domain in source route";
                return SMTP_PARSE_BAD_PATH;
            }
            i = e + 1;
            if (e < colon && i == colon) {
                *why = "bad source route";
                return SMTP_PARSE_BAD_PATH;
            }
        }
        s += colon + 1;
        len -= colon + 1;
    }
    bool has_utf8 = false;
    size_t ll = parse_local_part(s, len, utf8, &has_utf8, &st, why);
    if (ll == 0)
        return st;
    if (ll == len && !is_mail && !has_utf8 && strncasecmp(s, "postmaster", len) == 0 &&
        len == 10) {
        memcpy(out->addr, s, len);
        out->local_len = len;
        return SMTP_PARSE_OK;
    }
    if (ll >= len || s[ll] != '@') {
        *why = "missing '@domain'";
        return SMTP_PARSE_BAD_PATH;
    }
    if (ll > SMTP_LOCAL_MAX) {
        *why = "local part longer than 64 octets";
        return SMTP_PARSE_PATH_LENGTH;
    }
    const char *dom = s + ll + 1;
    size_t dl = len - ll - 1;
    if (dl > SMTP_DOMAIN_MAX) {
        *why = "domain longer than 255 octets";
        return SMTP_PARSE_PATH_LENGTH;
    }
    for (size_t i = 0; i < dl; i++)
        if ((unsigned char)dom[i] >= 0x80) {
            *why = "non-ASCII domain (use A-labels)";
            return SMTP_PARSE_BAD_PATH;
        }
    if (!smtp_domain_valid(dom, dl, &out->domain_literal)) {
        *why = "bad domain";
        return SMTP_PARSE_BAD_PATH;
    }
    memcpy(out->addr, s, len);
    out->addr[len] = '\0';
    out->local_len = ll;
    out->domain_len = dl;
    out->utf8 = has_utf8;
    return SMTP_PARSE_OK;
}

/* ---- MAIL parameters -------------------------------------------------------------------- */

static enum smtp_parse_status parse_mail_params(const char *p, size_t n, struct smtp_cmd *cmd)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] != ' ') {
            cmd->why = "parameters must be separated by a space";
            return SMTP_PARSE_SYNTAX;
        }
        while (i < n && p[i] == ' ')
            i++;
        if (i == n)
            break;
        size_t k = i;
        if (!is_alnum((unsigned char)p[i])) {
            cmd->why = "bad parameter keyword";
            return SMTP_PARSE_PARAM_SYNTAX;
        }
        while (i < n && (is_alnum((unsigned char)p[i]) || p[i] == '-'))
            i++;
        size_t klen = i - k;
        const char *val = NULL;
        size_t vlen = 0;
        if (i < n && p[i] == '=') {
            val = p + ++i;
            while (i < n && is_esmtp_value((unsigned char)p[i]))
                i++;
            vlen = (size_t)(p + i - val);
            if (vlen == 0) {
                cmd->why = "empty parameter value";
                return SMTP_PARSE_PARAM_SYNTAX;
            }
        }
        if (i < n && p[i] != ' ') {
            cmd->why = "bad character in parameter";
            return SMTP_PARSE_PARAM_SYNTAX;
        }
        if (klen == 4 && strncasecmp(p + k, "SIZE", 4) == 0) {
            if (cmd->has_size) {
                cmd->why = "duplicate SIZE";
                return SMTP_PARSE_PARAM_SYNTAX;
            }
            if (!val || vlen > 20) {
                cmd->why = "SIZE needs a number";
                return SMTP_PARSE_PARAM_SYNTAX;
            }
            uint64_t v = 0;
            for (size_t j = 0; j < vlen; j++) {
                uint64_t digit = (uint64_t)(val[j] - '0');
                if (!is_digit((unsigned char)val[j]) || v > (UINT64_MAX - digit) / 10) {
                    cmd->why = "SIZE needs a number";
                    return SMTP_PARSE_PARAM_SYNTAX;
                }
                v = v * 10 + digit;
            }
            cmd->has_size = true;
            cmd->size = v;
        } else if (klen == 4 && strncasecmp(p + k, "BODY", 4) == 0) {
            if (cmd->body != SMTP_BODY_NONE) {
                cmd->why = "duplicate BODY";
                return SMTP_PARSE_PARAM_SYNTAX;
            }
            if (val && vlen == 4 && strncasecmp(val, "7BIT", 4) == 0)
                cmd->body = SMTP_BODY_7BIT;
            else if (val && vlen == 8 && strncasecmp(val, "8BITMIME", 8) == 0)
                cmd->body = SMTP_BODY_8BITMIME;
            else if (!val) {
                cmd->why = "BODY needs a value";
                return SMTP_PARSE_PARAM_SYNTAX;
            } else {
                cmd->why = "unsupported BODY value (7BIT or 8BITMIME)";
                return SMTP_PARSE_PARAM;
            }
        } else if (klen == 8 && strncasecmp(p + k, "SMTPUTF8", 8) == 0) {
            if (val) {
                cmd->why = "SMTPUTF8 takes no value";
                return SMTP_PARSE_PARAM_SYNTAX;
            }
            if (cmd->smtputf8) {
                cmd->why = "duplicate SMTPUTF8";
                return SMTP_PARSE_PARAM_SYNTAX;
            }
            cmd->smtputf8 = true;
        } else {
            cmd->why = "unsupported parameter";
            return SMTP_PARSE_PARAM;
        }
    }
    return SMTP_PARSE_OK;
}

/* ---- commands --------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum smtp_verb verb;
} verbs[] = {
    { "HELO", SMTP_VERB_HELO }, { "EHLO", SMTP_VERB_EHLO }, { "MAIL", SMTP_VERB_MAIL },
    { "RCPT", SMTP_VERB_RCPT }, { "DATA", SMTP_VERB_DATA }, { "RSET", SMTP_VERB_RSET },
    { "NOOP", SMTP_VERB_NOOP }, { "QUIT", SMTP_VERB_QUIT }, { "VRFY", SMTP_VERB_VRFY },
    { "HELP", SMTP_VERB_HELP }, { "STARTTLS", SMTP_VERB_STARTTLS }, { "EXPN", SMTP_VERB_EXPN },
};

const char *smtp_verb_name(enum smtp_verb v)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].verb == v)
            return verbs[i].name;
    return "UNKNOWN";
}

/* "MAIL FROM:" / "RCPT TO:" followed by a path and parameters. */
static enum smtp_parse_status parse_mail_rcpt(const char *a, size_t n, bool is_mail,
                                              bool utf8_txn, struct smtp_cmd *cmd)
{
    const char *kw = is_mail ? "FROM:" : "TO:";
    size_t kwlen = strlen(kw);
    if (n < kwlen || strncasecmp(a, kw, kwlen) != 0) {
        cmd->why = is_mail ? "expected MAIL FROM:<address>" : "expected RCPT TO:<address>";
        return SMTP_PARSE_SYNTAX;
    }
    size_t i = kwlen;
    while (i < n && a[i] == ' ')    /* "FROM: <a@b>" is common; harmless to accept */
        i++;
    if (i >= n || a[i] != '<') {
        cmd->why = "address must be enclosed in <>";
        return SMTP_PARSE_SYNTAX;
    }
    size_t plen = path_extent(a + i, n - i);
    if (plen == 0) {
        cmd->why = "missing '>'";
        return SMTP_PARSE_SYNTAX;
    }
    enum smtp_parse_status st;
    if (is_mail) {
        st = parse_mail_params(a + i + plen, n - i - plen, cmd);
        if (st != SMTP_PARSE_OK)
            return st;
    } else if (i + plen < n) {
        if (a[i + plen] != ' ') {
            cmd->why = "garbage after address";
            return SMTP_PARSE_SYNTAX;
        }
        cmd->why = "RCPT parameters are not supported";
        return SMTP_PARSE_PARAM;
    }
    return parse_path(a + i, plen, is_mail, is_mail ? cmd->smtputf8 : utf8_txn, &cmd->path,
                      &cmd->why);
}

static bool printable_ascii(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
            return false;
    return true;
}

enum smtp_parse_status smtp_cmd_parse(const char *line, size_t len, bool utf8_txn,
                                      struct smtp_cmd *cmd)
{
    size_t i = 0;
    cmd->verb = SMTP_VERB_UNKNOWN;
    cmd->arg[0] = '\0';
    memset(&cmd->path, 0, sizeof(cmd->path));
    cmd->has_size = false;
    cmd->size = 0;
    cmd->body = SMTP_BODY_NONE;
    cmd->smtputf8 = false;
    cmd->why = NULL;

    while (i < len && is_alpha((unsigned char)line[i]))
        i++;
    if (i == 0 || i > 8 || (i < len && line[i] != ' ')) {
        cmd->why = "command unrecognized";
        return SMTP_PARSE_UNKNOWN;
    }
    for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
        if (strlen(verbs[v].name) == i && strncasecmp(line, verbs[v].name, i) == 0)
            cmd->verb = verbs[v].verb;
    if (cmd->verb == SMTP_VERB_UNKNOWN) {
        cmd->why = "command unrecognized";
        return SMTP_PARSE_UNKNOWN;
    }

    /* Argument: after one space; trailing spaces are tolerated. */
    const char *a = line + i;
    size_t n = len - i;
    if (n > 0) {
        a++;
        n--;
    }
    while (n > 0 && a[n - 1] == ' ')
        n--;

    switch (cmd->verb) {
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
        if (n == 0) {
            cmd->why = "hostname required";
            return SMTP_PARSE_SYNTAX;
        }
        if (!printable_ascii(a, n) || !smtp_domain_valid(a, n, NULL)) {
            cmd->why = "hostname must be a domain or an address literal";
            return SMTP_PARSE_SYNTAX;
        }
        break;
    case SMTP_VERB_MAIL:
    case SMTP_VERB_RCPT:
        return parse_mail_rcpt(a, n, cmd->verb == SMTP_VERB_MAIL, utf8_txn, cmd);
    case SMTP_VERB_DATA:
    case SMTP_VERB_RSET:
    case SMTP_VERB_QUIT:
    case SMTP_VERB_STARTTLS:
        if (n > 0) {
            cmd->why = "no parameters allowed";
            return SMTP_PARSE_NO_PARAMS;
        }
        return SMTP_PARSE_OK;
    case SMTP_VERB_VRFY:
    case SMTP_VERB_EXPN:
        if (n == 0) {
            cmd->why = "argument required";
            return SMTP_PARSE_SYNTAX;
        }
        /* fall through */
    case SMTP_VERB_NOOP:
    case SMTP_VERB_HELP:
        /* VRFY may carry a UTF-8 string (RFC 6531); everything else is printable ASCII. */
        if (!printable_ascii(a, n) &&
            !(cmd->verb == SMTP_VERB_VRFY && smtp_utf8_valid(a, n))) {
            cmd->why = "bad character in argument";
            return SMTP_PARSE_SYNTAX;
        }
        break;
    case SMTP_VERB_UNKNOWN:
        return SMTP_PARSE_UNKNOWN;
    }
    memcpy(cmd->arg, a, n);     /* n < SMTP_LINE_MAX: the line came from a smtp_linebuf */
    cmd->arg[n] = '\0';
    return SMTP_PARSE_OK;
}

/* ---- DATA body processor ---------------------------------------------------------------- */

enum { D_BOL = 0, D_DOT, D_DOT_CR, D_TEXT, D_CR };

void smtp_data_init(struct smtp_data *d, size_t max_line, uint64_t max_size)
{
    d->state = D_BOL;
    d->linelen = 0;
    d->max_line = max_line < 8 ? 8 : max_line;
    d->max_size = max_size;
    d->size = 0;
    d->err = SMTP_DATA_OK;
    d->outlen = 0;
}

void smtp_data_flushed(struct smtp_data *d)
{
    d->outlen = 0;
}

static void data_fail(struct smtp_data *d, enum smtp_data_error e)
{
    if (d->err == SMTP_DATA_OK)
        d->err = e;
}

static void data_emit(struct smtp_data *d, char c)
{
    if (d->err != SMTP_DATA_OK)
        return;
    if (d->max_size && d->size + 1 > d->max_size) {
        data_fail(d, SMTP_DATA_ERR_SIZE);
        return;
    }
    d->size++;
    d->out[d->outlen++] = c;
}

/* An octet inside a line (not at its start). */
static void data_text(struct smtp_data *d, char c)
{
    if (c == '\r') {
        d->state = D_CR;
        return;
    }
    d->state = D_TEXT;
    if (c == '\n') {
        /* Not a line end: "\n.\r\n" or "\n.\n" must never end the message. */
        data_fail(d, SMTP_DATA_ERR_BARE_LF);
        return;
    }
    if (++d->linelen > d->max_line - 2)
        data_fail(d, SMTP_DATA_ERR_LINE);
    data_emit(d, c);
}

enum smtp_data_status smtp_data_feed(struct smtp_data *d, const char *in, size_t n,
                                     size_t *consumed)
{
    for (size_t i = 0; i < n; i++) {
        if (d->outlen + 2 > sizeof(d->out)) {
            *consumed = i;
            return SMTP_DATA_FLUSH;
        }
        char c = in[i];
        switch (d->state) {
        case D_BOL:
            if (c == '.') {
                d->state = D_DOT;
                d->linelen = 1;
            } else {
                data_text(d, c);
            }
            break;
        case D_DOT:
            if (c == '\r')
                d->state = D_DOT_CR;
            else
                data_text(d, c);  /* the leading dot was stuffing: dropped */
            break;
        case D_DOT_CR:
            if (c == '\n') {
                d->state = D_BOL;
                *consumed = i + 1;
                return SMTP_DATA_END;
            }
            data_fail(d, SMTP_DATA_ERR_BARE_CR);
            data_text(d, c);
            break;
        case D_CR:
            if (c == '\n') {
                data_emit(d, '\r');
                data_emit(d, '\n');
                d->linelen = 0;
                d->state = D_BOL;
            } else {
                data_fail(d, SMTP_DATA_ERR_BARE_CR);
                data_text(d, c);
            }
            break;
        default:    /* D_TEXT */
            data_text(d, c);
            break;
        }
    }
    *consumed = n;
    return SMTP_DATA_NEED_MORE;
}

const char *smtp_data_error_str(enum smtp_data_error e)
{
    switch (e) {
    case SMTP_DATA_OK: return "ok";
    case SMTP_DATA_ERR_BARE_CR: return "bare CR in message";
    case SMTP_DATA_ERR_BARE_LF: return "bare LF in message";
    case SMTP_DATA_ERR_LINE: return "line longer than 1000 octets in message";
    case SMTP_DATA_ERR_SIZE: return "message too big";
    }
    return "?";
}

/* ---- hop count -------------------------------------------------------------------------- */

void smtp_hops_init(struct smtp_hops *h)
{
    memset(h, 0, sizeof(*h));
}

static bool is_received_field(const char *l, size_t n)
{
    size_t i = 8;
    if (n < 9 || strncasecmp(l, "Received", 8) != 0)
        return false;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    return i < n && l[i] == ':';
}

void smtp_hops_feed(struct smtp_hops *h, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !h->body; i++) {
        if (p[i] != '\n') {
            if (h->col < sizeof(h->start))
                h->start[h->col] = p[i];
            h->col++;
            continue;
        }
        size_t len = h->col < sizeof(h->start) ? h->col : sizeof(h->start);
        if (h->col == 0 || (h->col == 1 && h->start[0] == '\r'))
            h->body = true;
        else if (is_received_field(h->start, len))
            h->count++;
        h->col = 0;
    }
}
