/* cimpath: WMI object paths, read and checked (portable: the config loader,
 * the simulator, the WMI provider and its tests' fake share it).
 *
 * An object path is [\\server\namespace:]Class.Key="value"[,Key2=value2...],
 * or Class="value" (the one key unnamed), Class=@ (a singleton) or Class
 * alone (the class). String values are double quoted, `\` escaping `"` and
 * `\` (Microsoft, "Describing an Instance Object Path",
 * learn.microsoft.com/windows/win32/wmisdk/describing-an-instance-object-path:
 * keys separated by commas, in any order); numbers are written bare.
 *
 * The keys siteguard relies on (the Failover Clustering Hyper-V WMI
 * provider's pages, learn.microsoft.com/previous-versions/windows/desktop/
 * clushyperv/): Msvm_VirtualSystemCollection is keyed by CollectionID alone
 * (msvm-virtualsystemcollection: CollectionID has the Key qualifier, its
 * InstanceID does not); Msvm_CollectionRecoveryPoint by CollectionID and
 * InstanceID (msvm-collectionrecoverypoint).
 *
 * Ownership: a parsed path owns its strings; sg_cimpath_fini frees them.
 * Returned strings are the caller's. No state: any thread. */
#ifndef SG_PROVIDER_CIMPATH_H
#define SG_PROVIDER_CIMPATH_H

#include <stdbool.h>
#include <stddef.h>

#define SG_CIM_COLLECTION_CLASS "Msvm_VirtualSystemCollection"
#define SG_CIM_POINT_CLASS "Msvm_CollectionRecoveryPoint"

typedef struct {
    char *name;  /* NULL for the unnamed key of Class="value" */
    char *value; /* unquoted, escapes undone; a bare value as written */
} sg_cimpath_key_t;

typedef struct {
    char *server;     /* NULL when the path has no \\server\ */
    char *name_space; /* NULL when the path has no namespace */
    char *class_name;
    sg_cimpath_key_t *keys;
    size_t n_keys;    /* 0: a class path, or a singleton */
    bool singleton;   /* Class=@ */
} sg_cimpath_t;

/* Parses `text` into *out (zeroed first). Returns 0, SG_EINVAL when it is not
 * an object path (*out then holds nothing) or SG_ENOMEM. */
int sg_cimpath_parse(const char *text, sg_cimpath_t *out);
void sg_cimpath_fini(sg_cimpath_t *p);

/* The value of key `name` (compared without regard to case), or NULL. */
const char *sg_cimpath_key(const sg_cimpath_t *p, const char *name);

/* True when the path's keys are exactly `names` (n of them, any order, case
 * ignored, each once). */
bool sg_cimpath_keyed_by(const sg_cimpath_t *p, const char *const *names, size_t n);

/* True when `a` and `b` are the same name (ASCII, case ignored), as WMI
 * compares class and property names. */
bool sg_cimpath_same_name(const char *a, const char *b);

/* What the path of a collection says about its key. */
typedef enum {
    SG_CIMPATH_NOT_A_PATH = 0,    /* names no instance: not an object path, or a class
                                     alone ("c1", a simulator's name) */
    SG_CIMPATH_COLLECTION_ID,     /* keyed by CollectionID alone (or one unnamed key) */
    SG_CIMPATH_INSTANCE_ID,       /* keyed by InstanceID: no collection class is */
    SG_CIMPATH_OTHER_KEY          /* keyed otherwise */
} sg_cimpath_coll_t;

/* Classifies a collection's path; with SG_CIMPATH_COLLECTION_ID, *id (when
 * `id` is not NULL) gets the CollectionID (caller frees). Returns 0 or
 * SG_ENOMEM. */
int sg_cimpath_collection(const char *path, sg_cimpath_coll_t *kind, char **id);

/* True when `p` names an Msvm_CollectionRecoveryPoint by both its keys. */
bool sg_cimpath_is_point(const sg_cimpath_t *p);

/* `value` double quoted, `"` and `\` escaped, as an object path writes a
 * string key (caller frees; NULL when out of memory). */
char *sg_cimpath_quote(const char *value);

#endif
