/* hmac: digests through Windows CNG or libcrypto; one hex rendering. */
#include "common/hmac.h"

#include <limits.h>
#include <stdint.h>

#if defined(_WIN32)
#include <windows.h>
#include <bcrypt.h>
#else
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

enum { S_DIGEST_LEN = 32 };

static void s_hex(const unsigned char *digest, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < S_DIGEST_LEN; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    out[2 * S_DIGEST_LEN] = '\0';
}

#if defined(_WIN32)

/* SHA-256 of data, keyed (HMAC) when key is not NULL. BCrypt takes ULONG
 * lengths: larger inputs are refused. */
static int s_digest(const void *key, size_t key_len, const void *data, size_t data_len,
                    unsigned char *digest)
{
    BCRYPT_ALG_HANDLE alg = NULL;
    BCRYPT_HASH_HANDLE hash = NULL;
    int rc = -1;
    if (key_len > ULONG_MAX || data_len > ULONG_MAX)
        return -1;
    if (!BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA256_ALGORITHM, NULL,
                                                    key ? BCRYPT_ALG_HANDLE_HMAC_FLAG : 0)))
        goto fail;
    if (!BCRYPT_SUCCESS(BCryptCreateHash(alg, &hash, NULL, 0, (PUCHAR)key, (ULONG)key_len, 0)) ||
        !BCRYPT_SUCCESS(BCryptHashData(hash, (PUCHAR)data, (ULONG)data_len, 0)) ||
        !BCRYPT_SUCCESS(BCryptFinishHash(hash, digest, S_DIGEST_LEN, 0)))
        goto fail;
    rc = 0;
fail:
    if (hash)
        BCryptDestroyHash(hash);
    if (alg)
        BCryptCloseAlgorithmProvider(alg, 0);
    return rc;
}

#else

static int s_digest(const void *key, size_t key_len, const void *data, size_t data_len,
                    unsigned char *digest)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    int ok = key ? key_len <= (size_t)INT32_MAX &&
                       HMAC(EVP_sha256(), key, (int)key_len, data, data_len, md, &len) != NULL
                 : EVP_Digest(data, data_len, md, &len, EVP_sha256(), NULL) == 1;
    if (!ok || len != S_DIGEST_LEN)
        return -1;
    for (unsigned i = 0; i < S_DIGEST_LEN; i++)
        digest[i] = md[i];
    return 0;
}

#endif

int sg_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t data_len,
                       char *out)
{
    unsigned char digest[S_DIGEST_LEN];
    /* an empty key is still a key: HMAC under "" */
    if (s_digest(key ? key : "", key_len, data, data_len, digest) != 0) {
        out[0] = '\0';
        return -1;
    }
    s_hex(digest, out);
    return 0;
}

int sg_hmac_sha256_digest_hex(const void *data, size_t data_len, char *out)
{
    unsigned char digest[S_DIGEST_LEN];
    if (s_digest(NULL, 0, data, data_len, digest) != 0) {
        out[0] = '\0';
        return -1;
    }
    s_hex(digest, out);
    return 0;
}
