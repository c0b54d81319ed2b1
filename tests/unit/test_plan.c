/* plan: the executor's plan state and its counts per site and group, checked
 * against a plain scan of every collection after each change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "act/plan.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

#include "sg_fixture.h"

/* c0..c3 at A in groups 10, 10, 20, 30 (ranked 0, 0, 1, 2); c4 at B in
 * group 0; c5 at A in group 30. */
static const char s_yaml[] =
    SG_FIXTURE_YAML_ABW "collections:\n"
    "  - {name: c0, cim_path: 'X.CollectionID=\"0\"', site: A, replica_site: B, group: 10}\n"
    "  - {name: c1, cim_path: 'X.CollectionID=\"1\"', site: A, replica_site: B, group: 10}\n"
    "  - {name: c2, cim_path: 'X.CollectionID=\"2\"', site: A, replica_site: B, group: 20}\n"
    "  - {name: c3, cim_path: 'X.CollectionID=\"3\"', site: A, replica_site: B, group: 30}\n"
    "  - {name: c4, cim_path: 'X.CollectionID=\"4\"', site: B, replica_site: A, group: 0}\n"
    "  - {name: c5, cim_path: 'X.CollectionID=\"5\"', site: A, replica_site: B, group: 30}\n";

/* The answers by scanning every collection, as the executor did before. */
static bool s_scan_in_flight(const sg_config_t *cfg, const sg_plan_t *p, int c)
{
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    for (size_t i = 0; i < cfg->n_collections; i++) {
        const sg_collection_cfg_t *o = &cfg->collections[i];
        if ((int)i != c && o->site == cc->site && o->group < cc->group &&
            sg_plan_in_flight(sg_plan_get(p, (int)i)))
            return true;
    }
    return false;
}

static int s_scan_failed(const sg_config_t *cfg, const sg_plan_t *p, int c)
{
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    for (size_t i = 0; i < cfg->n_collections; i++) {
        const sg_collection_cfg_t *o = &cfg->collections[i];
        if ((int)i != c && o->site == cc->site && o->group < cc->group &&
            sg_plan_get(p, (int)i)->result < 0)
            return (int)i;
    }
    return -1;
}

static void s_expect_scan(const sg_config_t *cfg, const sg_plan_t *p)
{
    for (size_t c = 0; c < cfg->n_collections; c++) {
        assert_int_equal(sg_plan_earlier_in_flight(p, (int)c), s_scan_in_flight(cfg, p, (int)c));
        assert_int_equal(sg_plan_earlier_failed(p, (int)c), s_scan_failed(cfg, p, (int)c));
    }
}

static void test_earlier_groups_in_flight_and_failed_are_counted(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("plan.yaml", s_yaml);
    sg_plan_t *p = sg_plan_new(cfg);
    assert_non_null(p);
    s_expect_scan(cfg, p);
    sg_plan_set(p, 1, (sg_plan_entry_t){.queued = true});
    assert_true(sg_plan_earlier_in_flight(p, 2));
    assert_true(sg_plan_earlier_in_flight(p, 3));
    assert_false(sg_plan_earlier_in_flight(p, 0)); /* same group */
    assert_false(sg_plan_earlier_in_flight(p, 4)); /* another site */
    s_expect_scan(cfg, p);
    /* running and timed out: finished (failed) for the plan */
    sg_plan_set(p, 1, (sg_plan_entry_t){.running = true, .counted = true});
    assert_true(sg_plan_earlier_in_flight(p, 2));
    sg_plan_set(p, 1, (sg_plan_entry_t){.running = true, .timed_out = true, .result = -1});
    assert_false(sg_plan_earlier_in_flight(p, 2));
    assert_int_equal(sg_plan_earlier_failed(p, 2), 1);
    s_expect_scan(cfg, p);
    /* the first failed in config order, over several earlier groups */
    sg_plan_set(p, 2, (sg_plan_entry_t){.result = -1});
    sg_plan_set(p, 0, (sg_plan_entry_t){.result = -1});
    assert_int_equal(sg_plan_earlier_failed(p, 3), 0);
    assert_int_equal(sg_plan_earlier_failed(p, 5), 0);
    s_expect_scan(cfg, p);
    /* a run ends well: its failure no longer counts */
    sg_plan_set(p, 0, (sg_plan_entry_t){.result = 1});
    sg_plan_set(p, 1, (sg_plan_entry_t){.result = 1});
    assert_int_equal(sg_plan_earlier_failed(p, 3), 2);
    assert_int_equal(sg_plan_earlier_failed(p, 2), -1);
    s_expect_scan(cfg, p);
    sg_plan_destroy(&p);
    assert_null(p);
    sg_config_destroy(&cfg);
}

/* Every sequence of changes keeps the counts equal to a scan. */
static void test_random_changes_keep_the_counts_true(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("plan.yaml", s_yaml);
    sg_plan_t *p = sg_plan_new(cfg);
    assert_non_null(p);
    unsigned seed = 12345;
    for (int step = 0; step < 5000; step++) {
        seed = seed * 1103515245u + 12345u;
        int c = (int)((seed >> 8) % cfg->n_collections);
        unsigned bits = seed >> 16;
        sg_plan_set(p, c, (sg_plan_entry_t){.queued = bits & 1,
                                            .running = (bits >> 1) & 1,
                                            .timed_out = (bits >> 2) & 1,
                                            .result = (int)((bits >> 3) % 3) - 1});
        s_expect_scan(cfg, p);
    }
    sg_plan_destroy(&p);
    sg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_earlier_groups_in_flight_and_failed_are_counted),
        cmocka_unit_test(test_random_changes_keep_the_counts_true),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
