/* slack: the incoming-webhook message, field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_outcomes.h"

#include "../../plugins/slack/slack.c"

static json_t *message(const sg_outcome_t *o)
{
    char *text = s_build_message(o);
    json_t *m = po_json(text);
    free(text);
    return m;
}

static const char *block_text(json_t *m, size_t i)
{
    return po_str(json_array_get(json_object_get(m, "blocks"), i), "text", "text", NULL);
}

static void test_message_has_text_header_message_fields_and_context(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    json_t *m = message(o);
    assert_string_equal(po_str(m, "text", NULL),
                        "failover of sql from A to B failed: job ended in Exception");
    json_t *blocks = json_object_get(m, "blocks");
    assert_int_equal(json_array_size(blocks), 4);
    assert_string_equal(po_str(json_array_get(blocks, 0), "type", NULL), "header");
    assert_string_equal(po_str(json_array_get(blocks, 0), "text", "type", NULL), "plain_text");
    assert_string_equal(block_text(m, 0), "failover of sql from A to B failed");
    assert_string_equal(po_str(json_array_get(blocks, 1), "text", "type", NULL), "mrkdwn");
    assert_string_equal(block_text(m, 1), "job ended in Exception");
    json_t *fields = json_object_get(json_array_get(blocks, 2), "fields");
    const char *want[] = {"*Kind*\nfailed", "*Severity*\ncritical", "*Site*\nA",
                          "*Replica site*\nB", "*Collection*\nsql", "*Run*\n9"};
    assert_int_equal(json_array_size(fields), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(po_str(json_array_get(fields, i), "text", NULL), want[i]);
    json_t *ctx = json_array_get(blocks, 3);
    assert_string_equal(po_str(ctx, "type", NULL), "context");
    assert_string_equal(po_str(json_array_get(json_object_get(ctx, "elements"), 0), "text", NULL),
                        "siteguard | 2026-11-25T17:00:03.120Z | dedup key 9/sql/failed");
    json_decref(m);
    sg_outcome_free(&o);
}

static void test_mrkdwn_special_characters_are_escaped(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_BLOCKED, "<!channel> lag > 5 min & rising");
    json_t *m = message(o);
    assert_string_equal(block_text(m, 1), "&lt;!channel&gt; lag &gt; 5 min &amp; rising");
    assert_string_equal(po_str(m, "text", NULL),
                        "failover of sql from A to B blocked: &lt;!channel&gt; lag &gt; 5 min "
                        "&amp; rising");
    json_decref(m);
    sg_outcome_free(&o);
}

static void test_without_a_message_there_is_no_message_block(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, NULL);
    json_t *m = message(o);
    json_t *blocks = json_object_get(m, "blocks");
    assert_int_equal(json_array_size(blocks), 3);
    assert_string_equal(block_text(m, 0), "site A lost");
    assert_string_equal(po_str(json_array_get(blocks, 1), "type", NULL), "section");
    assert_non_null(json_object_get(json_array_get(blocks, 1), "fields"));
    json_decref(m);
    sg_outcome_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_has_text_header_message_fields_and_context),
        cmocka_unit_test(test_mrkdwn_special_characters_are_escaped),
        cmocka_unit_test(test_without_a_message_there_is_no_message_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
