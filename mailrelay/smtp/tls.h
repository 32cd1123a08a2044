/*
 * tls.h — mailrelayd's TLS server side for STARTTLS (OpenSSL).
 *
 * One SSL_CTX for all sessions, made from [relay] tls_cert (PEM chain) and tls_key before
 * privileges are dropped. TLS 1.2 is the minimum, only AEAD/forward-secret cipher suites
 * for 1.2, no compression, no renegotiation. The handshake itself runs in server.c on a
 * bufferevent_openssl.
 */
#ifndef MAILTUN_TLS_H
#define MAILTUN_TLS_H

#include <stddef.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

/* Loads cert and key and checks that they match. NULL with err filled on failure. */
SSL_CTX *tls_server_ctx_new(const char *cert, const char *key, char *err, size_t errlen);
void tls_server_ctx_free(SSL_CTX *ctx);

/* A fresh server-side SSL for one connection; NULL on failure (logged). */
SSL *tls_server_ssl_new(SSL_CTX *ctx);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for log lines (static buffer, loop thread only). */
const char *tls_describe(const SSL *ssl);

/* The last OpenSSL error as text (and clears the error queue). */
const char *tls_last_error(void);

#endif
