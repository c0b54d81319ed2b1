/* teams: the Adaptive Card message, field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_outcomes.h"

#include "../../plugins/teams/teams.c"

static json_t *card_of(const sg_outcome_t *o, json_t **msg)
{
    char *text = s_build_card(o);
    *msg = po_json(text);
    free(text);
    json_t *att = json_array_get(json_object_get(*msg, "attachments"), 0);
    assert_string_equal(po_str(att, "contentType", NULL), "application/vnd.microsoft.card.adaptive");
    assert_true(json_is_null(json_object_get(att, "contentUrl")));
    return json_object_get(att, "content");
}

static void test_card_has_title_message_and_facts(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    json_t *msg = NULL;
    json_t *card = card_of(o, &msg);
    assert_string_equal(po_str(msg, "type", NULL), "message");
    assert_string_equal(po_str(msg, "summary", NULL),
                        "failover of sql from A to B failed: job ended in Exception");
    assert_string_equal(po_str(card, "type", NULL), "AdaptiveCard");
    assert_string_equal(po_str(card, "version", NULL), "1.4");
    assert_string_equal(po_str(card, "$schema", NULL),
                        "http://adaptivecards.io/schemas/adaptive-card.json");
    json_t *body = json_object_get(card, "body");
    assert_int_equal(json_array_size(body), 3);
    json_t *title = json_array_get(body, 0);
    assert_string_equal(po_str(title, "type", NULL), "TextBlock");
    assert_string_equal(po_str(title, "text", NULL), "failover of sql from A to B failed");
    assert_string_equal(po_str(title, "color", NULL), "Attention");
    assert_true(json_is_true(json_object_get(title, "wrap")));
    assert_string_equal(po_str(json_array_get(body, 1), "text", NULL), "job ended in Exception");
    json_t *facts = json_object_get(json_array_get(body, 2), "facts");
    assert_string_equal(po_str(json_array_get(body, 2), "type", NULL), "FactSet");
    assert_int_equal(json_array_size(facts), 8);
    assert_string_equal(po_str(json_array_get(facts, 5), "title", NULL), "Collection");
    assert_string_equal(po_str(json_array_get(facts, 5), "value", NULL), "sql");
    assert_string_equal(po_str(json_array_get(facts, 7), "title", NULL), "Dedup key");
    assert_string_equal(po_str(json_array_get(facts, 7), "value", NULL), "9/sql/failed");
    json_decref(msg);
    sg_outcome_free(&o);
}

static void test_title_colour_follows_how_it_went(void **state)
{
    (void)state;
    const struct {
        sg_outcome_kind_t kind;
        const char *colour;
    } cases[] = {{SG_OUTCOME_SUCCEEDED, "Good"},       {SG_OUTCOME_SITE_RECOVERED, "Good"},
                 {SG_OUTCOME_DECISION, "Warning"},     {SG_OUTCOME_SITE_LOST, "Attention"},
                 {SG_OUTCOME_PROGRESS, "Default"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_outcome_t *o = po_outcome(cases[i].kind, NULL);
        json_t *msg = NULL;
        json_t *card = card_of(o, &msg);
        json_t *body = json_object_get(card, "body");
        assert_string_equal(po_str(json_array_get(body, 0), "color", NULL), cases[i].colour);
        assert_int_equal(json_array_size(body), 2); /* no message block */
        json_decref(msg);
        sg_outcome_free(&o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card_has_title_message_and_facts),
        cmocka_unit_test(test_title_colour_follows_how_it_went),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
