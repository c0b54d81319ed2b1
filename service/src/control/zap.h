/* zap: the ZeroMQ authentication handler (ZAP, ZeroMQ RFC 27) for CURVE
 * server sockets.
 *
 * sg_zap_new binds inproc://zeromq.zap.01 on a context; from then on libzmq
 * asks it about every handshake of that context's CURVE server sockets (and
 * of any socket with a ZMQ_ZAP_DOMAIN). Only one handler may be bound per
 * context. A request is answered through `lookup`: a client's CURVE public
 * key (Z85) and the socket's ZAP domain in, the key's name out; the name
 * becomes the connection's User-Id, which every message received on it
 * carries (zmq_msg_gets(msg, "User-Id")). A key that `lookup` does not know,
 * and every mechanism other than CURVE, is refused (status 400): libzmq
 * drops the connection before any message gets through. Refusals are
 * counted and logged with the client's address and public key (public keys
 * are not secret), at most one line per 10 s with the count since the last.
 *
 * Thread rules: every function on the thread that polls sg_zap_socket (the
 * loop); `lookup` is called there, from sg_zap_serve. */
#ifndef SG_ZAP_H
#define SG_ZAP_H

#include "base/clock.h"

#include <stdint.h>

/* The name of the key `key_z85` (40 characters) for `domain`, or NULL when
 * it may not connect. The name is borrowed: it must stay valid until
 * sg_zap_serve returns. */
typedef const char *(*sg_zap_lookup_fn)(void *user, const char *domain, const char *key_z85);

typedef struct sg_zap sg_zap_t;

/* Binds the handler on `zctx`. `clock` (borrowed) paces the refusal log.
 * NULL when out of memory or when a handler is already bound (logged). */
sg_zap_t *sg_zap_new(void *zctx, const sg_clock_t *clock, sg_zap_lookup_fn lookup, void *user);
/* Closes the handler; CURVE handshakes on the context then fail. */
void sg_zap_destroy(sg_zap_t **z);

/* The handler's socket, for zmq_poll (ZMQ_POLLIN). */
void *sg_zap_socket(sg_zap_t *z);

/* Answers the requests waiting without blocking. Returns the number
 * answered or SG_EIO. */
int sg_zap_serve(sg_zap_t *z);

/* Handshakes accepted and refused so far. */
uint64_t sg_zap_accepted(const sg_zap_t *z);
uint64_t sg_zap_refused(const sg_zap_t *z);

#endif
