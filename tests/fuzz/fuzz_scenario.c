/* libFuzzer target for the scenario parser of `siteguard simulate`
 * (tools/simulate.h): arbitrary bytes as a scenario file, read against one
 * of the scenario configs of tests/scenarios/. A first line
 * "#config NAME" picks it (NAME as in tests/scenarios/NAME.yaml, e.g.
 * "adversarial/two_sites"); else sites.yaml.
 *
 * Checks: a scenario is valid or rejected with at least one error line, never
 * both; a valid one whose virtual time is short (at most S_MAX_STEPS steps
 * to its duration and its last action) is also run through the real engine
 * and the world model, and must end with every expectation held or not (0
 * or 1), not an error. Nothing may crash or leak. */
#include "base/err.h"
#include "config/duration.h"
#include "tools/simulate.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define S_MAX_STEPS 1000
#define S_DEFAULT_STEP_MS 100

static const char *const s_config_names[] = {
    "sites", "budget", "approve", "adversarial/two_sites", "adversarial/two_sites_approve",
    "adversarial/three_sites", "adversarial/four_sites", "adversarial/plan",
    "adversarial/quorum_one"};
#define S_N_CONFIGS (sizeof s_config_names / sizeof s_config_names[0])

static sg_config_t *s_configs[S_N_CONFIGS];
static FILE *s_null;

static void s_load_configs(void)
{
    for (size_t i = 0; i < S_N_CONFIGS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/scenarios/%s.yaml", SG_SOURCE_DIR,
                 s_config_names[i]);
        sg_config_errors_t errs;
        sg_config_errors_init(&errs);
        if (sg_config_load_file(path, &s_configs[i], &errs) != SG_OK) {
            fprintf(stderr, "fuzz_scenario: cannot load %s\n", path);
            abort();
        }
        sg_config_errors_fini(&errs);
    }
    s_null = fopen("/dev/null", "w");
    FZ_CHECK(s_null != NULL);
}

/* The config named by a first line "#config NAME", else the first. */
static const sg_config_t *s_pick(const uint8_t *data, size_t size)
{
    static const char tag[] = "#config ";
    const char *end = memchr(data, '\n', size);
    size_t n = strlen(tag);
    if (!end || size < n || memcmp(data, tag, n) != 0)
        return s_configs[0];
    for (size_t i = 0; i < S_N_CONFIGS; i++) {
        size_t len = strlen(s_config_names[i]);
        if ((size_t)(end - (const char *)data) == n + len &&
            memcmp(data + n, s_config_names[i], len) == 0)
            return s_configs[i];
    }
    return s_configs[0];
}

/* A duration scalar of `map`'s `key`, or `dflt`. */
static int64_t s_ms(yaml_document_t *doc, yaml_node_t *map, const char *key, int64_t dflt)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return dflt;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        int64_t ms;
        if (k && v && k->type == YAML_SCALAR_NODE && v->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0 &&
            sg_config_parse_duration((const char *)v->data.scalar.value, &ms) == SG_OK)
            return ms;
    }
    return dflt;
}

/* Whether a valid scenario is short enough to run: its duration and last
 * action within S_MAX_STEPS steps. */
static bool s_short(const uint8_t *data, size_t size)
{
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return false;
    yaml_parser_set_input_string(&p, data, size);
    bool ok = yaml_parser_load(&p, &doc);
    yaml_parser_delete(&p);
    if (!ok)
        return false;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int64_t step = s_ms(&doc, root, "step", S_DEFAULT_STEP_MS);
    int64_t end = s_ms(&doc, root, "duration", INT64_MAX);
    yaml_node_t *events = NULL;
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start;
             q < root->data.mapping.pairs.top; q++) {
            yaml_node_t *k = yaml_document_get_node(&doc, q->key);
            if (k && k->type == YAML_SCALAR_NODE &&
                strcmp((const char *)k->data.scalar.value, "events") == 0)
                events = yaml_document_get_node(&doc, q->value);
        }
    }
    if (events && events->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = events->data.sequence.items.start;
             i < events->data.sequence.items.top; i++) {
            int64_t at = s_ms(&doc, yaml_document_get_node(&doc, *i), "at", 0);
            end = at > end ? at : end;
        }
    }
    yaml_document_delete(&doc);
    return step > 0 && end / step <= S_MAX_STEPS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_log_set_level(SG_LOG_ERROR);
    if (!s_null)
        s_load_configs();
    const sg_config_t *cfg = s_pick(data, size);
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    int rc = sg_simulate_string(cfg, "fuzz.yaml", (const char *)data, size, NULL, &errs);
    FZ_CHECK(rc == SG_OK ? errs.n == 0 : errs.n > 0);
    if (rc == SG_OK && s_short(data, size)) {
        rc = sg_simulate_string(cfg, "fuzz.yaml", (const char *)data, size, s_null, &errs);
        FZ_CHECK((rc == 0 || rc == 1) && errs.n == 0);
    }
    sg_config_errors_fini(&errs);
    return 0;
}
