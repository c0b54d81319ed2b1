/* redact: secrets masked out of text that is logged or shown.
 *
 * sg_redact masks two kinds of secrets, each part masked reading "***":
 *   - what any text may carry: the user:password@ of a URL ("scheme://..."),
 *     the value of a name=value pair whose name is a well-known token name
 *     (token, access_token, api_key, key, password, sig, signature, secret,
 *     routing_key, ... and any name ending in token, secret, password, _key,
 *     -key or signature; case ignored) as URL queries and forms write them,
 *     the value of an Authorization, Proxy-Authorization, Cookie or
 *     Set-Cookie header and of a header whose name ends in token, secret,
 *     api-key, apikey, password or signature (up to the end of the line, a
 *     ';', a quote or two blanks in a row),
 *     and the credentials after "Basic " or "Bearer ";
 *   - the values a caller knows to be secret (a sink's secret options),
 *     collected in an sg_redact_set_t: wherever they occur.
 * sg_log passes every line through sg_redact (without a set); notify passes
 * a sink's lines through it with the sink's set.
 *
 * Ownership: a set owns copies of its values; sg_redact returns a new string
 * the caller frees. Thread rules: a set is filled by one thread, then may be
 * read by any; the functions keep no state. */
#ifndef SG_REDACT_H
#define SG_REDACT_H

#include <stddef.h>

/* Values shorter than this are not looked for: they would mask ordinary
 * words. */
#define SG_REDACT_MIN_LEN 4

typedef struct {
    char **values; /* owned; longest first */
    size_t n;
} sg_redact_set_t;

void sg_redact_set_init(sg_redact_set_t *set);
/* Frees the values and leaves the set empty. */
void sg_redact_set_fini(sg_redact_set_t *set);

/* Adds a secret value and the parts of it that a log line may echo on their
 * own: of a URL its user:password, its password, its path with the query,
 * every path segment of 16 characters or more and every query value; of a
 * header list ("Name: value; Name2: value2") each value. Parts shorter than SG_REDACT_MIN_LEN
 * are left out. NULL adds nothing. Returns 0 or SG_ENOMEM. */
int sg_redact_set_add(sg_redact_set_t *set, const char *value);

/* `text` with the secrets described above masked; `set` may be NULL. A new
 * string (the caller frees it), or NULL when out of memory. */
char *sg_redact(const char *text, const sg_redact_set_t *set);

#endif
