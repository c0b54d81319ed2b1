/* zap: the ZeroMQ authentication handler (ZAP, ZeroMQ RFC 27) for CURVE
 * server sockets, one per context, serving several ZAP domains.
 *
 * sg_zap_new binds inproc://zeromq.zap.01 on a context; from then on libzmq
 * asks it about every handshake of that context's CURVE server sockets (and
 * of any socket with a ZMQ_ZAP_DOMAIN). Only one handler may be bound per
 * context, so the service makes one and each module that has CURVE sockets
 * on the context adds its domain (its sockets' ZMQ_ZAP_DOMAIN) with its own
 * `lookup`: a client's CURVE public key (Z85) in, the key's name out. A
 * request is dispatched by its domain; the name becomes the connection's
 * User-Id, and the key its SG_ZAP_KEY_PROPERTY, which every message received
 * on it carries (zmq_msg_gets(msg, "User-Id"), zmq_msg_gets(msg,
 * SG_ZAP_KEY_PROPERTY)). A domain nobody added, a key that `lookup` does not
 * know, and every mechanism other than CURVE are refused (status 400):
 * libzmq drops the connection before any message gets through. Refusals
 * are counted per domain and logged with the client's address and the
 * first characters of its public key, at most one line per domain per 10 s
 * with the count since the last.
 *
 * Thread rules: every function on the thread that polls sg_zap_socket (the
 * loop); `lookup` is called there, from sg_zap_serve. */
#ifndef SG_ZAP_H
#define SG_ZAP_H

#include "base/clock.h"

#include <stdint.h>

/* The metadata property holding the public key (Z85) a connection was
 * admitted with. */
#define SG_ZAP_KEY_PROPERTY "Curve-Key"

/* The name of the key `key_z85` (40 characters), or NULL when it may not
 * connect. The name is borrowed: it must stay valid until sg_zap_serve
 * returns. */
typedef const char *(*sg_zap_lookup_fn)(void *user, const char *key_z85);

typedef struct sg_zap sg_zap_t;

/* Binds the handler on `zctx`. `clock` (borrowed) paces the refusal log.
 * NULL when out of memory or when a handler is already bound (logged). */
sg_zap_t *sg_zap_new(void *zctx, const sg_clock_t *clock);
/* Closes the handler; CURVE handshakes on the context then fail. */
void sg_zap_destroy(sg_zap_t **z);

/* Answers the handshakes of ZAP domain `domain` (borrowed, for the
 * handler's life) with `lookup`. SG_EINVAL when the domain is already
 * served or the handler serves as many as it can (4). */
int sg_zap_add_domain(sg_zap_t *z, const char *domain, sg_zap_lookup_fn lookup, void *user);

/* Stops answering `domain`: its handshakes are refused from now on (its
 * counts are gone). */
void sg_zap_remove_domain(sg_zap_t *z, const char *domain);

/* The handler's socket, for zmq_poll (ZMQ_POLLIN). */
void *sg_zap_socket(sg_zap_t *z);

/* Answers the requests waiting without blocking. Returns the number
 * answered or SG_EIO. */
int sg_zap_serve(sg_zap_t *z);

/* Handshakes of `domain` accepted and refused so far (0 for a domain not
 * served; a request for such a domain is counted nowhere but logged). */
uint64_t sg_zap_accepted(const sg_zap_t *z, const char *domain);
uint64_t sg_zap_refused(const sg_zap_t *z, const char *domain);

#endif
