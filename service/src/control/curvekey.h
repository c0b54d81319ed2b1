/* curvekey: CURVE keys as text and files, shared by the service (its
 * secret keys, config/keyfile.h) and the clients, siteguardctl and sg-probe
 * (the server's public key and their own key file). Depends on libzmq only.
 * Thread rules: none (no state); the caller owns the key buffers and wipes
 * the secret ones. */
#ifndef SG_CURVEKEY_H
#define SG_CURVEKEY_H

#include <stdbool.h>
#include <stddef.h>

/* The first line of `text` that is not blank or a # comment, trimmed, when
 * it is a CURVE key (40 characters of Z85, as `siteguardctl keygen` writes
 * it): copied into key[41] (NUL-terminated). false when that line is not a
 * key or there is no such line; key is then unspecified. */
bool sg_curvekey_parse(const char *text, char key[41]);

/* The keys of a CURVE client: the server's public key, its own pair. */
typedef struct {
    char server[41], public_key[41], secret[41];
} sg_curvekey_client_t;

/* Reads a client's keys: `server_key` is the server's public key as Z85
 * text or the path of a file holding it, `key_file` the client's secret key
 * file (as keygen writes it); its public key is computed. 0, or -1 with the
 * reason in err (never a key's text but a public one). */
int sg_curvekey_client(const char *server_key, const char *key_file, sg_curvekey_client_t *k,
                       char *err, size_t err_len);

/* Makes `sock` a CURVE client with k (before it connects or binds). 0 or -1. */
int sg_curvekey_set_client(void *sock, const sg_curvekey_client_t *k);

#endif
