/* walk: the generic YAML walker of the config loader (see walk.h).
 *
 * libyaml's document API loads the whole file into a node tree; the walker
 * then reads it with one static table per mapping (key, setter, offset into
 * the target struct, range, required), so every section is described in one
 * place and unknown keys are rejected with their line and column. Errors are
 * collected with their position while walking and handed to the caller in
 * file order at the end. */
#include "config/walk.h"

#include "base/err.h"
#include "base/redact.h"
#include "base/str.h"
#include "config/duration.h"
#include "config/size.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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
    /* an error may quote a value: it is logged and shown by siteguardctl */
    char *safe = rule ? sg_redact(rule, NULL) : NULL;
    char *line = safe ? sg_strdupf("%s%s%s", file, prefix, safe) : NULL;
    free(rule);
    free(safe);
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
/* Context                                                                   */

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

/* The entries of one kind: the owner's array and its names sorted. */
typedef struct {
    const void *base;
    size_t n;
    s_name_t *sorted; /* by name, then index; NULL: not registered */
    size_t n_sorted;
} s_names_t;

struct sg_cfg {
    const char *path; /* the file marks name */
    yaml_document_t *doc;
    sg_config_errors_t found; /* errors in the order found */
    s_pos_t *pos;             /* where each of them stands */
    int rc;                   /* SG_ENOMEM once an allocation failed */
    s_names_t names[SG_CFG_KINDS];
};

sg_cfg_t *sg_cfg_new(const char *path)
{
    sg_cfg_t *ctx = calloc(1, sizeof *ctx);
    if (ctx)
        ctx->path = path;
    return ctx;
}

void sg_cfg_destroy(sg_cfg_t **ctx)
{
    if (!ctx || !*ctx)
        return;
    sg_cfg_t *c = *ctx;
    for (size_t k = 0; k < SG_CFG_KINDS; k++)
        free(c->names[k].sorted);
    sg_config_errors_fini(&c->found);
    free(c->pos);
    free(c);
    *ctx = NULL;
}

int sg_cfg_status(const sg_cfg_t *ctx)
{
    return ctx->rc;
}

const char *sg_cfg_path(const sg_cfg_t *ctx)
{
    return ctx->path;
}

void sg_cfg_oom(sg_cfg_t *ctx)
{
    ctx->rc = SG_ENOMEM;
}

sg_mark_t sg_cfg_mark(const sg_cfg_t *ctx, const sg_cfg_node_t *node)
{
    sg_mark_t m = {.file = ctx->path, .line = 1, .column = 1};
    if (node) {
        m.line = (int)node->start_mark.line + 1;
        m.column = (int)node->start_mark.column + 1;
    }
    return m;
}

static void s_errv(sg_cfg_t *ctx, const sg_mark_t *mark, const char *fmt, va_list ap)
{
    s_pos_t *pos = realloc(ctx->pos, (ctx->found.n + 1) * sizeof *pos);
    if (!pos) {
        sg_cfg_oom(ctx);
        return;
    }
    ctx->pos = pos;
    pos[ctx->found.n] = (s_pos_t){.line = mark->line, .column = mark->column, .seq = ctx->found.n};
    if (s_errors_addv(&ctx->found, mark, fmt, ap) != SG_OK)
        sg_cfg_oom(ctx);
}

void sg_cfg_err_at(sg_cfg_t *ctx, const sg_mark_t *mark, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_errv(ctx, mark, fmt, ap);
    va_end(ap);
}

void sg_cfg_err(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *fmt, ...)
{
    sg_mark_t m = sg_cfg_mark(ctx, node);
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

int sg_cfg_finish(sg_cfg_t *ctx, sg_config_errors_t *errs)
{
    size_t n_found = ctx->found.n;
    if (ctx->found.n > 0)
        qsort(ctx->pos, ctx->found.n, sizeof *ctx->pos, s_pos_cmp);
    for (size_t i = 0; i < ctx->found.n; i++) {
        char *line = ctx->found.items[ctx->pos[i].seq];
        ctx->found.items[ctx->pos[i].seq] = NULL;
        if (!errs)
            free(line);
        else if (s_errors_push(errs, line) != SG_OK)
            sg_cfg_oom(ctx);
    }
    sg_config_errors_fini(&ctx->found);
    free(ctx->pos);
    ctx->pos = NULL;
    return ctx->rc != SG_OK ? ctx->rc : n_found > 0 ? SG_ECONFIG : SG_OK;
}

char *sg_cfg_strdup(sg_cfg_t *ctx, const char *s)
{
    char *d = strdup(s);
    if (!d)
        sg_cfg_oom(ctx);
    return d;
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

static yaml_node_t *s_node(const sg_cfg_t *ctx, yaml_node_item_t id)
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

const char *sg_cfg_text(const sg_cfg_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

bool sg_cfg_is_null(const sg_cfg_node_t *node)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < SG_CFG_COUNT(nulls); i++)
        if (strcmp(sg_cfg_text(node), nulls[i]) == 0)
            return true;
    return false;
}

bool sg_cfg_is_scalar(const sg_cfg_node_t *node)
{
    return node->type == YAML_SCALAR_NODE;
}

bool sg_cfg_is_list(const sg_cfg_node_t *node)
{
    return node->type == YAML_SEQUENCE_NODE;
}

bool sg_cfg_is_map(const sg_cfg_node_t *node)
{
    return node->type == YAML_MAPPING_NODE;
}

/* Checks the node's type. `key` names the value; `item` says the node is
 * one entry of the list `key`; a NULL key is the document itself. */
static bool s_expect(sg_cfg_t *ctx, const yaml_node_t *node, yaml_node_type_t type,
                     const char *key, bool item)
{
    if (node->type == type)
        return true;
    const char *want = type == YAML_MAPPING_NODE ? "mapping"
                       : type == YAML_SEQUENCE_NODE ? "list" : "scalar";
    if (!key)
        sg_cfg_err(ctx, node, "expected a %s at the top level (found a %s)", want,
                   s_type_name(node));
    else
        sg_cfg_err(ctx, node, "expected a %s for %s'%s' (found a %s)", want,
                   item ? "each entry of " : "", key, s_type_name(node));
    return false;
}

bool sg_cfg_expect_map(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *key)
{
    return s_expect(ctx, node, YAML_MAPPING_NODE, key, false);
}

const char *sg_cfg_scalar(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *key, bool item)
{
    if (!s_expect(ctx, node, YAML_SCALAR_NODE, key, item))
        return NULL;
    if (strlen(sg_cfg_text(node)) != node->data.scalar.length) {
        sg_cfg_err(ctx, node, "'%s' contains a NUL character", key);
        return NULL;
    }
    return sg_cfg_text(node);
}

sg_cfg_node_t *sg_cfg_value_of(const sg_cfg_t *ctx, const sg_cfg_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = s_node(ctx, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(sg_cfg_text(k), key) == 0)
            return s_node(ctx, p->value);
    }
    return NULL;
}

size_t sg_cfg_seq_len(const sg_cfg_node_t *seq)
{
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

sg_cfg_node_t *sg_cfg_item(const sg_cfg_t *ctx, const sg_cfg_node_t *seq, size_t i)
{
    return s_node(ctx, seq->data.sequence.items.start[i]);
}

bool sg_cfg_list(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *key, size_t *n)
{
    *n = 0;
    if (sg_cfg_is_null(node))
        return true;
    if (!s_expect(ctx, node, YAML_SEQUENCE_NODE, key, false))
        return false;
    *n = sg_cfg_seq_len(node);
    return true;
}

bool sg_cfg_empty_list(const sg_cfg_node_t *node)
{
    return sg_cfg_is_null(node) || (node->type == YAML_SEQUENCE_NODE && sg_cfg_seq_len(node) == 0);
}

size_t sg_cfg_map_len(const sg_cfg_node_t *map)
{
    return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

void sg_cfg_pair(const sg_cfg_t *ctx, const sg_cfg_node_t *map, size_t i, sg_cfg_node_t **k,
                 sg_cfg_node_t **v)
{
    const yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
    *k = s_node(ctx, p->key);
    *v = s_node(ctx, p->value);
}

/* ------------------------------------------------------------------------ */
/* Config maps                                                               */

static char *s_key_names(const sg_cfg_map_t *map)
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

static int s_find_key(const sg_cfg_map_t *map, const char *name)
{
    for (size_t i = 0; i < map->n_keys; i++)
        if (strcmp(map->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool sg_cfg_read_ok(const sg_cfg_read_t *read, const char *key)
{
    int i = s_find_key(read->map, key);
    return i >= 0 && !read->bad[i];
}

static void s_unknown_key(sg_cfg_t *ctx, const yaml_node_t *node, const sg_cfg_map_t *map)
{
    char *names = s_key_names(map);
    if (!names) {
        sg_cfg_oom(ctx);
        return;
    }
    sg_cfg_err(ctx, node, "unknown key '%s' %s (expected one of: %s)", sg_cfg_text(node),
               map->where, names);
    free(names);
}

/* Matches the mapping's keys against the table; found[i] gets the value of
 * key i. Unknown, duplicate and non-scalar keys are errors. */
static void s_match_keys(sg_cfg_t *ctx, yaml_node_t *node, const sg_cfg_map_t *map,
                         yaml_node_t **found)
{
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = s_node(ctx, p->key);
        yaml_node_t *v = s_node(ctx, p->value);
        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            sg_cfg_err(ctx, k, "expected a scalar key %s (found a %s)", map->where,
                       s_type_name(k));
            continue;
        }
        int i = s_find_key(map, sg_cfg_text(k));
        if (i < 0) {
            s_unknown_key(ctx, k, map);
        } else if (found[i]) {
            sg_cfg_err(ctx, k, "duplicate key '%s' %s", sg_cfg_text(k), map->where);
        } else {
            found[i] = v;
        }
    }
}

void sg_cfg_walk_map(sg_cfg_t *ctx, sg_cfg_node_t *node, const sg_cfg_map_t *map, void *obj,
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
        const sg_cfg_key_t *k = &map->keys[i];
        size_t errors_before = ctx->found.n;
        if (found[i])
            k->set(ctx, k, found[i], obj);
        else if (k->required)
            sg_cfg_err(ctx, node, "missing required key '%s' %s", k->name, map->where);
        bad[i] = ctx->found.n != errors_before;
    }
    if (map->check)
        map->check(ctx, node, obj, &(sg_cfg_read_t){map, bad});
}

void *sg_cfg_read_items(sg_cfg_t *ctx, sg_cfg_node_t *node, const char *key,
                        const sg_cfg_map_t *map, size_t *n_out)
{
    size_t n;
    *n_out = 0;
    if (!sg_cfg_list(ctx, node, key, &n) || n == 0)
        return NULL;
    char *items = calloc(n, map->size);
    if (!items) {
        sg_cfg_oom(ctx);
        return NULL;
    }
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = sg_cfg_item(ctx, node, i);
        if (item)
            sg_cfg_walk_map(ctx, item, map, items + i * map->size, key, true);
    }
    return items;
}

/* ------------------------------------------------------------------------ */
/* Common setters                                                            */

void sg_cfg_set_map(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    if (!sg_cfg_is_null(value))
        sg_cfg_walk_map(ctx, value, key->sub, sg_cfg_field(key, obj), key->name, false);
}

void *sg_cfg_read_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                       const sg_cfg_map_t *map, size_t *n)
{
    size_t *count = (size_t *)((char *)obj + key->count_offset);
    void *items = sg_cfg_read_items(ctx, value, key->name, map, count);
    memcpy(sg_cfg_field(key, obj), &items, sizeof items);
    *n = *count;
    return items;
}

void sg_cfg_set_items(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    size_t n;
    sg_cfg_read_list(ctx, key, value, obj, key->sub, &n);
}

void sg_cfg_set_str(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    char **field = sg_cfg_field(key, obj);
    if (!key->required && sg_cfg_is_null(value))
        return; /* optional and explicitly not set */
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (text[0] == '\0') {
        sg_cfg_err(ctx, value, "'%s' must not be empty", key->name);
        return;
    }
    free(*field);
    *field = sg_cfg_strdup(ctx, text);
}

bool sg_cfg_each_entry(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, size_t size,
                       void **out, sg_cfg_entry_fn fn, void *arg)
{
    size_t n;
    *out = NULL;
    if (!sg_cfg_list(ctx, value, key->name, &n) || n == 0)
        return false;
    if (!(*out = calloc(n, size))) {
        sg_cfg_oom(ctx);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = sg_cfg_item(ctx, value, i);
        const char *text = item ? sg_cfg_scalar(ctx, item, key->name, true) : NULL;
        if (text)
            fn(ctx, item, text, *out, arg);
    }
    return true;
}

typedef struct {
    const sg_cfg_key_t *key;
    size_t *count;
} s_str_list_t;

static void s_str_entry(sg_cfg_t *ctx, yaml_node_t *item, const char *text, void *list, void *arg)
{
    s_str_list_t *l = arg;
    char **strs = list;
    if (text[0] == '\0')
        sg_cfg_err(ctx, item, "an entry of '%s' must not be empty", l->key->name);
    else if ((strs[*l->count] = sg_cfg_strdup(ctx, text)) != NULL)
        (*l->count)++;
}

void sg_cfg_set_str_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    s_str_list_t l = {key, (size_t *)((char *)obj + key->count_offset)};
    sg_cfg_each_entry(ctx, key, value, sizeof(char *), (void **)sg_cfg_field(key, obj),
                      s_str_entry, &l);
}

void sg_cfg_free_strs(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Reads an integer within [key->min, key->max]. */
static bool s_read_int(sg_cfg_t *ctx, const sg_cfg_key_t *key, yaml_node_t *value, int64_t *out)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    bool digits = (text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '+';
    if (!digits || end == text || *end != '\0' || errno == ERANGE) {
        sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected an integer", text, key->name);
        return false;
    }
    if (v < key->min || v > key->max) {
        sg_cfg_err(ctx, value, "'%s' must be between %" PRId64 " and %" PRId64 " (got %s)",
                   key->name, key->min, key->max, text);
        return false;
    }
    *out = v;
    return true;
}

void sg_cfg_set_int(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    int64_t v;
    if (s_read_int(ctx, key, value, &v))
        *(int *)sg_cfg_field(key, obj) = (int)v;
}

void sg_cfg_set_size(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    int64_t v;
    if (s_read_int(ctx, key, value, &v))
        *(size_t *)sg_cfg_field(key, obj) = (size_t)v;
}

void sg_cfg_set_u32(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    int64_t v;
    if (s_read_int(ctx, key, value, &v))
        *(uint32_t *)sg_cfg_field(key, obj) = (uint32_t)v;
}

void sg_cfg_set_bool(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    for (size_t i = 0; i < SG_CFG_COUNT(yes); i++) {
        if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
            *(bool *)sg_cfg_field(key, obj) = strcmp(text, yes[i]) == 0;
            return;
        }
    }
    sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected true or false", text, key->name);
}

/* Reads a scalar with `parse` into *out; otherwise reports that it is not
 * `expected` ("a duration like ..."). Returns the text read, or NULL. */
static const char *s_read_parsed(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                 int (*parse)(const char *, int64_t *), const char *expected,
                                 int64_t *out)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return NULL;
    if (parse(text, out) != SG_OK) {
        sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected %s", text, key->name, expected);
        return NULL;
    }
    return text;
}

void sg_cfg_set_duration(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    int64_t ms;
    const char *text = s_read_parsed(ctx, key, value, sg_config_parse_duration,
                                     "a duration like 250ms, 3s, 2m, 1h", &ms);
    if (!text)
        return;
    if (ms < key->min) {
        sg_cfg_err(ctx, value, "'%s' must be greater than 0", key->name);
        return;
    }
    if (ms > SG_CFG_DURATION_MAX_MS) {
        sg_cfg_err(ctx, value, "'%s' must be at most 100 years (%lld ms), not '%s'", key->name,
                   (long long)SG_CFG_DURATION_MAX_MS, text);
        return;
    }
    *(int64_t *)sg_cfg_field(key, obj) = ms;
}

void sg_cfg_set_bytes(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    int64_t bytes;
    if (s_read_parsed(ctx, key, value, sg_config_parse_size,
                      "a size like 512MiB, 2GiB, 100MB or a number of bytes", &bytes))
        *(int64_t *)sg_cfg_field(key, obj) = bytes;
}

void sg_cfg_set_public_key(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    char **field = sg_cfg_field(key, obj);
    if (sg_cfg_is_null(value))
        return;
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strlen(text) != 40 || strspn(text, z85) != 40) {
        sg_cfg_err(ctx, value, "'%s' must be a CURVE public key: 40 characters of Z85 text",
                   key->name);
        return;
    }
    *field = sg_cfg_strdup(ctx, text);
}

void sg_cfg_set_enum(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                     const char *const *names, const char *expected)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    for (int i = 0; names[i]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *(int *)sg_cfg_field(key, obj) = i;
            return;
        }
    }
    sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected one of: %s", text, key->name,
               expected);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

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
static s_name_t *s_index_names(sg_cfg_t *ctx, const void *base, size_t n, size_t elem_size,
                               size_t name_off, size_t mark_off, const char *what,
                               size_t *n_out)
{
    *n_out = 0;
    s_name_t *names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        sg_cfg_oom(ctx);
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
            sg_cfg_err_at(ctx, names[i].mark, "duplicate %s '%s' (first defined at line %d)",
                          what, names[i].name, names[first].mark->line);
    }
    return names;
}

void sg_cfg_check_unique(sg_cfg_t *ctx, const void *base, size_t n, size_t elem_size,
                         size_t name_off, size_t mark_off, const char *what)
{
    size_t n_names;
    free(s_index_names(ctx, base, n, elem_size, name_off, mark_off, what, &n_names));
}

bool sg_cfg_names_put(sg_cfg_t *ctx, sg_cfg_kind_t kind, const void *base, size_t n,
                      size_t elem_size, size_t name_off, size_t mark_off, const char *what)
{
    s_names_t *names = &ctx->names[kind];
    free(names->sorted);
    names->base = base;
    names->n = n;
    names->sorted = s_index_names(ctx, base, n, elem_size, name_off, mark_off, what,
                                  &names->n_sorted);
    return names->sorted != NULL;
}

int sg_cfg_names_find(const sg_cfg_t *ctx, sg_cfg_kind_t kind, const char *name)
{
    const s_names_t *names = &ctx->names[kind];
    size_t lo = 0, hi = names->n_sorted;
    if (!name)
        return -1;
    while (lo < hi) { /* first entry with this name */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(names->sorted[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < names->n_sorted && strcmp(names->sorted[lo].name, name) == 0)
        return (int)names->sorted[lo].index;
    return -1;
}

const void *sg_cfg_names_get(const sg_cfg_t *ctx, sg_cfg_kind_t kind, size_t *n)
{
    *n = ctx->names[kind].n;
    return ctx->names[kind].base;
}

/* ------------------------------------------------------------------------ */
/* The document                                                              */

/* The 1-based position of a byte offset in the text. */
static sg_mark_t s_mark_at_offset(const sg_cfg_t *ctx, const char *text, size_t len, size_t off)
{
    sg_mark_t m = {.file = ctx->path, .line = 1, .column = 1};
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

static void s_syntax_error(sg_cfg_t *ctx, const yaml_parser_t *p, const char *text, size_t len)
{
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_MEMORY_ERROR) {
        sg_cfg_oom(ctx);
    } else if (p->error == YAML_READER_ERROR) {
        sg_mark_t m = s_mark_at_offset(ctx, text, len, p->problem_offset);
        sg_cfg_err_at(ctx, &m, "YAML syntax error: %s", problem);
    } else {
        sg_mark_t m = {ctx->path, (int)p->problem_mark.line + 1,
                       (int)p->problem_mark.column + 1};
        if (p->context)
            sg_cfg_err_at(ctx, &m,
                          "YAML syntax error: %s (%s that started at line %d, column %d)",
                          problem, p->context, (int)p->context_mark.line + 1,
                          (int)p->context_mark.column + 1);
        else
            sg_cfg_err_at(ctx, &m, "YAML syntax error: %s", problem);
    }
}

/* Parses the text into ctx->doc; false (error reported) when it cannot. */
static bool s_parse(sg_cfg_t *ctx, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    bool ok = false;
    if (!yaml_parser_initialize(&parser)) {
        sg_cfg_oom(ctx);
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
        sg_cfg_err(ctx, root, "only one YAML document is allowed in a config file");
    yaml_document_delete(&extra);
done:
    yaml_parser_delete(&parser);
    return ok;
}

void sg_cfg_walk_text(sg_cfg_t *ctx, const char *text, size_t len, const sg_cfg_map_t *map,
                      void *obj, const char *empty)
{
    yaml_document_t doc;
    memset(&doc, 0, sizeof doc);
    ctx->doc = &doc;
    if (!s_parse(ctx, text, len)) {
        ctx->doc = NULL;
        return;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        sg_cfg_err(ctx, NULL, "%s", empty);
    else
        sg_cfg_walk_map(ctx, root, map, obj, NULL, false);
    yaml_document_delete(&doc);
    ctx->doc = NULL;
}
