/* Outcomes for the plugins' unit tests, finished as the service finishes
 * them: run 9 fails over collection "sql" from site A to site B at
 * 2026-11-25T17:00:03.120Z. Include after cmocka.h. */
#ifndef SG_TEST_PLUGIN_OUTCOMES_H
#define SG_TEST_PLUGIN_OUTCOMES_H

#include "base/err.h"
#include "journal/outcome.h"

#include <jansson.h>

#define PO_WALL INT64_C(1795626003120) /* 2026-11-25T17:00:03.120Z */

/* An outcome of `kind` about sql (A -> B) in run 9, or about site A for the
 * site kinds; `message` may be NULL. */
static inline sg_outcome_t *po_outcome(sg_outcome_kind_t kind, const char *message)
{
    sg_outcome_t *o = sg_outcome_new(kind, PO_WALL);
    assert_non_null(o);
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    if (kind != SG_OUTCOME_SITE_LOST && kind != SG_OUTCOME_SITE_RECOVERED &&
        kind != SG_OUTCOME_SITE_SUSPECT) {
        o->run_id = 9;
        assert_int_equal(sg_outcome_set(o, &o->replica_site, "B"), SG_OK);
        assert_int_equal(sg_outcome_set(o, &o->collection, "sql"), SG_OK);
    }
    assert_int_equal(sg_outcome_set(o, &o->message, message), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    return o;
}

/* Re-renders the JSON after a test changed fields. */
static inline void po_refinish(sg_outcome_t *o)
{
    assert_int_equal(sg_outcome_finish(o, 1), SG_OK);
}

/* Parses JSON text, failing the test when it is not JSON. Caller decrefs. */
static inline json_t *po_json(const char *text)
{
    assert_non_null(text);
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    if (!v)
        fail_msg("not JSON (%s): %s", err.text, text);
    return v;
}

/* The string at a path of object keys, e.g. po_str(root, "payload", "source", NULL). */
static inline const char *po_str(json_t *root, ...)
{
    va_list ap;
    va_start(ap, root);
    json_t *v = root;
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *))
        v = json_object_get(v, k);
    va_end(ap);
    return json_string_value(v);
}

#endif
