/* Time, injected.
 *
 * Nothing in siteguard reads the system clock directly except through an
 * sg_clock_t, so tests drive time with sg_clock_fake. All values are
 * milliseconds: `mono` never goes backwards, `wall` is Unix time.
 *
 * Thread rules: a clock may be read and slept on from any thread (the fake
 * clock's time is atomic). Ownership: the system clock is static; a fake
 * clock lives in the caller's storage. */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdint.h>

typedef struct sg_clock sg_clock_t;
struct sg_clock {
    int64_t (*mono_ms)(const sg_clock_t *clock);
    int64_t (*wall_ms)(const sg_clock_t *clock);
    /* Waits `ms` milliseconds (a fake clock advances itself instead). */
    void (*sleep_ms)(const sg_clock_t *clock, int64_t ms);
    void *state;
    /* The monotonic time in microseconds, for measuring short spans; NULL:
     * mono_ms x 1000 (the fake clock). */
    int64_t (*mono_us)(const sg_clock_t *clock);
};

/* The process-wide real clock; static storage, never freed. */
const sg_clock_t *sg_clock_system(void);

/* A fake clock for tests: time moves only by sg_clock_fake_advance or by
 * sleep_ms, which advances it atomically (so several threads may sleep on it).
 * Caller-owned: sg_clock_fake_init fills `clock` and `storage`, which must
 * outlive it. */
typedef struct {
    int64_t mono;
    int64_t wall_offset;
} sg_clock_fake_state_t;

void sg_clock_fake_init(sg_clock_t *clock, sg_clock_fake_state_t *storage, int64_t start_mono_ms,
                        int64_t start_wall_ms);
void sg_clock_fake_advance(sg_clock_t *clock, int64_t ms);

static inline int64_t sg_clock_mono(const sg_clock_t *c) { return c->mono_ms(c); }
static inline int64_t sg_clock_mono_us(const sg_clock_t *c)
{
    return c->mono_us ? c->mono_us(c) : c->mono_ms(c) * 1000;
}
static inline int64_t sg_clock_wall(const sg_clock_t *c) { return c->wall_ms(c); }
static inline void sg_clock_sleep(const sg_clock_t *c, int64_t ms) { c->sleep_ms(c, ms); }

#endif
