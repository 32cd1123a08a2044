/*
 * tls.c — the STARTTLS server context of mailrelayd (see tls.h).
 *
 * Ciphers: TLS 1.3 suites are OpenSSL's defaults (all AEAD); for TLS 1.2 only ECDHE with
 * AES-GCM or ChaCha20-Poly1305. Mail servers on the Internet rarely verify certificates,
 * so the point is confidentiality against passive listeners, not client authentication.
 */
#include "tls.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"

#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1"

const char *tls_last_error(void)
{
    static char buf[256];
    unsigned long e = ERR_get_error();
    if (!e)
        return "no OpenSSL error";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

SSL_CTX *tls_server_ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create TLS context: %s", tls_last_error());
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                             SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        snprintf(err, errlen, "TLS cipher list refused: %s", tls_last_error());
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, errlen, "tls_cert %s: %s", cert, tls_last_error());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "tls_key %s: %s", key, tls_last_error());
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "tls_key %s does not match tls_cert %s", key, cert);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_server_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

SSL *tls_server_ssl_new(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        log_warnx("tls cannot create session error=\"%s\"", tls_last_error());
    return ssl;
}

const char *tls_describe(const SSL *ssl)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    return buf;
}
