/* reload: section-by-section comparison of two configs. */
#include "control/reload.h"
#include "base/err.h"

#include <string.h>

static bool s_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool s_strs_eq(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!s_str_eq(a[i], b[i]))
            return false;
    return true;
}

/* Two WMI connections' settings (NULL: none) are the same. */
static bool s_wmi_eq(const sg_wmi_cfg_t *a, const sg_wmi_cfg_t *b)
{
    if (!a || !b)
        return a == b;
    return s_str_eq(a->host, b->host) && s_str_eq(a->name_space, b->name_space) &&
           s_str_eq(a->user, b->user) && s_str_eq(a->password, b->password) &&
           a->call_timeout_ms == b->call_timeout_ms;
}

/* The first site that differs (its wmi connection included), or -1. */
static int s_sites_differ(const sg_config_t *a, const sg_config_t *b)
{
    size_t n = a->n_sites < b->n_sites ? a->n_sites : b->n_sites;
    for (size_t i = 0; i < n; i++)
        if (!s_str_eq(a->sites[i].name, b->sites[i].name) ||
            a->sites[i].witness != b->sites[i].witness || !s_wmi_eq(a->sites[i].wmi, b->sites[i].wmi))
            return (int)i;
    return a->n_sites == b->n_sites ? -1 : (int)n;
}

/* The first observer that differs, or -1; their keys may (a rotation). */
static int s_observers_differ(const sg_config_t *a, const sg_config_t *b)
{
    size_t n = a->n_observers < b->n_observers ? a->n_observers : b->n_observers;
    for (size_t i = 0; i < n; i++) {
        const sg_observer_cfg_t *x = &a->observers[i], *y = &b->observers[i];
        if (!s_str_eq(x->id, y->id) || x->site != y->site)
            return (int)i;
    }
    return a->n_observers == b->n_observers ? -1 : (int)n;
}

static bool s_collection_eq(const sg_collection_cfg_t *x, const sg_collection_cfg_t *y)
{
    if (!s_str_eq(x->name, y->name) || !s_str_eq(x->cim_path, y->cim_path) || x->site != y->site ||
        x->replica_site != y->replica_site || x->group != y->group ||
        x->n_depends_on != y->n_depends_on || x->recovery_point != y->recovery_point ||
        !s_str_eq(x->recovery_point_path, y->recovery_point_path) ||
        !s_str_eq(x->replica_host, y->replica_host) || x->rpo_limit_ms != y->rpo_limit_ms)
        return false;
    for (size_t i = 0; i < x->n_depends_on; i++)
        if (x->depends_on[i] != y->depends_on[i])
            return false;
    return true;
}

static int s_collections_differ(const sg_config_t *a, const sg_config_t *b)
{
    size_t n = a->n_collections < b->n_collections ? a->n_collections : b->n_collections;
    for (size_t i = 0; i < n; i++)
        if (!s_collection_eq(&a->collections[i], &b->collections[i]))
            return (int)i;
    return a->n_collections == b->n_collections ? -1 : (int)n;
}

static bool s_bus_eq(const sg_bus_cfg_t *a, const sg_bus_cfg_t *b)
{
    return s_strs_eq(a->bind, a->n_bind, b->bind, b->n_bind) &&
           s_strs_eq(a->connect, a->n_connect, b->connect, b->n_connect) &&
           a->max_event_bytes == b->max_event_bytes && a->max_age_ms == b->max_age_ms &&
           a->max_skew_ms == b->max_skew_ms &&
           a->incarnation_silence_ms == b->incarnation_silence_ms &&
           s_str_eq(a->curve.secret_key_file, b->curve.secret_key_file) &&
           s_str_eq(a->curve.secret_key, b->curve.secret_key) && a->insecure == b->insecure;
}

static bool s_provider_eq(const sg_provider_cfg_t *a, const sg_provider_cfg_t *b)
{
    if (!s_str_eq(a->kind, b->kind) || a->workers != b->workers ||
        a->job_timeout_ms != b->job_timeout_ms || a->poll_initial_ms != b->poll_initial_ms ||
        a->poll_max_ms != b->poll_max_ms || a->max_attempts != b->max_attempts ||
        a->sim.call_latency_ms != b->sim.call_latency_ms ||
        a->sim.job_duration_ms != b->sim.job_duration_ms ||
        a->sim.job_removal_ms != b->sim.job_removal_ms ||
        !s_str_eq(a->sim.state_file, b->sim.state_file) || a->sim.n_faults != b->sim.n_faults ||
        !s_wmi_eq(&a->wmi, &b->wmi))
        return false;
    for (size_t i = 0; i < a->sim.n_faults; i++) {
        const sg_sim_fault_cfg_t *x = &a->sim.faults[i], *y = &b->sim.faults[i];
        if (!s_str_eq(x->collection, y->collection) || !s_str_eq(x->method, y->method) ||
            x->return_code != y->return_code || x->job_error_code != y->job_error_code ||
            !s_str_eq(x->job_warnings, y->job_warnings) || x->hang != y->hang ||
            x->times != y->times)
            return false;
    }
    return true;
}

static bool s_leader_eq(const sg_leader_cfg_t *a, const sg_leader_cfg_t *b)
{
    return a->mode == b->mode && s_str_eq(a->name, b->name) &&
           s_strs_eq(a->etcd.endpoints, a->etcd.n_endpoints, b->etcd.endpoints,
                     b->etcd.n_endpoints) &&
           s_str_eq(a->etcd.key, b->etcd.key) && a->etcd.ttl_ms == b->etcd.ttl_ms &&
           a->etcd.timeout_ms == b->etcd.timeout_ms;
}

static int s_refuse(sg_config_errors_t *errs, const sg_config_t *next, const sg_mark_t *mark,
                    const char *what)
{
    sg_mark_t top = {.file = next->path ? next->path : "config", .line = 1, .column = 1};
    return sg_config_errors_add(errs, mark ? mark : &top,
                                "%s cannot change while siteguard runs (restart to apply it); "
                                "the config in force is kept",
                                what);
}

static int s_check_lists(const sg_config_t *cur, const sg_config_t *next, sg_config_errors_t *errs,
                         int *refused)
{
    int i = s_sites_differ(cur, next), rc = SG_OK;
    if (i >= 0) {
        (*refused)++;
        rc = s_refuse(errs, next, (size_t)i < next->n_sites ? &next->sites[i].mark : NULL, "sites");
    }
    i = s_observers_differ(cur, next);
    if (i >= 0 && rc == SG_OK) {
        (*refused)++;
        rc = s_refuse(errs, next, (size_t)i < next->n_observers ? &next->observers[i].mark : NULL,
                      "observers");
    }
    i = s_collections_differ(cur, next);
    if (i >= 0 && rc == SG_OK) {
        (*refused)++;
        rc = s_refuse(errs, next,
                      (size_t)i < next->n_collections ? &next->collections[i].mark : NULL,
                      "collections");
    }
    return rc;
}

int sg_reload_check(const sg_config_t *cur, const sg_config_t *next, sg_config_errors_t *errs)
{
    int refused = 0;
    int rc = s_check_lists(cur, next, errs, &refused);
    struct {
        bool same;
        const char *what;
    } sections[] = {
        {s_bus_eq(&cur->bus, &next->bus), "bus"},
        {s_provider_eq(&cur->provider, &next->provider), "provider"},
        {memcmp(&cur->plan, &next->plan, sizeof cur->plan) == 0, "plan"},
        {s_str_eq(cur->journal.path, next->journal.path) &&
             cur->journal.retention_ms == next->journal.retention_ms &&
             cur->journal.max_size == next->journal.max_size,
         "journal"},
        {s_str_eq(cur->control.endpoint, next->control.endpoint) &&
             s_str_eq(cur->control.readonly_endpoint, next->control.readonly_endpoint) &&
             s_str_eq(cur->control.group, next->control.group) &&
             s_str_eq(cur->control.secret_key_file, next->control.secret_key_file) &&
             s_str_eq(cur->control.secret_key, next->control.secret_key),
         "control (endpoints, group, secret_key_file)"},
        {s_leader_eq(&cur->leader, &next->leader), "leader"},
        {s_str_eq(cur->metrics.listen, next->metrics.listen) &&
             s_str_eq(cur->metrics.tls.cert, next->metrics.tls.cert) &&
             s_str_eq(cur->metrics.tls.key, next->metrics.tls.key) &&
             s_str_eq(cur->metrics.token, next->metrics.token),
         "metrics (listen, tls, token)"},
    };
    for (size_t i = 0; rc == SG_OK && i < sizeof sections / sizeof sections[0]; i++) {
        if (!sections[i].same) {
            refused++;
            rc = s_refuse(errs, next, NULL, sections[i].what);
        }
    }
    if (rc != SG_OK)
        return rc;
    return refused ? SG_ECONFIG : SG_OK;
}

bool sg_reload_sinks_changed(const sg_config_t *cur, const sg_config_t *next)
{
    if (cur->n_sinks != next->n_sinks || !s_str_eq(cur->plugin_dir, next->plugin_dir))
        return true;
    for (size_t i = 0; i < cur->n_sinks; i++) {
        const sg_sink_cfg_t *x = &cur->sinks[i], *y = &next->sinks[i];
        if (!s_str_eq(x->name, y->name) || !s_str_eq(x->plugin, y->plugin) ||
            !s_str_eq(x->path, y->path) || x->n_options != y->n_options)
            return true;
        for (size_t k = 0; k < x->n_options; k++)
            if (!s_str_eq(x->options[k].key, y->options[k].key) ||
                !s_str_eq(x->options[k].value, y->options[k].value))
                return true;
    }
    return false;
}
