#include "act/jobfollow.h"
#include "base/err.h"
#include "base/log.h"

#include <string.h>

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

int sg_jobfollow(const sg_jobfollow_t *f, const char *job_path, sg_job_status_t *end)
{
    const sg_provider_cfg_t *pc = f->pc;
    int64_t job_start = sg_clock_mono(f->clock);
    int64_t deadline = job_start + pc->job_timeout_ms;
    int64_t delay = pc->poll_initial_ms;
    int last_percent = -1, read_errors = 0;
    bool timed_out = false;
    memset(end, 0, sizeof *end);
    for (;;) {
        int64_t now = sg_clock_mono(f->clock);
        int64_t wait = timed_out || delay < deadline - now ? delay : deadline - now;
        if (!f->wait(f->user, wait))
            return SG_ESTOPPED;
        sg_job_status_t js = {0};
        int rc = sg_provider_get_job(f->provider, job_path, &js);
        now = sg_clock_mono(f->clock);
        if (rc == SG_OK && sg_job_state_ended(js.job_state)) {
            *end = js;
            return SG_OK;
        }
        if (rc == SG_OK && js.percent_complete != last_percent) {
            last_percent = js.percent_complete;
            if (f->progress)
                f->progress(f->user, &js);
        } else if (rc != SG_OK && read_errors++ % 10 == 0) {
            sg_warn(f->log_module, "%s: cannot read job %s: %s", f->what, job_path,
                    sg_err_str(rc));
        }
        sg_job_status_fini(&js);
        if (!timed_out && now >= deadline) {
            timed_out = true;
            if (!f->timed_out || !f->timed_out(f->user, last_percent))
                return SG_ETIMEOUT;
        }
        delay = timed_out ? pc->poll_max_ms : s_next_delay(pc, delay, last_percent, now - job_start);
    }
}
