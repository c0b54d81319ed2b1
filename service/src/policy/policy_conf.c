/* policy_conf: sites, observers, collections, policy and plan in the config
 * file (see policy_conf.h). Cross-references (sites, collections,
 * depends_on) are resolved to indices once the section they point into has
 * been read. */
#include "policy/policy_conf.h"

#include "base/err.h"
#include "base/str.h"
#include "provider/cimpath.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A site name, resolved to an index (-1 when it is not defined). */
static void s_set_site_ref(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    int *field = sg_cfg_field(key, obj);
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    *field = -1;
    if (!text)
        return;
    *field = sg_cfg_names_find(ctx, SG_CFG_SITES, text);
    if (*field < 0)
        sg_cfg_err(ctx, value, "site '%s' is not defined in sites", text);
}

/* The sites read so far. */
static const sg_site_cfg_t *s_sites(const sg_cfg_t *ctx, size_t *n)
{
    return sg_cfg_names_get(ctx, SG_CFG_SITES, n);
}

/* ------------------------------------------------------------------------ */
/* Sites and observers                                                       */

static void s_site_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    ((sg_site_cfg_t *)obj)->mark = sg_cfg_mark(ctx, node);
}

/* wmi: the site's own WMI connection (provider_conf's key table). */
static void s_set_site_wmi(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    sg_site_cfg_t *site = obj;
    if (sg_cfg_is_null(value))
        return;
    if (!sg_cfg_expect_map(ctx, value, key->name))
        return;
    if (!(site->wmi = calloc(1, sizeof *site->wmi))) {
        sg_cfg_oom(ctx);
        return;
    }
    site->wmi_mark = sg_cfg_mark(ctx, value);
    sg_cfg_walk_map(ctx, value, &sg_provider_conf_site_wmi_map, site->wmi, key->name, false);
}

static void s_check_site(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj, const sg_cfg_read_t *read)
{
    const sg_site_cfg_t *site = obj;
    if (site->witness && site->wmi && sg_cfg_read_ok(read, "witness"))
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "wmi"),
                   "site '%s' is a witness: it holds no collections, so it has no WMI "
                   "connection (remove its wmi)",
                   site->name ? site->name : "?");
}

static const sg_cfg_key_t s_site_keys[] = {
    {.name = "name", .set = sg_cfg_set_str, .offset = offsetof(sg_site_cfg_t, name),
     .required = true},
    {.name = "witness", .set = sg_cfg_set_bool, .offset = offsetof(sg_site_cfg_t, witness)},
    {.name = "wmi", .set = s_set_site_wmi},
};
static const sg_cfg_map_t s_site_map = {.where = "in a site", .keys = s_site_keys,
                                        .n_keys = SG_CFG_COUNT(s_site_keys),
                                        .size = sizeof(sg_site_cfg_t), .init = s_site_init,
                                        .check = s_check_site};

void sg_policy_conf_set_sites(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              void *obj)
{
    size_t n;
    const sg_site_cfg_t *sites = sg_cfg_read_list(ctx, key, value, obj, &s_site_map, &n);
    if (sg_cfg_empty_list(value))
        sg_cfg_err(ctx, value, "'%s' must list at least one site", key->name);
    sg_cfg_names_put(ctx, SG_CFG_SITES, sites, n, sizeof *sites, offsetof(sg_site_cfg_t, name),
                     offsetof(sg_site_cfg_t, mark), "site name");
}

void sg_policy_conf_resolve_sites(sg_cfg_t *ctx, const sg_site_cfg_t *sites, size_t n,
                                  bool wmi_provider)
{
    for (size_t i = 0; i < n; i++) {
        const sg_site_cfg_t *s = &sites[i];
        if (!s->wmi)
            continue;
        if (!wmi_provider) {
            sg_cfg_err_at(ctx, &s->wmi_mark,
                          "site '%s' has its own wmi connection, which only provider.kind wmi "
                          "uses (set provider.kind: wmi, or remove the site's wmi)",
                          s->name ? s->name : "?");
            continue;
        }
        for (size_t j = 0; j < i && s->wmi->host; j++) {
            if (sites[j].wmi && sites[j].wmi->host &&
                strcasecmp(sites[j].wmi->host, s->wmi->host) == 0) {
                sg_cfg_err_at(ctx, &s->wmi_mark,
                              "site '%s' has the same wmi host '%s' as site '%s' (line %d): "
                              "each site is its own cluster",
                              s->name ? s->name : "?", s->wmi->host,
                              sites[j].name ? sites[j].name : "?", sites[j].wmi_mark.line);
                break;
            }
        }
    }
}

static void s_observer_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    sg_observer_cfg_t *o = obj;
    o->mark = sg_cfg_mark(ctx, node);
    o->site = -1;
}

/* One entry of public_key, appended to the observer's keys. */
static void s_read_public_key(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              sg_observer_cfg_t *o)
{
    char *k = NULL;
    sg_cfg_key_t one = *key;
    one.offset = 0;
    sg_cfg_set_public_key(ctx, &one, value, &k);
    if (!k)
        return;
    for (size_t i = 0; i < o->n_public_keys; i++) {
        if (strcmp(o->public_keys[i], k) == 0) {
            sg_cfg_err(ctx, value, "this key is already listed for observer '%s'",
                       o->id ? o->id : "?");
            free(k);
            return;
        }
    }
    o->public_keys[o->n_public_keys++] = k;
}

/* public_key: one key, or a list of one or two (two while a key changes). */
static void s_set_public_keys(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              void *obj)
{
    sg_observer_cfg_t *o = obj;
    if (sg_cfg_is_null(value))
        return;
    if (!sg_cfg_is_list(value)) {
        s_read_public_key(ctx, key, value, o);
        return;
    }
    size_t n = sg_cfg_seq_len(value);
    if (n == 0 || n > SG_OBSERVER_MAX_KEYS) {
        sg_cfg_err(ctx, value, "'%s' is one key, or a list of at most %d (the old and the new "
                               "key while it changes)", key->name, SG_OBSERVER_MAX_KEYS);
        return;
    }
    for (size_t i = 0; i < n; i++)
        s_read_public_key(ctx, key, sg_cfg_item(ctx, value, i), o);
}

static const sg_cfg_key_t s_observer_keys[] = {
    {.name = "id", .set = sg_cfg_set_str, .offset = offsetof(sg_observer_cfg_t, id),
     .required = true},
    {.name = "site", .set = s_set_site_ref, .offset = offsetof(sg_observer_cfg_t, site),
     .required = true},
    {.name = "public_key", .set = s_set_public_keys},
};
static const sg_cfg_map_t s_observer_map = {
    .where = "in an observer", .keys = s_observer_keys, .n_keys = SG_CFG_COUNT(s_observer_keys),
    .size = sizeof(sg_observer_cfg_t), .init = s_observer_init};

void sg_policy_conf_set_observers(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                  void *obj)
{
    size_t n;
    const sg_observer_cfg_t *observers = sg_cfg_read_list(ctx, key, value, obj, &s_observer_map, &n);
    if (sg_cfg_empty_list(value))
        sg_cfg_err(ctx, value, "'%s' must list at least one observer", key->name);
    sg_cfg_names_put(ctx, SG_CFG_OBSERVERS, observers, n, sizeof *observers,
                     offsetof(sg_observer_cfg_t, id), offsetof(sg_observer_cfg_t, mark),
                     "observer id");
}

/* ------------------------------------------------------------------------ */
/* Collections                                                               */

/* A named point's path names an Msvm_CollectionRecoveryPoint by both its
 * keys, CollectionID and InstanceID (cimpath.h): WMI finds nothing by one. */
static bool s_point_path_ok(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            const char *text)
{
    sg_cimpath_t p;
    int rc = sg_cimpath_parse(text, &p);
    bool ok = rc == SG_OK && sg_cimpath_is_point(&p);
    if (rc == SG_OK)
        sg_cimpath_fini(&p);
    if (rc == SG_ENOMEM)
        sg_cfg_oom(ctx);
    else if (!ok)
        sg_cfg_err(ctx, value,
                   "bad value '%s' for '%s': an " SG_CIM_POINT_CLASS " is keyed by CollectionID "
                   "and InstanceID (" SG_CIM_POINT_CLASS
                   ".CollectionID=\"...\",InstanceID=\"...\")",
                   text, key->name);
    return ok;
}

bool sg_policy_conf_read_rp(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            sg_rp_policy_t *rp, char **path)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return false;
    if (strcmp(text, "latest") == 0) {
        *rp = SG_RP_LATEST;
    } else if (strcmp(text, "latest_app_consistent") == 0) {
        *rp = SG_RP_LATEST_APP_CONSISTENT;
    } else if (strstr(text, "Msvm_CollectionRecoveryPoint.") != NULL) {
        if (!s_point_path_ok(ctx, key, value, text))
            return false;
        *rp = SG_RP_NAMED;
        free(*path);
        *path = sg_cfg_strdup(ctx, text);
    } else {
        sg_cfg_err(ctx, value,
                   "bad value '%s' for '%s': expected latest, latest_app_consistent or the "
                   "object path of an Msvm_CollectionRecoveryPoint",
                   text, key->name);
        return false;
    }
    return true;
}

static void s_set_recovery_point(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                 void *obj)
{
    sg_collection_cfg_t *c = obj;
    sg_policy_conf_read_rp(ctx, key, value, &c->recovery_point, &c->recovery_point_path);
}

/* Only checks the shape here; entries are resolved once every collection
 * is known (s_resolve_depends). */
static void s_set_depends_shape(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                void *obj)
{
    size_t n;
    if (!sg_cfg_list(ctx, value, key->name, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        sg_cfg_node_t *item = sg_cfg_item(ctx, value, i);
        if (item)
            sg_cfg_scalar(ctx, item, key->name, true);
    }
}

static void s_check_collection_site(sg_cfg_t *ctx, sg_cfg_node_t *map, const char *key,
                                    int site)
{
    size_t n_sites;
    const sg_site_cfg_t *sites = s_sites(ctx, &n_sites);
    if (site >= 0 && sites[site].witness)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, map, key),
                   "%s '%s' is a witness site; a witness cannot hold collections", key,
                   sites[site].name);
}

/* The hint for a cim_path keyed otherwise than by CollectionID: the path to
 * write (owned); with `keep_value`, the value of a lone InstanceID, which is
 * most likely the collection's ID written under the wrong key. */
static char *s_collection_hint(const char *text, bool keep_value)
{
    sg_cimpath_t p;
    if (sg_cimpath_parse(text, &p) != SG_OK)
        return NULL;
    char *value = keep_value && p.n_keys == 1 ? sg_cimpath_quote(p.keys[0].value) : NULL;
    char *hint = sg_strdupf("%s.CollectionID=%s", p.class_name, value ? value : "\"...\"");
    free(value);
    sg_cimpath_fini(&p);
    return hint;
}

/* A collection's cim_path, when it is an object path, is keyed by CollectionID
 * (Msvm_VirtualSystemCollection's key, cimpath.h). A plain name is left to
 * the provider (the simulator's collections are names). */
static void s_check_cim_path(sg_cfg_t *ctx, sg_cfg_node_t *map, const char *text)
{
    sg_cimpath_coll_t kind;
    if (sg_cimpath_collection(text, &kind, NULL) != SG_OK) {
        sg_cfg_oom(ctx);
        return;
    }
    if (kind == SG_CIMPATH_NOT_A_PATH || kind == SG_CIMPATH_COLLECTION_ID)
        return;
    char *hint = s_collection_hint(text, kind == SG_CIMPATH_INSTANCE_ID);
    if (!hint) {
        sg_cfg_oom(ctx);
        return;
    }
    if (kind == SG_CIMPATH_INSTANCE_ID)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, map, "cim_path"),
                   "cim_path '%s' is keyed by InstanceID, but a collection's key is "
                   "CollectionID (write %s)",
                   text, hint);
    else
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, map, "cim_path"),
                   "cim_path '%s' is not keyed by CollectionID, the key of a collection "
                   "(write %s)",
                   text, hint);
    free(hint);
}

static void s_check_collection(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                               const sg_cfg_read_t *read)
{
    const sg_collection_cfg_t *c = obj;
    size_t n_sites;
    const sg_site_cfg_t *sites = s_sites(ctx, &n_sites);
    if (c->cim_path)
        s_check_cim_path(ctx, node, c->cim_path);
    s_check_collection_site(ctx, node, "site", c->site);
    s_check_collection_site(ctx, node, "replica_site", c->replica_site);
    if (c->site >= 0 && c->site == c->replica_site)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "replica_site"),
                   "replica_site '%s' is the same as site", sites[c->site].name);
}

/* replication_observers: observer ids, each at the collection's site or
 * replica site (read after both). */
static void s_replication_observer(sg_cfg_t *ctx, sg_cfg_node_t *item, const char *text,
                                   void *list, void *arg)
{
    sg_collection_cfg_t *c = arg;
    size_t n_observers, n_sites;
    const sg_observer_cfg_t *observers = sg_cfg_names_get(ctx, SG_CFG_OBSERVERS, &n_observers);
    const sg_site_cfg_t *sites = s_sites(ctx, &n_sites);
    int o = sg_cfg_names_find(ctx, SG_CFG_OBSERVERS, text);
    int site = o >= 0 ? observers[o].site : -1;
    if (o < 0)
        sg_cfg_err(ctx, item, "observer '%s' is not defined in observers", text);
    else if (site >= 0 && site != c->site && site != c->replica_site)
        sg_cfg_err(ctx, item,
                   "observer '%s' is at site '%s': replication reports count only from the "
                   "collection's site or replica site",
                   text, sites[site].name);
    else
        ((int *)list)[c->n_replication_observers++] = o;
}

static void s_set_replication_observers(sg_cfg_t *ctx, const sg_cfg_key_t *key,
                                        sg_cfg_node_t *value, void *obj)
{
    sg_collection_cfg_t *c = obj;
    sg_cfg_each_entry(ctx, key, value, sizeof(int), (void **)&c->replication_observers,
                      s_replication_observer, c);
}

static void s_collection_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    sg_collection_cfg_t *c = obj;
    c->mark = sg_cfg_mark(ctx, node);
    c->site = -1;
    c->replica_site = -1;
}

static const sg_cfg_key_t s_collection_keys[] = {
    {.name = "name", .set = sg_cfg_set_str, .offset = offsetof(sg_collection_cfg_t, name),
     .required = true},
    {.name = "cim_path", .set = sg_cfg_set_str, .offset = offsetof(sg_collection_cfg_t, cim_path),
     .required = true},
    {.name = "site", .set = s_set_site_ref, .offset = offsetof(sg_collection_cfg_t, site),
     .required = true},
    {.name = "replica_site", .set = s_set_site_ref,
     .offset = offsetof(sg_collection_cfg_t, replica_site), .required = true},
    {.name = "group", .set = sg_cfg_set_int, .offset = offsetof(sg_collection_cfg_t, group),
     .min = 0, .max = 1000},
    {.name = "depends_on", .set = s_set_depends_shape},
    {.name = "recovery_point", .set = s_set_recovery_point},
    {.name = "replica_host", .set = sg_cfg_set_str,
     .offset = offsetof(sg_collection_cfg_t, replica_host)},
    {.name = "rpo_limit", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_collection_cfg_t, rpo_limit_ms), .min = 0},
    {.name = "replication_observers", .set = s_set_replication_observers},
};
static const sg_cfg_map_t s_collection_map = {
    .where = "in a collection", .keys = s_collection_keys,
    .n_keys = SG_CFG_COUNT(s_collection_keys), .size = sizeof(sg_collection_cfg_t),
    .init = s_collection_init, .check = s_check_collection};

/* The collections while their depends_on are resolved. */
typedef struct {
    sg_collection_cfg_t *cs;
    size_t n;
    sg_mark_t **marks; /* per collection: mark of each resolved depends_on entry */
} s_deps_t;

/* Adds collection j to i's depends_on, unless it is i itself or listed twice. */
static void s_add_dependency(sg_cfg_t *ctx, s_deps_t *deps, size_t i, int j, sg_cfg_node_t *item)
{
    sg_collection_cfg_t *c = &deps->cs[i];
    if ((size_t)j == i) {
        sg_cfg_err(ctx, item, "collection '%s' depends on itself", c->name);
        return;
    }
    for (size_t k = 0; k < c->n_depends_on; k++) {
        if (c->depends_on[k] == j) {
            sg_cfg_err(ctx, item, "depends_on lists '%s' twice", sg_cfg_text(item));
            return;
        }
    }
    const sg_collection_cfg_t *d = &deps->cs[j];
    if (d->group > c->group) {
        /* the plan runs groups in order: such a run would wait for itself */
        sg_cfg_err(ctx, item,
                   "collection '%s' (group %d) depends on '%s' of the later group %d: a "
                   "dependency must be in the same or an earlier plan group",
                   c->name, c->group, d->name, d->group);
        return;
    }
    deps->marks[i][c->n_depends_on] = sg_cfg_mark(ctx, item);
    c->depends_on[c->n_depends_on++] = j;
}

static void s_resolve_one(sg_cfg_t *ctx, s_deps_t *deps, size_t i, sg_cfg_node_t *list)
{
    sg_collection_cfg_t *c = &deps->cs[i];
    size_t n = sg_cfg_seq_len(list);
    if (n == 0)
        return;
    c->depends_on = calloc(n, sizeof *c->depends_on);
    deps->marks[i] = calloc(n, sizeof **deps->marks);
    if (!c->depends_on || !deps->marks[i]) {
        sg_cfg_oom(ctx);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        sg_cfg_node_t *item = sg_cfg_item(ctx, list, k);
        if (!item || !sg_cfg_is_scalar(item))
            continue; /* reported by s_set_depends_shape */
        int j = sg_cfg_names_find(ctx, SG_CFG_COLLECTIONS, sg_cfg_text(item));
        if (j < 0)
            sg_cfg_err(ctx, item, "collection '%s' is not defined in collections",
                       sg_cfg_text(item));
        else
            s_add_dependency(ctx, deps, i, j, item);
    }
}

static void s_resolve_depends(sg_cfg_t *ctx, s_deps_t *deps, sg_cfg_node_t *seq)
{
    deps->marks = calloc(deps->n, sizeof *deps->marks);
    if (!deps->marks) {
        sg_cfg_oom(ctx);
        return;
    }
    for (size_t i = 0; i < deps->n; i++) {
        sg_cfg_node_t *list = sg_cfg_value_of(ctx, sg_cfg_item(ctx, seq, i), "depends_on");
        if (list && sg_cfg_is_list(list))
            s_resolve_one(ctx, deps, i, list);
    }
}

/* Reports the cycle closed by the edge from stack[top-1] to v. */
static void s_report_cycle(sg_cfg_t *ctx, const s_deps_t *deps, const size_t *stack, size_t top,
                           size_t v, const sg_mark_t *mark)
{
    const sg_collection_cfg_t *cs = deps->cs;
    size_t from = top;
    while (from > 0 && stack[from - 1] != v)
        from--;
    from = from > 0 ? from - 1 : 0;
    size_t len = strlen(cs[v].name) + 1;
    for (size_t i = from; i < top; i++)
        len += strlen(cs[stack[i]].name) + 4;
    char *path = malloc(len);
    if (!path) {
        sg_cfg_oom(ctx);
        return;
    }
    path[0] = '\0';
    for (size_t i = from; i < top; i++) {
        strcat(path, cs[stack[i]].name);
        strcat(path, " -> ");
    }
    strcat(path, cs[v].name);
    sg_cfg_err_at(ctx, mark, "depends_on forms a cycle: %s", path);
    free(path);
}

/* Depth-first search over depends_on; every edge back into the current path
 * closes a cycle. Iterative, so long chains do not exhaust the stack. */
static void s_check_cycles(sg_cfg_t *ctx, const s_deps_t *deps)
{
    size_t n = deps->n;
    unsigned char *color = calloc(n, 1); /* 0 new, 1 on the path, 2 done */
    size_t *stack = calloc(n, sizeof *stack);
    size_t *next = calloc(n, sizeof *next);
    if (!color || !stack || !next) {
        sg_cfg_oom(ctx);
        goto done;
    }
    for (size_t root = 0; root < n; root++) {
        if (color[root] != 0)
            continue;
        size_t top = 0;
        stack[top++] = root;
        color[root] = 1;
        while (top > 0) {
            size_t u = stack[top - 1];
            const sg_collection_cfg_t *c = &deps->cs[u];
            if (next[u] == c->n_depends_on) {
                color[u] = 2;
                top--;
                continue;
            }
            size_t e = next[u]++;
            size_t v = (size_t)c->depends_on[e];
            if (color[v] == 0) {
                color[v] = 1;
                stack[top++] = v;
            } else if (color[v] == 1) {
                s_report_cycle(ctx, deps, stack, top, v, &deps->marks[u][e]);
            }
        }
    }
done:
    free(color);
    free(stack);
    free(next);
}

void sg_policy_conf_set_collections(sg_cfg_t *ctx, const sg_cfg_key_t *key,
                                    sg_cfg_node_t *value, void *obj)
{
    s_deps_t deps = {NULL, 0, NULL};
    deps.cs = sg_cfg_read_list(ctx, key, value, obj, &s_collection_map, &deps.n);
    if (deps.n == 0) {
        if (sg_cfg_empty_list(value))
            sg_cfg_err(ctx, value, "'%s' must list at least one collection", key->name);
        return;
    }
    if (!sg_cfg_names_put(ctx, SG_CFG_COLLECTIONS, deps.cs, deps.n, sizeof *deps.cs,
                          offsetof(sg_collection_cfg_t, name),
                          offsetof(sg_collection_cfg_t, mark), "collection name"))
        return;
    s_resolve_depends(ctx, &deps, value);
    if (sg_cfg_status(ctx) == SG_OK)
        s_check_cycles(ctx, &deps);
    for (size_t i = 0; deps.marks && i < deps.n; i++)
        free(deps.marks[i]);
    free(deps.marks);
}

/* ------------------------------------------------------------------------ */
/* Policy                                                                    */

static void s_check_policy(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                           const sg_cfg_read_t *read)
{
    const sg_policy_cfg_t *p = obj;
    if (!sg_cfg_read_ok(read, "suspect_after") || !sg_cfg_read_ok(read, "hold_down"))
        return;
    if (p->hold_down_ms > p->suspect_after_ms || p->suspect_after_ms <= 0)
        return;
    sg_cfg_node_t *at = sg_cfg_value_of(ctx, node, "hold_down");
    sg_cfg_err(ctx, at ? at : sg_cfg_value_of(ctx, node, "suspect_after"),
               "hold_down (%" PRId64 " ms) must be longer than suspect_after (%" PRId64 " ms)",
               p->hold_down_ms, p->suspect_after_ms);
}

static void s_set_mode(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    static const char *const names[] = {"auto", "approve", "shadow", NULL};
    _Static_assert(sizeof(sg_policy_mode_t) == sizeof(int), "enum stored as int");
    sg_cfg_set_enum(ctx, key, value, obj, names, "auto, approve, shadow");
}

static void s_set_on_timeout(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                             void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "hold") == 0 || strcmp(text, "proceed") == 0)
        *(bool *)sg_cfg_field(key, obj) = strcmp(text, "proceed") == 0;
    else
        sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected one of: hold, proceed", text,
                   key->name);
}

static const sg_cfg_key_t s_budget_keys[] = {
    {.name = "max", .set = sg_cfg_set_int, .offset = offsetof(sg_budget_cfg_t, max), .min = 0,
     .max = 1000000},
    {.name = "period", .set = sg_cfg_set_duration, .offset = offsetof(sg_budget_cfg_t, period_ms),
     .min = 1},
};
static const sg_cfg_map_t s_budget_map = {.where = "in a budget", .keys = s_budget_keys,
                                          .n_keys = SG_CFG_COUNT(s_budget_keys),
                                          .size = sizeof(sg_budget_cfg_t)};

/* commit_after: a duration, or "manual" (0). */
static void s_set_commit_after(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                               void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return; /* reported */
    if (strcmp(text, "manual") == 0)
        *(int64_t *)sg_cfg_field(key, obj) = 0;
    else
        sg_cfg_set_duration(ctx, key, value, obj);
}

static const sg_cfg_key_t s_after_failover_keys[] = {
    {.name = "commit_after", .set = s_set_commit_after, .min = 1,
     .offset = offsetof(sg_policy_cfg_t, after_failover.commit_after_ms) -
               offsetof(sg_policy_cfg_t, after_failover)},
};
static const sg_cfg_map_t s_after_failover_map = {
    .where = "in policy.after_failover", .keys = s_after_failover_keys,
    .n_keys = SG_CFG_COUNT(s_after_failover_keys),
    .size = sizeof(((sg_policy_cfg_t *)0)->after_failover)};

static const sg_cfg_key_t s_policy_keys[] = {
    {.name = "suspect_after", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, suspect_after_ms), .min = 1},
    {.name = "hold_down", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, hold_down_ms), .min = 1},
    {.name = "recover_after", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, recover_after_ms), .min = 1},
    {.name = "report_max_age", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, report_max_age_ms), .min = 1},
    {.name = "vote_hold", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, vote_hold_ms), .min = 0},
    {.name = "startup_grace", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, startup_grace_ms), .min = 0},
    {.name = "skew_warn", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, skew_warn_ms), .min = 1},
    {.name = "quorum", .set = sg_cfg_set_int, .offset = offsetof(sg_policy_cfg_t, quorum),
     .min = 1, .max = 1000},
    {.name = "require_witness", .set = sg_cfg_set_bool,
     .offset = offsetof(sg_policy_cfg_t, require_witness)},
    {.name = "mode", .set = s_set_mode, .offset = offsetof(sg_policy_cfg_t, mode)},
    {.name = "approval_timeout", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, approval_timeout_ms), .min = 1},
    {.name = "on_approval_timeout", .set = s_set_on_timeout,
     .offset = offsetof(sg_policy_cfg_t, proceed_on_timeout)},
    {.name = "cooldown", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, cooldown_ms), .min = 0},
    {.name = "replication_max_age", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_policy_cfg_t, replication_max_age_ms), .min = 1},
    {.name = "budget", .set = sg_cfg_set_map, .offset = offsetof(sg_policy_cfg_t, budget),
     .sub = &s_budget_map},
    {.name = "site_budget", .set = sg_cfg_set_map,
     .offset = offsetof(sg_policy_cfg_t, site_budget), .sub = &s_budget_map},
    {.name = "after_failover", .set = sg_cfg_set_map,
     .offset = offsetof(sg_policy_cfg_t, after_failover), .sub = &s_after_failover_map},
    {.name = "maintenance", .set = sg_window_set_list,
     .offset = offsetof(sg_policy_cfg_t, maintenance),
     .count_offset = offsetof(sg_policy_cfg_t, n_maintenance)},
    {.name = "flapping", .set = sg_flap_conf_set, .offset = offsetof(sg_policy_cfg_t, flapping)},
};
const sg_cfg_map_t sg_policy_conf_policy_map = {
    .where = "in policy", .keys = s_policy_keys, .n_keys = SG_CFG_COUNT(s_policy_keys),
    .size = sizeof(sg_policy_cfg_t), .check = s_check_policy};

void sg_policy_conf_defaults(sg_policy_cfg_t *p)
{
    p->suspect_after_ms = 3000;
    p->hold_down_ms = 10000;
    p->recover_after_ms = 30000;
    p->mode = SG_MODE_AUTO;
    p->approval_timeout_ms = 15 * 60 * 1000;
    p->cooldown_ms = 60 * 60 * 1000;
    p->replication_max_age_ms = 5 * 60 * 1000;
    p->skew_warn_ms = 2000;
    p->budget = (sg_budget_cfg_t){4, 60 * 60 * 1000};
    p->site_budget = (sg_budget_cfg_t){2, 60 * 60 * 1000};
    sg_flap_conf_defaults(&p->flapping);
}

void sg_policy_conf_resolve(sg_cfg_t *ctx, sg_cfg_node_t *node, sg_policy_cfg_t *p)
{
    size_t n_sites;
    const sg_site_cfg_t *sites = s_sites(ctx, &n_sites);
    if (node && !sg_cfg_is_map(node))
        node = NULL;
    int witnesses = 0;
    for (size_t i = 0; i < n_sites; i++)
        witnesses += sites[i].witness;
    sg_cfg_node_t *rw = node ? sg_cfg_value_of(ctx, node, "require_witness") : NULL;
    if (!rw)
        p->require_witness = witnesses > 0;
    else if (p->require_witness && witnesses == 0)
        sg_cfg_err(ctx, rw, "require_witness is true but no site is a witness (witness: true)");
    int observing = n_sites > 0 ? (int)n_sites - 1 : 0;
    sg_cfg_node_t *q = node ? sg_cfg_value_of(ctx, node, "quorum") : NULL;
    if (!q)
        p->quorum = observing < 2 ? observing : 2;
    else if (p->quorum > observing && n_sites > 0)
        sg_cfg_err(ctx, q,
                   "quorum %d can never be reached: at most %d other site(s) observe a site",
                   p->quorum, observing);
    if (p->quorum < 1)
        p->quorum = 1;
    if (!node || !sg_cfg_value_of(ctx, node, "report_max_age"))
        p->report_max_age_ms = 3 * p->suspect_after_ms;
    if (!node || !sg_cfg_value_of(ctx, node, "vote_hold"))
        p->vote_hold_ms = p->hold_down_ms;
    if (!node || !sg_cfg_value_of(ctx, node, "startup_grace"))
        p->startup_grace_ms = p->hold_down_ms;
}

/* ------------------------------------------------------------------------ */
/* Plan                                                                      */

static void s_set_on_error(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    static const char *const names[] = {"stop", "continue", "wait", NULL};
    _Static_assert(sizeof(sg_on_error_t) == sizeof(int), "enum stored as int");
    sg_cfg_set_enum(ctx, key, value, obj, names, "stop, continue, wait");
}

static const sg_cfg_key_t s_plan_keys[] = {
    {.name = "on_error", .set = s_set_on_error, .offset = offsetof(sg_plan_cfg_t, on_error)},
    {.name = "max_concurrency", .set = sg_cfg_set_int,
     .offset = offsetof(sg_plan_cfg_t, max_concurrency), .min = 0, .max = 256},
    {.name = "per_host_concurrency", .set = sg_cfg_set_int,
     .offset = offsetof(sg_plan_cfg_t, per_host_concurrency), .min = 0, .max = 256},
};
const sg_cfg_map_t sg_policy_conf_plan_map = {.where = "in plan", .keys = s_plan_keys,
                                              .n_keys = SG_CFG_COUNT(s_plan_keys),
                                              .size = sizeof(sg_plan_cfg_t)};

/* ------------------------------------------------------------------------ */
/* Freeing                                                                   */

void sg_policy_conf_free_sites(sg_site_cfg_t *sites, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sites[i].name);
        if (sites[i].wmi)
            sg_provider_conf_wmi_fini(sites[i].wmi);
        free(sites[i].wmi);
    }
    free(sites);
}

void sg_policy_conf_free_observers(sg_observer_cfg_t *observers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(observers[i].id);
        for (size_t k = 0; k < observers[i].n_public_keys; k++)
            free(observers[i].public_keys[k]);
    }
    free(observers);
}

void sg_policy_conf_free_collections(sg_collection_cfg_t *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cs[i].name);
        free(cs[i].cim_path);
        free(cs[i].depends_on);
        free(cs[i].replication_observers);
        free(cs[i].recovery_point_path);
        free(cs[i].replica_host);
    }
    free(cs);
}

void sg_policy_conf_fini(sg_policy_cfg_t *p)
{
    sg_window_free_list(p->maintenance, p->n_maintenance);
}
