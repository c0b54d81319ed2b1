#include "act/jobfollow.h"
#include "base/err.h"
#include "base/log.h"

#include <string.h>

/* Read errors are warned about once in this many. */
#define S_WARN_EVERY 10

/* Next poll delay: aimed at the estimated end once progress is known. */
static int64_t s_next_delay(const sg_provider_cfg_t *pc, int64_t delay, int percent,
                            int64_t elapsed)
{
    int64_t next;
    if (percent > 0 && percent < 100 && elapsed > 0)
        next = elapsed * (100 - percent) / percent;
    else
        next = delay * 2;
    if (next < pc->poll_initial_ms)
        next = pc->poll_initial_ms;
    if (next > pc->poll_max_ms)
        next = pc->poll_max_ms;
    return next;
}

/* The wait before the next read: `delay`, cut short at the deadline until
 * it has passed once, so that job_timeout is met, not overshot. */
static int64_t s_wait_ms(const sg_jobfollow_t *f, int64_t delay, bool timed_out, int64_t deadline)
{
    int64_t left = deadline - sg_clock_mono(f->clock);
    return timed_out || delay < left ? delay : left;
}

/* After a read that did not end the following: false when job_timeout has
 * just passed and `timed_out` gave up (asked once). */
static bool s_goes_on(const sg_jobfollow_t *f, int64_t deadline, bool *timed_out,
                      int last_percent)
{
    if (*timed_out || sg_clock_mono(f->clock) < deadline)
        return true;
    *timed_out = true;
    return f->timed_out && f->timed_out(f->user, last_percent);
}

/* Counts a read of the job: true when it makes SG_JOBFOLLOW_GONE_READS not
 * found in a row; other errors are warned about. */
static bool s_read_says_gone(const sg_jobfollow_t *f, const char *job_path, int rc, int *gone,
                             int *read_errors)
{
    *gone = rc == SG_ENOTFOUND ? *gone + 1 : 0;
    if (*gone >= SG_JOBFOLLOW_GONE_READS) {
        sg_info(f->log_module, "%s: job %s is gone (not found on %d reads in a row)", f->what,
                job_path, *gone);
        return true;
    }
    if (rc != SG_OK && (*read_errors)++ % S_WARN_EVERY == 0)
        sg_warn(f->log_module, "%s: cannot read job %s: %s", f->what, job_path, sg_err_str(rc));
    return false;
}

int sg_jobfollow(const sg_jobfollow_t *f, const char *job_path, sg_job_status_t *end)
{
    const sg_provider_cfg_t *pc = f->pc;
    int64_t job_start = sg_clock_mono(f->clock);
    int64_t deadline = job_start + pc->job_timeout_ms;
    int64_t delay = pc->poll_initial_ms;
    int last_percent = -1, read_errors = 0, gone = 0;
    bool timed_out = false;
    memset(end, 0, sizeof *end);
    for (;;) {
        if (!f->wait(f->user, s_wait_ms(f, delay, timed_out, deadline)))
            return SG_ESTOPPED;
        sg_job_status_t js = {0};
        int rc = sg_provider_get_job(f->provider, job_path, &js);
        if (rc == SG_OK && sg_job_state_ended(js.job_state)) {
            *end = js;
            return SG_OK;
        }
        if (rc == SG_OK && js.percent_complete != last_percent) {
            last_percent = js.percent_complete;
            if (f->progress)
                f->progress(f->user, &js);
        }
        sg_job_status_fini(&js);
        if (s_read_says_gone(f, job_path, rc, &gone, &read_errors))
            return SG_ENOTFOUND;
        if (!s_goes_on(f, deadline, &timed_out, last_percent))
            return SG_ETIMEOUT;
        delay = timed_out ? pc->poll_max_ms
                          : s_next_delay(pc, delay, last_percent,
                                         sg_clock_mono(f->clock) - job_start);
    }
}

int sg_jobfollow_state(const sg_jobfollow_t *f, const char *collection_path,
                       sg_coll_state_t while_in, sg_coll_state_t *end)
{
    int64_t deadline = sg_clock_mono(f->clock) + f->pc->job_timeout_ms;
    int read_errors = 0;
    bool timed_out = false;
    *end = SG_COLL_UNKNOWN;
    for (;;) {
        if (!f->wait(f->user, s_wait_ms(f, f->pc->poll_max_ms, timed_out, deadline)))
            return SG_ESTOPPED;
        sg_coll_state_t st = SG_COLL_UNKNOWN;
        int rc = sg_provider_get_state(f->provider, collection_path, &st);
        if (rc == SG_OK && st != while_in) {
            *end = st;
            return SG_OK;
        }
        if (rc != SG_OK && read_errors++ % S_WARN_EVERY == 0)
            sg_warn(f->log_module, "%s: cannot read the collection's state: %s", f->what,
                    sg_err_str(rc));
        if (!s_goes_on(f, deadline, &timed_out, -1))
            return SG_ETIMEOUT;
    }
}
