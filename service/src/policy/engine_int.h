/* engine_int: the policy engine's private state, shared by its parts.
 *
 *   engine.c   life cycle, events, the decision queue, ticks, collection
 *              decisions, runs, operator control, durable operator state
 *   verdict.c  observers' credibility, votes, the quorum, site verdicts
 *   guards.c   plan order and the guards
 *   explain.c  explain texts and names
 *
 * Nothing outside policy/ includes this header; the engine's thread rules
 * (engine.h: one thread at a time per engine) cover these parts too. */
#ifndef SG_ENGINE_INT_H
#define SG_ENGINE_INT_H

#include "policy/engine.h"

#include <stdarg.h>

/* health.proto ReplicationHealth */
#define SG_REPL_HEALTH_CRITICAL 3

/* The window over which an observer's clock offset is its smallest
 * (receipt - send) sample: two halves of this, rotated on receipt. */
#define SG_SKEW_WINDOW_MS 120000

typedef struct {
    bool heard;
    int64_t last_hb; /* mono: receipt of its last event */
    bool skew_known;
    int64_t skew_cur, skew_prev; /* minimum of (receipt wall - sent_at) in two half windows */
    bool prev_known;
    int64_t skew_rot; /* mono: when the current half window began */
    bool skew_warned; /* its offset is announced as beyond skew_warn */
    bool credible;     /* as of the last count a tick or a proof recorded (engine.credible
                          also follows explain's counts, which record nothing) */
    int64_t credible_since; /* mono: since when it has a vote; its down runs count from here */
} s_obs_t;

/* The newest reachability report of one observer about one site. */
typedef struct {
    bool known;
    bool up;
    int64_t at;         /* mono: receipt */
    int64_t down_since; /* mono: receipt of the first "down" of the unbroken run */
    bool ever_up;
    int64_t last_up_at; /* mono: receipt of the last "up" */
} s_report_t;

typedef struct {
    sg_site_state_t state;
    bool heard;          /* heard since start (or counted as silent since start) */
    bool assumed;        /* never heard: counted as silent since start (startup_grace) */
    int64_t last_heard;  /* mono: receipt of the newest event of its observers */
    int64_t since;       /* mono: when it entered its state */
    bool budget_taken;   /* this loss episode already counts against the budgets */
    bool in_episode;     /* a loss episode is open */
    uint64_t episode;    /* losses so far */
} s_site_t;

typedef struct {
    bool known;
    int health;
    int64_t lag_ms;  /* max(lag_s, send time - last replicated), saturated */
    int64_t at;      /* mono: receipt */
    int observer;
} s_repl_t;

typedef struct {
    sg_coll_verdict_t verdict;
    sg_guard_t announced; /* last guard announced while held back */
    bool approved;        /* approve mode: an operator approved, this episode */
    bool released;        /* plan on_error wait: an operator let it go, this episode */
    bool reverted;        /* DENIED because an operator reverted its failover */
    bool plan_wait_failed; /* held: the plan waits (on_error: wait) after a failure */
    int64_t deadline;     /* approve mode: mono */
    int64_t cooldown_until; /* mono */
    uint64_t run_id;      /* DECIDED: its run */
    bool manual, forced;  /* DECIDED: an operator's run (forced past the guards) */
    bool timed_out;       /* DECIDED: its job passed job_timeout */
} s_coll_t;

typedef struct {
    int site, collection; /* -1: any */
    int64_t until;        /* mono */
    char *reason;
} s_pause_t;

/* Times of past site failovers, for a budget. */
typedef struct {
    int64_t *t; /* mono */
    size_t n, cap;
} s_times_t;

/* How the other sites see one site, at one moment. */
typedef struct {
    int down, up;     /* sites voting */
    bool witness_down;
    bool data_heard;  /* siteguard heard another data site after this one fell silent */
    int first_up;     /* a site voting up, or -1 */
    char names[256];  /* "B, W": the sites voting down */
} s_votes_t;

/* Where a tick's pass over a lost site's collections goes on: a pass is
 * bounded per tick (SG_ENGINE_DECIDE_PER_TICK), so the next tick resumes it
 * with the summary of the groups before (see s_decide_collections). */
typedef struct {
    size_t k;                       /* next position in the site's plan; 0: a new pass */
    int wait, failed;               /* first waiting and failed of the earlier groups */
    int g_wait, g_failed, group;    /* the same within the current group */
} s_pass_t;

/* A site's vote about another. */
enum { S_VOTE_NONE = 0, S_VOTE_DOWN = 1, S_VOTE_UP = -1 };

struct sg_engine {
    const sg_config_t *cfg;
    int64_t start;       /* mono: the engine's start */
    int64_t last_tick;   /* mono: the last tick's time (INT64_MIN before the first) */
    s_obs_t *obs;
    s_report_t *reports; /* n_observers x n_sites */
    bool *credible;      /* per observer, computed each tick */
    s_site_t *sites;
    s_repl_t *repl;
    s_coll_t *colls;
    int *plan; /* collection indices in plan order */
    int *site_plan;        /* the same grouped by site: site i's at [site_off[i], site_off[i+1]) */
    size_t *site_off;      /* n_sites + 1 */
    s_pass_t *pass;        /* per site */
    size_t pass_site;      /* the site whose pass the next tick goes on with first */
    bool pass_unfinished;  /* the last tick stopped a pass: the next is due at once */
    s_times_t budget;
    s_times_t *site_budget;
    s_pause_t *pauses;
    size_t n_pauses;
    uint64_t next_run_id;
    uint64_t opstate_gen;
    bool deaf_announced; /* the "no data site heard" notice is out */
    sg_decision_t *q;    /* decision queue: a growable ring */
    size_t q_cap, q_head, q_len;
};

/* engine.c */
int sg_eng_emit(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll, sg_guard_t guard,
                sg_now_t now, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
const char *sg_eng_site_name(const sg_engine_t *e, int site);
void sg_eng_changed(sg_engine_t *e); /* the operator state changed */
int64_t sg_eng_sat_add(int64_t a, int64_t b);

/* verdict.c */
void sg_eng_compute_credible(sg_engine_t *e, int64_t now);
/* The same; with `record` false (a view: explain) the observers' own
 * history (since when each has its vote) is left as the ticks made it. */
void sg_eng_count_credible(sg_engine_t *e, int64_t now, bool record);
bool sg_eng_fresh_heartbeats(const sg_engine_t *e, int site, int64_t now);
bool sg_eng_report_fresh(const sg_engine_t *e, const s_report_t *r, int64_t now);
s_report_t *sg_eng_report(const sg_engine_t *e, int observer, int site);
int sg_eng_site_vote(const sg_engine_t *e, int voter, int site, int64_t now);
void sg_eng_count_votes(const sg_engine_t *e, int site, int64_t now, s_votes_t *v);
bool sg_eng_quorum_met(const sg_engine_t *e, const s_votes_t *v);
bool sg_eng_hears_data(const sg_engine_t *e, int64_t now);
int sg_eng_eval_site(sg_engine_t *e, int site, sg_now_t now);
/* Ends a site's loss episode: held-back collections start afresh. */
void sg_eng_end_episode(sg_engine_t *e, int site);

/* guards.c */
/* The guards checked before a failover, in the order they are reported. */
extern const sg_guard_t sg_eng_guards[];
extern const size_t sg_eng_n_guards;
/* Checks one guard for collection c; true when it holds c back. Writes what
 * it found into buf either way, unless buf is NULL (the verdict alone costs
 * no formatting: the tick asks for words only when it announces). */
bool sg_eng_guard_holds(sg_engine_t *e, int c, sg_guard_t g, sg_now_t now, char *buf,
                        size_t len);
/* The first guard (plan order excluded) that holds c back, or SG_GUARD_NONE. */
sg_guard_t sg_eng_first_guard(sg_engine_t *e, int c, sg_now_t now, char *buf, size_t len);
size_t sg_eng_budget_used(s_times_t *t, const sg_budget_cfg_t *b, int64_t now);
int sg_eng_budget_take(s_times_t *t, int64_t now);
const s_pause_t *sg_eng_active_pause(const sg_engine_t *e, int site, int coll, int64_t now);

/* How a predecessor in the plan stands for collection c. */
typedef enum { S_PRED_OK = 0, S_PRED_WAIT, S_PRED_FAILED } s_pred_t;
s_pred_t sg_eng_pred_state(const sg_engine_t *e, int pred);
/* How plan order stands for a collection: it may go, it waits (for a
 * predecessor, or for good: the plan stopped), or it waits for an operator
 * (on_error: wait after a failure; approve releases it). */
typedef enum { S_PLAN_GOES = 0, S_PLAN_WAITS, S_PLAN_NEEDS_OPERATOR } s_plan_hold_t;
/* Plan order for c, scanning every predecessor, with the reason in buf
 * (buf NULL: no words, as for the guards). */
s_plan_hold_t sg_eng_plan_holds(const sg_engine_t *e, int c, char *buf, size_t len);
/* The same verdict from a predecessor summary: `wait` and `failed` are a
 * waiting and a failed predecessor of an earlier group (or -1); the
 * dependencies are checked here. */
s_plan_hold_t sg_eng_plan_holds_with(const sg_engine_t *e, int c, int wait, int failed,
                                     char *buf, size_t len);
/* Whether the newest replication report of c is fresh (within
 * replication_max_age of its receipt). */
bool sg_eng_repl_fresh(const sg_engine_t *e, int c, int64_t now);

#endif
