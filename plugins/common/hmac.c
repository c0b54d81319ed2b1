/* hmac: digests through libcrypto. */
#include "common/hmac.h"

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static void s_hex(const unsigned char *digest, unsigned len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int sg_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t data_len,
                       char *out)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (key_len > (size_t)INT32_MAX ||
        !HMAC(EVP_sha256(), key, (int)key_len, data, data_len, digest, &len) || len != 32) {
        out[0] = '\0';
        return -1;
    }
    s_hex(digest, len, out);
    return 0;
}

int sg_hmac_sha256_digest_hex(const void *data, size_t data_len, char *out)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!EVP_Digest(data, data_len, digest, &len, EVP_sha256(), NULL) || len != 32) {
        out[0] = '\0';
        return -1;
    }
    s_hex(digest, len, out);
    return 0;
}
