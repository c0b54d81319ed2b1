/* siteguard: command line entry point. */
#include "config.h"
#include "err.h"
#include "log.h"
#include "notify.h"
#include "platform/platform.h"
#include "service.h"
#include "simulate.h"

#include <stdio.h>
#include <string.h>

#define S_MOD "main"

static void s_usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  siteguard run -c CONFIG [--stats FILE] [--log-level error|warn|info|debug]\n"
               "  siteguard check-config CONFIG\n"
               "  siteguard simulate --config CONFIG --scenario SCENARIO\n"
               "  siteguard version\n");
}

/* Loads a config, printing every error; NULL when it is not valid. */
static sg_config_t *s_load(const char *path)
{
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_config_t *cfg = NULL;
    int rc = sg_config_load_file(path, &cfg, &errs);
    if (rc == SG_OK)
        rc = sg_notify_check(cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    if (rc != SG_OK) {
        fprintf(stderr, "%s: %zu error(s)\n", path, errs.n);
        sg_config_destroy(&cfg);
    }
    sg_config_errors_fini(&errs);
    return cfg;
}

static int s_check_config(int argc, char **argv)
{
    if (argc != 3) {
        s_usage(stderr);
        return 2;
    }
    sg_config_t *cfg = s_load(argv[2]);
    if (!cfg)
        return 1;
    printf("%s: ok (%zu sites, %zu observers, %zu collections, %zu sinks)\n", argv[2],
           cfg->n_sites, cfg->n_observers, cfg->n_collections, cfg->n_sinks);
    sg_config_destroy(&cfg);
    return 0;
}

/* Runs a scenario on the engine; exit 0 when its expectations held. */
static int s_simulate(int argc, char **argv)
{
    const char *config = NULL, *scenario = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c"))
            config = argv[i + 1];
        else if (!strcmp(argv[i], "--scenario"))
            scenario = argv[i + 1];
    }
    if (!config || !scenario || argc != 6) {
        s_usage(stderr);
        return 2;
    }
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_config_t *cfg = NULL;
    int rc = sg_config_load_file(config, &cfg, &errs);
    if (rc == SG_OK)
        rc = sg_simulate_file(cfg, scenario, stdout, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    sg_config_errors_fini(&errs);
    sg_config_destroy(&cfg);
    if (rc < 0)
        return 2;
    printf("scenario %s: %s\n", scenario, rc == 0 ? "every expectation held" : "FAILED");
    return rc;
}

static int s_run(int argc, char **argv)
{
    const char *config = NULL, *stats = NULL, *level = NULL;
    for (int i = 2; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--stats") && i + 1 < argc)
            stats = argv[++i];
        else if (!strcmp(argv[i], "--log-level") && i + 1 < argc)
            level = argv[++i];
        else {
            s_usage(stderr);
            return 2;
        }
    }
    if (!config) {
        s_usage(stderr);
        return 2;
    }
    sg_config_t *cfg = s_load(config);
    if (!cfg)
        return 1;
    sg_log_level_t lvl = cfg->log_level;
    if (level && sg_log_parse_level(level, &lvl) != SG_OK) {
        fprintf(stderr, "unknown log level '%s'\n", level);
        sg_config_destroy(&cfg);
        return 2;
    }
    sg_log_set_level(lvl);
    if (sg_platform_signals_install() != SG_OK)
        sg_warn(S_MOD, "cannot install signal handlers");
    sg_service_opts_t opts = {.stats_path = stats};
    int rc = sg_service_run(cfg, &opts);
    sg_config_destroy(&cfg);
    return rc == SG_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "run"))
        return s_run(argc, argv);
    if (!strcmp(argv[1], "check-config"))
        return s_check_config(argc, argv);
    if (!strcmp(argv[1], "simulate"))
        return s_simulate(argc, argv);
    if (!strcmp(argv[1], "version")) {
        printf("siteguard %s\n", SG_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        s_usage(stdout);
        return 0;
    }
    s_usage(stderr);
    return 2;
}
