/* text: the words and times alerts share, from an outcome.
 *
 * Every function is pure (no clock, no I/O). Strings returned as `char *`
 * are the caller's to free(); NULL means out of memory. */
#ifndef SG_PLUGIN_COMMON_TEXT_H
#define SG_PLUGIN_COMMON_TEXT_H

#include "siteguard/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SG_TEXT_TIME_LEN = 80 }; /* room for any sg_text_rfc3339 result */

/* "site_lost", "job_started", ... as in the outcome's JSON. */
const char *sg_text_kind(sg_outcome_kind_t kind);
/* "info", "warning", "critical". */
const char *sg_text_severity(sg_severity_t severity);

/* Whether the host's outcome reaches the `json` member and it is set. */
bool sg_text_outcome_complete(const sg_outcome_t *o);

/* "2026-11-25T17:00:03.120Z" into out (SG_TEXT_TIME_LEN bytes). */
void sg_text_rfc3339(int64_t time_ms, char *out);

/* What happened, in a few words: "site A lost", "failover of sql from A to B
 * failed", "sql failed over from A to B", "failover of sql from A to B at
 * 40%", "site A flapping", "site A stopped flapping". Unknown names read "?". */
char *sg_text_title(const sg_outcome_t *o);

/* Whether a site_flapping outcome says the flapping ended (its dedup key
 * ends in "/ended"; plugin.h) rather than began. False for other kinds. */
bool sg_text_flap_ended(const sg_outcome_t *o);

/* The title, then ": " and the message when there is one, on one line
 * (control characters become spaces), cut at a UTF-8 character boundary to at
 * most `max` bytes (0: no limit) with "..." at the end when cut. */
char *sg_text_summary(const sg_outcome_t *o, size_t max);

/* One labelled value of an outcome, for cards, mails and fact lists. */
typedef struct {
    const char *label; /* "Site", "Collection", ...; static */
    char *value;       /* owned; free with sg_text_facts_free */
} sg_text_fact_t;

enum { SG_TEXT_MAX_FACTS = 14 };

/* The facts of `o` that are set, in a fixed order: Kind, Severity, Time,
 * Site, Replica site, Collection, Run, Job, Progress, Job state, Attempt,
 * Return value, Error code, Dedup key. Fills out[SG_TEXT_MAX_FACTS]; returns
 * how many, or -1 when out of memory (nothing left to free then). */
int sg_text_facts(const sg_outcome_t *o, sg_text_fact_t *out);
void sg_text_facts_free(sg_text_fact_t *facts, int n);

/* printf into a new string. */
char *sg_text_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Cuts s in place to at most `max` bytes at a UTF-8 character boundary. */
void sg_text_cut_utf8(char *s, size_t max);

/* Writes the base64 (RFC 4648, padded) of len bytes at data and a NUL into
 * out, which holds SG_TEXT_BASE64_LEN(len) bytes. */
#define SG_TEXT_BASE64_LEN(len) (4 * (((len) + 2) / 3) + 1)
void sg_text_base64(const void *data, size_t len, char *out);

#endif
