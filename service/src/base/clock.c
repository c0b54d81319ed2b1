#include "base/clock.h"

#include <errno.h>
#include <time.h>

static int64_t s_ts_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_sys_mono(const sg_clock_t *c)
{
    (void)c;
    return s_ts_ms(CLOCK_MONOTONIC);
}

static int64_t s_sys_wall(const sg_clock_t *c)
{
    (void)c;
    return s_ts_ms(CLOCK_REALTIME);
}

static void s_sys_sleep(const sg_clock_t *c, int64_t ms)
{
    (void)c;
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t s_sys_mono_us(const sg_clock_t *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const sg_clock_t s_system = {s_sys_mono, s_sys_wall, s_sys_sleep, 0, s_sys_mono_us};

const sg_clock_t *sg_clock_system(void) { return &s_system; }

static int64_t s_fake_mono(const sg_clock_t *c)
{
    sg_clock_fake_state_t *st = c->state;
    return __atomic_load_n(&st->mono, __ATOMIC_SEQ_CST);
}

static int64_t s_fake_wall(const sg_clock_t *c)
{
    sg_clock_fake_state_t *st = c->state;
    return s_fake_mono(c) + st->wall_offset;
}

static void s_fake_sleep(const sg_clock_t *c, int64_t ms)
{
    if (ms > 0)
        sg_clock_fake_advance((sg_clock_t *)c, ms);
}

void sg_clock_fake_init(sg_clock_t *clock, sg_clock_fake_state_t *storage, int64_t start_mono_ms,
                        int64_t start_wall_ms)
{
    storage->mono = start_mono_ms;
    storage->wall_offset = start_wall_ms - start_mono_ms;
    clock->mono_ms = s_fake_mono;
    clock->wall_ms = s_fake_wall;
    clock->sleep_ms = s_fake_sleep;
    clock->state = storage;
    clock->mono_us = NULL;
}

void sg_clock_fake_advance(sg_clock_t *clock, int64_t ms)
{
    sg_clock_fake_state_t *st = clock->state;
    __atomic_add_fetch(&st->mono, ms, __ATOMIC_SEQ_CST);
}
