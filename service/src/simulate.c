/* simulate: scenarios for the policy engine; see simulate.h. */
#include "simulate.h"
#include "err.h"
#include "policy/engine.h"
#include "policy/world.h"
#include "str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#define S_DEFAULT_START 1800000000000LL /* 2027-01-15T08:00:00Z, a Friday */

typedef enum {
    S_SITE_DOWN,
    S_SITE_UP,
    S_LINK_DOWN,
    S_LINK_UP,
    S_OBSERVER_DOWN,
    S_OBSERVER_UP,
    S_ISOLATE,
    S_UNISOLATE,
    S_FLAP,
    S_REPLICATION,
    S_APPROVE,
    S_DENY,
    S_PAUSE,
    S_RESUME
} s_act_kind_t;

static const char *const s_act_names[] = {
    "site_down", "site_up", "link_down", "link_up", "observer_down", "observer_up", "isolate",
    "unisolate", "flap",    "replication", "approve", "deny",     "pause",      "resume"};

typedef struct {
    int64_t at;
    s_act_kind_t kind;
    int a, b;     /* sites, observer or collection, by kind; -1 unused */
    int64_t ms;   /* flap period, pause length */
    int health;
    uint64_t lag_s;
    char *text;   /* pause reason, or the action as written */
} s_action_t;

typedef struct {
    int *lost, *not_lost, *failover, *no_failover;
    size_t n_lost, n_not_lost, n_failover, n_no_failover;
    int *lost_within_site;
    int64_t *lost_within_ms;
    size_t n_lost_within;
    int *blocked_coll;
    int *blocked_guard;
    size_t n_blocked;
    int failovers; /* -1: not checked */
} s_expect_t;

typedef struct {
    const sg_config_t *cfg;
    const char *path;
    yaml_document_t doc;
    sg_config_errors_t *errs;
    int errors;
    int64_t duration, interval, step, start;
    double loss;
    uint64_t seed;
    int siteguard_site;
    s_action_t *acts;
    size_t n_acts;
    s_expect_t ex;
} s_scn_t;

/* What happened, for the expectations. */
typedef struct {
    const s_scn_t *scn;
    FILE *out;
    int64_t *lost_at;   /* per site: first time declared lost, -1 never */
    int64_t *down_at;   /* per site: first site_down action, -1 never */
    int *failovers;     /* per collection */
    bool *blocked_by;   /* n_collections x SG_GUARD_COUNT */
    int total_failovers;
} s_result_t;

/* ---- parsing --------------------------------------------------------------------- */

static void s_err(s_scn_t *s, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(s_scn_t *s, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sg_vstrdupf(fmt, ap);
    va_end(ap);
    sg_mark_t m = {s->path, n ? (int)n->start_mark.line + 1 : 1,
                   n ? (int)n->start_mark.column + 1 : 1};
    sg_config_errors_add(s->errs, &m, "%s", msg ? msg : "out of memory");
    free(msg);
    s->errors++;
}

static yaml_node_t *s_node(s_scn_t *s, yaml_node_item_t id)
{
    return yaml_document_get_node(&s->doc, id);
}

static const char *s_scalar(s_scn_t *s, yaml_node_t *n, const char *what)
{
    if (n && n->type == YAML_SCALAR_NODE)
        return (const char *)n->data.scalar.value;
    s_err(s, n, "%s: expected a scalar", what);
    return NULL;
}

static bool s_duration(s_scn_t *s, yaml_node_t *n, const char *what, int64_t *out)
{
    const char *t = s_scalar(s, n, what);
    if (t && sg_config_parse_duration(t, out) == SG_OK)
        return true;
    if (t)
        s_err(s, n, "bad value '%s' for '%s': expected a duration like 250ms, 3s, 2m, 1h", t, what);
    return false;
}

/* A name of the config's `what`s, resolved by `find`; -1 (reported) when unknown. */
static int s_ref(s_scn_t *s, yaml_node_t *n, const char *what,
                 int (*find)(const sg_config_t *, const char *))
{
    const char *t = s_scalar(s, n, what);
    int i = t ? find(s->cfg, t) : -1;
    if (t && i < 0)
        s_err(s, n, "%s '%s' is not in the config", what, t);
    return i;
}

static int s_site(s_scn_t *s, yaml_node_t *n) { return s_ref(s, n, "site", sg_config_find_site); }

static int s_observer(s_scn_t *s, yaml_node_t *n)
{
    return s_ref(s, n, "observer", sg_config_find_observer);
}

static int s_collection(s_scn_t *s, yaml_node_t *n)
{
    return s_ref(s, n, "collection", sg_config_find_collection);
}

static yaml_node_t *s_get(s_scn_t *s, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = s_node(s, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return s_node(s, p->value);
    }
    return NULL;
}

/* Rejects keys of `map` not in the NULL-terminated `allowed`. */
static void s_only(s_scn_t *s, yaml_node_t *map, const char *where, const char *const *allowed)
{
    if (!map || map->type != YAML_MAPPING_NODE) {
        s_err(s, map, "%s: expected a mapping", where);
        return;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = s_node(s, p->key);
        const char *name = k && k->type == YAML_SCALAR_NODE ? (char *)k->data.scalar.value : "";
        bool ok = false;
        for (int i = 0; allowed[i]; i++)
            ok |= strcmp(name, allowed[i]) == 0;
        if (!ok)
            s_err(s, k, "unknown key '%s' %s", name, where);
    }
}

/* Reads a list of names with `resolve` into a new array. */
static int *s_names(s_scn_t *s, yaml_node_t *seq, int (*resolve)(s_scn_t *, yaml_node_t *),
                    size_t *n)
{
    *n = 0;
    if (!seq || seq->type != YAML_SEQUENCE_NODE) {
        s_err(s, seq, "expected a list of names");
        return NULL;
    }
    size_t len = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    int *out = calloc(len ? len : 1, sizeof *out);
    for (size_t i = 0; out && i < len; i++) {
        int v = resolve(s, s_node(s, seq->data.sequence.items.start[i]));
        if (v >= 0)
            out[(*n)++] = v;
    }
    return out;
}

static int s_health(s_scn_t *s, yaml_node_t *n)
{
    static const char *const names[] = {"normal", "warning", "critical"};
    const char *t = n ? s_scalar(s, n, "health") : "normal";
    for (int i = 0; t && i < 3; i++)
        if (strcmp(t, names[i]) == 0)
            return i + 1;
    if (t)
        s_err(s, n, "bad health '%s': expected normal, warning or critical", t);
    return 1;
}

static void s_read_link(s_scn_t *s, yaml_node_t *v, s_action_t *a)
{
    size_t n = 0;
    int *sites = s_names(s, v, s_site, &n);
    if (sites && n == 2) {
        a->a = sites[0];
        a->b = sites[1];
    } else if (sites) {
        s_err(s, v, "a link names two sites, like [A, B]");
    }
    free(sites);
}

static void s_read_flap(s_scn_t *s, yaml_node_t *v, s_action_t *a)
{
    static const char *const keys[] = {"observer", "period", NULL};
    s_only(s, v, "in flap", keys);
    a->a = s_observer(s, s_get(s, v, "observer"));
    if (!s_duration(s, s_get(s, v, "period"), "period", &a->ms))
        a->ms = 0;
}

static void s_read_replication(s_scn_t *s, yaml_node_t *v, s_action_t *a)
{
    static const char *const keys[] = {"collection", "health", "lag", NULL};
    s_only(s, v, "in replication", keys);
    a->a = s_collection(s, s_get(s, v, "collection"));
    a->health = s_health(s, s_get(s, v, "health"));
    int64_t lag = 0;
    yaml_node_t *l = s_get(s, v, "lag");
    if (l && s_duration(s, l, "lag", &lag))
        a->lag_s = (uint64_t)(lag / 1000);
}

static void s_read_pause(s_scn_t *s, yaml_node_t *v, s_action_t *a)
{
    static const char *const keys[] = {"site", "collection", "for", "reason", NULL};
    s_only(s, v, "in pause", keys);
    yaml_node_t *site = s_get(s, v, "site"), *coll = s_get(s, v, "collection");
    a->a = site ? s_site(s, site) : -1;
    a->b = coll ? s_collection(s, coll) : -1;
    yaml_node_t *len = s_get(s, v, "for");
    if (a->kind == S_PAUSE && !s_duration(s, len, "for", &a->ms))
        a->ms = 0;
    yaml_node_t *r = s_get(s, v, "reason");
    const char *t = r ? s_scalar(s, r, "reason") : NULL;
    if (t)
        a->text = sg_strdupf("%s", t);
}

/* One action: {at: 10s, <kind>: <argument>}. */
static void s_read_action(s_scn_t *s, yaml_node_t *item, s_action_t *a)
{
    *a = (s_action_t){.a = -1, .b = -1, .health = 1};
    if (!item || item->type != YAML_MAPPING_NODE || item->data.mapping.pairs.top -
                                                          item->data.mapping.pairs.start != 2) {
        s_err(s, item, "an action is a mapping of 'at' and one action, like {at: 10s, site_down: A}");
        return;
    }
    if (!s_duration(s, s_get(s, item, "at"), "at", &a->at))
        return;
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
        yaml_node_t *k = s_node(s, p->key), *v = s_node(s, p->value);
        const char *name = k && k->type == YAML_SCALAR_NODE ? (char *)k->data.scalar.value : "";
        if (strcmp(name, "at") == 0)
            continue;
        size_t i = 0;
        while (i < sizeof s_act_names / sizeof s_act_names[0] && strcmp(name, s_act_names[i]) != 0)
            i++;
        if (i == sizeof s_act_names / sizeof s_act_names[0]) {
            s_err(s, k, "unknown action '%s'", name);
            return;
        }
        a->kind = (s_act_kind_t)i;
        switch (a->kind) {
        case S_SITE_DOWN:
        case S_SITE_UP: a->a = s_site(s, v); break;
        case S_LINK_DOWN:
        case S_LINK_UP: s_read_link(s, v, a); break;
        case S_OBSERVER_DOWN:
        case S_OBSERVER_UP:
        case S_ISOLATE:
        case S_UNISOLATE: a->a = s_observer(s, v); break;
        case S_FLAP: s_read_flap(s, v, a); break;
        case S_REPLICATION: s_read_replication(s, v, a); break;
        case S_APPROVE:
        case S_DENY: a->a = s_collection(s, v); break;
        case S_PAUSE:
        case S_RESUME: s_read_pause(s, v, a); break;
        }
    }
}

static void s_read_actions(s_scn_t *s, yaml_node_t *seq)
{
    if (!seq)
        return;
    if (seq->type != YAML_SEQUENCE_NODE) {
        s_err(s, seq, "'events' must be a list of actions");
        return;
    }
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    s->acts = calloc(n ? n : 1, sizeof *s->acts);
    if (!s->acts)
        return;
    for (size_t i = 0; i < n; i++)
        s_read_action(s, s_node(s, seq->data.sequence.items.start[i]), &s->acts[s->n_acts++]);
    for (size_t i = 1; i < s->n_acts; i++) /* stable sort by time */
        for (size_t j = i; j > 0 && s->acts[j - 1].at > s->acts[j].at; j--) {
            s_action_t t = s->acts[j];
            s->acts[j] = s->acts[j - 1];
            s->acts[j - 1] = t;
        }
}

static int s_guard_by_name(s_scn_t *s, yaml_node_t *n)
{
    const char *t = s_scalar(s, n, "guard");
    for (int g = 1; t && g < SG_GUARD_COUNT; g++)
        if (strcmp(t, sg_guard_name((sg_guard_t)g)) == 0)
            return g;
    if (t)
        s_err(s, n, "unknown guard '%s'", t);
    return -1;
}

static void s_read_pairs(s_scn_t *s, yaml_node_t *map, int (*key)(s_scn_t *, yaml_node_t *),
                         bool duration, int **keys, int64_t **vals, size_t *n)
{
    *n = 0;
    if (!map || map->type != YAML_MAPPING_NODE) {
        s_err(s, map, "expected a mapping");
        return;
    }
    size_t len = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    *keys = calloc(len ? len : 1, sizeof **keys);
    *vals = calloc(len ? len : 1, sizeof **vals);
    if (!*keys || !*vals)
        return;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        int k = key(s, s_node(s, p->key));
        int64_t v = -1;
        if (duration)
            s_duration(s, s_node(s, p->value), "lost_within", &v);
        else
            v = s_guard_by_name(s, s_node(s, p->value));
        if (k >= 0 && v >= 0) {
            (*keys)[*n] = k;
            (*vals)[(*n)++] = v;
        }
    }
}

static void s_read_expect(s_scn_t *s, yaml_node_t *ex)
{
    static const char *const keys[] = {"lost",    "not_lost", "failover", "no_failover",
                                       "blocked", "failovers", "lost_within", NULL};
    s->ex.failovers = -1;
    if (!ex)
        return;
    s_only(s, ex, "in expect", keys);
    yaml_node_t *n;
    if ((n = s_get(s, ex, "lost")))
        s->ex.lost = s_names(s, n, s_site, &s->ex.n_lost);
    if ((n = s_get(s, ex, "not_lost")))
        s->ex.not_lost = s_names(s, n, s_site, &s->ex.n_not_lost);
    if ((n = s_get(s, ex, "failover")))
        s->ex.failover = s_names(s, n, s_collection, &s->ex.n_failover);
    if ((n = s_get(s, ex, "no_failover")))
        s->ex.no_failover = s_names(s, n, s_collection, &s->ex.n_no_failover);
    if ((n = s_get(s, ex, "lost_within")))
        s_read_pairs(s, n, s_site, true, &s->ex.lost_within_site, &s->ex.lost_within_ms,
                     &s->ex.n_lost_within);
    if ((n = s_get(s, ex, "blocked"))) {
        int64_t *guards = NULL;
        s_read_pairs(s, n, s_collection, false, &s->ex.blocked_coll, &guards, &s->ex.n_blocked);
        s->ex.blocked_guard = calloc(s->ex.n_blocked ? s->ex.n_blocked : 1, sizeof(int));
        for (size_t i = 0; s->ex.blocked_guard && i < s->ex.n_blocked; i++)
            s->ex.blocked_guard[i] = (int)guards[i];
        free(guards);
    }
    if ((n = s_get(s, ex, "failovers"))) {
        const char *t = s_scalar(s, n, "failovers");
        char *end = NULL;
        long v = t ? strtol(t, &end, 10) : -1;
        if (!t || *end || v < 0)
            s_err(s, n, "'failovers' must be a count");
        else
            s->ex.failovers = (int)v;
    }
}

static void s_read_timing(s_scn_t *s, yaml_node_t *root)
{
    yaml_node_t *n;
    s->interval = 1000;
    s->step = 100;
    s->start = S_DEFAULT_START;
    s->siteguard_site = -1;
    if (!s_duration(s, s_get(s, root, "duration"), "duration", &s->duration))
        return;
    if ((n = s_get(s, root, "interval")))
        s_duration(s, n, "interval", &s->interval);
    if ((n = s_get(s, root, "step")))
        s_duration(s, n, "step", &s->step);
    if ((n = s_get(s, root, "siteguard_at")))
        s->siteguard_site = s_site(s, n);
    if ((n = s_get(s, root, "seed"))) {
        const char *t = s_scalar(s, n, "seed");
        s->seed = t ? strtoull(t, NULL, 10) : 0;
    }
    if ((n = s_get(s, root, "loss"))) {
        const char *t = s_scalar(s, n, "loss");
        char *end = NULL;
        s->loss = t ? strtod(t, &end) : 0;
        if (!t || *end || s->loss < 0 || s->loss > 1)
            s_err(s, n, "'loss' must be a probability between 0 and 1");
    }
    if ((n = s_get(s, root, "start"))) {
        const char *t = s_scalar(s, n, "start");
        struct tm tm = {0};
        if (t && sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            s->start = (int64_t)timegm(&tm) * 1000;
        } else if (t) {
            s_err(s, n, "'start' must be a UTC time like 2027-01-15T08:00:00Z");
        }
    }
}

static int s_load(s_scn_t *s, const char *text, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return SG_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int ok = yaml_parser_load(&p, &s->doc);
    if (!ok) {
        sg_mark_t m = {s->path, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1};
        sg_config_errors_add(s->errs, &m, "YAML: %s", p.problem ? p.problem : "syntax error");
        yaml_parser_delete(&p);
        return SG_ECONFIG;
    }
    yaml_parser_delete(&p);
    yaml_node_t *root = yaml_document_get_root_node(&s->doc);
    static const char *const keys[] = {"name",  "duration", "interval", "step",   "seed",
                                       "loss",  "start",    "siteguard_at", "events", "expect",
                                       NULL};
    s_only(s, root, "at the top level of a scenario", keys);
    if (s->errors == 0) {
        s_read_timing(s, root);
        s_read_actions(s, s_get(s, root, "events"));
        s_read_expect(s, s_get(s, root, "expect"));
    }
    return s->errors ? SG_ECONFIG : SG_OK;
}

/* ---- running ----------------------------------------------------------------- */

static void s_print(FILE *out, int64_t t, const char *label, const char *text)
{
    fprintf(out, "%9.3fs  %-11s %s\n", t / 1000.0, label, text);
}

static void s_on_decision(void *user, const sg_decision_t *d)
{
    s_result_t *r = user;
    static const char *labels[] = {"",        "SUSPECT", "LOST",      "RECOVERING", "RECOVERED",
                                   "FAILOVER", "BLOCKED", "CONTESTED", "NOTICE"};
    s_print(r->out, d->at.mono, labels[d->kind], d->reason);
    if (d->kind == SG_DECISION_SITE_LOST && r->lost_at[d->site] < 0)
        r->lost_at[d->site] = d->at.mono;
    if (d->kind == SG_DECISION_FAILOVER) {
        r->failovers[d->collection]++;
        r->total_failovers++;
    }
    if (d->kind == SG_DECISION_BLOCKED)
        r->blocked_by[(size_t)d->collection * SG_GUARD_COUNT + d->guard] = true;
}

static void s_apply(const s_scn_t *s, const s_action_t *a, sg_world_t *w, sg_engine_t *e,
                    s_result_t *r)
{
    const sg_config_t *cfg = s->cfg;
    sg_now_t now = sg_world_time(w);
    char line[256];
    switch (a->kind) {
    case S_SITE_DOWN:
    case S_SITE_UP:
        sg_world_site_up(w, a->a, a->kind == S_SITE_UP);
        if (a->kind == S_SITE_DOWN && r->down_at[a->a] < 0)
            r->down_at[a->a] = a->at;
        snprintf(line, sizeof line, "site %s %s", cfg->sites[a->a].name,
                 a->kind == S_SITE_UP ? "comes back" : "goes down");
        break;
    case S_LINK_DOWN:
    case S_LINK_UP:
        sg_world_link_up(w, a->a, a->b, a->kind == S_LINK_UP);
        snprintf(line, sizeof line, "link %s-%s %s", cfg->sites[a->a].name,
                 cfg->sites[a->b].name, a->kind == S_LINK_UP ? "up" : "down");
        break;
    case S_OBSERVER_DOWN:
    case S_OBSERVER_UP:
        sg_world_observer_up(w, a->a, a->kind == S_OBSERVER_UP);
        snprintf(line, sizeof line, "observer %s %s", cfg->observers[a->a].id,
                 a->kind == S_OBSERVER_UP ? "up" : "down");
        break;
    case S_ISOLATE:
    case S_UNISOLATE:
        sg_world_isolate(w, a->a, a->kind == S_ISOLATE);
        snprintf(line, sizeof line, "observer %s %s", cfg->observers[a->a].id,
                 a->kind == S_ISOLATE ? "isolated: sees nothing" : "sees again");
        break;
    case S_FLAP:
        sg_world_flap(w, a->a, a->ms);
        snprintf(line, sizeof line, "observer %s flaps every %.1f s", cfg->observers[a->a].id,
                 a->ms / 1000.0);
        break;
    case S_REPLICATION:
        sg_world_replication(w, a->a, a->health, a->lag_s);
        snprintf(line, sizeof line, "replication of %s: health %d, lag %llu s",
                 cfg->collections[a->a].name, a->health, (unsigned long long)a->lag_s);
        break;
    case S_APPROVE:
    case S_DENY: {
        int rc = a->kind == S_APPROVE ? sg_engine_approve(e, a->a, now) : sg_engine_deny(e, a->a, now);
        snprintf(line, sizeof line, "operator %s %s%s", a->kind == S_APPROVE ? "approves" : "denies",
                 cfg->collections[a->a].name, rc == SG_OK ? "" : " (nothing awaits approval)");
        break;
    }
    case S_PAUSE:
    case S_RESUME:
        if (a->kind == S_PAUSE)
            sg_engine_pause(e, a->a, a->b, now.mono + a->ms, a->text);
        else
            sg_engine_resume(e, a->a, a->b);
        snprintf(line, sizeof line, "operator %s %s", a->kind == S_PAUSE ? "pauses" : "resumes",
                 a->b >= 0 ? cfg->collections[a->b].name
                 : a->a >= 0 ? cfg->sites[a->a].name : "everything");
        break;
    }
    s_print(r->out, a->at, ">>", line);
}

static int s_run(const s_scn_t *s, s_result_t *r)
{
    sg_world_t *w = sg_world_new(s->cfg, s->start, s->seed);
    sg_engine_t *e = sg_engine_new(s->cfg, 0, (sg_now_t){0, s->start});
    int rc = SG_ENOMEM;
    if (!w || !e)
        goto done;
    sg_world_set_interval(w, s->interval);
    sg_world_set_step(w, s->step);
    sg_world_set_loss(w, s->loss);
    sg_world_set_siteguard_site(w, s->siteguard_site);
    rc = SG_OK;
    for (size_t i = 0; i <= s->n_acts && rc == SG_OK; i++) {
        int64_t until = i < s->n_acts ? s->acts[i].at : s->duration;
        rc = sg_world_run(w, e, until, s_on_decision, r);
        if (rc == SG_OK && i < s->n_acts)
            s_apply(s, &s->acts[i], w, e, r);
    }
    fprintf(r->out, "events: %llu sent, %llu lost\n", (unsigned long long)sg_world_events(w),
            (unsigned long long)sg_world_lost_events(w));
done:
    sg_engine_destroy(&e);
    sg_world_destroy(&w);
    return rc;
}

/* ---- expectations -------------------------------------------------------------- */

static bool s_check(FILE *out, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool s_check(FILE *out, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "expect ");
    vfprintf(out, fmt, ap);
    fprintf(out, ": %s\n", ok ? "ok" : "FAILED");
    va_end(ap);
    return ok;
}

static bool s_verify(const s_scn_t *s, const s_result_t *r, FILE *out)
{
    const sg_config_t *cfg = s->cfg;
    const s_expect_t *x = &s->ex;
    bool all = true;
    for (size_t i = 0; i < x->n_lost; i++)
        all &= s_check(out, r->lost_at[x->lost[i]] >= 0, "site %s lost", cfg->sites[x->lost[i]].name);
    for (size_t i = 0; i < x->n_not_lost; i++)
        all &= s_check(out, r->lost_at[x->not_lost[i]] < 0, "site %s never lost",
                       cfg->sites[x->not_lost[i]].name);
    for (size_t i = 0; i < x->n_lost_within; i++) {
        int site = x->lost_within_site[i];
        int64_t took = r->lost_at[site] - r->down_at[site];
        bool ok = r->lost_at[site] >= 0 && r->down_at[site] >= 0 && took <= x->lost_within_ms[i];
        all &= s_check(out, ok, "site %s lost within %.1f s of going down (took %.1f s)",
                       cfg->sites[site].name, x->lost_within_ms[i] / 1000.0, took / 1000.0);
    }
    for (size_t i = 0; i < x->n_failover; i++)
        all &= s_check(out, r->failovers[x->failover[i]] == 1, "%s failed over once",
                       cfg->collections[x->failover[i]].name);
    for (size_t i = 0; i < x->n_no_failover; i++)
        all &= s_check(out, r->failovers[x->no_failover[i]] == 0, "%s not failed over",
                       cfg->collections[x->no_failover[i]].name);
    for (size_t i = 0; i < x->n_blocked; i++) {
        int c = x->blocked_coll[i], g = x->blocked_guard[i];
        all &= s_check(out, r->blocked_by[(size_t)c * SG_GUARD_COUNT + g], "%s blocked by %s",
                       cfg->collections[c].name, sg_guard_name((sg_guard_t)g));
    }
    if (x->failovers >= 0)
        all &= s_check(out, r->total_failovers == x->failovers, "%d failover(s) in all (got %d)",
                       x->failovers, r->total_failovers);
    return all;
}

/* ---- entry ------------------------------------------------------------------------ */

static char *s_read_file(const char *path, size_t *len, sg_config_errors_t *errs)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1))) {
            *len = fread(text, 1, (size_t)n, f);
            text[*len] = '\0';
        }
    }
    if (!text)
        sg_config_errors_add(errs, NULL, "%s: cannot read: %s", path, strerror(errno));
    if (f)
        fclose(f);
    return text;
}

static void s_scn_fini(s_scn_t *s)
{
    for (size_t i = 0; i < s->n_acts; i++)
        free(s->acts[i].text);
    free(s->acts);
    free(s->ex.lost);
    free(s->ex.not_lost);
    free(s->ex.failover);
    free(s->ex.no_failover);
    free(s->ex.lost_within_site);
    free(s->ex.lost_within_ms);
    free(s->ex.blocked_coll);
    free(s->ex.blocked_guard);
    yaml_document_delete(&s->doc);
}

int sg_simulate_file(const sg_config_t *cfg, const char *path, FILE *out, sg_config_errors_t *errs)
{
    size_t len = 0;
    char *text = s_read_file(path, &len, errs);
    if (!text)
        return SG_EIO;
    s_scn_t s = {.cfg = cfg, .path = path, .errs = errs};
    memset(&s.doc, 0, sizeof s.doc);
    int rc = s_load(&s, text, len);
    free(text);
    s_result_t r = {.scn = &s, .out = out};
    size_t ns = cfg->n_sites ? cfg->n_sites : 1, nc = cfg->n_collections ? cfg->n_collections : 1;
    r.lost_at = malloc(ns * sizeof *r.lost_at);
    r.down_at = malloc(ns * sizeof *r.down_at);
    r.failovers = calloc(nc, sizeof *r.failovers);
    r.blocked_by = calloc(nc * SG_GUARD_COUNT, sizeof *r.blocked_by);
    if (rc == SG_OK && (!r.lost_at || !r.down_at || !r.failovers || !r.blocked_by))
        rc = SG_ENOMEM;
    for (size_t i = 0; rc == SG_OK && i < ns; i++)
        r.lost_at[i] = r.down_at[i] = -1;
    if (rc == SG_OK)
        rc = s_run(&s, &r);
    if (rc == SG_OK)
        rc = s_verify(&s, &r, out) ? 0 : 1;
    free(r.lost_at);
    free(r.down_at);
    free(r.failovers);
    free(r.blocked_by);
    s_scn_fini(&s);
    return rc;
}
