/* simulate: scenarios for the policy engine; see simulate.h. */
#include "tools/simulate.h"
#include "base/err.h"
#include "policy/engine.h"
#include "tools/world.h"
#include "base/str.h"

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
    S_RESUME,
    S_SKEW,
    S_DELAY,
    S_RESTART,
    S_FAILOVER
} s_act_kind_t;

static const char *const s_act_names[] = {
    "site_down", "site_up",     "link_down", "link_up", "observer_down", "observer_up",
    "isolate",   "unisolate",   "flap",      "replication", "approve",   "deny",
    "pause",     "resume",      "skew",      "delay",   "restart",       "failover"};

typedef struct {
    int64_t at;
    s_act_kind_t kind;
    int a, b;     /* sites, observer or collection, by kind; -1 unused */
    bool one_way; /* link_down/link_up {from: a, to: b} */
    bool force;   /* failover */
    int64_t ms;   /* flap period, pause length, skew, delay */
    int health;
    uint64_t lag_s;
    char *text;   /* pause or failover reason */
} s_action_t;

/* A collection or site with a time or another collection, for the
 * expectations that pair them. */
typedef struct {
    int key;
    int64_t val;
} s_pair_t;

typedef struct {
    int *lost, *not_lost, *failover, *no_failover;
    size_t n_lost, n_not_lost, n_failover, n_no_failover;
    int *called, *not_called, *cancelled, *contested, *not_contested;
    size_t n_called, n_not_called, n_cancelled, n_contested, n_not_contested;
    s_pair_t *lost_within;       /* site, ms after its first site_down */
    s_pair_t *not_lost_before;   /* site, virtual time */
    s_pair_t *not_called_before; /* collection, virtual time */
    s_pair_t *waits_for;         /* collection, the collection whose job ends first */
    s_pair_t *blocked;           /* collection, guard */
    size_t n_lost_within, n_not_lost_before, n_not_called_before, n_waits_for, n_blocked;
    char **notice; /* fragments of NOTICE decisions */
    size_t n_notice;
    int failovers; /* -1: not checked */
    int calls;     /* -1: not checked */
} s_expect_t;

typedef struct {
    const sg_config_t *cfg;
    const char *path;
    yaml_document_t doc;
    sg_config_errors_t *errs;
    int errors;
    int64_t duration, interval, step, start;
    int64_t call_delay, job; /* runs: -1 call_delay: one step */
    double loss;
    uint64_t seed;
    int siteguard_site;
    bool buffer;
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
    bool *contested;    /* per site: declared contested at least once */
    int *failovers;     /* per collection: FAILOVER decisions */
    int *calls;         /* per collection: InitiateFailover called */
    int *cancels;       /* per collection: runs cancelled */
    int64_t *first_call, *first_done; /* per collection, -1 never */
    bool *blocked_by;   /* n_collections x SG_GUARD_COUNT */
    bool *notice_seen;  /* per expected notice fragment */
    int total_failovers, total_calls;
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

/* A duration that may be negative ("-4s"), for clock skew. */
static bool s_signed_duration(s_scn_t *s, yaml_node_t *n, const char *what, int64_t *out)
{
    const char *t = s_scalar(s, n, what);
    bool neg = t && t[0] == '-';
    if (t && sg_config_parse_duration(neg ? t + 1 : t, out) == SG_OK) {
        *out = neg ? -*out : *out;
        return true;
    }
    if (t)
        s_err(s, n, "bad value '%s' for '%s': expected a duration like 250ms, 4s or -4s", t, what);
    return false;
}

static bool s_bool(s_scn_t *s, yaml_node_t *n, const char *what)
{
    const char *t = s_scalar(s, n, what);
    if (t && (strcmp(t, "true") == 0 || strcmp(t, "false") == 0))
        return strcmp(t, "true") == 0;
    if (t)
        s_err(s, n, "bad value '%s' for '%s': expected true or false", t, what);
    return false;
}

/* [A, B]: both directions; {from: A, to: B}: one direction (observers at A
 * see B, and A's events reach siteguard at B). */
static void s_read_link(s_scn_t *s, yaml_node_t *v, s_action_t *a)
{
    if (v && v->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"from", "to", NULL};
        s_only(s, v, "in a one-way link", keys);
        yaml_node_t *from = s_get(s, v, "from"), *to = s_get(s, v, "to");
        if (!from || !to) {
            s_err(s, v, "a one-way link names 'from' and 'to', like {from: A, to: B}");
            return;
        }
        a->a = s_site(s, from);
        a->b = s_site(s, to);
        a->one_way = true;
        if (a->a >= 0 && a->a == a->b)
            s_err(s, v, "a link joins two different sites");
        return;
    }
    size_t n = 0;
    int *sites = s_names(s, v, s_site, &n);
    if (sites && n == 2) {
        a->a = sites[0];
        a->b = sites[1];
    } else if (sites) {
        s_err(s, v, "a link names two sites, like [A, B] (both ways) or {from: A, to: B}");
    }
    free(sites);
}

/* The value of a key the mapping must have; NULL (reported at the mapping)
 * when it is missing. */
static yaml_node_t *s_need(s_scn_t *s, yaml_node_t *map, const char *key, const char *where)
{
    yaml_node_t *n = s_get(s, map, key);
    if (!n && map && map->type == YAML_MAPPING_NODE)
        s_err(s, map, "'%s' is required %s", key, where);
    return n;
}

/* skew: {observer: obs-w, by: -4s}; delay: {observer: obs-a, by: 2s}. */
static void s_read_observer_by(s_scn_t *s, yaml_node_t *v, s_action_t *a, const char *where)
{
    static const char *const keys[] = {"observer", "by", NULL};
    s_only(s, v, where, keys);
    yaml_node_t *o = s_need(s, v, "observer", where), *by = s_need(s, v, "by", where);
    if (o)
        a->a = s_observer(s, o);
    if (!by)
        return;
    if (a->kind == S_SKEW)
        s_signed_duration(s, by, "by", &a->ms);
    else
        s_duration(s, by, "by", &a->ms);
}

/* failover: {collection: x, force: true, reason: text}. */
static void s_read_failover(s_scn_t *s, yaml_node_t *v, s_action_t *a)
{
    static const char *const keys[] = {"collection", "force", "reason", NULL};
    s_only(s, v, "in failover", keys);
    yaml_node_t *c = s_need(s, v, "collection", "in failover");
    if (c)
        a->a = s_collection(s, c);
    yaml_node_t *f = s_get(s, v, "force"), *r = s_get(s, v, "reason");
    a->force = f ? s_bool(s, f, "force") : false;
    const char *t = r ? s_scalar(s, r, "reason") : NULL;
    if (t)
        a->text = sg_strdupf("%s", t);
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
    if (l && l->type == YAML_SCALAR_NODE && strcmp((char *)l->data.scalar.value, "max") == 0)
        a->lag_s = UINT64_MAX; /* the largest lag a report can carry */
    else if (l && s_duration(s, l, "lag", &lag))
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
        case S_SKEW: s_read_observer_by(s, v, a, "in skew"); break;
        case S_DELAY: s_read_observer_by(s, v, a, "in delay"); break;
        case S_RESTART: {
            const char *t = s_scalar(s, v, "restart");
            if (t && strcmp(t, "siteguard") != 0)
                s_err(s, v, "only siteguard restarts: write 'restart: siteguard'");
            break;
        }
        case S_FAILOVER: s_read_failover(s, v, a); break;
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

static int64_t s_val_duration(s_scn_t *s, yaml_node_t *n, const char *what)
{
    int64_t v = -1;
    return s_duration(s, n, what, &v) ? v : -1;
}

static int64_t s_val_guard(s_scn_t *s, yaml_node_t *n, const char *what)
{
    (void)what;
    return s_guard_by_name(s, n);
}

static int64_t s_val_collection(s_scn_t *s, yaml_node_t *n, const char *what)
{
    (void)what;
    return s_collection(s, n);
}

/* A mapping of names (resolved by `key`) to values (read by `val`); entries
 * with an error are reported and left out. */
static s_pair_t *s_read_pairs(s_scn_t *s, yaml_node_t *map, const char *what,
                              int (*key)(s_scn_t *, yaml_node_t *),
                              int64_t (*val)(s_scn_t *, yaml_node_t *, const char *), size_t *n)
{
    *n = 0;
    if (!map || map->type != YAML_MAPPING_NODE) {
        s_err(s, map, "'%s': expected a mapping", what);
        return NULL;
    }
    size_t len = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    s_pair_t *out = calloc(len ? len : 1, sizeof *out);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         out && p < map->data.mapping.pairs.top; p++) {
        int k = key(s, s_node(s, p->key));
        int64_t v = val(s, s_node(s, p->value), what);
        if (k >= 0 && v >= 0)
            out[(*n)++] = (s_pair_t){k, v};
    }
    return out;
}

/* A list of text fragments, copied. */
static char **s_texts(s_scn_t *s, yaml_node_t *seq, const char *what, size_t *n)
{
    *n = 0;
    if (!seq || seq->type != YAML_SEQUENCE_NODE) {
        s_err(s, seq, "'%s': expected a list of texts", what);
        return NULL;
    }
    size_t len = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    char **out = calloc(len ? len : 1, sizeof *out);
    for (size_t i = 0; out && i < len; i++) {
        yaml_node_t *item = s_node(s, seq->data.sequence.items.start[i]);
        const char *t = s_scalar(s, item, what);
        if (t && !*t)
            s_err(s, item, "'%s': an empty fragment matches anything", what);
        else if (t && (out[*n] = sg_strdupf("%s", t)))
            (*n)++;
    }
    return out;
}

static int s_count(s_scn_t *s, yaml_node_t *n, const char *what)
{
    const char *t = s_scalar(s, n, what);
    char *end = NULL;
    long v = t ? strtol(t, &end, 10) : -1;
    if (!t || end == t || *end || v < 0 || v > 1000000) {
        s_err(s, n, "'%s' must be a count", what);
        return -1;
    }
    return (int)v;
}

static void s_read_expect(s_scn_t *s, yaml_node_t *ex)
{
    static const char *const keys[] = {
        "lost",       "not_lost",      "failover",        "no_failover",       "blocked",
        "failovers",  "lost_within",   "called",          "not_called",        "calls",
        "cancelled",  "contested",     "not_contested",   "notice",            "not_lost_before",
        "not_called_before", "waits_for", NULL};
    s_expect_t *x = &s->ex;
    x->failovers = -1;
    x->calls = -1;
    if (!ex)
        return;
    s_only(s, ex, "in expect", keys);
    yaml_node_t *n;
    if ((n = s_get(s, ex, "lost")))
        x->lost = s_names(s, n, s_site, &x->n_lost);
    if ((n = s_get(s, ex, "not_lost")))
        x->not_lost = s_names(s, n, s_site, &x->n_not_lost);
    if ((n = s_get(s, ex, "failover")))
        x->failover = s_names(s, n, s_collection, &x->n_failover);
    if ((n = s_get(s, ex, "no_failover")))
        x->no_failover = s_names(s, n, s_collection, &x->n_no_failover);
    if ((n = s_get(s, ex, "called")))
        x->called = s_names(s, n, s_collection, &x->n_called);
    if ((n = s_get(s, ex, "not_called")))
        x->not_called = s_names(s, n, s_collection, &x->n_not_called);
    if ((n = s_get(s, ex, "cancelled")))
        x->cancelled = s_names(s, n, s_collection, &x->n_cancelled);
    if ((n = s_get(s, ex, "contested")))
        x->contested = s_names(s, n, s_site, &x->n_contested);
    if ((n = s_get(s, ex, "not_contested")))
        x->not_contested = s_names(s, n, s_site, &x->n_not_contested);
    if ((n = s_get(s, ex, "notice")))
        x->notice = s_texts(s, n, "notice", &x->n_notice);
    if ((n = s_get(s, ex, "lost_within")))
        x->lost_within = s_read_pairs(s, n, "lost_within", s_site, s_val_duration,
                                      &x->n_lost_within);
    if ((n = s_get(s, ex, "not_lost_before")))
        x->not_lost_before = s_read_pairs(s, n, "not_lost_before", s_site, s_val_duration,
                                          &x->n_not_lost_before);
    if ((n = s_get(s, ex, "not_called_before")))
        x->not_called_before = s_read_pairs(s, n, "not_called_before", s_collection,
                                            s_val_duration, &x->n_not_called_before);
    if ((n = s_get(s, ex, "waits_for")))
        x->waits_for = s_read_pairs(s, n, "waits_for", s_collection, s_val_collection,
                                    &x->n_waits_for);
    if ((n = s_get(s, ex, "blocked")))
        x->blocked = s_read_pairs(s, n, "blocked", s_collection, s_val_guard, &x->n_blocked);
    if ((n = s_get(s, ex, "failovers")))
        x->failovers = s_count(s, n, "failovers");
    if ((n = s_get(s, ex, "calls")))
        x->calls = s_count(s, n, "calls");
}

static void s_read_timing(s_scn_t *s, yaml_node_t *root)
{
    yaml_node_t *n;
    s->interval = 1000;
    s->step = 100;
    s->start = S_DEFAULT_START;
    s->siteguard_site = -1;
    s->call_delay = -1;
    s->job = 1000;
    if (!s_duration(s, s_get(s, root, "duration"), "duration", &s->duration))
        return;
    if ((n = s_get(s, root, "interval")))
        s_duration(s, n, "interval", &s->interval);
    if ((n = s_get(s, root, "step")))
        s_duration(s, n, "step", &s->step);
    if ((n = s_get(s, root, "siteguard_at")))
        s->siteguard_site = s_site(s, n);
    if ((n = s_get(s, root, "buffer")))
        s->buffer = s_bool(s, n, "buffer");
    if ((n = s_get(s, root, "runs"))) {
        static const char *const keys[] = {"call_delay", "job", NULL};
        s_only(s, n, "in runs", keys);
        yaml_node_t *v;
        if ((v = s_get(s, n, "call_delay")))
            s_duration(s, v, "call_delay", &s->call_delay);
        if ((v = s_get(s, n, "job")))
            s_duration(s, v, "job", &s->job);
    }
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
    static const char *const keys[] = {"name",   "duration", "interval",     "step",
                                       "seed",   "loss",     "start",        "siteguard_at",
                                       "buffer", "runs",     "events",       "expect",
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
    const s_expect_t *x = &r->scn->ex;
    static const char *labels[] = {"",        "SUSPECT", "LOST",      "RECOVERING", "RECOVERED",
                                   "FAILOVER", "BLOCKED", "CONTESTED", "NOTICE"};
    s_print(r->out, d->at.mono, labels[d->kind], d->reason);
    if (d->kind == SG_DECISION_SITE_LOST && r->lost_at[d->site] < 0)
        r->lost_at[d->site] = d->at.mono;
    if (d->kind == SG_DECISION_SITE_CONTESTED)
        r->contested[d->site] = true;
    if (d->kind == SG_DECISION_FAILOVER) {
        r->failovers[d->collection]++;
        r->total_failovers++;
    }
    if (d->kind == SG_DECISION_BLOCKED)
        r->blocked_by[(size_t)d->collection * SG_GUARD_COUNT + d->guard] = true;
    for (size_t i = 0; d->kind == SG_DECISION_NOTICE && i < x->n_notice; i++)
        if (d->reason && strstr(d->reason, x->notice[i]))
            r->notice_seen[i] = true;
}

/* What became of a run: called after its proof, cancelled, or done. */
static void s_on_run(void *user, sg_world_run_event_t what, int c, uint64_t run_id, sg_now_t at,
                     const char *why)
{
    s_result_t *r = user;
    const char *name = r->scn->cfg->collections[c].name;
    const char *to = r->scn->cfg->sites[r->scn->cfg->collections[c].replica_site].name;
    char line[512];
    switch (what) {
    case SG_WORLD_RUN_CALLED:
        r->calls[c]++;
        r->total_calls++;
        if (r->first_call[c] < 0)
            r->first_call[c] = at.mono;
        snprintf(line, sizeof line, "run %llu: proof holds, InitiateFailover of %s to %s called",
                 (unsigned long long)run_id, name, to);
        s_print(r->out, at.mono, "CALLED", line);
        break;
    case SG_WORLD_RUN_CANCELLED:
        r->cancels[c]++;
        snprintf(line, sizeof line, "run %llu of %s cancelled before any call: %s",
                 (unsigned long long)run_id, name, why ? why : "no reason given");
        s_print(r->out, at.mono, "CANCELLED", line);
        break;
    case SG_WORLD_RUN_DONE:
        if (r->first_done[c] < 0)
            r->first_done[c] = at.mono;
        snprintf(line, sizeof line, "run %llu: %s is failed over to %s", (unsigned long long)run_id,
                 name, to);
        s_print(r->out, at.mono, "DONE", line);
        break;
    }
}

static void s_apply_link(const s_scn_t *s, const s_action_t *a, sg_world_t *w, char *line,
                         size_t len)
{
    const sg_config_t *cfg = s->cfg;
    bool up = a->kind == S_LINK_UP;
    if (a->one_way) {
        sg_world_link_dir(w, a->a, a->b, up);
        snprintf(line, len, "link %s->%s %s (one way: %s's observers %s %s, %s's events %s %s)",
                 cfg->sites[a->a].name, cfg->sites[a->b].name, up ? "up" : "down",
                 cfg->sites[a->a].name, up ? "see" : "do not see", cfg->sites[a->b].name,
                 cfg->sites[a->a].name, up ? "reach" : "do not reach", cfg->sites[a->b].name);
        return;
    }
    sg_world_link_up(w, a->a, a->b, up);
    snprintf(line, len, "link %s-%s %s", cfg->sites[a->a].name, cfg->sites[a->b].name,
             up ? "up" : "down");
}

/* An operator's manual failover, through the engine as the control endpoint
 * does it. */
static void s_apply_failover(const s_scn_t *s, const s_action_t *a, sg_engine_t *e, sg_now_t now,
                             char *line, size_t len)
{
    char *why = NULL;
    int rc = sg_engine_manual_failover(e, a->a, a->force, a->text, NULL, now, &why);
    snprintf(line, len, "operator fails %s over%s (%s): %s", s->cfg->collections[a->a].name,
             a->force ? ", forced" : "", a->text ? a->text : "no reason",
             rc == SG_OK ? "accepted" : why ? why : "refused");
    free(why);
}

static int s_apply(const s_scn_t *s, const s_action_t *a, sg_world_t *w, sg_engine_t **ep,
                   s_result_t *r)
{
    const sg_config_t *cfg = s->cfg;
    sg_engine_t *e = *ep;
    sg_now_t now = sg_world_time(w);
    char line[512];
    int rc = SG_OK;
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
    case S_LINK_UP: s_apply_link(s, a, w, line, sizeof line); break;
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
        int arc = a->kind == S_APPROVE ? sg_engine_approve(e, a->a, now) : sg_engine_deny(e, a->a, now);
        snprintf(line, sizeof line, "operator %s %s%s", a->kind == S_APPROVE ? "approves" : "denies",
                 cfg->collections[a->a].name, arc == SG_OK ? "" : " (nothing awaits approval)");
        break;
    }
    case S_PAUSE:
    case S_RESUME:
        if (a->kind == S_PAUSE)
            rc = sg_engine_pause(e, a->a, a->b, now.mono + a->ms, a->text);
        else
            sg_engine_resume(e, a->a, a->b);
        snprintf(line, sizeof line, "operator %s %s", a->kind == S_PAUSE ? "pauses" : "resumes",
                 a->b >= 0 ? cfg->collections[a->b].name
                 : a->a >= 0 ? cfg->sites[a->a].name : "everything");
        break;
    case S_SKEW:
        sg_world_skew(w, a->a, a->ms);
        snprintf(line, sizeof line, "observer %s's clock runs %.1f s %s", cfg->observers[a->a].id,
                 (a->ms < 0 ? -a->ms : a->ms) / 1000.0, a->ms < 0 ? "behind" : "ahead");
        break;
    case S_DELAY:
        sg_world_delay(w, a->a, a->ms);
        snprintf(line, sizeof line, "observer %s's events take %.1f s to reach siteguard",
                 cfg->observers[a->a].id, a->ms / 1000.0);
        break;
    case S_RESTART:
        snprintf(line, sizeof line, "siteguard restarts: operator state and runs already called "
                                    "are kept, runs not yet called are abandoned");
        s_print(r->out, a->at, ">>", line);
        return sg_world_restart(w, ep);
    case S_FAILOVER: s_apply_failover(s, a, e, now, line, sizeof line); break;
    }
    s_print(r->out, a->at, ">>", line);
    return rc;
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
    sg_world_set_buffer(w, s->buffer);
    sg_world_set_runs(w, s->call_delay, s->job);
    sg_world_on_runs(w, s_on_run, r);
    rc = SG_OK;
    for (size_t i = 0; i <= s->n_acts && rc == SG_OK; i++) {
        int64_t until = i < s->n_acts ? s->acts[i].at : s->duration;
        rc = sg_world_run(w, e, until, s_on_decision, r);
        if (rc == SG_OK && i < s->n_acts)
            rc = s_apply(s, &s->acts[i], w, &e, r);
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

static bool s_verify_sites(const s_scn_t *s, const s_result_t *r, FILE *out)
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
        int site = x->lost_within[i].key;
        int64_t took = r->lost_at[site] - r->down_at[site];
        bool ok = r->lost_at[site] >= 0 && r->down_at[site] >= 0 && took <= x->lost_within[i].val;
        all &= s_check(out, ok, "site %s lost within %.1f s of going down (took %.1f s)",
                       cfg->sites[site].name, x->lost_within[i].val / 1000.0, took / 1000.0);
    }
    for (size_t i = 0; i < x->n_not_lost_before; i++) {
        int site = x->not_lost_before[i].key;
        int64_t at = r->lost_at[site];
        all &= s_check(out, at < 0 || at >= x->not_lost_before[i].val,
                       "site %s not lost before %.1f s (%s %.1f s)", cfg->sites[site].name,
                       x->not_lost_before[i].val / 1000.0, at < 0 ? "never lost," : "first lost at",
                       at < 0 ? 0.0 : at / 1000.0);
    }
    for (size_t i = 0; i < x->n_contested; i++)
        all &= s_check(out, r->contested[x->contested[i]], "site %s contested",
                       cfg->sites[x->contested[i]].name);
    for (size_t i = 0; i < x->n_not_contested; i++)
        all &= s_check(out, !r->contested[x->not_contested[i]], "site %s never contested",
                       cfg->sites[x->not_contested[i]].name);
    for (size_t i = 0; i < x->n_notice; i++)
        all &= s_check(out, r->notice_seen[i], "a notice saying \"%s\"", x->notice[i]);
    return all;
}

static bool s_verify_runs(const s_scn_t *s, const s_result_t *r, FILE *out)
{
    const sg_config_t *cfg = s->cfg;
    const s_expect_t *x = &s->ex;
    bool all = true;
    for (size_t i = 0; i < x->n_called; i++)
        all &= s_check(out, r->calls[x->called[i]] == 1, "%s called once (called %d time(s))",
                       cfg->collections[x->called[i]].name, r->calls[x->called[i]]);
    for (size_t i = 0; i < x->n_not_called; i++)
        all &= s_check(out, r->calls[x->not_called[i]] == 0, "%s never called (called %d time(s))",
                       cfg->collections[x->not_called[i]].name, r->calls[x->not_called[i]]);
    for (size_t i = 0; i < x->n_cancelled; i++)
        all &= s_check(out, r->cancels[x->cancelled[i]] > 0, "a run of %s cancelled",
                       cfg->collections[x->cancelled[i]].name);
    for (size_t i = 0; i < x->n_not_called_before; i++) {
        int c = x->not_called_before[i].key;
        int64_t at = r->first_call[c];
        all &= s_check(out, at < 0 || at >= x->not_called_before[i].val,
                       "%s not called before %.1f s (%s %.1f s)", cfg->collections[c].name,
                       x->not_called_before[i].val / 1000.0,
                       at < 0 ? "never called," : "first called at", at < 0 ? 0.0 : at / 1000.0);
    }
    for (size_t i = 0; i < x->n_waits_for; i++) {
        int c = x->waits_for[i].key, d = (int)x->waits_for[i].val;
        bool ok = r->first_call[c] >= 0 && r->first_done[d] >= 0 &&
                  r->first_call[c] >= r->first_done[d];
        all &= s_check(out, ok, "%s called only after %s is failed over (%s)",
                       cfg->collections[c].name, cfg->collections[d].name,
                       r->first_call[c] < 0   ? "it was never called"
                       : r->first_done[d] < 0 ? "that never happened"
                       : ok                   ? "it was"
                                              : "it was called first");
    }
    if (x->calls >= 0)
        all &= s_check(out, r->total_calls == x->calls, "%d call(s) in all (got %d)", x->calls,
                       r->total_calls);
    return all;
}

static bool s_verify(const s_scn_t *s, const s_result_t *r, FILE *out)
{
    const sg_config_t *cfg = s->cfg;
    const s_expect_t *x = &s->ex;
    bool all = s_verify_sites(s, r, out);
    for (size_t i = 0; i < x->n_failover; i++)
        all &= s_check(out, r->failovers[x->failover[i]] == 1, "%s failed over once",
                       cfg->collections[x->failover[i]].name);
    for (size_t i = 0; i < x->n_no_failover; i++)
        all &= s_check(out, r->failovers[x->no_failover[i]] == 0, "%s not failed over",
                       cfg->collections[x->no_failover[i]].name);
    for (size_t i = 0; i < x->n_blocked; i++) {
        int c = x->blocked[i].key, g = (int)x->blocked[i].val;
        all &= s_check(out, r->blocked_by[(size_t)c * SG_GUARD_COUNT + g], "%s blocked by %s",
                       cfg->collections[c].name, sg_guard_name((sg_guard_t)g));
    }
    if (x->failovers >= 0)
        all &= s_check(out, r->total_failovers == x->failovers, "%d failover(s) in all (got %d)",
                       x->failovers, r->total_failovers);
    all &= s_verify_runs(s, r, out);
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
    s_expect_t *x = &s->ex;
    for (size_t i = 0; i < s->n_acts; i++)
        free(s->acts[i].text);
    free(s->acts);
    int *lists[] = {x->lost,   x->not_lost,  x->failover,  x->no_failover,  x->called,
                    x->not_called, x->cancelled, x->contested, x->not_contested};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        free(lists[i]);
    s_pair_t *pairs[] = {x->lost_within, x->not_lost_before, x->not_called_before, x->waits_for,
                         x->blocked};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        free(pairs[i]);
    for (size_t i = 0; i < x->n_notice; i++)
        free(x->notice[i]);
    free(x->notice);
    yaml_document_delete(&s->doc);
}

static void s_result_fini(s_result_t *r)
{
    free(r->lost_at);
    free(r->down_at);
    free(r->contested);
    free(r->failovers);
    free(r->calls);
    free(r->cancels);
    free(r->first_call);
    free(r->first_done);
    free(r->blocked_by);
    free(r->notice_seen);
}

static int s_result_init(s_result_t *r, const s_scn_t *s, FILE *out)
{
    const sg_config_t *cfg = s->cfg;
    size_t ns = cfg->n_sites ? cfg->n_sites : 1, nc = cfg->n_collections ? cfg->n_collections : 1;
    *r = (s_result_t){.scn = s, .out = out};
    r->lost_at = malloc(ns * sizeof *r->lost_at);
    r->down_at = malloc(ns * sizeof *r->down_at);
    r->contested = calloc(ns, sizeof *r->contested);
    r->failovers = calloc(nc, sizeof *r->failovers);
    r->calls = calloc(nc, sizeof *r->calls);
    r->cancels = calloc(nc, sizeof *r->cancels);
    r->first_call = malloc(nc * sizeof *r->first_call);
    r->first_done = malloc(nc * sizeof *r->first_done);
    r->blocked_by = calloc(nc * SG_GUARD_COUNT, sizeof *r->blocked_by);
    r->notice_seen = calloc(s->ex.n_notice ? s->ex.n_notice : 1, sizeof *r->notice_seen);
    if (!r->lost_at || !r->down_at || !r->contested || !r->failovers || !r->calls ||
        !r->cancels || !r->first_call || !r->first_done || !r->blocked_by || !r->notice_seen)
        return SG_ENOMEM;
    for (size_t i = 0; i < ns; i++)
        r->lost_at[i] = r->down_at[i] = -1;
    for (size_t i = 0; i < nc; i++)
        r->first_call[i] = r->first_done[i] = -1;
    return SG_OK;
}

int sg_simulate_file(const sg_config_t *cfg, const char *path, FILE *out, sg_config_errors_t *errs)
{
    size_t len = 0;
    char *text = s_read_file(path, &len, errs);
    if (!text)
        return SG_EIO;
    int rc = sg_simulate_string(cfg, path, text, len, out, errs);
    free(text);
    return rc;
}

int sg_simulate_string(const sg_config_t *cfg, const char *name, const char *text, size_t len,
                       FILE *out, sg_config_errors_t *errs)
{
    s_scn_t s = {.cfg = cfg, .path = name, .errs = errs};
    memset(&s.doc, 0, sizeof s.doc);
    int rc = s_load(&s, text, len);
    if (!out) {
        s_scn_fini(&s);
        return rc;
    }
    s_result_t r;
    int rrc = s_result_init(&r, &s, out);
    if (rc == SG_OK)
        rc = rrc;
    if (rc == SG_OK)
        rc = s_run(&s, &r);
    if (rc == SG_OK)
        rc = s_verify(&s, &r, out) ? 0 : 1;
    s_result_fini(&r);
    s_scn_fini(&s);
    return rc;
}
