/* reply: one answer handed back, over a ZeroMQ inproc socket, to a thread
 * that waits for it: the loop thread answering a worker's or a drill
 * thread's question (the proof before a call). The answer travels as a
 * pointer to a small struct, so a code and a reason go together.
 *
 * Thread rules: the sender and the waiter each use their own end of the
 * socket pair, from one thread each. */
#ifndef SG_REPLY_H
#define SG_REPLY_H

/* Sends `rc` and `why` (taken: freed here on failure; may be NULL). When
 * even the answer cannot be allocated, a NULL pointer goes instead, which
 * the waiter reads as a stop. Returns 0 or SG_EIO. */
int sg_reply_send(void *sock, int rc, char *why);

/* Waits on `sock` for an answer, checking `*stop` (read atomically) every
 * `slice_ms`. Returns the answer's code with *why (caller frees; may be
 * NULL), SG_ESTOPPED when *stop is set or a NULL pointer comes first, or
 * SG_EIO. */
int sg_reply_wait(void *sock, const int *stop, int slice_ms, char **why);

#endif
