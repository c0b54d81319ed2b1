/* reply: an answer passed back to a waiting thread; see reply.h. */
#include "base/reply.h"
#include "base/err.h"

#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

typedef struct {
    int rc;
    char *why; /* owned */
} s_reply_t;

int sg_reply_send(void *sock, int rc, char *why)
{
    s_reply_t *r = malloc(sizeof *r);
    if (r)
        *r = (s_reply_t){rc, why};
    else
        free(why);
    if (zmq_send(sock, &r, sizeof r, 0) == (int)sizeof r)
        return SG_OK;
    if (r)
        free(r->why);
    free(r);
    return SG_EIO;
}

int sg_reply_wait(void *sock, const int *stop, int slice_ms, char **why)
{
    *why = NULL;
    for (;;) {
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, slice_ms);
        if (n < 0 && zmq_errno() != EINTR)
            return SG_EIO;
        if (n > 0)
            break;
        if (__atomic_load_n(stop, __ATOMIC_ACQUIRE))
            return SG_ESTOPPED;
    }
    s_reply_t *r = NULL;
    if (zmq_recv(sock, &r, sizeof r, 0) != (int)sizeof r)
        return SG_EIO;
    if (!r)
        return SG_ESTOPPED; /* a stop, or an answer that could not be made */
    int rc = r->rc;
    *why = r->why;
    free(r);
    return rc;
}
