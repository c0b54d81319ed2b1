#include "control/curvekey.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

bool sg_curvekey_parse(const char *text, char key[41])
{
    while (*text) {
        size_t len = strcspn(text, "\r\n");
        size_t lead = strspn(text, " \t");
        if (lead < len && text[lead] != '#') {
            size_t n = len - lead;
            while (n && (text[lead + n - 1] == ' ' || text[lead + n - 1] == '\t'))
                n--;
            uint8_t bin[32];
            if (n != 40)
                return false;
            memcpy(key, text + lead, 40);
            key[40] = '\0';
            return zmq_z85_decode(bin, key) != NULL;
        }
        text += len;
        text += strspn(text, "\r\n");
    }
    return false;
}

/* Zeroes a buffer that held a secret in a way the compiler keeps (a store
 * through a volatile pointer is never dropped as dead). */
static void s_wipe(char *buf, size_t len)
{
    volatile char *p = buf;
    while (len--)
        *p++ = 0;
}

/* The key in the file at path; 0, or -1 with the reason in err (`what`
 * names the file's role). */
static int s_read_file(const char *path, const char *what, char key[41], char *err,
                       size_t err_len)
{
    char text[1024] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot read the %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    bool ok = sg_curvekey_parse(text, key);
    s_wipe(text, sizeof text);
    if (!ok)
        snprintf(err, err_len, "the %s %s holds no CURVE key (40 characters of Z85, as "
                               "'siteguardctl keygen' writes it)", what, path);
    return ok ? 0 : -1;
}

int sg_curvekey_client(const char *server_key, const char *key_file, sg_curvekey_client_t *k,
                       char *err, size_t err_len)
{
    uint8_t bin[32];
    if (!zmq_has("curve")) {
        snprintf(err, err_len, "this libzmq has no CURVE support");
        return -1;
    }
    if (strlen(server_key) == 40 && zmq_z85_decode(bin, server_key))
        memcpy(k->server, server_key, 41);
    else if (s_read_file(server_key, "server key file", k->server, err, err_len) != 0)
        return -1;
    if (s_read_file(key_file, "key file", k->secret, err, err_len) != 0)
        return -1;
    if (zmq_curve_public(k->public_key, k->secret) != 0) {
        snprintf(err, err_len, "the key file %s holds no valid secret key", key_file);
        return -1;
    }
    return 0;
}

int sg_curvekey_set_client(void *sock, const sg_curvekey_client_t *k)
{
    return zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->server, 40) ||
                   zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->public_key, 40) ||
                   zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret, 40)
               ? -1
               : 0;
}
