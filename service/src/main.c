/* siteguard: command line entry point. */
#include "config/config.h"
#include "base/err.h"
#include "base/log.h"
#include "notify/notify.h"
#include "platform/platform.h"
#include "service.h"
#include "tools/simulate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_MOD "main"

static void s_usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  siteguard run -c CONFIG [--stats FILE] [--log-level error|warn|info|debug]\n"
               "  siteguard check-config CONFIG\n"
               "  siteguard simulate --config CONFIG --scenario SCENARIO\n"
               "  siteguard version\n"
               "service manager (Windows):\n"
               "  siteguard install [-c CONFIG] [--name NAME]\n"
               "  siteguard uninstall|start|stop [--name NAME]\n"
               "CONFIG defaults to the platform's config file (Windows:\n"
               "%%ProgramData%%\\siteguard\\siteguard.yaml); NAME to siteguard.\n");
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
    char def[1024];
    if (!config && sg_platform_default_config(def, sizeof def) == SG_OK)
        config = def;
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

/* Options of the service manager commands. */
typedef struct {
    const char *name;
    const char *config;
    char config_buf[1024];
} s_svc_args_t;

/* Parses [--name NAME] [-c CONFIG] (CONFIG only when `with_config`). */
static int s_svc_args(int argc, char **argv, bool with_config, s_svc_args_t *a)
{
    a->name = "siteguard";
    a->config = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc)
            a->name = argv[++i];
        else if (with_config && (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
                 i + 1 < argc)
            a->config = argv[++i];
        else
            return SG_EINVAL;
    }
    if (!with_config)
        return SG_OK;
    if (!a->config)
        return sg_platform_default_config(a->config_buf, sizeof a->config_buf) == SG_OK
                   ? (a->config = a->config_buf, SG_OK)
                   : SG_EINVAL;
    if (sg_platform_abs_path(a->config, a->config_buf, sizeof a->config_buf) != SG_OK)
        return SG_EINVAL;
    a->config = a->config_buf;
    return SG_OK;
}

/* The body of the service: as `run`, reporting running once the config loaded. */
static int s_service_body(void *arg)
{
    const s_svc_args_t *a = arg;
    sg_config_t *cfg = s_load(a->config);
    if (!cfg)
        return 1;
    sg_log_set_level(cfg->log_level);
    sg_info(S_MOD, "service %s: config %s", a->name, a->config);
    sg_platform_service_running();
    int rc = sg_service_run(cfg, &(sg_service_opts_t){0});
    sg_config_destroy(&cfg);
    return rc == SG_OK ? 0 : 1;
}

/* install, uninstall, start, stop, and `service`, which the manager runs. */
static int s_manage(int argc, char **argv)
{
    const char *cmd = argv[1];
    bool install = !strcmp(cmd, "install"), service = !strcmp(cmd, "service");
    s_svc_args_t a;
    if (s_svc_args(argc, argv, install || service, &a) != SG_OK) {
        s_usage(stderr);
        return 2;
    }
    if (service) {
        /* the config's folder is the service's working directory */
        char dir[sizeof a.config_buf];
        snprintf(dir, sizeof dir, "%s", a.config);
        char *sep = strrchr(dir, '\\'), *slash = strrchr(dir, '/');
        if (!sep || (slash && slash > sep))
            sep = slash;
        if (sep)
            *sep = '\0';
        int rc = sg_platform_service_dispatch(a.name, sep ? dir : NULL, s_service_body, &a);
        if (rc == SG_ESTATE)
            fprintf(stderr, "siteguard service: not started by the service manager "
                            "(use `siteguard run` in a console)\n");
        return rc < 0 ? 1 : rc;
    }
    char err[512] = "";
    int rc;
    if (install) {
        FILE *f = fopen(a.config, "rb");
        if (f) { /* an existing config must be valid */
            fclose(f);
            sg_config_t *cfg = s_load(a.config);
            if (!cfg)
                return 1;
            sg_config_destroy(&cfg);
        }
        sg_platform_service_t def = {
            .name = a.name,
            .display_name = "siteguard (Hyper-V collection failover)",
            .description = "Watches site health and fails Hyper-V collections over to their "
                           "replica site.",
            .config_path = a.config};
        rc = sg_platform_service_install(&def, err, sizeof err);
    } else if (!strcmp(cmd, "uninstall")) {
        rc = sg_platform_service_uninstall(a.name, err, sizeof err);
    } else if (!strcmp(cmd, "start")) {
        rc = sg_platform_service_start(a.name, 60000, err, sizeof err);
    } else {
        rc = sg_platform_service_stop(a.name, 60000, err, sizeof err);
    }
    if (rc != SG_OK) {
        fprintf(stderr, "siteguard %s: %s\n", cmd, err[0] ? err : sg_err_str(rc));
        return 1;
    }
    printf("siteguard %s: %s: done%s%s\n", cmd, a.name, install ? ", config " : "",
           install ? a.config : "");
    return 0;
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
    if (!strcmp(argv[1], "install") || !strcmp(argv[1], "uninstall") ||
        !strcmp(argv[1], "start") || !strcmp(argv[1], "stop") || !strcmp(argv[1], "service"))
        return s_manage(argc, argv);
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
