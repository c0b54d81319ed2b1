/* evage: how long a health event waited before the engine took it.
 *
 * On one host an event's age is the time it is taken minus its sent_at; an
 * observer on another host adds its clock's offset and the network's
 * delay, both steady. So the age is measured above the observer's least
 * delay seen recently: the smallest (taken - sent_at) over the current and
 * the previous window (`window_ms` each, per observer). A steady offset
 * cancels out; what remains is the wait in the socket's queue while the loop
 * was busy, and jitter. A clock that steps resets the base within two
 * windows.
 *
 * Ownership: the tracker owns its per-observer array (sg_evage_fini).
 * Thread rules: pure, no clock reads; one thread (the loop). */
#ifndef SG_INGRESS_EVAGE_H
#define SG_INGRESS_EVAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t cur_min;  /* least delay in the current window */
    int64_t prev_min; /* least delay in the previous window (INT64_MAX: none) */
    int64_t window_start;
    int started;
} sg_evage_base_t;

typedef struct {
    sg_evage_base_t *obs; /* per observer */
    size_t n;
    int64_t window_ms;
} sg_evage_t;

/* A tracker for `n_observers` observers (window_ms > 0). Returns 0 or
 * SG_ENOMEM / SG_EINVAL. */
int sg_evage_init(sg_evage_t *a, size_t n_observers, int64_t window_ms);
void sg_evage_fini(sg_evage_t *a);

/* The age in ms (>= 0) of an event of observer `o` sent at sent_at_ms (its
 * clock) and taken at now_ms (this host's Unix ms); -1 for an observer out
 * of range. */
int64_t sg_evage_observe(sg_evage_t *a, int o, int64_t sent_at_ms, int64_t now_ms);

#endif
