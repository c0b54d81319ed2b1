/* walk: the generic YAML walker of the config loader.
 *
 * Owns what every section of the config shares: parsing the one YAML
 * document (libyaml), walking a mapping with a static key table
 * (sg_cfg_map_t: key, setter, offset into the target struct, range,
 * required), the common setters, the error lines "FILE:LINE:COLUMN: rule"
 * (1-based, handed over in file order), and a name registry through which a
 * section refers to the entries of another without knowing its types. Each
 * section's key table and checks live with the module that owns the
 * section (<x>_conf.h); config.h puts them together under one root table.
 *
 * Ownership: a context belongs to the loader that made it (sg_cfg_new,
 * sg_cfg_destroy). A setter stores what it allocates in the target struct,
 * whose owner frees it. Node text and nodes belong to the document and live
 * only while it is walked; marks point at the path given to sg_cfg_new.
 * Thread rules: a context is used by one thread at a time. What a walk fills
 * (the config) is immutable after load and may be read from any thread. */
#ifndef SG_CONFIG_WALK_H
#define SG_CONFIG_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where something stood in a config file. `file` points at the owning
 * config's `path` (or the name passed to sg_config_load_string). */
typedef struct {
    const char *file;
    int line;
    int column;
} sg_mark_t;

/* A list of error lines; caller-owned, sg_config_errors_fini frees them. */
typedef struct {
    char **items;
    size_t n;
} sg_config_errors_t;

void sg_config_errors_init(sg_config_errors_t *errs);
void sg_config_errors_fini(sg_config_errors_t *errs);
/* Appends "FILE:LINE:COLUMN: <formatted rule>". Returns 0 or SG_ENOMEM. */
int sg_config_errors_add(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------ */
/* Context and tables                                                        */

typedef struct sg_cfg sg_cfg_t;        /* one load: the document, errors, names */
typedef struct yaml_node_s sg_cfg_node_t; /* a libyaml node (yaml_node_t) */
typedef struct sg_cfg_key sg_cfg_key_t;
typedef struct sg_cfg_map sg_cfg_map_t;

/* Which keys of a mapping could not be read, for rules across keys: a rule
 * skips values that were already reported, so one mistake is reported once. */
typedef struct {
    const sg_cfg_map_t *map;
    const bool *bad; /* per key of map */
} sg_cfg_read_t;

/* Reads `value` into the field of `obj` that `key` describes. */
typedef void (*sg_cfg_set_fn)(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              void *obj);

struct sg_cfg_key {
    const char *name;
    sg_cfg_set_fn set;
    size_t offset;       /* of the field in the target struct */
    size_t count_offset; /* lists: of the count field */
    int64_t min, max;    /* numbers: range; durations: min (max: SG_CFG_DURATION_MAX_MS) */
    bool required;
    const sg_cfg_map_t *sub; /* nested mapping (sg_cfg_set_map) or list entry (sg_cfg_set_items) */
};

struct sg_cfg_map {
    const char *where; /* "in policy": for messages */
    const sg_cfg_key_t *keys;
    size_t n_keys;     /* at most 24 */
    size_t size;       /* of the struct one entry of a list fills (sg_cfg_read_items) */
    /* Optional: sets the mark and defaults of a list entry before reading. */
    void (*init)(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj);
    /* Optional: rules across keys, after every key was read. */
    void (*check)(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj, const sg_cfg_read_t *read);
};

#define SG_CFG_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static inline void *sg_cfg_field(const sg_cfg_key_t *key, void *obj)
{
    return (char *)obj + key->offset;
}

/* A context for loading the file `path` (kept, not copied: it must outlive
 * the context; marks point at it). NULL when out of memory. */
sg_cfg_t *sg_cfg_new(const char *path);
void sg_cfg_destroy(sg_cfg_t **ctx);
/* Parses `text` as one YAML document and walks its root with `map` into
 * `obj`; `empty` is the rule reported when the document is empty. */
void sg_cfg_walk_text(sg_cfg_t *ctx, const char *text, size_t len, const sg_cfg_map_t *map,
                      void *obj, const char *empty);
/* Moves the errors found, in file order, to `errs` (NULL: drops them).
 * Returns SG_ENOMEM once an allocation failed, else SG_ECONFIG when errors
 * were found, else 0. */
int sg_cfg_finish(sg_cfg_t *ctx, sg_config_errors_t *errs);
/* SG_ENOMEM once an allocation failed, else 0. */
int sg_cfg_status(const sg_cfg_t *ctx);
/* The path given to sg_cfg_new, for paths "beside the config file". */
const char *sg_cfg_path(const sg_cfg_t *ctx);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* Records that an allocation failed: the load ends in SG_ENOMEM. */
void sg_cfg_oom(sg_cfg_t *ctx);
/* strdup, recording a failure. */
char *sg_cfg_strdup(sg_cfg_t *ctx, const char *s);
/* The node's position (line 1, column 1 for NULL). */
sg_mark_t sg_cfg_mark(const sg_cfg_t *ctx, const sg_cfg_node_t *node);
void sg_cfg_err(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sg_cfg_err_at(sg_cfg_t *ctx, const sg_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

const char *sg_cfg_text(const sg_cfg_node_t *node); /* a scalar's text */
/* A plain `~`, `null` or nothing at all. */
bool sg_cfg_is_null(const sg_cfg_node_t *node);
bool sg_cfg_is_scalar(const sg_cfg_node_t *node);
bool sg_cfg_is_list(const sg_cfg_node_t *node);
bool sg_cfg_is_map(const sg_cfg_node_t *node);
/* A mapping, or false (error reported for the value of `key`). */
bool sg_cfg_expect_map(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *key);
/* The scalar text of a value, or NULL (error reported) when it is not one;
 * `item`: the node is one entry of the list `key`. */
const char *sg_cfg_scalar(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *key, bool item);
/* The value of `key` in a mapping node, or NULL. */
sg_cfg_node_t *sg_cfg_value_of(const sg_cfg_t *ctx, const sg_cfg_node_t *map, const char *key);
size_t sg_cfg_seq_len(const sg_cfg_node_t *seq);
sg_cfg_node_t *sg_cfg_item(const sg_cfg_t *ctx, const sg_cfg_node_t *seq, size_t i);
/* A list value: true with *n items, or false (error reported). Null is empty. */
bool sg_cfg_list(sg_cfg_t *ctx, const sg_cfg_node_t *node, const char *key, size_t *n);
/* A null value or a list without entries. */
bool sg_cfg_empty_list(const sg_cfg_node_t *node);
size_t sg_cfg_map_len(const sg_cfg_node_t *map);
/* The i-th key and value of a mapping (either NULL when missing). */
void sg_cfg_pair(const sg_cfg_t *ctx, const sg_cfg_node_t *map, size_t i, sg_cfg_node_t **k,
                 sg_cfg_node_t **v);

/* ------------------------------------------------------------------------ */
/* Walking                                                                   */

/* Reads a mapping into obj. Keys are applied in table order, so a section
 * that others refer to is read before them whatever the file's order. */
void sg_cfg_walk_map(sg_cfg_t *ctx, sg_cfg_node_t *node, const sg_cfg_map_t *map, void *obj,
                     const char *key, bool item);
/* Reads a list of mappings into a new array of *n_out entries of map->size
 * (caller owns it; NULL when empty or not a list). */
void *sg_cfg_read_items(sg_cfg_t *ctx, sg_cfg_node_t *node, const char *key,
                        const sg_cfg_map_t *map, size_t *n_out);
/* True when `key` was absent or read without error. */
bool sg_cfg_read_ok(const sg_cfg_read_t *read, const char *key);

/* ------------------------------------------------------------------------ */
/* Common setters (key->offset: the field; key->count_offset: its count)     */

void sg_cfg_set_map(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* A list of mappings (key->sub) into an array field and its count. */
void sg_cfg_set_items(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* sg_cfg_set_items with `map` for key->sub; returns the array stored (NULL:
 * none) and its length in *n, for the setter's own checks. */
void *sg_cfg_read_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                       const sg_cfg_map_t *map, size_t *n);
void sg_cfg_set_str(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
void sg_cfg_set_str_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* Frees a list sg_cfg_set_str_list read; NULL is fine. */
void sg_cfg_free_strs(char **list, size_t n);
void sg_cfg_set_int(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
void sg_cfg_set_size(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
void sg_cfg_set_u32(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
void sg_cfg_set_bool(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* The longest duration a config key takes: 100 years. The times the policy
 * adds durations to, and the defaults derived from them (3 x suspect_after),
 * then stay far from INT64_MAX. */
#define SG_CFG_DURATION_MAX_MS (36500LL * 86400 * 1000)
/* int64_t milliseconds, at least key->min and at most SG_CFG_DURATION_MAX_MS. */
void sg_cfg_set_duration(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* A size in bytes (size.h: "512MiB", "2GiB", "100MB", or a bare number of
 * bytes) into an int64_t field; never negative. */
void sg_cfg_set_bytes(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* A CURVE public key (40 characters of Z85) into a char * field; null: unset. */
void sg_cfg_set_public_key(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj);
/* Reads one of `names` (NULL-terminated) into an int-sized enum field;
 * `expected` lists them for the message. */
void sg_cfg_set_enum(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                     const char *const *names, const char *expected);

/* For a list of scalars: allocates *out with room for each of its entries
 * (`size` bytes each; NULL when empty or not a list, then false) and calls
 * `fn` for every scalar entry (others are reported). */
typedef void (*sg_cfg_entry_fn)(sg_cfg_t *ctx, sg_cfg_node_t *item, const char *text,
                                void *list, void *arg);
bool sg_cfg_each_entry(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, size_t size,
                       void **out, sg_cfg_entry_fn fn, void *arg);

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

/* Named entries that other sections refer to. */
typedef enum { SG_CFG_SITES = 0, SG_CFG_OBSERVERS, SG_CFG_COLLECTIONS, SG_CFG_KINDS } sg_cfg_kind_t;

/* Registers the array `base` of n entries of elem_size (name and mark at the
 * given offsets) as the entries of `kind`, and reports every name used
 * twice ("duplicate <what> '<name>' (first defined at line N)"). Entries
 * without a name are left out. The array must outlive the context. Returns
 * false when out of memory. */
bool sg_cfg_names_put(sg_cfg_t *ctx, sg_cfg_kind_t kind, const void *base, size_t n,
                      size_t elem_size, size_t name_off, size_t mark_off, const char *what);
/* Index of the first entry of `kind` named `name`, or -1. */
int sg_cfg_names_find(const sg_cfg_t *ctx, sg_cfg_kind_t kind, const char *name);
/* The array registered for `kind` and its length (NULL and 0: none). */
const void *sg_cfg_names_get(const sg_cfg_t *ctx, sg_cfg_kind_t kind, size_t *n);
/* Reports names used twice, as sg_cfg_names_put, without registering. */
void sg_cfg_check_unique(sg_cfg_t *ctx, const void *base, size_t n, size_t elem_size,
                         size_t name_off, size_t mark_off, const char *what);

#endif
