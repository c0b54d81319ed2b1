/* opstate: durable operator state as JSON; see opstate.h. */
#include "journal/opstate.h"
#include "base/err.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION 1

static json_t *s_times(const int64_t *t, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer((json_int_t)t[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *s_name(const char *name) { return name ? json_string(name) : json_null(); }

static json_t *s_pauses(const sg_opstate_t *st, const sg_config_t *cfg)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < st->n_pauses; i++) {
        const sg_opstate_pause_t *p = &st->pauses[i];
        json_t *o = json_pack("{s:o,s:o,s:I,s:o}", "site",
                              s_name(p->site >= 0 ? cfg->sites[p->site].name : NULL), "collection",
                              s_name(p->collection >= 0 ? cfg->collections[p->collection].name
                                                        : NULL),
                              "until_ms", (json_int_t)p->until_wall, "reason", s_name(p->reason));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *s_sites(const sg_opstate_t *st, const sg_config_t *cfg)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < st->n_sites; i++) {
        const sg_opstate_site_t *s = &st->sites[i];
        json_t *o = json_pack("{s:s,s:b,s:b,s:I,s:o}", "site", cfg->sites[s->site].name,
                              "in_episode", s->in_episode, "budget_taken", s->budget_taken,
                              "episode", (json_int_t)s->episode, "budget_ms",
                              s_times(s->budget, s->n_budget));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Operator decisions per collection: only the collections that have one. */
static json_t *s_colls(const sg_opstate_t *st, const sg_config_t *cfg)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < st->n_colls; i++) {
        const sg_opstate_coll_t *c = &st->colls[i];
        if (!c->approved && !c->denied && !c->released && !c->deadline_wall)
            continue;
        json_t *o = json_pack("{s:s,s:b,s:b,s:b,s:I}", "collection",
                              cfg->collections[c->collection].name, "approved", c->approved,
                              "denied", c->denied, "released", c->released, "deadline_ms",
                              (json_int_t)c->deadline_wall);
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The names of the collections failed over (done) or failed: compact, as a
 * storm makes thousands of them. */
static json_t *s_names(const sg_opstate_t *st, const sg_config_t *cfg, bool done)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < st->n_colls; i++) {
        const sg_opstate_coll_t *c = &st->colls[i];
        if ((done ? c->done : c->failed) &&
            json_array_append_new(a, json_string(cfg->collections[c->collection].name)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Cooldowns: collection name -> until_ms. */
static json_t *s_cooldowns(const sg_opstate_t *st, const sg_config_t *cfg)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < st->n_colls; i++) {
        const sg_opstate_coll_t *c = &st->colls[i];
        if (c->cooldown_until_wall &&
            json_object_set_new(o, cfg->collections[c->collection].name,
                                json_integer((json_int_t)c->cooldown_until_wall)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* Directions: collection name -> {"site", "replica_site"}, for the reversed. */
static json_t *s_directions(const sg_opstate_t *st, const sg_config_t *cfg)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < st->n_colls; i++) {
        const sg_opstate_coll_t *c = &st->colls[i];
        if (c->directed &&
            json_object_set_new(o, cfg->collections[c->collection].name,
                                json_pack("{s:s,s:s}", "site", cfg->sites[c->site].name,
                                          "replica_site",
                                          cfg->sites[c->replica_site].name)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

char *sg_opstate_to_json(const sg_opstate_t *st, const sg_config_t *cfg)
{
    json_t *doc = json_pack("{s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "version", S_VERSION,
                            "pauses", s_pauses(st, cfg), "budget_ms",
                            s_times(st->budget, st->n_budget), "sites", s_sites(st, cfg),
                            "collections", s_colls(st, cfg), "done", s_names(st, cfg, true),
                            "failed", s_names(st, cfg, false), "cooldowns",
                            s_cooldowns(st, cfg), "directions", s_directions(st, cfg));
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

/* ---- reading -------------------------------------------------------------------- */

static int s_read_times(const json_t *a, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(a))
        return a ? SG_EPROTO : SG_OK;
    size_t len = json_array_size(a);
    if (len == 0)
        return SG_OK;
    if (!(*out = calloc(len, sizeof **out)))
        return SG_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_integer(v))
            return SG_EPROTO;
        (*out)[(*n)++] = (int64_t)json_integer_value(v);
    }
    return SG_OK;
}

/* A name that must be in the config (-1 and *skip when not), or null (-1). */
static int s_ref(const json_t *v, const sg_config_t *cfg,
                 int (*find)(const sg_config_t *, const char *), bool *skip)
{
    if (!v || json_is_null(v))
        return -1;
    int i = json_is_string(v) ? find(cfg, json_string_value(v)) : -1;
    if (i < 0)
        *skip = true;
    return i;
}

static int s_read_pauses(const json_t *a, const sg_config_t *cfg, sg_opstate_t *out,
                         size_t *skipped)
{
    size_t len = json_array_size(a);
    out->pauses = calloc(len ? len : 1, sizeof *out->pauses);
    if (!out->pauses)
        return SG_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        const json_t *p = json_array_get(a, i);
        bool skip = false;
        sg_opstate_pause_t q = {
            .site = s_ref(json_object_get(p, "site"), cfg, sg_config_find_site, &skip),
            .collection =
                s_ref(json_object_get(p, "collection"), cfg, sg_config_find_collection, &skip),
            .until_wall = json_integer_value(json_object_get(p, "until_ms"))};
        const json_t *r = json_object_get(p, "reason");
        if (skip || !json_is_integer(json_object_get(p, "until_ms"))) {
            (*skipped)++;
            continue;
        }
        if (json_is_string(r) && !(q.reason = strdup(json_string_value(r))))
            return SG_ENOMEM;
        out->pauses[out->n_pauses++] = q;
    }
    return SG_OK;
}

static int s_read_sites(const json_t *a, const sg_config_t *cfg, sg_opstate_t *out,
                        size_t *skipped)
{
    size_t len = json_array_size(a);
    out->sites = calloc(len ? len : 1, sizeof *out->sites);
    if (!out->sites)
        return SG_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        const json_t *o = json_array_get(a, i);
        bool skip = false;
        int site = s_ref(json_object_get(o, "site"), cfg, sg_config_find_site, &skip);
        if (skip || site < 0) {
            (*skipped)++;
            continue;
        }
        sg_opstate_site_t *s = &out->sites[out->n_sites++];
        *s = (sg_opstate_site_t){
            .site = site,
            .in_episode = json_is_true(json_object_get(o, "in_episode")),
            .budget_taken = json_is_true(json_object_get(o, "budget_taken")),
            .episode = (uint64_t)json_integer_value(json_object_get(o, "episode"))};
        int rc = s_read_times(json_object_get(o, "budget_ms"), &s->budget, &s->n_budget);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

/* The entry of collection c in out->colls (one per configured collection
 * while reading; compacted at the end). */
static sg_opstate_coll_t *s_coll(sg_opstate_t *out, int c) { return &out->colls[c]; }

static void s_read_colls(const json_t *a, const sg_config_t *cfg, sg_opstate_t *out,
                         size_t *skipped)
{
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *o = json_array_get(a, i);
        bool skip = false;
        int c = s_ref(json_object_get(o, "collection"), cfg, sg_config_find_collection, &skip);
        if (skip || c < 0) {
            (*skipped)++;
            continue;
        }
        sg_opstate_coll_t *e = s_coll(out, c);
        e->approved = json_is_true(json_object_get(o, "approved"));
        e->denied = json_is_true(json_object_get(o, "denied"));
        e->released = json_is_true(json_object_get(o, "released"));
        e->deadline_wall = json_integer_value(json_object_get(o, "deadline_ms"));
    }
}

static void s_read_names(const json_t *a, const sg_config_t *cfg, sg_opstate_t *out, bool done,
                         size_t *skipped)
{
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        int c = json_is_string(v) ? sg_config_find_collection(cfg, json_string_value(v)) : -1;
        if (c < 0) {
            (*skipped)++;
            continue;
        }
        if (done)
            s_coll(out, c)->done = true;
        else
            s_coll(out, c)->failed = true;
    }
}

static void s_read_cooldowns(const json_t *o, const sg_config_t *cfg, sg_opstate_t *out,
                             size_t *skipped)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)o, name, v) {
        int c = sg_config_find_collection(cfg, name);
        if (c < 0 || !json_is_integer(v)) {
            (*skipped)++;
            continue;
        }
        s_coll(out, c)->cooldown_until_wall = (int64_t)json_integer_value(v);
    }
}

static void s_read_directions(const json_t *o, const sg_config_t *cfg, sg_opstate_t *out,
                              size_t *skipped)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)o, name, v) {
        int c = sg_config_find_collection(cfg, name);
        int site = sg_config_find_site(cfg, json_string_value(json_object_get(v, "site")));
        int replica =
            sg_config_find_site(cfg, json_string_value(json_object_get(v, "replica_site")));
        if (c < 0 || site < 0 || replica < 0 || site == replica) {
            (*skipped)++;
            continue;
        }
        sg_opstate_coll_t *e = s_coll(out, c);
        e->directed = true;
        e->site = site;
        e->replica_site = replica;
    }
}

/* Keeps the collections that have something to keep, in config order. */
static void s_compact_colls(sg_opstate_t *out, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        sg_opstate_coll_t e = out->colls[c];
        if (e.done || e.failed || e.approved || e.denied || e.released || e.deadline_wall ||
            e.cooldown_until_wall || e.directed) {
            e.collection = (int)c;
            out->colls[out->n_colls++] = e;
        }
    }
}

static int s_read_all_colls(const json_t *doc, const sg_config_t *cfg, sg_opstate_t *out,
                            size_t *skipped)
{
    size_t n = cfg->n_collections;
    out->colls = calloc(n ? n : 1, sizeof *out->colls);
    if (!out->colls)
        return SG_ENOMEM;
    s_read_colls(json_object_get(doc, "collections"), cfg, out, skipped);
    s_read_names(json_object_get(doc, "done"), cfg, out, true, skipped);
    s_read_names(json_object_get(doc, "failed"), cfg, out, false, skipped);
    s_read_cooldowns(json_object_get(doc, "cooldowns"), cfg, out, skipped);
    s_read_directions(json_object_get(doc, "directions"), cfg, out, skipped);
    s_compact_colls(out, n);
    return SG_OK;
}

int sg_opstate_from_json(const char *text, const sg_config_t *cfg, sg_opstate_t *out,
                         size_t *skipped)
{
    size_t skip = 0;
    memset(out, 0, sizeof *out);
    json_t *doc = json_loads(text ? text : "", 0, NULL);
    int rc = SG_EPROTO;
    if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) != S_VERSION)
        goto done;
    rc = s_read_pauses(json_object_get(doc, "pauses"), cfg, out, &skip);
    rc = rc ? rc : s_read_sites(json_object_get(doc, "sites"), cfg, out, &skip);
    rc = rc ? rc : s_read_all_colls(doc, cfg, out, &skip);
    rc = rc ? rc : s_read_times(json_object_get(doc, "budget_ms"), &out->budget, &out->n_budget);
done:
    json_decref(doc);
    if (rc != SG_OK)
        sg_opstate_fini(out);
    if (skipped)
        *skipped = skip;
    return rc;
}
