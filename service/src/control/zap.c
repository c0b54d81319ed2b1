/* zap: a ZAP handler (ZeroMQ RFC 27) answering CURVE handshakes by key. */
#include "control/zap.h"
#include "base/err.h"
#include "base/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MOD "zap"
#define S_ENDPOINT "inproc://zeromq.zap.01"
#define S_FRAMES 7              /* version, id, domain, address, identity, mechanism, key */
#define S_LOG_EVERY_MS 10000    /* refusals: at most one log line this often, per domain */
#define S_MAX_DOMAINS 4
#define S_KEY_SHOWN 8           /* characters of a refused public key in the log */

/* A domain served, or (the last slot) the requests for any other. */
typedef struct {
    const char *name; /* NULL: free (the last slot: domains nobody serves) */
    sg_zap_lookup_fn lookup;
    void *user;
    uint64_t accepted, refused;
    sg_log_complaint_t log; /* refusals, paced on the mono clock */
} s_domain_t;

struct sg_zap {
    void *sock;
    const sg_clock_t *clock;
    s_domain_t domains[S_MAX_DOMAINS + 1];
};

sg_zap_t *sg_zap_new(void *zctx, const sg_clock_t *clock)
{
    sg_zap_t *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->clock = clock;
    int linger = 0;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    if (!z->sock)
        goto fail;
    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(z->sock, S_ENDPOINT) != 0) {
        sg_error(S_MOD, "cannot bind the authentication handler %s: %s", S_ENDPOINT,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    return z;
fail:
    sg_zap_destroy(&z);
    return NULL;
}

void sg_zap_destroy(sg_zap_t **zp)
{
    if (!zp || !*zp)
        return;
    if ((*zp)->sock)
        zmq_close((*zp)->sock);
    free(*zp);
    *zp = NULL;
}

/* The slot of `domain`, or -1. */
static int s_find(const sg_zap_t *z, const char *domain)
{
    for (int i = 0; i < S_MAX_DOMAINS; i++)
        if (z->domains[i].name && strcmp(z->domains[i].name, domain) == 0)
            return i;
    return -1;
}

int sg_zap_add_domain(sg_zap_t *z, const char *domain, sg_zap_lookup_fn lookup, void *user)
{
    if (s_find(z, domain) >= 0)
        return SG_EINVAL;
    for (int i = 0; i < S_MAX_DOMAINS; i++) {
        if (!z->domains[i].name) {
            z->domains[i] = (s_domain_t){.name = domain, .lookup = lookup, .user = user};
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

void sg_zap_remove_domain(sg_zap_t *z, const char *domain)
{
    int i = s_find(z, domain);
    if (i >= 0)
        z->domains[i] = (s_domain_t){0};
}

void *sg_zap_socket(sg_zap_t *z) { return z->sock; }

uint64_t sg_zap_accepted(const sg_zap_t *z, const char *domain)
{
    int i = s_find(z, domain);
    return i >= 0 ? z->domains[i].accepted : 0;
}

uint64_t sg_zap_refused(const sg_zap_t *z, const char *domain)
{
    int i = s_find(z, domain);
    return i >= 0 ? z->domains[i].refused : 0;
}

/* One request as frames; n is how many arrived (extra frames are dropped). */
typedef struct {
    zmq_msg_t f[S_FRAMES];
    int n;
} s_request_t;

static int s_recv(sg_zap_t *z, s_request_t *r)
{
    r->n = 0;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, z->sock, r->n ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return r->n == 0 && zmq_errno() == EAGAIN ? 0 : SG_EIO;
        }
        bool more = zmq_msg_more(&part);
        if (r->n < S_FRAMES)
            r->f[r->n++] = part;
        else
            zmq_msg_close(&part);
        if (!more)
            return 1;
    }
}

static void s_close(s_request_t *r)
{
    for (int i = 0; i < r->n; i++)
        zmq_msg_close(&r->f[i]);
}

/* Frame i as a NUL-terminated string in buf. */
static const char *s_text(s_request_t *r, int i, char *buf, size_t len)
{
    size_t n = i < r->n ? zmq_msg_size(&r->f[i]) : 0;
    if (n >= len)
        n = len - 1;
    if (n)
        memcpy(buf, zmq_msg_data(&r->f[i]), n);
    buf[n] = '\0';
    return buf;
}

static void s_log_refusal(sg_zap_t *z, s_domain_t *d, const char *why, const char *domain,
                          const char *address)
{
    uint64_t count;
    d->refused++;
    if (sg_log_complain(&d->log, sg_clock_mono(z->clock), S_LOG_EVERY_MS, &count))
        sg_warn(S_MOD, "refused a client of %s from %s: %s (%llu refused since the last such "
                       "line)", domain, address, why, (unsigned long long)count);
}

/* Decides: the key's name, or NULL (refused, logged); the key in key[41]. */
static const char *s_decide(sg_zap_t *z, s_request_t *r, char key[41], char *why, size_t why_len)
{
    char version[8], domain[128], address[64], mech[16];
    s_text(r, 0, version, sizeof version);
    s_text(r, 2, domain, sizeof domain);
    s_text(r, 3, address, sizeof address);
    s_text(r, 5, mech, sizeof mech);
    int slot = s_find(z, domain);
    s_domain_t *d = slot >= 0 ? &z->domains[slot] : NULL;
    const char *name = NULL;
    key[0] = '\0';
    if (r->n < 6 || strcmp(version, "1.0") != 0)
        snprintf(why, why_len, "a malformed authentication request");
    else if (strcmp(mech, "CURVE") != 0 || r->n < 7 || zmq_msg_size(&r->f[6]) != 32)
        snprintf(why, why_len, "mechanism %s (only CURVE is accepted)", mech);
    else if (!zmq_z85_encode(key, zmq_msg_data(&r->f[6]), 32))
        snprintf(why, why_len, "a key that cannot be encoded");
    else if (!d)
        snprintf(why, why_len, "domain '%s' has no keys", domain);
    else if (!(name = d->lookup(d->user, key)))
        snprintf(why, why_len, "public key %.*s... is not listed", S_KEY_SHOWN, key);
    if (name)
        d->accepted++;
    else
        s_log_refusal(z, d ? d : &z->domains[S_MAX_DOMAINS], why, domain, address);
    return name;
}

static int s_send(void *sock, const char *text, int more)
{
    return zmq_send(sock, text, strlen(text), more ? ZMQ_SNDMORE : 0) < 0 ? SG_EIO : SG_OK;
}

/* The metadata frame of an accepted connection (ZMTP properties: a 1-byte
 * name length, the name, a 4-byte big-endian value length, the value): the
 * key it was admitted with. Libzmq puts ZAP properties before the peer's
 * own, so a client cannot forge it. */
static size_t s_metadata(uint8_t *buf, const char *key)
{
    size_t n = 0, name_len = strlen(SG_ZAP_KEY_PROPERTY), key_len = strlen(key);
    buf[n++] = (uint8_t)name_len;
    memcpy(buf + n, SG_ZAP_KEY_PROPERTY, name_len);
    n += name_len;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = (uint8_t)key_len;
    memcpy(buf + n, key, key_len);
    return n + key_len;
}

static int s_reply(sg_zap_t *z, s_request_t *r, const char *name, const char *key,
                   const char *why)
{
    size_t id_len = r->n > 1 ? zmq_msg_size(&r->f[1]) : 0;
    uint8_t meta[64];
    size_t meta_len = name ? s_metadata(meta, key) : 0;
    int rc = s_send(z->sock, "1.0", 1);
    if (rc == SG_OK && zmq_send(z->sock, id_len ? zmq_msg_data(&r->f[1]) : "", id_len,
                                ZMQ_SNDMORE) < 0)
        rc = SG_EIO;
    rc = rc ? rc : s_send(z->sock, name ? "200" : "400", 1);
    rc = rc ? rc : s_send(z->sock, name ? "OK" : why, 1);
    rc = rc ? rc : s_send(z->sock, name ? name : "", 1);
    if (rc == SG_OK && zmq_send(z->sock, meta, meta_len, 0) < 0)
        rc = SG_EIO;
    return rc;
}

int sg_zap_serve(sg_zap_t *z)
{
    int served = 0;
    for (;;) {
        s_request_t r;
        int rc = s_recv(z, &r);
        if (rc <= 0) {
            s_close(&r);
            if (rc < 0)
                sg_error(S_MOD, "authentication handler: %s", zmq_strerror(zmq_errno()));
            return rc < 0 ? SG_EIO : served;
        }
        char why[160], key[41];
        const char *name = s_decide(z, &r, key, why, sizeof why);
        rc = s_reply(z, &r, name, key, why);
        s_close(&r);
        if (rc != SG_OK) {
            sg_error(S_MOD, "cannot answer an authentication request: %s",
                     zmq_strerror(zmq_errno()));
            return SG_EIO;
        }
        served++;
    }
}
