/* Outcomes owned by the service.
 *
 * The public struct is sg_outcome_t from siteguard/plugin.h; this module
 * builds heap copies of it in which every string is a private copy, renders
 * the JSON form, and frees them. An outcome is immutable once finished and
 * may then be handed between threads (ownership moves with the pointer). */
#ifndef SG_OUTCOME_H
#define SG_OUTCOME_H

#include "siteguard/plugin.h"

/* Allocates an outcome of `kind` at `time_ms` with no strings set,
 * percent -1. Returns NULL when out of memory. */
sg_outcome_t *sg_outcome_new(sg_outcome_kind_t kind, int64_t time_ms);

/* Replaces the string at `field` (a member of `o`) with a copy of `value`
 * (NULL clears it). Returns 0 or SG_ENOMEM. */
int sg_outcome_set(sg_outcome_t *o, const char **field, const char *value);
/* Same, with printf formatting. */
int sg_outcome_setf(sg_outcome_t *o, const char **field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The recovery point of a failover run (what InitiateFailover was given:
 * "latest" for NULL, else the point's object path; or what an operator
 * asked for, before it is resolved), kept beside the public struct: plugins
 * see it as "recovery_point" in the JSON. NULL clears it. The setter returns
 * 0 or SG_ENOMEM; the getter's string is borrowed from `o` (NULL: none).
 * Only for outcomes made by this module (sg_outcome_new, _dup, _from_json). */
int sg_outcome_set_point(sg_outcome_t *o, const char *point);
const char *sg_outcome_point(const sg_outcome_t *o);

/* An outcome the outcome log keeps for the record but no sink is sent
 * (notify routes it to none): `why` (copied) says what holds it back, e.g.
 * "flapping" for a flapping site's suspect or recovered (flap.h); NULL: sent
 * as usual. Kept beside the public struct, as "held" in the JSON; set it
 * before sg_outcome_finish. The setter returns 0 or SG_ENOMEM; the getter's
 * string is borrowed from `o` (NULL: not held). Only for outcomes made by
 * this module. */
int sg_outcome_set_held(sg_outcome_t *o, const char *why);
const char *sg_outcome_held(const sg_outcome_t *o);

/* Completes an outcome: the default severity of its kind when `severity_set`
 * is zero, a dedup key "<run_id>/<collection or site>/<kind>" when none was
 * set (with "/<percent>" for progress), and the JSON. Returns 0 or SG_ENOMEM. */
int sg_outcome_finish(sg_outcome_t *o, int severity_set);

/* A deep copy (caller owns it), or NULL when out of memory. */
sg_outcome_t *sg_outcome_dup(const sg_outcome_t *o);

/* Frees the outcome and its strings; sets *o to NULL. */
void sg_outcome_free(sg_outcome_t **o);

/* Renders the outcome as one JSON object without newline; the caller frees
 * the result with free(). NULL when out of memory. Keys: kind, severity,
 * time (RFC 3339 UTC with milliseconds), time_ms, dedup_key, run_id, and
 * whichever of site, replica_site, collection, cim_path, job_path,
 * recovery_point, held, percent,
 * job_state, return_value, error_code, attempt, message are set. */
char *sg_outcome_render_json(const sg_outcome_t *o);

/* Reads an outcome back from its JSON (as sg_outcome_render_json wrote it
 * and the outcome log keeps it); `json` of the result is a copy of the text
 * as given. A missing severity is the kind's default, a missing time_ms 0.
 * NULL when the text is not such an outcome (kind and dedup_key are
 * required) or out of memory. Caller owns it. */
sg_outcome_t *sg_outcome_from_json(const char *json);

/* One finished outcome standing for `n` (> 0) outcomes of one kind and site
 * within the window [from_ms, to_ms): the members' kind and site, the
 * highest severity, the latest time, the replica site when all share it,
 * run_id 0, a message listing the collections (with each one's reason for
 * blocks), dedup key "<site>/<kind>/group/<from_ms>-<to_ms>", and JSON with
 * `collections` (names in member order), `window_from_ms` and
 * `window_to_ms` besides the usual keys. Borrows the members. Caller owns
 * the result; NULL when n is 0 or out of memory. */
sg_outcome_t *sg_outcome_group(const sg_outcome_t *const *members, size_t n, int64_t from_ms,
                               int64_t to_ms);

/* "site_lost", "decision", "job_started", ... */
const char *sg_outcome_kind_name(sg_outcome_kind_t kind);
const char *sg_severity_name(sg_severity_t s);

#endif
