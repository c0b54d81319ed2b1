/* Configuration: the YAML file, parsed and checked (see config.h).
 *
 * libyaml's document API loads the whole file into a node tree; the loader
 * then walks it with one static table per mapping (key, setter, offset into
 * the target struct, range, required), so every section is described in one
 * place and unknown keys are rejected with their line and column. Errors are
 * collected with their position while walking and handed to the caller in
 * file order at the end. Cross-references (sites, collections, depends_on)
 * are resolved to indices once the section they point into has been read. */
#include "config/config.h"
#include "control/curvekey.h"

#include "base/err.h"
#include "provider/provider.h"
#include "drill/schedule.h"
#include "platform/platform.h"
#include "base/str.h"
#include "drill/tz.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>
#include <zmq.h>

/* Endpoint bound when the file has no `bus:` section at all. */
#define S_DEFAULT_BIND "tcp://127.0.0.1:7700"
/* Most keys any one mapping of the format has. */
#define S_MAX_KEYS 24

/* ------------------------------------------------------------------------ */
/* Error lists                                                               */

static int s_errors_push(sg_config_errors_t *errs, char *line)
{
    char **items = realloc(errs->items, (errs->n + 1) * sizeof *items);
    if (!items) {
        free(line);
        return SG_ENOMEM;
    }
    items[errs->n++] = line;
    errs->items = items;
    return SG_OK;
}

static int s_errors_addv(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt,
                         va_list ap)
{
    char prefix[64] = "";
    const char *file = "";
    if (mark) {
        file = mark->file ? mark->file : "?";
        snprintf(prefix, sizeof prefix, ":%d:%d: ", mark->line, mark->column);
    }
    char *rule = sg_vstrdupf(fmt, ap);
    char *line = rule ? sg_strdupf("%s%s%s", file, prefix, rule) : NULL;
    free(rule);
    if (!line)
        return SG_ENOMEM;
    return s_errors_push(errs, line);
}

void sg_config_errors_init(sg_config_errors_t *errs)
{
    errs->items = NULL;
    errs->n = 0;
}

void sg_config_errors_fini(sg_config_errors_t *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->items[i]);
    free(errs->items);
    sg_config_errors_init(errs);
}

int sg_config_errors_add(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = s_errors_addv(errs, mark, fmt, ap);
    va_end(ap);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Loader context                                                            */

typedef struct {
    int line;
    int column;
    size_t seq; /* order found, to keep the sort stable */
} s_pos_t;

typedef struct {
    const char *name;
    const sg_mark_t *mark;
    size_t index;
} s_name_t;

typedef struct {
    sg_config_t *cfg;
    yaml_document_t *doc;
    sg_config_errors_t found; /* errors in the order found */
    s_pos_t *pos;             /* where each of them stands */
    int rc;                   /* SG_ENOMEM once an allocation failed */
    s_name_t *colls;          /* collections sorted by name, for lookups */
    size_t n_colls;
    sg_mark_t **dep_marks; /* per collection: mark of each resolved depends_on entry */
} s_ctx_t;

static void s_oom(s_ctx_t *ctx)
{
    ctx->rc = SG_ENOMEM;
}

static sg_mark_t s_mark(const s_ctx_t *ctx, const yaml_node_t *node)
{
    sg_mark_t m = {.file = ctx->cfg->path, .line = 1, .column = 1};
    if (node) {
        m.line = (int)node->start_mark.line + 1;
        m.column = (int)node->start_mark.column + 1;
    }
    return m;
}

static void s_errv(s_ctx_t *ctx, const sg_mark_t *mark, const char *fmt, va_list ap)
{
    s_pos_t *pos = realloc(ctx->pos, (ctx->found.n + 1) * sizeof *pos);
    if (!pos) {
        s_oom(ctx);
        return;
    }
    ctx->pos = pos;
    pos[ctx->found.n] = (s_pos_t){.line = mark->line, .column = mark->column, .seq = ctx->found.n};
    if (s_errors_addv(&ctx->found, mark, fmt, ap) != SG_OK)
        s_oom(ctx);
}

static void s_err_at(s_ctx_t *ctx, const sg_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_err_at(s_ctx_t *ctx, const sg_mark_t *mark, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_errv(ctx, mark, fmt, ap);
    va_end(ap);
}

static void s_err(s_ctx_t *ctx, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_err(s_ctx_t *ctx, const yaml_node_t *node, const char *fmt, ...)
{
    sg_mark_t m = s_mark(ctx, node);
    va_list ap;
    va_start(ap, fmt);
    s_errv(ctx, &m, fmt, ap);
    va_end(ap);
}

static int s_pos_cmp(const void *a, const void *b)
{
    const s_pos_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->column != y->column)
        return x->column < y->column ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Moves the collected errors, in file order, to the caller's list. */
static void s_flush_errors(s_ctx_t *ctx, sg_config_errors_t *errs)
{
    if (ctx->found.n > 0)
        qsort(ctx->pos, ctx->found.n, sizeof *ctx->pos, s_pos_cmp);
    for (size_t i = 0; i < ctx->found.n; i++) {
        char *line = ctx->found.items[ctx->pos[i].seq];
        ctx->found.items[ctx->pos[i].seq] = NULL;
        if (!errs)
            free(line);
        else if (s_errors_push(errs, line) != SG_OK)
            s_oom(ctx);
    }
    sg_config_errors_fini(&ctx->found);
    free(ctx->pos);
    ctx->pos = NULL;
}

static char *s_strdup(s_ctx_t *ctx, const char *s)
{
    char *d = strdup(s);
    if (!d)
        s_oom(ctx);
    return d;
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

static yaml_node_t *s_node(const s_ctx_t *ctx, yaml_node_item_t id)
{
    return yaml_document_get_node(ctx->doc, id);
}

static const char *s_type_name(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE: return "scalar";
    case YAML_SEQUENCE_NODE: return "list";
    case YAML_MAPPING_NODE: return "mapping";
    default: return "nothing";
    }
}

static const char *s_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

/* A plain `~`, `null` or nothing at all. */
static bool s_is_null(const yaml_node_t *node)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strcmp(s_text(node), nulls[i]) == 0)
            return true;
    return false;
}

/* Checks the node's type. `key` names the value; `item` says the node is
 * one entry of the list `key`; a NULL key is the document itself. */
static bool s_expect(s_ctx_t *ctx, const yaml_node_t *node, yaml_node_type_t type,
                     const char *key, bool item)
{
    if (node->type == type)
        return true;
    const char *want = type == YAML_MAPPING_NODE ? "mapping"
                       : type == YAML_SEQUENCE_NODE ? "list" : "scalar";
    if (!key)
        s_err(ctx, node, "expected a %s at the top level (found a %s)", want, s_type_name(node));
    else
        s_err(ctx, node, "expected a %s for %s'%s' (found a %s)", want,
              item ? "each entry of " : "", key, s_type_name(node));
    return false;
}

/* The scalar text of a value, or NULL (error reported) when it is not one. */
static const char *s_scalar(s_ctx_t *ctx, const yaml_node_t *node, const char *key, bool item)
{
    if (!s_expect(ctx, node, YAML_SCALAR_NODE, key, item))
        return NULL;
    if (strlen(s_text(node)) != node->data.scalar.length) {
        s_err(ctx, node, "'%s' contains a NUL character", key);
        return NULL;
    }
    return s_text(node);
}

/* The value of `key` in a mapping node, or NULL. */
static yaml_node_t *s_value_of(const s_ctx_t *ctx, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = s_node(ctx, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(s_text(k), key) == 0)
            return s_node(ctx, p->value);
    }
    return NULL;
}

static size_t s_seq_len(const yaml_node_t *seq)
{
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

/* A list value: true with *n items, or false (error reported). Null is empty. */
static bool s_list(s_ctx_t *ctx, const yaml_node_t *node, const char *key, size_t *n)
{
    *n = 0;
    if (s_is_null(node))
        return true;
    if (!s_expect(ctx, node, YAML_SEQUENCE_NODE, key, false))
        return false;
    *n = s_seq_len(node);
    return true;
}

/* A null value or a list without entries. */
static bool s_empty_list(const yaml_node_t *node)
{
    return s_is_null(node) || (node->type == YAML_SEQUENCE_NODE && s_seq_len(node) == 0);
}

/* ------------------------------------------------------------------------ */
/* Config maps                                                               */

typedef struct s_key s_key_t;
typedef struct s_map s_map_t;

/* Which keys of a mapping could not be read, for rules across keys: a rule
 * skips values that were already reported, so one mistake is reported once. */
typedef struct {
    const s_map_t *map;
    const bool *bad; /* per key of map */
} s_read_t;

/* Reads `value` into the field of `obj` that `key` describes. */
typedef void (*s_set_fn)(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj);

struct s_key {
    const char *name;
    s_set_fn set;
    size_t offset;       /* of the field in the target struct */
    size_t count_offset; /* lists of strings: of the count field */
    int64_t min, max;    /* numbers: range; durations: min only */
    bool required;
    const s_map_t *sub; /* nested mapping read by s_set_map */
};

struct s_map {
    const char *where; /* "in policy": for messages */
    const s_key_t *keys;
    size_t n_keys;
    /* Optional: sets the mark and defaults of a list entry before reading. */
    void (*init)(s_ctx_t *ctx, yaml_node_t *node, void *obj);
    /* Optional: rules across keys, after every key was read. */
    void (*check)(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read);
};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void *s_field(const s_key_t *key, void *obj)
{
    return (char *)obj + key->offset;
}

static char *s_key_names(const s_map_t *map)
{
    size_t len = 1;
    for (size_t i = 0; i < map->n_keys; i++)
        len += strlen(map->keys[i].name) + 2;
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < map->n_keys; i++) {
        if (i > 0)
            strcat(out, ", ");
        strcat(out, map->keys[i].name);
    }
    return out;
}

static int s_find_key(const s_map_t *map, const char *name)
{
    for (size_t i = 0; i < map->n_keys; i++)
        if (strcmp(map->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* True when `key` was absent or read without error. */
static bool s_read_ok(const s_read_t *read, const char *key)
{
    int i = s_find_key(read->map, key);
    return i >= 0 && !read->bad[i];
}

static void s_unknown_key(s_ctx_t *ctx, const yaml_node_t *node, const s_map_t *map)
{
    char *names = s_key_names(map);
    if (!names) {
        s_oom(ctx);
        return;
    }
    s_err(ctx, node, "unknown key '%s' %s (expected one of: %s)", s_text(node), map->where, names);
    free(names);
}

/* Matches the mapping's keys against the table; found[i] gets the value of
 * key i. Unknown, duplicate and non-scalar keys are errors. */
static void s_match_keys(s_ctx_t *ctx, yaml_node_t *node, const s_map_t *map, yaml_node_t **found)
{
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = s_node(ctx, p->key);
        yaml_node_t *v = s_node(ctx, p->value);
        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            s_err(ctx, k, "expected a scalar key %s (found a %s)", map->where, s_type_name(k));
            continue;
        }
        int i = s_find_key(map, s_text(k));
        if (i < 0) {
            s_unknown_key(ctx, k, map);
        } else if (found[i]) {
            s_err(ctx, k, "duplicate key '%s' %s", s_text(k), map->where);
        } else {
            found[i] = v;
        }
    }
}

/* Reads a mapping into obj. Keys are applied in table order, so a section
 * that others refer to is read before them whatever the file's order. */
static void s_walk_map(s_ctx_t *ctx, yaml_node_t *node, const s_map_t *map, void *obj,
                       const char *key, bool item)
{
    assert(map->n_keys <= S_MAX_KEYS);
    if (map->init)
        map->init(ctx, node, obj);
    if (!s_expect(ctx, node, YAML_MAPPING_NODE, key, item))
        return;
    yaml_node_t *found[S_MAX_KEYS] = {0};
    s_match_keys(ctx, node, map, found);
    bool bad[S_MAX_KEYS] = {0};
    for (size_t i = 0; i < map->n_keys; i++) {
        const s_key_t *k = &map->keys[i];
        size_t errors_before = ctx->found.n;
        if (found[i])
            k->set(ctx, k, found[i], obj);
        else if (k->required)
            s_err(ctx, node, "missing required key '%s' %s", k->name, map->where);
        bad[i] = ctx->found.n != errors_before;
    }
    if (map->check)
        map->check(ctx, node, obj, &(s_read_t){map, bad});
}

/* Reads a list of mappings into a new array of n elements of elem_size. */
static void *s_read_items(s_ctx_t *ctx, yaml_node_t *node, const char *key, const s_map_t *map,
                          size_t elem_size, size_t *n_out)
{
    size_t n;
    *n_out = 0;
    if (!s_list(ctx, node, key, &n) || n == 0)
        return NULL;
    char *items = calloc(n, elem_size);
    if (!items) {
        s_oom(ctx);
        return NULL;
    }
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = s_node(ctx, node->data.sequence.items.start[i]);
        if (item)
            s_walk_map(ctx, item, map, items + i * elem_size, key, true);
    }
    return items;
}

/* ------------------------------------------------------------------------ */
/* Setters for plain values                                                  */

static void s_set_map(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    if (!s_is_null(value))
        s_walk_map(ctx, value, key->sub, s_field(key, obj), key->name, false);
}

static void s_set_str(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    char **field = s_field(key, obj);
    if (!key->required && s_is_null(value))
        return; /* optional and explicitly not set */
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (text[0] == '\0') {
        s_err(ctx, value, "'%s' must not be empty", key->name);
        return;
    }
    free(*field);
    *field = s_strdup(ctx, text);
}

/* A list of scalars: allocates *out with room for each of its entries
 * (`size` bytes each; NULL when empty or not a list, then false) and calls
 * `fn` for every scalar entry (others are reported). */
typedef void (*s_entry_fn)(s_ctx_t *ctx, yaml_node_t *item, const char *text, void *list,
                           void *obj);

static bool s_each_entry(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, size_t size,
                         void **out, s_entry_fn fn, void *obj)
{
    size_t n;
    *out = NULL;
    if (!s_list(ctx, value, key->name, &n) || n == 0)
        return false;
    if (!(*out = calloc(n, size))) {
        s_oom(ctx);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = s_node(ctx, value->data.sequence.items.start[i]);
        const char *text = item ? s_scalar(ctx, item, key->name, true) : NULL;
        if (text)
            fn(ctx, item, text, *out, obj);
    }
    return true;
}

typedef struct {
    const s_key_t *key;
    size_t *count;
} s_str_list_t;

static void s_str_entry(s_ctx_t *ctx, yaml_node_t *item, const char *text, void *list, void *obj)
{
    s_str_list_t *l = obj;
    char **strs = list;
    if (text[0] == '\0')
        s_err(ctx, item, "an entry of '%s' must not be empty", l->key->name);
    else if ((strs[*l->count] = s_strdup(ctx, text)) != NULL)
        (*l->count)++;
}

static void s_set_str_list(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    s_str_list_t l = {key, (size_t *)((char *)obj + key->count_offset)};
    s_each_entry(ctx, key, value, sizeof(char *), (void **)s_field(key, obj), s_str_entry, &l);
}

/* Reads an integer within [key->min, key->max]. */
static bool s_read_int(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, int64_t *out)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    bool digits = (text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '+';
    if (!digits || end == text || *end != '\0' || errno == ERANGE) {
        s_err(ctx, value, "bad value '%s' for '%s': expected an integer", text, key->name);
        return false;
    }
    if (v < key->min || v > key->max) {
        s_err(ctx, value, "'%s' must be between %" PRId64 " and %" PRId64 " (got %s)", key->name,
              key->min, key->max, text);
        return false;
    }
    *out = v;
    return true;
}

static void s_set_int(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    int64_t v;
    if (s_read_int(ctx, key, value, &v))
        *(int *)s_field(key, obj) = (int)v;
}

static void s_set_size(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    int64_t v;
    if (s_read_int(ctx, key, value, &v))
        *(size_t *)s_field(key, obj) = (size_t)v;
}

static void s_set_u32(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    int64_t v;
    if (s_read_int(ctx, key, value, &v))
        *(uint32_t *)s_field(key, obj) = (uint32_t)v;
}

static void s_set_bool(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    for (size_t i = 0; i < S_COUNT(yes); i++) {
        if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
            *(bool *)s_field(key, obj) = strcmp(text, yes[i]) == 0;
            return;
        }
    }
    s_err(ctx, value, "bad value '%s' for '%s': expected true or false", text, key->name);
}

static void s_set_duration(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    int64_t ms;
    if (!text)
        return;
    if (sg_config_parse_duration(text, &ms) != SG_OK) {
        s_err(ctx, value, "bad value '%s' for '%s': expected a duration like 250ms, 3s, 2m, 1h",
              text, key->name);
        return;
    }
    if (ms < key->min) {
        s_err(ctx, value, "'%s' must be greater than 0", key->name);
        return;
    }
    *(int64_t *)s_field(key, obj) = ms;
}

/* Reads one of `names` (NULL-terminated) into an int-sized enum field. */
static void s_set_enum(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj,
                       const char *const *names, const char *expected)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    for (int i = 0; names[i]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *(int *)s_field(key, obj) = i;
            return;
        }
    }
    s_err(ctx, value, "bad value '%s' for '%s': expected one of: %s", text, key->name, expected);
}

static void s_set_log_level(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    sg_log_level_t level;
    if (!text)
        return;
    if (sg_log_parse_level(text, &level) != SG_OK) {
        s_err(ctx, value, "bad value '%s' for '%s': expected one of: error, warn, info, debug",
              text, key->name);
        return;
    }
    *(sg_log_level_t *)s_field(key, obj) = level;
}

static void s_set_mode(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const names[] = {"auto", "approve", "shadow", NULL};
    _Static_assert(sizeof(sg_policy_mode_t) == sizeof(int), "enum stored as int");
    s_set_enum(ctx, key, value, obj, names, "auto, approve, shadow");
}

/* latest, latest_app_consistent, or the object path of a named point. */
static void s_set_recovery_point(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_collection_cfg_t *c = obj;
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "latest") == 0) {
        c->recovery_point = SG_RP_LATEST;
    } else if (strcmp(text, "latest_app_consistent") == 0) {
        c->recovery_point = SG_RP_LATEST_APP_CONSISTENT;
    } else if (strstr(text, "Msvm_CollectionRecoveryPoint.") != NULL) {
        c->recovery_point = SG_RP_NAMED;
        free(c->recovery_point_path);
        c->recovery_point_path = s_strdup(ctx, text);
    } else {
        s_err(ctx, value,
              "bad value '%s' for '%s': expected latest, latest_app_consistent or the object "
              "path of an Msvm_CollectionRecoveryPoint",
              text, key->name);
    }
}

static void s_set_on_error(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const names[] = {"stop", "continue", "wait", NULL};
    _Static_assert(sizeof(sg_on_error_t) == sizeof(int), "enum stored as int");
    s_set_enum(ctx, key, value, obj, names, "stop, continue, wait");
}

/* ------------------------------------------------------------------------ */
/* Names and references                                                      */

static int s_name_cmp(const void *a, const void *b)
{
    const s_name_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : (x->index > y->index);
}

/* Sorts the named entries of an array (name and mark at the given offsets)
 * and reports every name used twice. Returns the sorted index (caller frees)
 * and its length in *n_out. */
static s_name_t *s_index_names(s_ctx_t *ctx, const void *base, size_t n, size_t elem_size,
                               size_t name_off, size_t mark_off, const char *what,
                               size_t *n_out)
{
    *n_out = 0;
    s_name_t *names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        s_oom(ctx);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *elem = (const char *)base + i * elem_size;
        const char *name = *(char *const *)(elem + name_off);
        if (name)
            names[(*n_out)++] = (s_name_t){name, (const sg_mark_t *)(elem + mark_off), i};
    }
    qsort(names, *n_out, sizeof *names, s_name_cmp);
    size_t first = 0; /* first entry of the current run of equal names */
    for (size_t i = 1; i < *n_out; i++) {
        if (strcmp(names[i].name, names[first].name) != 0)
            first = i;
        else
            s_err_at(ctx, names[i].mark, "duplicate %s '%s' (first defined at line %d)", what,
                     names[i].name, names[first].mark->line);
    }
    return names;
}

static void s_check_unique(s_ctx_t *ctx, const void *base, size_t n, size_t elem_size,
                           size_t name_off, size_t mark_off, const char *what)
{
    size_t n_names;
    free(s_index_names(ctx, base, n, elem_size, name_off, mark_off, what, &n_names));
}

static int s_find_collection(const s_ctx_t *ctx, const char *name)
{
    s_name_t key = {.name = name, .index = 0};
    size_t lo = 0, hi = ctx->n_colls;
    while (lo < hi) { /* first entry with this name */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ctx->colls[mid].name, key.name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ctx->n_colls && strcmp(ctx->colls[lo].name, name) == 0)
        return (int)ctx->colls[lo].index;
    return -1;
}

/* A site name, resolved to an index (-1 when it is not defined). */
static void s_set_site_ref(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    int *field = s_field(key, obj);
    const char *text = s_scalar(ctx, value, key->name, false);
    *field = -1;
    if (!text)
        return;
    *field = sg_config_find_site(ctx->cfg, text);
    if (*field < 0)
        s_err(ctx, value, "site '%s' is not defined in sites", text);
}

/* A collection name, kept as text after checking that it is defined. */
static void s_set_collection_ref(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (s_find_collection(ctx, text) < 0)
        s_err(ctx, value, "collection '%s' is not defined in collections", text);
    else
        *(char **)s_field(key, obj) = s_strdup(ctx, text);
}

/* ------------------------------------------------------------------------ */
/* Sites and observers                                                       */

static void s_site_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    ((sg_site_cfg_t *)obj)->mark = s_mark(ctx, node);
}

static const s_key_t s_site_keys[] = {
    {.name = "name", .set = s_set_str, .offset = offsetof(sg_site_cfg_t, name), .required = true},
    {.name = "witness", .set = s_set_bool, .offset = offsetof(sg_site_cfg_t, witness)},
};
static const s_map_t s_site_map = {"in a site", s_site_keys, S_COUNT(s_site_keys), s_site_init,
                                   NULL};

static void s_set_sites(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_config_t *cfg = obj;
    cfg->sites = s_read_items(ctx, value, key->name, &s_site_map, sizeof *cfg->sites,
                              &cfg->n_sites);
    if (s_empty_list(value))
        s_err(ctx, value, "'%s' must list at least one site", key->name);
    s_check_unique(ctx, cfg->sites, cfg->n_sites, sizeof *cfg->sites,
                   offsetof(sg_site_cfg_t, name), offsetof(sg_site_cfg_t, mark), "site name");
}

static void s_set_public_key(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    char **field = s_field(key, obj);
    if (s_is_null(value))
        return;
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strlen(text) != 40 || strspn(text, z85) != 40) {
        s_err(ctx, value, "'%s' must be a CURVE public key: 40 characters of Z85 text", key->name);
        return;
    }
    *field = s_strdup(ctx, text);
}

static void s_observer_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    sg_observer_cfg_t *o = obj;
    o->mark = s_mark(ctx, node);
    o->site = -1;
}

static const s_key_t s_observer_keys[] = {
    {.name = "id", .set = s_set_str, .offset = offsetof(sg_observer_cfg_t, id), .required = true},
    {.name = "site", .set = s_set_site_ref, .offset = offsetof(sg_observer_cfg_t, site),
     .required = true},
    {.name = "public_key", .set = s_set_public_key,
     .offset = offsetof(sg_observer_cfg_t, public_key)},
};
static const s_map_t s_observer_map = {"in an observer", s_observer_keys,
                                       S_COUNT(s_observer_keys), s_observer_init, NULL};

static void s_set_observers(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_config_t *cfg = obj;
    cfg->observers = s_read_items(ctx, value, key->name, &s_observer_map,
                                  sizeof *cfg->observers, &cfg->n_observers);
    if (s_empty_list(value))
        s_err(ctx, value, "'%s' must list at least one observer", key->name);
    s_check_unique(ctx, cfg->observers, cfg->n_observers, sizeof *cfg->observers,
                   offsetof(sg_observer_cfg_t, id), offsetof(sg_observer_cfg_t, mark),
                   "observer id");
}

/* ------------------------------------------------------------------------ */
/* Collections                                                               */

/* Only checks the shape here; entries are resolved once every collection
 * is known (s_resolve_depends). */
static void s_set_depends_shape(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    size_t n;
    if (!s_list(ctx, value, key->name, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = s_node(ctx, value->data.sequence.items.start[i]);
        if (item)
            s_scalar(ctx, item, key->name, true);
    }
}

static void s_check_collection_site(s_ctx_t *ctx, yaml_node_t *map, const char *key, int site)
{
    const sg_config_t *cfg = ctx->cfg;
    if (site >= 0 && cfg->sites[site].witness)
        s_err(ctx, s_value_of(ctx, map, key),
              "%s '%s' is a witness site; a witness cannot hold collections", key,
              cfg->sites[site].name);
}

static void s_check_collection(s_ctx_t *ctx, yaml_node_t *node, void *obj,
                               const s_read_t *read)
{
    const sg_collection_cfg_t *c = obj;
    s_check_collection_site(ctx, node, "site", c->site);
    s_check_collection_site(ctx, node, "replica_site", c->replica_site);
    if (c->site >= 0 && c->site == c->replica_site)
        s_err(ctx, s_value_of(ctx, node, "replica_site"),
              "replica_site '%s' is the same as site", ctx->cfg->sites[c->site].name);
}

/* replication_observers: observer ids, each at the collection's site or
 * replica site (read after both). */
static void s_replication_observer(s_ctx_t *ctx, yaml_node_t *item, const char *text,
                                   void *list, void *obj)
{
    sg_collection_cfg_t *c = obj;
    int o = sg_config_find_observer(ctx->cfg, text);
    int site = o >= 0 ? ctx->cfg->observers[o].site : -1;
    if (o < 0)
        s_err(ctx, item, "observer '%s' is not defined in observers", text);
    else if (site >= 0 && site != c->site && site != c->replica_site)
        s_err(ctx, item,
              "observer '%s' is at site '%s': replication reports count only from the "
              "collection's site or replica site",
              text, ctx->cfg->sites[site].name);
    else
        ((int *)list)[c->n_replication_observers++] = o;
}

static void s_set_replication_observers(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value,
                                        void *obj)
{
    sg_collection_cfg_t *c = obj;
    s_each_entry(ctx, key, value, sizeof(int), (void **)&c->replication_observers,
                 s_replication_observer, c);
}

static void s_collection_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    sg_collection_cfg_t *c = obj;
    c->mark = s_mark(ctx, node);
    c->site = -1;
    c->replica_site = -1;
}

static const s_key_t s_collection_keys[] = {
    {.name = "name", .set = s_set_str, .offset = offsetof(sg_collection_cfg_t, name),
     .required = true},
    {.name = "cim_path", .set = s_set_str, .offset = offsetof(sg_collection_cfg_t, cim_path),
     .required = true},
    {.name = "site", .set = s_set_site_ref, .offset = offsetof(sg_collection_cfg_t, site),
     .required = true},
    {.name = "replica_site", .set = s_set_site_ref,
     .offset = offsetof(sg_collection_cfg_t, replica_site), .required = true},
    {.name = "group", .set = s_set_int, .offset = offsetof(sg_collection_cfg_t, group), .min = 0,
     .max = 1000},
    {.name = "depends_on", .set = s_set_depends_shape},
    {.name = "recovery_point", .set = s_set_recovery_point},
    {.name = "replica_host", .set = s_set_str,
     .offset = offsetof(sg_collection_cfg_t, replica_host)},
    {.name = "rpo_limit", .set = s_set_duration,
     .offset = offsetof(sg_collection_cfg_t, rpo_limit_ms), .min = 0},
    {.name = "replication_observers", .set = s_set_replication_observers},
};
static const s_map_t s_collection_map = {"in a collection", s_collection_keys,
                                         S_COUNT(s_collection_keys), s_collection_init,
                                         s_check_collection};

/* Adds collection j to i's depends_on, unless it is i itself or listed twice. */
static void s_add_dependency(s_ctx_t *ctx, size_t i, int j, yaml_node_t *item)
{
    sg_collection_cfg_t *c = &ctx->cfg->collections[i];
    if ((size_t)j == i) {
        s_err(ctx, item, "collection '%s' depends on itself", c->name);
        return;
    }
    for (size_t k = 0; k < c->n_depends_on; k++) {
        if (c->depends_on[k] == j) {
            s_err(ctx, item, "depends_on lists '%s' twice", s_text(item));
            return;
        }
    }
    const sg_collection_cfg_t *d = &ctx->cfg->collections[j];
    if (d->group > c->group) {
        /* the plan runs groups in order: such a run would wait for itself */
        s_err(ctx, item,
              "collection '%s' (group %d) depends on '%s' of the later group %d: a dependency "
              "must be in the same or an earlier plan group",
              c->name, c->group, d->name, d->group);
        return;
    }
    ctx->dep_marks[i][c->n_depends_on] = s_mark(ctx, item);
    c->depends_on[c->n_depends_on++] = j;
}

static void s_resolve_one(s_ctx_t *ctx, size_t i, yaml_node_t *deps)
{
    sg_collection_cfg_t *c = &ctx->cfg->collections[i];
    size_t n = s_seq_len(deps);
    if (n == 0)
        return;
    c->depends_on = calloc(n, sizeof *c->depends_on);
    ctx->dep_marks[i] = calloc(n, sizeof **ctx->dep_marks);
    if (!c->depends_on || !ctx->dep_marks[i]) {
        s_oom(ctx);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        yaml_node_t *item = s_node(ctx, deps->data.sequence.items.start[k]);
        if (!item || item->type != YAML_SCALAR_NODE)
            continue; /* reported by s_set_depends_shape */
        int j = s_find_collection(ctx, s_text(item));
        if (j < 0)
            s_err(ctx, item, "collection '%s' is not defined in collections", s_text(item));
        else
            s_add_dependency(ctx, i, j, item);
    }
}

static void s_resolve_depends(s_ctx_t *ctx, yaml_node_t *seq)
{
    sg_config_t *cfg = ctx->cfg;
    ctx->dep_marks = calloc(cfg->n_collections, sizeof *ctx->dep_marks);
    if (!ctx->dep_marks) {
        s_oom(ctx);
        return;
    }
    for (size_t i = 0; i < cfg->n_collections; i++) {
        yaml_node_t *deps = s_value_of(ctx, s_node(ctx, seq->data.sequence.items.start[i]),
                                       "depends_on");
        if (deps && deps->type == YAML_SEQUENCE_NODE)
            s_resolve_one(ctx, i, deps);
    }
}

/* Reports the cycle closed by the edge from stack[top-1] to v. */
static void s_report_cycle(s_ctx_t *ctx, const size_t *stack, size_t top, size_t v,
                           const sg_mark_t *mark)
{
    const sg_collection_cfg_t *cs = ctx->cfg->collections;
    size_t from = top;
    while (from > 0 && stack[from - 1] != v)
        from--;
    from = from > 0 ? from - 1 : 0;
    size_t len = strlen(cs[v].name) + 1;
    for (size_t i = from; i < top; i++)
        len += strlen(cs[stack[i]].name) + 4;
    char *path = malloc(len);
    if (!path) {
        s_oom(ctx);
        return;
    }
    path[0] = '\0';
    for (size_t i = from; i < top; i++) {
        strcat(path, cs[stack[i]].name);
        strcat(path, " -> ");
    }
    strcat(path, cs[v].name);
    s_err_at(ctx, mark, "depends_on forms a cycle: %s", path);
    free(path);
}

/* Depth-first search over depends_on; every edge back into the current path
 * closes a cycle. Iterative, so long chains do not exhaust the stack. */
static void s_check_cycles(s_ctx_t *ctx)
{
    const sg_config_t *cfg = ctx->cfg;
    size_t n = cfg->n_collections;
    unsigned char *color = calloc(n, 1); /* 0 new, 1 on the path, 2 done */
    size_t *stack = calloc(n, sizeof *stack);
    size_t *next = calloc(n, sizeof *next);
    if (!color || !stack || !next) {
        s_oom(ctx);
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
            const sg_collection_cfg_t *c = &cfg->collections[u];
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
                s_report_cycle(ctx, stack, top, v, &ctx->dep_marks[u][e]);
            }
        }
    }
done:
    free(color);
    free(stack);
    free(next);
}

static void s_set_collections(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_config_t *cfg = obj;
    cfg->collections = s_read_items(ctx, value, key->name, &s_collection_map,
                                    sizeof *cfg->collections, &cfg->n_collections);
    if (cfg->n_collections == 0) {
        if (s_empty_list(value))
            s_err(ctx, value, "'%s' must list at least one collection", key->name);
        return;
    }
    ctx->colls = s_index_names(ctx, cfg->collections, cfg->n_collections,
                               sizeof *cfg->collections, offsetof(sg_collection_cfg_t, name),
                               offsetof(sg_collection_cfg_t, mark), "collection name",
                               &ctx->n_colls);
    if (!ctx->colls)
        return;
    s_resolve_depends(ctx, value);
    if (ctx->rc == SG_OK)
        s_check_cycles(ctx);
}

/* ------------------------------------------------------------------------ */
/* Policy                                                                    */

static void s_check_policy(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_policy_cfg_t *p = obj;
    if (!s_read_ok(read, "suspect_after") || !s_read_ok(read, "hold_down"))
        return;
    if (p->hold_down_ms > p->suspect_after_ms || p->suspect_after_ms <= 0)
        return;
    yaml_node_t *at = s_value_of(ctx, node, "hold_down");
    s_err(ctx, at ? at : s_value_of(ctx, node, "suspect_after"),
          "hold_down (%" PRId64 " ms) must be longer than suspect_after (%" PRId64 " ms)",
          p->hold_down_ms, p->suspect_after_ms);
}

static void s_set_on_timeout(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "hold") == 0 || strcmp(text, "proceed") == 0)
        *(bool *)s_field(key, obj) = strcmp(text, "proceed") == 0;
    else
        s_err(ctx, value, "bad value '%s' for '%s': expected one of: hold, proceed", text,
              key->name);
}

static const s_key_t s_budget_keys[] = {
    {.name = "max", .set = s_set_int, .offset = offsetof(sg_budget_cfg_t, max), .min = 0,
     .max = 1000000},
    {.name = "period", .set = s_set_duration, .offset = offsetof(sg_budget_cfg_t, period_ms),
     .min = 1},
};
static const s_map_t s_budget_map = {"in a budget", s_budget_keys, S_COUNT(s_budget_keys), NULL,
                                     NULL};

/* A list of site names, resolved to indices. */
static void s_site_entry(s_ctx_t *ctx, yaml_node_t *item, const char *text, void *list, void *obj)
{
    size_t *count = obj;
    int site = sg_config_find_site(ctx->cfg, text);
    if (site < 0)
        s_err(ctx, item, "site '%s' is not defined in sites", text);
    else
        ((int *)list)[(*count)++] = site;
}

static void s_set_site_list(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    size_t *count = (size_t *)((char *)obj + key->count_offset);
    s_each_entry(ctx, key, value, sizeof(int), (void **)s_field(key, obj), s_site_entry, count);
}

static void s_set_days(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    size_t n;
    if (!s_list(ctx, value, key->name, &n))
        return;
    unsigned *days = s_field(key, obj);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = s_node(ctx, value->data.sequence.items.start[i]);
        const char *text = item ? s_scalar(ctx, item, key->name, true) : NULL;
        if (!text)
            continue;
        size_t d = 0;
        while (d < S_COUNT(names) && strcmp(text, names[d]) != 0)
            d++;
        if (d == S_COUNT(names))
            s_err(ctx, item, "bad day '%s': expected one of: mon, tue, wed, thu, fri, sat, sun",
                  text);
        else
            *days |= 1u << d;
    }
}

/* "HH:MM", UTC, as minutes after midnight. */
static void s_set_time_of_day(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    int h, m;
    char tail;
    if (!text)
        return;
    if (sscanf(text, "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
        (h == 24 && m != 0) || strlen(text) != 5) {
        s_err(ctx, value, "bad value '%s' for '%s': expected a UTC time of day like 02:30", text,
              key->name);
        return;
    }
    *(int *)s_field(key, obj) = h * 60 + m;
}

/* "2026-12-01T02:00:00Z", as Unix milliseconds. */
static void s_set_timestamp(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    struct tm tm;
    char tail;
    if (!text)
        return;
    memset(&tm, 0, sizeof tm);
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tail) != 6 || tm.tm_mon < 1 ||
        tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60) {
        s_err(ctx, value, "bad value '%s' for '%s': expected a UTC time like 2026-12-01T02:00:00Z",
              text, key->name);
        return;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *(int64_t *)s_field(key, obj) = (int64_t)timegm(&tm) * 1000;
}

static void s_window_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    sg_window_cfg_t *w = obj;
    w->mark = s_mark(ctx, node);
    w->from_min = -1;
    w->to_min = -1;
}

static void s_check_window(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_window_cfg_t *w = obj;
    bool weekly = s_value_of(ctx, node, "from") || s_value_of(ctx, node, "to") ||
                  s_value_of(ctx, node, "days");
    bool once = s_value_of(ctx, node, "start") || s_value_of(ctx, node, "end");
    if (weekly && once) {
        s_err(ctx, node, "a maintenance window is either weekly (days, from, to) or once "
                         "(start, end), not both");
    } else if (once) {
        if (!s_value_of(ctx, node, "start") || !s_value_of(ctx, node, "end"))
            s_err(ctx, node, "a one-off maintenance window needs both 'start' and 'end'");
        else if (s_read_ok(read, "start") && s_read_ok(read, "end") && w->end_ms <= w->start_ms)
            s_err(ctx, s_value_of(ctx, node, "end"), "'end' must be after 'start'");
    } else if (!s_value_of(ctx, node, "from") || !s_value_of(ctx, node, "to")) {
        s_err(ctx, node, "a maintenance window needs 'from' and 'to' (weekly) or 'start' and "
                         "'end' (once)");
    } else if (s_read_ok(read, "from") && s_read_ok(read, "to") && w->from_min == w->to_min) {
        s_err(ctx, s_value_of(ctx, node, "to"), "'to' must differ from 'from'");
    }
}

static const s_key_t s_window_keys[] = {
    {.name = "sites", .set = s_set_site_list, .offset = offsetof(sg_window_cfg_t, sites),
     .count_offset = offsetof(sg_window_cfg_t, n_sites)},
    {.name = "days", .set = s_set_days, .offset = offsetof(sg_window_cfg_t, days)},
    {.name = "from", .set = s_set_time_of_day, .offset = offsetof(sg_window_cfg_t, from_min)},
    {.name = "to", .set = s_set_time_of_day, .offset = offsetof(sg_window_cfg_t, to_min)},
    {.name = "start", .set = s_set_timestamp, .offset = offsetof(sg_window_cfg_t, start_ms)},
    {.name = "end", .set = s_set_timestamp, .offset = offsetof(sg_window_cfg_t, end_ms)},
    {.name = "reason", .set = s_set_str, .offset = offsetof(sg_window_cfg_t, reason)},
};
static const s_map_t s_window_map = {"in a maintenance window", s_window_keys,
                                     S_COUNT(s_window_keys), s_window_init, s_check_window};

static void s_set_maintenance(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_policy_cfg_t *p = obj;
    p->maintenance = s_read_items(ctx, value, key->name, &s_window_map, sizeof *p->maintenance,
                                  &p->n_maintenance);
}

static const s_key_t s_policy_keys[] = {
    {.name = "suspect_after", .set = s_set_duration,
     .offset = offsetof(sg_policy_cfg_t, suspect_after_ms), .min = 1},
    {.name = "hold_down", .set = s_set_duration, .offset = offsetof(sg_policy_cfg_t, hold_down_ms),
     .min = 1},
    {.name = "recover_after", .set = s_set_duration,
     .offset = offsetof(sg_policy_cfg_t, recover_after_ms), .min = 1},
    {.name = "report_max_age", .set = s_set_duration,
     .offset = offsetof(sg_policy_cfg_t, report_max_age_ms), .min = 1},
    {.name = "vote_hold", .set = s_set_duration, .offset = offsetof(sg_policy_cfg_t, vote_hold_ms),
     .min = 0},
    {.name = "startup_grace", .set = s_set_duration,
     .offset = offsetof(sg_policy_cfg_t, startup_grace_ms), .min = 0},
    {.name = "skew_warn", .set = s_set_duration, .offset = offsetof(sg_policy_cfg_t, skew_warn_ms),
     .min = 1},
    {.name = "quorum", .set = s_set_int, .offset = offsetof(sg_policy_cfg_t, quorum), .min = 1,
     .max = 1000},
    {.name = "require_witness", .set = s_set_bool,
     .offset = offsetof(sg_policy_cfg_t, require_witness)},
    {.name = "mode", .set = s_set_mode, .offset = offsetof(sg_policy_cfg_t, mode)},
    {.name = "approval_timeout", .set = s_set_duration,
     .offset = offsetof(sg_policy_cfg_t, approval_timeout_ms), .min = 1},
    {.name = "on_approval_timeout", .set = s_set_on_timeout,
     .offset = offsetof(sg_policy_cfg_t, proceed_on_timeout)},
    {.name = "cooldown", .set = s_set_duration, .offset = offsetof(sg_policy_cfg_t, cooldown_ms),
     .min = 0},
    {.name = "replication_max_age", .set = s_set_duration,
     .offset = offsetof(sg_policy_cfg_t, replication_max_age_ms), .min = 1},
    {.name = "budget", .set = s_set_map, .offset = offsetof(sg_policy_cfg_t, budget),
     .sub = &s_budget_map},
    {.name = "site_budget", .set = s_set_map, .offset = offsetof(sg_policy_cfg_t, site_budget),
     .sub = &s_budget_map},
    {.name = "maintenance", .set = s_set_maintenance},
};
static const s_map_t s_policy_map = {"in policy", s_policy_keys, S_COUNT(s_policy_keys), NULL,
                                     s_check_policy};

/* Defaults that depend on the sites, and rules across policy and sites; run
 * once everything is read, whether or not the file has a policy section. */
static void s_resolve_policy(s_ctx_t *ctx, yaml_node_t *root)
{
    sg_config_t *cfg = ctx->cfg;
    sg_policy_cfg_t *p = &cfg->policy;
    yaml_node_t *node = s_value_of(ctx, root, "policy");
    if (node && node->type != YAML_MAPPING_NODE)
        node = NULL;
    int witnesses = 0;
    for (size_t i = 0; i < cfg->n_sites; i++)
        witnesses += cfg->sites[i].witness;
    yaml_node_t *rw = node ? s_value_of(ctx, node, "require_witness") : NULL;
    if (!rw)
        p->require_witness = witnesses > 0;
    else if (p->require_witness && witnesses == 0)
        s_err(ctx, rw, "require_witness is true but no site is a witness (witness: true)");
    int observing = cfg->n_sites > 0 ? (int)cfg->n_sites - 1 : 0;
    yaml_node_t *q = node ? s_value_of(ctx, node, "quorum") : NULL;
    if (!q)
        p->quorum = observing < 2 ? observing : 2;
    else if (p->quorum > observing && cfg->n_sites > 0)
        s_err(ctx, q, "quorum %d can never be reached: at most %d other site(s) observe a site",
              p->quorum, observing);
    if (p->quorum < 1)
        p->quorum = 1;
    if (!node || !s_value_of(ctx, node, "report_max_age"))
        p->report_max_age_ms = 3 * p->suspect_after_ms;
    if (!node || !s_value_of(ctx, node, "vote_hold"))
        p->vote_hold_ms = p->hold_down_ms;
    if (!node || !s_value_of(ctx, node, "startup_grace"))
        p->startup_grace_ms = p->hold_down_ms;
}

/* ------------------------------------------------------------------------ */
/* Provider                                                                  */

static void s_set_method(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    sg_method_t m;
    if (!text)
        return;
    if (sg_method_parse(text, &m) == SG_OK) {
        *(char **)s_field(key, obj) = s_strdup(ctx, text);
        return;
    }
    char names[256] = "";
    for (int i = 0; i < SG_METHOD_COUNT; i++) {
        if (i > 0)
            strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, sg_method_name((sg_method_t)i), sizeof names - strlen(names) - 1);
    }
    s_err(ctx, value, "unknown method '%s' (expected one of: %s)", text, names);
}

static void s_check_fault(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_sim_fault_cfg_t *f = obj;
    if (!s_read_ok(read, "return_code") || !s_read_ok(read, "job_error_code") ||
        !s_read_ok(read, "hang"))
        return;
    int effects = (f->return_code != 0) + (f->job_error_code != 0) + (f->hang ? 1 : 0);
    if (effects != 1)
        s_err(ctx, node, "a fault needs exactly one of: a non-zero return_code, a non-zero "
                         "job_error_code, hang: true");
}

static void s_fault_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    ((sg_sim_fault_cfg_t *)obj)->mark = s_mark(ctx, node);
}

static const s_key_t s_fault_keys[] = {
    {.name = "collection", .set = s_set_collection_ref,
     .offset = offsetof(sg_sim_fault_cfg_t, collection)},
    {.name = "method", .set = s_set_method, .offset = offsetof(sg_sim_fault_cfg_t, method)},
    {.name = "return_code", .set = s_set_u32, .offset = offsetof(sg_sim_fault_cfg_t, return_code),
     .min = 0, .max = UINT32_MAX},
    {.name = "job_error_code", .set = s_set_u32,
     .offset = offsetof(sg_sim_fault_cfg_t, job_error_code), .min = 0, .max = UINT32_MAX},
    {.name = "hang", .set = s_set_bool, .offset = offsetof(sg_sim_fault_cfg_t, hang)},
    {.name = "times", .set = s_set_int, .offset = offsetof(sg_sim_fault_cfg_t, times), .min = 0,
     .max = 1000000},
};
static const s_map_t s_fault_map = {"in a fault", s_fault_keys, S_COUNT(s_fault_keys),
                                    s_fault_init, s_check_fault};

static void s_set_faults(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_sim_cfg_t *sim = obj;
    sim->faults = s_read_items(ctx, value, key->name, &s_fault_map, sizeof *sim->faults,
                               &sim->n_faults);
}

static const s_key_t s_sim_keys[] = {
    {.name = "call_latency", .set = s_set_duration,
     .offset = offsetof(sg_sim_cfg_t, call_latency_ms), .min = 0},
    {.name = "job_duration", .set = s_set_duration,
     .offset = offsetof(sg_sim_cfg_t, job_duration_ms), .min = 0},
    {.name = "state_file", .set = s_set_str, .offset = offsetof(sg_sim_cfg_t, state_file)},
    {.name = "faults", .set = s_set_faults},
};
static const s_map_t s_sim_map = {"in provider.sim", s_sim_keys, S_COUNT(s_sim_keys), NULL, NULL};

static void s_set_kind(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    char **field = s_field(key, obj);
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "wsman") == 0 || (strcmp(text, "wmi") == 0 && !sg_provider_built("wmi"))) {
        s_err(ctx, value, "provider '%s' is not built into this version%s", text,
              strcmp(text, "wmi") == 0 ? " (the WMI provider is part of the Windows build)" : "");
    } else if (strcmp(text, "sim") != 0 && strcmp(text, "wmi") != 0) {
        s_err(ctx, value, "unknown provider kind '%s' (expected one of: sim, wmi, wsman)", text);
    } else {
        free(*field);
        *field = s_strdup(ctx, text);
    }
}

static void s_check_provider(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_provider_cfg_t *p = obj;
    if (!s_read_ok(read, "poll_initial") || !s_read_ok(read, "poll_max") ||
        p->poll_initial_ms <= p->poll_max_ms)
        return;
    yaml_node_t *at = s_value_of(ctx, node, "poll_initial");
    s_err(ctx, at ? at : s_value_of(ctx, node, "poll_max"),
          "poll_initial (%" PRId64 " ms) must not exceed poll_max (%" PRId64 " ms)",
          p->poll_initial_ms, p->poll_max_ms);
}

/* password_env: the WMI password from an environment variable. */
static void s_set_password_env(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_wmi_cfg_t *w = obj;
    const char *name = s_scalar(ctx, value, key->name, false);
    if (!name)
        return;
    const char *pw = getenv(name);
    if (!pw) {
        s_err(ctx, value, "environment variable %s (password_env) is not set", name);
        return;
    }
    free(w->password);
    w->password = s_strdup(ctx, pw);
}

static const s_key_t s_wmi_keys[] = {
    {.name = "host", .set = s_set_str, .offset = offsetof(sg_wmi_cfg_t, host)},
    {.name = "namespace", .set = s_set_str, .offset = offsetof(sg_wmi_cfg_t, name_space)},
    {.name = "user", .set = s_set_str, .offset = offsetof(sg_wmi_cfg_t, user)},
    {.name = "password", .set = s_set_str, .offset = offsetof(sg_wmi_cfg_t, password)},
    {.name = "password_env", .set = s_set_password_env},
};
static const s_map_t s_wmi_map = {"in provider.wmi", s_wmi_keys, S_COUNT(s_wmi_keys), NULL, NULL};

static const s_key_t s_provider_keys[] = {
    {.name = "kind", .set = s_set_kind, .offset = offsetof(sg_provider_cfg_t, kind)},
    {.name = "workers", .set = s_set_int, .offset = offsetof(sg_provider_cfg_t, workers), .min = 1,
     .max = 256},
    {.name = "job_timeout", .set = s_set_duration,
     .offset = offsetof(sg_provider_cfg_t, job_timeout_ms), .min = 1},
    {.name = "poll_initial", .set = s_set_duration,
     .offset = offsetof(sg_provider_cfg_t, poll_initial_ms), .min = 1},
    {.name = "poll_max", .set = s_set_duration, .offset = offsetof(sg_provider_cfg_t, poll_max_ms),
     .min = 1},
    {.name = "max_attempts", .set = s_set_int, .offset = offsetof(sg_provider_cfg_t, max_attempts),
     .min = 1, .max = 100},
    {.name = "sim", .set = s_set_map, .offset = offsetof(sg_provider_cfg_t, sim),
     .sub = &s_sim_map},
    {.name = "wmi", .set = s_set_map, .offset = offsetof(sg_provider_cfg_t, wmi),
     .sub = &s_wmi_map},
};
static const s_map_t s_provider_map = {"in provider", s_provider_keys, S_COUNT(s_provider_keys),
                                       NULL, s_check_provider};

/* ------------------------------------------------------------------------ */
/* Plan and journal                                                          */

static const s_key_t s_plan_keys[] = {
    {.name = "on_error", .set = s_set_on_error, .offset = offsetof(sg_plan_cfg_t, on_error)},
    {.name = "max_concurrency", .set = s_set_int,
     .offset = offsetof(sg_plan_cfg_t, max_concurrency), .min = 0, .max = 256},
    {.name = "per_host_concurrency", .set = s_set_int,
     .offset = offsetof(sg_plan_cfg_t, per_host_concurrency), .min = 0, .max = 256},
};
static const s_map_t s_plan_map = {"in plan", s_plan_keys, S_COUNT(s_plan_keys), NULL, NULL};

static const s_key_t s_journal_keys[] = {
    {.name = "path", .set = s_set_str, .offset = offsetof(sg_journal_cfg_t, path)},
};
static const s_map_t s_journal_map = {"in journal", s_journal_keys, S_COUNT(s_journal_keys),
                                      NULL, NULL};

/* Without journal.path, the journal is siteguard-journal.db beside the
 * config file (the working directory for a config given as a string). */
static void s_default_journal(s_ctx_t *ctx, sg_config_t *cfg)
{
    if (cfg->journal.path || !cfg->path)
        return;
    const char *slash = strrchr(cfg->path, '/');
    int dir_len = slash ? (int)(slash - cfg->path) : 0;
    cfg->journal.path = slash ? sg_strdupf("%.*s/siteguard-journal.db", dir_len > 0 ? dir_len : 1,
                                           dir_len > 0 ? cfg->path : "/")
                              : sg_strdupf("siteguard-journal.db");
    if (!cfg->journal.path)
        s_oom(ctx);
}

/* ------------------------------------------------------------------------ */
/* Sinks                                                                     */

static bool s_read_option(s_ctx_t *ctx, yaml_node_t *k, yaml_node_t *v, sg_sink_cfg_t *s)
{
    const char *key = s_scalar(ctx, k, "options", true);
    if (!key)
        return false;
    const char *value = s_scalar(ctx, v, key, false);
    if (!value)
        return false;
    for (size_t i = 0; i < s->n_options; i++) {
        if (strcmp(s->options[i].key, key) == 0) {
            s_err(ctx, k, "duplicate key '%s' in the options of sink '%s'", key,
                  s->name ? s->name : "?");
            return false;
        }
    }
    sg_kv_t *kv = &s->options[s->n_options];
    kv->key = s_strdup(ctx, key);
    kv->value = s_strdup(ctx, value);
    kv->mark = s_mark(ctx, k);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        return false;
    }
    s->n_options++;
    return true;
}

/* A plugin's own keys: any scalar key and value, checked later by notify. */
static void s_set_options(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_sink_cfg_t *s = obj;
    if (s_is_null(value) || !s_expect(ctx, value, YAML_MAPPING_NODE, key->name, false))
        return;
    size_t n = (size_t)(value->data.mapping.pairs.top - value->data.mapping.pairs.start);
    if (n == 0)
        return;
    s->options = calloc(n, sizeof *s->options);
    if (!s->options) {
        s_oom(ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &value->data.mapping.pairs.start[i];
        yaml_node_t *k = s_node(ctx, p->key), *v = s_node(ctx, p->value);
        if (k && v)
            s_read_option(ctx, k, v, s);
    }
}

static void s_sink_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    sg_sink_cfg_t *s = obj;
    s->mark = s_mark(ctx, node);
    s->kinds = SG_ROUTE_ALL;
    s->retry = (sg_retry_cfg_t){.initial_ms = 100, .max_ms = 30000, .limit = 8};
}

/* `kinds: [decision, blocked, job, drill, service]`: the route kinds a sink is sent. */
static void s_set_route_kinds(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const names[] = {"decision", "blocked", "job", "drill", "service"};
    sg_sink_cfg_t *s = obj;
    size_t n;
    if (!s_list(ctx, value, key->name, &n))
        return;
    if (n == 0) {
        s_err(ctx, value, "'%s' must name at least one of: decision, blocked, job, drill, service",
              key->name);
        return;
    }
    s->kinds = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = s_node(ctx, value->data.sequence.items.start[i]);
        const char *text = item ? s_scalar(ctx, item, key->name, true) : NULL;
        size_t k = 0;
        while (text && k < S_COUNT(names) && strcmp(text, names[k]) != 0)
            k++;
        if (text && k == S_COUNT(names))
            s_err(ctx, item, "bad value '%s' in '%s': expected one of: decision, blocked, job, "
                             "drill, service", text, key->name);
        else if (text)
            s->kinds |= 1u << k;
    }
}

static void s_set_min_severity(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const names[] = {"info", "warning", "critical", NULL};
    s_set_enum(ctx, key, value, obj, names, "info, warning, critical");
}

static void s_check_retry(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_retry_cfg_t *r = obj;
    if (s_read_ok(read, "initial") && s_read_ok(read, "max") && r->max_ms < r->initial_ms)
        s_err(ctx, node, "retry 'max' must not be shorter than 'initial'");
}

static const s_key_t s_retry_keys[] = {
    {.name = "initial", .set = s_set_duration, .offset = offsetof(sg_retry_cfg_t, initial_ms),
     .min = 1},
    {.name = "max", .set = s_set_duration, .offset = offsetof(sg_retry_cfg_t, max_ms), .min = 1},
    {.name = "limit", .set = s_set_int, .offset = offsetof(sg_retry_cfg_t, limit), .min = 1,
     .max = 1000000000},
};
static const s_map_t s_retry_map = {"in a sink's retry", s_retry_keys, S_COUNT(s_retry_keys),
                                    NULL, s_check_retry};

static const s_key_t s_sink_keys[] = {
    {.name = "name", .set = s_set_str, .offset = offsetof(sg_sink_cfg_t, name), .required = true},
    {.name = "plugin", .set = s_set_str, .offset = offsetof(sg_sink_cfg_t, plugin),
     .required = true},
    {.name = "path", .set = s_set_str, .offset = offsetof(sg_sink_cfg_t, path)},
    {.name = "options", .set = s_set_options},
    {.name = "kinds", .set = s_set_route_kinds},
    {.name = "min_severity", .set = s_set_min_severity,
     .offset = offsetof(sg_sink_cfg_t, min_severity)},
    {.name = "group", .set = s_set_duration, .offset = offsetof(sg_sink_cfg_t, group_ms)},
    {.name = "fallback", .set = s_set_str, .offset = offsetof(sg_sink_cfg_t, fallback)},
    {.name = "retry", .set = s_set_map, .offset = offsetof(sg_sink_cfg_t, retry),
     .sub = &s_retry_map},
};
static const s_map_t s_sink_map = {"in a sink", s_sink_keys, S_COUNT(s_sink_keys), s_sink_init,
                                   NULL};

/* A fallback names another configured sink. */
static void s_check_fallbacks(s_ctx_t *ctx, const sg_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        const sg_sink_cfg_t *s = &cfg->sinks[i];
        if (!s->fallback)
            continue;
        size_t k = 0;
        while (k < cfg->n_sinks && !(cfg->sinks[k].name &&
                                     strcmp(cfg->sinks[k].name, s->fallback) == 0))
            k++;
        if (k == cfg->n_sinks)
            s_err_at(ctx, &s->mark, "sink '%s': fallback '%s' is not a configured sink",
                     s->name ? s->name : "?", s->fallback);
        else if (k == i)
            s_err_at(ctx, &s->mark, "sink '%s' cannot be its own fallback",
                     s->name ? s->name : "?");
    }
}

static void s_set_sinks(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_config_t *cfg = obj;
    cfg->sinks = s_read_items(ctx, value, key->name, &s_sink_map, sizeof *cfg->sinks,
                              &cfg->n_sinks);
    s_check_unique(ctx, cfg->sinks, cfg->n_sinks, sizeof *cfg->sinks,
                   offsetof(sg_sink_cfg_t, name), offsetof(sg_sink_cfg_t, mark), "sink name");
    s_check_fallbacks(ctx, cfg);
}

/* ------------------------------------------------------------------------ */
/* Drills                                                                    */

static void s_set_schedule(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    s_set_str(ctx, key, value, obj);
    char **field = s_field(key, obj);
    sg_schedule_t sched;
    char *why = NULL;
    if (!*field)
        return;
    int rc = sg_schedule_parse(*field, &sched, &why);
    if (rc == SG_ENOMEM)
        s_oom(ctx);
    else if (rc != SG_OK)
        s_err(ctx, value, "bad schedule: %s", why ? why : "not a schedule");
    free(why);
}

static void s_set_timezone(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    s_set_str(ctx, key, value, obj);
    char **field = s_field(key, obj);
    sg_tz_t *tz = NULL;
    if (!*field)
        return;
    int rc = sg_tz_open(*field, &tz);
    sg_tz_close(&tz);
    if (rc == SG_ENOMEM)
        s_oom(ctx);
    else if (rc != SG_OK)
        s_err(ctx, value, "unknown time zone '%s': expected UTC, a fixed offset like +01:00 or a "
              "zone like %s", *field, sg_tz_example());
}

/* `plan: all` or `plan: site NAME`. */
static void s_set_drill_plan(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_drill_cfg_t *d = obj;
    const char *text = s_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "all") == 0) {
        d->plan = SG_DRILL_ALL;
    } else if (strncmp(text, "site ", 5) == 0) {
        d->plan = SG_DRILL_SITE;
        d->plan_site = sg_config_find_site(ctx->cfg, text + 5);
        if (d->plan_site < 0)
            s_err(ctx, value, "site '%s' is not defined in sites", text + 5);
    } else {
        s_err(ctx, value, "bad value '%s' for '%s': expected all or site NAME", text, key->name);
    }
}

static void s_set_drill_collections(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value,
                                    void *obj)
{
    sg_drill_cfg_t *d = obj;
    size_t n;
    if (!s_list(ctx, value, key->name, &n) || n == 0)
        return;
    if (!(d->collections = calloc(n, sizeof *d->collections))) {
        s_oom(ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = s_node(ctx, value->data.sequence.items.start[i]);
        const char *text = item ? s_scalar(ctx, item, key->name, true) : NULL;
        int c = text ? s_find_collection(ctx, text) : -1;
        if (text && c < 0)
            s_err(ctx, item, "collection '%s' is not defined in collections", text);
        else if (c >= 0)
            d->collections[d->n_collections++] = c;
    }
}

static void s_set_drill_rp(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_drill_cfg_t *d = obj;
    sg_collection_cfg_t c = {0}; /* the collection rule, read into a scratch entry */
    size_t errors_before = ctx->found.n;
    s_set_recovery_point(ctx, key, value, &c);
    if (ctx->found.n != errors_before)
        return;
    d->rp_set = true;
    d->recovery_point = c.recovery_point;
    d->recovery_point_path = c.recovery_point_path;
}

static void s_set_after(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    const char *text = s_scalar(ctx, value, key->name, false);
    if (text && strcmp(text, "revert") != 0)
        s_err(ctx, value, "bad value '%s' for '%s': a drill always ends with revert", text,
              key->name);
}

static void s_set_blackout(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_drill_cfg_t *d = obj;
    d->blackout = s_read_items(ctx, value, key->name, &s_window_map, sizeof *d->blackout,
                               &d->n_blackout);
}

static const s_key_t s_objective_keys[] = {
    {.name = "rto", .set = s_set_duration, .offset = offsetof(sg_drill_cfg_t, rto_ms), .min = 1},
    {.name = "rpo", .set = s_set_duration, .offset = offsetof(sg_drill_cfg_t, rpo_ms), .min = 1},
};
static const s_map_t s_objective_map = {"in a drill's objectives", s_objective_keys,
                                        S_COUNT(s_objective_keys), NULL, NULL};

static void s_drill_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    sg_drill_cfg_t *d = obj;
    d->mark = s_mark(ctx, node);
    d->plan_site = -1;
}

static void s_check_drill(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    bool list = s_value_of(ctx, node, "collections"), plan = s_value_of(ctx, node, "plan");
    if (list && plan)
        s_err(ctx, node, "a drill names either 'collections' or a 'plan', not both");
    else if (!list && !plan)
        s_err(ctx, node, "a drill needs 'collections' or 'plan' (all, or site NAME)");
}

static const s_key_t s_drill_keys[] = {
    {.name = "name", .set = s_set_str, .offset = offsetof(sg_drill_cfg_t, name), .required = true},
    {.name = "schedule", .set = s_set_schedule, .offset = offsetof(sg_drill_cfg_t, schedule)},
    {.name = "timezone", .set = s_set_timezone, .offset = offsetof(sg_drill_cfg_t, timezone)},
    {.name = "collections", .set = s_set_drill_collections},
    {.name = "plan", .set = s_set_drill_plan},
    {.name = "recovery_point", .set = s_set_drill_rp},
    {.name = "objectives", .set = s_set_map, .sub = &s_objective_map},
    {.name = "blackout", .set = s_set_blackout},
    {.name = "after", .set = s_set_after},
    {.name = "run_at_start", .set = s_set_bool, .offset = offsetof(sg_drill_cfg_t, run_at_start)},
};
static const s_map_t s_drill_map = {"in a drill", s_drill_keys, S_COUNT(s_drill_keys),
                                    s_drill_init, s_check_drill};

static void s_set_drills(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_config_t *cfg = obj;
    cfg->drills = s_read_items(ctx, value, key->name, &s_drill_map, sizeof *cfg->drills,
                               &cfg->n_drills);
    s_check_unique(ctx, cfg->drills, cfg->n_drills, sizeof *cfg->drills,
                   offsetof(sg_drill_cfg_t, name), offsetof(sg_drill_cfg_t, mark), "drill name");
}

static void s_free_drills(sg_drill_cfg_t *drills, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(drills[i].name);
        free(drills[i].schedule);
        free(drills[i].timezone);
        free(drills[i].collections);
        free(drills[i].recovery_point_path);
        for (size_t k = 0; k < drills[i].n_blackout; k++) {
            free(drills[i].blackout[k].sites);
            free(drills[i].blackout[k].reason);
        }
        free(drills[i].blackout);
    }
    free(drills);
}

int sg_config_find_drill(const sg_config_t *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_drills; i++)
        if (cfg->drills[i].name && strcmp(cfg->drills[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Bus and the top level                                                     */

static void s_check_bus(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_bus_cfg_t *b = obj;
    if (s_read_ok(read, "bind") && s_read_ok(read, "connect") && b->n_bind + b->n_connect == 0)
        s_err(ctx, node, "bus needs at least one 'bind' or 'connect' endpoint");
}

static const s_key_t s_bus_keys[] = {
    {.name = "bind", .set = s_set_str_list, .offset = offsetof(sg_bus_cfg_t, bind),
     .count_offset = offsetof(sg_bus_cfg_t, n_bind)},
    {.name = "connect", .set = s_set_str_list, .offset = offsetof(sg_bus_cfg_t, connect),
     .count_offset = offsetof(sg_bus_cfg_t, n_connect)},
    {.name = "max_event_bytes", .set = s_set_size,
     .offset = offsetof(sg_bus_cfg_t, max_event_bytes), .min = 64, .max = 1048576},
    {.name = "max_age", .set = s_set_duration, .offset = offsetof(sg_bus_cfg_t, max_age_ms),
     .min = 1},
    {.name = "max_skew", .set = s_set_duration, .offset = offsetof(sg_bus_cfg_t, max_skew_ms),
     .min = 0},
};
static const s_map_t s_bus_map = {"in bus", s_bus_keys, S_COUNT(s_bus_keys), NULL, s_check_bus};

/* ------------------------------------------------------------------------ */
/* Control, metrics, log format                                              */

static void s_set_endpoint(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    s_set_str(ctx, key, value, obj);
    char **field = s_field(key, obj);
    if (*field && strncmp(*field, "ipc://", 6) != 0 && strncmp(*field, "tcp://", 6) != 0)
        s_err(ctx, value, "'%s' must be an ipc:// or tcp:// endpoint", key->name);
}

/* `path` as written, or beside the config file when relative. Caller frees. */
static char *s_beside_config(const sg_config_t *cfg, const char *path)
{
    const char *slash = cfg->path ? strrchr(cfg->path, '/') : NULL;
    const char *back = cfg->path ? strrchr(cfg->path, '\\') : NULL;
    if (back && (!slash || back > slash))
        slash = back;
    if (path[0] == '/' || path[0] == '\\' || !slash || (path[0] && path[1] == ':'))
        return sg_strdupf("%s", path);
    return sg_strdupf("%.*s/%s", (int)(slash - cfg->path), cfg->path, path);
}

/* Reads the server's CURVE secret key (Z85, as `siteguardctl keygen` writes
 * it); the key itself never goes into a message. */
static void s_set_secret_key_file(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_control_cfg_t *cc = obj;
    s_set_str(ctx, key, value, obj);
    if (!cc->secret_key_file)
        return;
    char *path = s_beside_config(ctx->cfg, cc->secret_key_file);
    FILE *f = path ? fopen(path, "rb") : NULL;
    char text[1024] = {0}, k[41];
    if (!path) {
        s_oom(ctx);
    } else if (!f) {
        s_err(ctx, value, "cannot read '%s' (%s): %s", key->name, path, strerror(errno));
    } else if (fread(text, 1, sizeof text - 1, f), !sg_curvekey_parse(text, k)) {
        s_err(ctx, value, "'%s' (%s) holds no CURVE secret key: 40 characters of Z85 text, as "
                          "'siteguardctl keygen --out FILE' writes it", key->name, path);
    } else if (!(cc->secret_key = s_strdup(ctx, k))) {
        s_oom(ctx);
    }
    if (f)
        fclose(f);
    free(path);
    memset(text, 0, sizeof text);
    memset(k, 0, sizeof k);
}

static void s_control_key_init(s_ctx_t *ctx, yaml_node_t *node, void *obj)
{
    ((sg_control_key_cfg_t *)obj)->mark = s_mark(ctx, node);
}

static const s_key_t s_control_key_keys[] = {
    {.name = "name", .set = s_set_str, .offset = offsetof(sg_control_key_cfg_t, name),
     .required = true},
    {.name = "key", .set = s_set_public_key, .offset = offsetof(sg_control_key_cfg_t, key),
     .required = true},
};
static const s_map_t s_control_key_map = {"in a control key", s_control_key_keys,
                                          S_COUNT(s_control_key_keys), s_control_key_init, NULL};

/* operators or readers: a list of {name, key}. */
static void s_set_control_keys(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    sg_control_key_cfg_t **field = s_field(key, obj);
    size_t *count = (size_t *)((char *)obj + key->count_offset);
    *field = s_read_items(ctx, value, key->name, &s_control_key_map, sizeof **field, count);
}

static bool s_loopback_endpoint(const char *endpoint)
{
    const char *host = endpoint + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}

/* A tcp endpoint: on the loopback address, and with CURVE configured. */
static void s_check_control_tcp(s_ctx_t *ctx, yaml_node_t *node, const sg_control_cfg_t *cc,
                                const char *name)
{
    yaml_node_t *v = s_value_of(ctx, node, name);
    const char *ep = strcmp(name, "endpoint") == 0 ? cc->endpoint : cc->readonly_endpoint;
    if (!ep || strncmp(ep, "tcp://", 6) != 0)
        return;
    if (!s_loopback_endpoint(ep))
        s_err(ctx, v, "'%s' %s must be on the loopback address (127.x.x.x, localhost or [::1])",
              name, ep);
    else if (!cc->secret_key_file || cc->n_operators + cc->n_readers == 0)
        s_err(ctx, v, "'%s' %s is tcp and needs CURVE: set control.secret_key_file and list "
                      "client keys in control.operators or control.readers (without them anyone "
                      "on this host could steer failover)", name, ep);
}

/* Names and keys are unique across operators and readers. */
static void s_check_control_unique(s_ctx_t *ctx, const sg_control_cfg_t *cc)
{
    size_t n = cc->n_operators + cc->n_readers;
    for (size_t i = 0; i < n; i++) {
        const sg_control_key_cfg_t *a =
            i < cc->n_operators ? &cc->operators[i] : &cc->readers[i - cc->n_operators];
        for (size_t j = 0; j < i; j++) {
            const sg_control_key_cfg_t *b =
                j < cc->n_operators ? &cc->operators[j] : &cc->readers[j - cc->n_operators];
            if (a->name && b->name && strcmp(a->name, b->name) == 0)
                s_err_at(ctx, &a->mark, "control key name '%s' is already used at line %d",
                         a->name, b->mark.line);
            else if (a->key && b->key && strcmp(a->key, b->key) == 0)
                s_err_at(ctx, &a->mark, "the key of '%s' is already listed at line %d (as '%s')",
                         a->name ? a->name : "?", b->mark.line, b->name ? b->name : "?");
        }
    }
}

static void s_check_control(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_control_cfg_t *cc = obj;
    bool keys_ok = s_read_ok(read, "secret_key_file") && s_read_ok(read, "operators") &&
                   s_read_ok(read, "readers");
    if (!keys_ok)
        return;
    if (s_read_ok(read, "endpoint"))
        s_check_control_tcp(ctx, node, cc, "endpoint");
    if (s_read_ok(read, "readonly_endpoint"))
        s_check_control_tcp(ctx, node, cc, "readonly_endpoint");
    bool has_keys = cc->n_operators + cc->n_readers > 0;
    if (has_keys && !cc->secret_key_file)
        s_err(ctx, s_value_of(ctx, node, cc->n_operators ? "operators" : "readers"),
              "client keys need control.secret_key_file (the service's CURVE secret key)");
    else if (!has_keys && cc->secret_key_file)
        s_err(ctx, s_value_of(ctx, node, "secret_key_file"),
              "'secret_key_file' without client keys: list them in control.operators or "
              "control.readers");
    s_check_control_unique(ctx, cc);
}

static const s_key_t s_control_keys[] = {
    {.name = "endpoint", .set = s_set_endpoint, .offset = offsetof(sg_control_cfg_t, endpoint)},
    {.name = "readonly_endpoint", .set = s_set_endpoint,
     .offset = offsetof(sg_control_cfg_t, readonly_endpoint)},
    {.name = "group", .set = s_set_str, .offset = offsetof(sg_control_cfg_t, group)},
    {.name = "secret_key_file", .set = s_set_secret_key_file,
     .offset = offsetof(sg_control_cfg_t, secret_key_file)},
    {.name = "operators", .set = s_set_control_keys, .offset = offsetof(sg_control_cfg_t, operators),
     .count_offset = offsetof(sg_control_cfg_t, n_operators)},
    {.name = "readers", .set = s_set_control_keys, .offset = offsetof(sg_control_cfg_t, readers),
     .count_offset = offsetof(sg_control_cfg_t, n_readers)},
};
static const s_map_t s_control_map = {"in control", s_control_keys, S_COUNT(s_control_keys),
                                      NULL, s_check_control};

/* "off", or HOST:PORT with a port in 1..65535. */
static void s_set_listen(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    s_set_str(ctx, key, value, obj);
    char **field = s_field(key, obj);
    if (!*field || strcmp(*field, "off") == 0)
        return;
    const char *colon = strrchr(*field, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == *field || !end || *end || port < 1 || port > 65535)
        s_err(ctx, value, "'%s' must be HOST:PORT (e.g. 127.0.0.1:9464) or off", key->name);
}

static const s_key_t s_metrics_keys[] = {
    {.name = "listen", .set = s_set_listen, .offset = offsetof(sg_metrics_cfg_t, listen)},
};
static const s_map_t s_metrics_map = {"in metrics", s_metrics_keys, S_COUNT(s_metrics_keys),
                                      NULL, NULL};

/* ------------------------------------------------------------------------ */
/* Leader election                                                           */

static void s_set_leader_mode(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const names[] = {"none", "etcd", NULL};
    s_set_enum(ctx, key, value, obj, names, "none, etcd");
}

static void s_set_http_list(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    s_set_str_list(ctx, key, value, obj);
    const sg_etcd_cfg_t *e = obj;
    for (size_t i = 0; i < e->n_endpoints; i++) {
        if (strncmp(e->endpoints[i], "http://", 7) != 0 &&
            strncmp(e->endpoints[i], "https://", 8) != 0)
            s_err(ctx, value, "an entry of '%s' must be an http:// or https:// URL (got '%s')",
                  key->name, e->endpoints[i]);
    }
}

/* The lease TTL is whole seconds (etcd's unit); a call must fit well inside it. */
static void s_check_etcd(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    const sg_etcd_cfg_t *e = obj;
    yaml_node_t *ttl = s_value_of(ctx, node, "ttl");
    if (ttl && s_read_ok(read, "ttl") && (e->ttl_ms < 1000 || e->ttl_ms % 1000))
        s_err(ctx, ttl, "'ttl' must be a whole number of seconds, at least 1s");
    else if (s_read_ok(read, "ttl") && s_read_ok(read, "timeout") && e->timeout_ms >= e->ttl_ms)
        s_err(ctx, s_value_of(ctx, node, "timeout") ? s_value_of(ctx, node, "timeout") : node,
              "'timeout' must be less than 'ttl'");
}

static const s_key_t s_etcd_keys[] = {
    {.name = "endpoints", .set = s_set_http_list, .offset = offsetof(sg_etcd_cfg_t, endpoints),
     .count_offset = offsetof(sg_etcd_cfg_t, n_endpoints)},
    {.name = "key", .set = s_set_str, .offset = offsetof(sg_etcd_cfg_t, key)},
    {.name = "ttl", .set = s_set_duration, .offset = offsetof(sg_etcd_cfg_t, ttl_ms), .min = 1},
    {.name = "timeout", .set = s_set_duration, .offset = offsetof(sg_etcd_cfg_t, timeout_ms),
     .min = 1},
};
static const s_map_t s_etcd_map = {"in leader.etcd", s_etcd_keys, S_COUNT(s_etcd_keys), NULL,
                                   s_check_etcd};

static const s_key_t s_leader_keys[] = {
    {.name = "mode", .set = s_set_leader_mode, .offset = offsetof(sg_leader_cfg_t, mode)},
    {.name = "name", .set = s_set_str, .offset = offsetof(sg_leader_cfg_t, name)},
    {.name = "etcd", .set = s_set_map, .offset = offsetof(sg_leader_cfg_t, etcd),
     .sub = &s_etcd_map},
};
static const s_map_t s_leader_map = {"in leader", s_leader_keys, S_COUNT(s_leader_keys), NULL,
                                     NULL};

/* leader.name defaults to this computer's name. */
static void s_default_leader(s_ctx_t *ctx, sg_config_t *cfg)
{
    char host[256];
    if (cfg->leader.name)
        return;
    bool known = sg_platform_hostname(host, sizeof host) == SG_OK;
    cfg->leader.name = s_strdup(ctx, known ? host : "siteguard");
}

static void s_set_log_format(s_ctx_t *ctx, const s_key_t *key, yaml_node_t *value, void *obj)
{
    static const char *const names[] = {"text", "json", NULL};
    s_set_enum(ctx, key, value, obj, names, "text, json");
}

/* Without a bus section, the bus binds the default endpoint. */
static void s_check_root(s_ctx_t *ctx, yaml_node_t *node, void *obj, const s_read_t *read)
{
    sg_config_t *cfg = obj;
    s_default_journal(ctx, cfg);
    s_default_leader(ctx, cfg);
    s_resolve_policy(ctx, node);
    yaml_node_t *bus = s_value_of(ctx, node, "bus");
    if (bus && !s_is_null(bus))
        return;
    cfg->bus.bind = calloc(1, sizeof *cfg->bus.bind);
    if (!cfg->bus.bind || !(cfg->bus.bind[0] = s_strdup(ctx, S_DEFAULT_BIND))) {
        s_oom(ctx);
        return;
    }
    cfg->bus.n_bind = 1;
}

/* Order matters: keys are read in this order (sites before what refers to
 * them, collections before provider faults). */
static const s_key_t s_root_keys[] = {
    {.name = "log_level", .set = s_set_log_level, .offset = offsetof(sg_config_t, log_level)},
    {.name = "plugin_dir", .set = s_set_str, .offset = offsetof(sg_config_t, plugin_dir)},
    {.name = "bus", .set = s_set_map, .offset = offsetof(sg_config_t, bus), .sub = &s_bus_map},
    {.name = "sites", .set = s_set_sites, .required = true},
    {.name = "observers", .set = s_set_observers, .required = true},
    {.name = "collections", .set = s_set_collections, .required = true},
    {.name = "policy", .set = s_set_map, .offset = offsetof(sg_config_t, policy),
     .sub = &s_policy_map},
    {.name = "provider", .set = s_set_map, .offset = offsetof(sg_config_t, provider),
     .sub = &s_provider_map},
    {.name = "plan", .set = s_set_map, .offset = offsetof(sg_config_t, plan), .sub = &s_plan_map},
    {.name = "journal", .set = s_set_map, .offset = offsetof(sg_config_t, journal),
     .sub = &s_journal_map},
    {.name = "sinks", .set = s_set_sinks},
    {.name = "control", .set = s_set_map, .offset = offsetof(sg_config_t, control),
     .sub = &s_control_map},
    {.name = "metrics", .set = s_set_map, .offset = offsetof(sg_config_t, metrics),
     .sub = &s_metrics_map},
    {.name = "leader", .set = s_set_map, .offset = offsetof(sg_config_t, leader),
     .sub = &s_leader_map},
    {.name = "log_format", .set = s_set_log_format, .offset = offsetof(sg_config_t, log_format)},
    {.name = "drills", .set = s_set_drills},
};
static const s_map_t s_root_map = {"at the top level", s_root_keys, S_COUNT(s_root_keys), NULL,
                                   s_check_root};

static void s_defaults(s_ctx_t *ctx, sg_config_t *cfg)
{
    cfg->log_level = SG_LOG_INFO;
    cfg->policy.suspect_after_ms = 3000;
    cfg->policy.hold_down_ms = 10000;
    cfg->policy.recover_after_ms = 30000;
    cfg->policy.mode = SG_MODE_AUTO;
    cfg->policy.approval_timeout_ms = 15 * 60 * 1000;
    cfg->policy.cooldown_ms = 60 * 60 * 1000;
    cfg->policy.replication_max_age_ms = 5 * 60 * 1000;
    cfg->policy.skew_warn_ms = 2000;
    cfg->policy.budget = (sg_budget_cfg_t){4, 60 * 60 * 1000};
    cfg->policy.site_budget = (sg_budget_cfg_t){2, 60 * 60 * 1000};
    cfg->provider.kind = s_strdup(ctx, "sim");
    cfg->provider.workers = 4;
    cfg->provider.job_timeout_ms = 30 * 60 * 1000;
    cfg->provider.poll_initial_ms = 250;
    cfg->provider.poll_max_ms = 5000;
    cfg->provider.max_attempts = 3;
    cfg->provider.sim.call_latency_ms = 20;
    cfg->provider.sim.job_duration_ms = 2000;
    cfg->bus.max_event_bytes = 4096;
    cfg->bus.max_age_ms = 30000;
    cfg->bus.max_skew_ms = 5000;
    cfg->leader.etcd.key = s_strdup(ctx, "/siteguard/leader");
    cfg->leader.etcd.ttl_ms = 10000;
    cfg->leader.etcd.timeout_ms = 2000;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

/* The 1-based position of a byte offset in the text. */
static sg_mark_t s_mark_at_offset(const s_ctx_t *ctx, const char *text, size_t len, size_t off)
{
    sg_mark_t m = {.file = ctx->cfg->path, .line = 1, .column = 1};
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            m.line++;
            m.column = 1;
        } else {
            m.column++;
        }
    }
    return m;
}

static void s_syntax_error(s_ctx_t *ctx, const yaml_parser_t *p, const char *text, size_t len)
{
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_MEMORY_ERROR) {
        s_oom(ctx);
    } else if (p->error == YAML_READER_ERROR) {
        sg_mark_t m = s_mark_at_offset(ctx, text, len, p->problem_offset);
        s_err_at(ctx, &m, "YAML syntax error: %s", problem);
    } else {
        sg_mark_t m = {ctx->cfg->path, (int)p->problem_mark.line + 1,
                       (int)p->problem_mark.column + 1};
        if (p->context)
            s_err_at(ctx, &m, "YAML syntax error: %s (%s that started at line %d, column %d)",
                     problem, p->context, (int)p->context_mark.line + 1,
                     (int)p->context_mark.column + 1);
        else
            s_err_at(ctx, &m, "YAML syntax error: %s", problem);
    }
}

/* Parses the text into ctx->doc; false (error reported) when it cannot. */
static bool s_parse(s_ctx_t *ctx, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    bool ok = false;
    if (!yaml_parser_initialize(&parser)) {
        s_oom(ctx);
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, ctx->doc)) {
        s_syntax_error(ctx, &parser, text, len);
        goto done;
    }
    ok = true;
    if (!yaml_parser_load(&parser, &extra)) {
        s_syntax_error(ctx, &parser, text, len);
        goto done;
    }
    yaml_node_t *root = yaml_document_get_root_node(&extra);
    if (root)
        s_err(ctx, root, "only one YAML document is allowed in a config file");
    yaml_document_delete(&extra);
done:
    yaml_parser_delete(&parser);
    return ok;
}

static void s_load(s_ctx_t *ctx, const char *text, size_t len)
{
    yaml_document_t doc;
    memset(&doc, 0, sizeof doc);
    ctx->doc = &doc;
    if (!s_parse(ctx, text, len))
        return;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        s_err(ctx, NULL, "the file is empty: expected a mapping with sites, observers and "
                         "collections");
    else
        s_walk_map(ctx, root, &s_root_map, ctx->cfg, NULL, false);
    yaml_document_delete(&doc);
    ctx->doc = NULL;
}

static void s_ctx_fini(s_ctx_t *ctx)
{
    if (ctx->dep_marks && ctx->cfg) {
        for (size_t i = 0; i < ctx->cfg->n_collections; i++)
            free(ctx->dep_marks[i]);
    }
    free(ctx->dep_marks);
    free(ctx->colls);
    sg_config_errors_fini(&ctx->found);
    free(ctx->pos);
}

int sg_config_load_string(const char *name, const char *text, size_t len, sg_config_t **out,
                          sg_config_errors_t *errs)
{
    s_ctx_t ctx = {0};
    int rc = SG_ENOMEM;
    *out = NULL;
    ctx.cfg = calloc(1, sizeof *ctx.cfg);
    if (!ctx.cfg)
        goto fail;
    ctx.cfg->path = s_strdup(&ctx, name ? name : "<string>");
    s_defaults(&ctx, ctx.cfg);
    if (ctx.rc == SG_OK)
        s_load(&ctx, text ? text : "", text ? len : 0);
    size_t n_found = ctx.found.n;
    s_flush_errors(&ctx, errs);
    rc = ctx.rc != SG_OK ? ctx.rc : n_found > 0 ? SG_ECONFIG : SG_OK;
    if (rc != SG_OK)
        goto fail;
    s_ctx_fini(&ctx);
    *out = ctx.cfg;
    return SG_OK;
fail:
    s_ctx_fini(&ctx);
    sg_config_destroy(&ctx.cfg);
    return rc;
}

/* Reads a whole file; returns 0, SG_EIO (errno set) or SG_ENOMEM. */
static int s_read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    int rc = SG_EIO;
    if (!f)
        return SG_EIO;
    for (;;) {
        char *bigger = realloc(buf, cap);
        if (!bigger) {
            rc = SG_ENOMEM;
            goto fail;
        }
        buf = bigger;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
    }
    if (ferror(f)) {
        errno = errno ? errno : EIO;
        goto fail;
    }
    fclose(f);
    *text = buf;
    *len = n;
    return SG_OK;
fail:
    free(buf);
    fclose(f);
    return rc;
}

int sg_config_load_file(const char *path, sg_config_t **out, sg_config_errors_t *errs)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    errno = 0;
    int rc = s_read_file(path, &text, &len);
    if (rc == SG_EIO) {
        int e = errno;
        char *line = malloc(strlen(path) + strlen(strerror(e)) + 32);
        if (!line)
            return SG_ENOMEM;
        sprintf(line, "%s: cannot read: %s", path, strerror(e));
        if (errs && s_errors_push(errs, line) != SG_OK)
            return SG_ENOMEM;
        if (!errs)
            free(line);
        return SG_EIO;
    }
    if (rc != SG_OK)
        return rc;
    rc = sg_config_load_string(path, text, len, out, errs);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Freeing and lookups                                                       */

static void s_free_strs(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void s_free_collections(sg_collection_cfg_t *cs, size_t n)
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

static void s_free_provider(sg_provider_cfg_t *p)
{
    free(p->kind);
    free(p->sim.state_file);
    for (size_t i = 0; i < p->sim.n_faults; i++) {
        free(p->sim.faults[i].collection);
        free(p->sim.faults[i].method);
    }
    free(p->sim.faults);
    free(p->wmi.host);
    free(p->wmi.name_space);
    free(p->wmi.user);
    free(p->wmi.password);
}

static void s_free_sinks(sg_sink_cfg_t *sinks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sinks[i].name);
        free(sinks[i].plugin);
        free(sinks[i].path);
        free(sinks[i].fallback);
        for (size_t k = 0; k < sinks[i].n_options; k++) {
            free(sinks[i].options[k].key);
            free(sinks[i].options[k].value);
        }
        free(sinks[i].options);
    }
    free(sinks);
}

static void s_free_control_keys(sg_control_key_cfg_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i].name);
        free(keys[i].key);
    }
    free(keys);
}

void sg_config_destroy(sg_config_t **cfg)
{
    if (!cfg || !*cfg)
        return;
    sg_config_t *c = *cfg;
    for (size_t i = 0; i < c->n_sites; i++)
        free(c->sites[i].name);
    free(c->sites);
    for (size_t i = 0; i < c->n_observers; i++) {
        free(c->observers[i].id);
        free(c->observers[i].public_key);
    }
    free(c->observers);
    s_free_collections(c->collections, c->n_collections);
    s_free_provider(&c->provider);
    s_free_sinks(c->sinks, c->n_sinks);
    s_free_drills(c->drills, c->n_drills);
    for (size_t i = 0; i < c->policy.n_maintenance; i++) {
        free(c->policy.maintenance[i].sites);
        free(c->policy.maintenance[i].reason);
    }
    free(c->policy.maintenance);
    s_free_strs(c->bus.bind, c->bus.n_bind);
    s_free_strs(c->bus.connect, c->bus.n_connect);
    free(c->control.endpoint);
    free(c->control.readonly_endpoint);
    free(c->control.group);
    free(c->control.secret_key_file);
    if (c->control.secret_key)
        memset(c->control.secret_key, 0, strlen(c->control.secret_key));
    free(c->control.secret_key);
    s_free_control_keys(c->control.operators, c->control.n_operators);
    s_free_control_keys(c->control.readers, c->control.n_readers);
    free(c->metrics.listen);
    free(c->leader.name);
    s_free_strs(c->leader.etcd.endpoints, c->leader.etcd.n_endpoints);
    free(c->leader.etcd.key);
    free(c->plugin_dir);
    free(c->journal.path);
    free(c->path);
    free(c);
    *cfg = NULL;
}

int sg_config_find_site(const sg_config_t *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_sites; i++)
        if (cfg->sites[i].name && strcmp(cfg->sites[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool sg_config_replication_source(const sg_config_t *cfg, int c, int o)
{
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    if (cc->n_replication_observers == 0)
        return cfg->observers[o].site == cc->site || cfg->observers[o].site == cc->replica_site;
    for (size_t i = 0; i < cc->n_replication_observers; i++)
        if (cc->replication_observers[i] == o)
            return true;
    return false;
}

int sg_config_find_observer(const sg_config_t *cfg, const char *id)
{
    for (size_t i = 0; id && i < cfg->n_observers; i++)
        if (cfg->observers[i].id && strcmp(cfg->observers[i].id, id) == 0)
            return (int)i;
    return -1;
}

int sg_config_find_collection(const sg_config_t *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_collections; i++)
        if (cfg->collections[i].name && strcmp(cfg->collections[i].name, name) == 0)
            return (int)i;
    return -1;
}

int sg_config_parse_duration(const char *text, int64_t *out_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    if (!text || text[0] < '0' || text[0] > '9')
        return SG_EINVAL;
    int64_t v = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return SG_EINVAL;
        v = v * 10 + d;
    }
    for (size_t i = 0; i < S_COUNT(units); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ms)
                return SG_EINVAL;
            *out_ms = v * units[i].ms;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}
