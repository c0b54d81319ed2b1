/* evage: an event's wait above its observer's least recent delay. */
#include "ingress/evage.h"
#include "base/err.h"

#include <stdlib.h>

int sg_evage_init(sg_evage_t *a, size_t n_observers, int64_t window_ms)
{
    *a = (sg_evage_t){.window_ms = window_ms};
    if (window_ms <= 0)
        return SG_EINVAL;
    a->obs = calloc(n_observers ? n_observers : 1, sizeof *a->obs);
    if (!a->obs)
        return SG_ENOMEM;
    a->n = n_observers;
    return SG_OK;
}

void sg_evage_fini(sg_evage_t *a)
{
    free(a->obs);
    *a = (sg_evage_t){0};
}

/* Saturating a - b: sent_at comes from outside. */
static int64_t s_sub(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b)
        return INT64_MAX;
    if (b > 0 && a < INT64_MIN + b)
        return INT64_MIN;
    return a - b;
}

int64_t sg_evage_observe(sg_evage_t *a, int o, int64_t sent_at_ms, int64_t now_ms)
{
    if (o < 0 || (size_t)o >= a->n)
        return -1;
    sg_evage_base_t *b = &a->obs[o];
    int64_t delay = s_sub(now_ms, sent_at_ms);
    if (!b->started || s_sub(now_ms, b->window_start) >= a->window_ms ||
        now_ms < b->window_start) {
        b->prev_min = b->started ? b->cur_min : INT64_MAX;
        b->cur_min = delay;
        b->window_start = now_ms;
        b->started = 1;
    } else if (delay < b->cur_min) {
        b->cur_min = delay;
    }
    int64_t base = b->cur_min < b->prev_min ? b->cur_min : b->prev_min;
    int64_t age = s_sub(delay, base);
    return age > 0 ? age : 0;
}
