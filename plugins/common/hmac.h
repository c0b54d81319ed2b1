/* hmac: HMAC-SHA256 and SHA-256 in hex: Windows CNG (bcrypt) on Windows,
 * OpenSSL's libcrypto elsewhere. */
#ifndef SG_PLUGIN_COMMON_HMAC_H
#define SG_PLUGIN_COMMON_HMAC_H

#include <stddef.h>

enum { SG_HMAC_HEX_LEN = 64 }; /* hex digits of a SHA-256 digest */

/* Writes the lower-case hex HMAC-SHA256 of `data` under `key` and a NUL into
 * out (SG_HMAC_HEX_LEN + 1 bytes). Returns 0, or -1 when the crypto library
 * fails (out is "" then). */
int sg_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t data_len,
                       char *out);

/* The same for a plain SHA-256 digest of `data`. */
int sg_hmac_sha256_digest_hex(const void *data, size_t data_len, char *out);

#endif
