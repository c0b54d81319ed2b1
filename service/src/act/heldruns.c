/* heldruns: runs held while a drill runs; see heldruns.h. */
#include "act/heldruns.h"
#include "base/err.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>

#define S_MOD "service"

void sg_heldruns_init(sg_heldruns_t *h)
{
    h->runs = NULL;
    h->n = 0;
}

void sg_heldruns_fini(sg_heldruns_t *h)
{
    for (size_t i = 0; i < h->n; i++)
        free((char *)h->runs[i].point);
    free(h->runs);
    sg_heldruns_init(h);
}

int sg_heldruns_add(sg_heldruns_t *h, const sg_run_spec_t *spec)
{
    char *copy = NULL;
    if (spec->point && !(copy = strdup(spec->point)))
        return SG_ENOMEM;
    sg_run_spec_t *runs = realloc(h->runs, (h->n + 1) * sizeof *runs);
    if (!runs) {
        free(copy);
        return SG_ENOMEM;
    }
    h->runs = runs;
    h->runs[h->n++] = (sg_run_spec_t){.run_id = spec->run_id,
                                      .collection = spec->collection,
                                      .point = copy,
                                      .forced = spec->forced,
                                      .heard_ms = spec->heard_ms};
    return SG_OK;
}

size_t sg_heldruns_submit(sg_heldruns_t *h, sg_executor_t *x, const sg_config_t *cfg)
{
    size_t submitted = 0;
    for (size_t i = 0; i < h->n; i++) {
        int rc = sg_executor_submit_run(x, &h->runs[i]); /* copies the point */
        if (rc == SG_OK)
            submitted++;
        else
            sg_error(S_MOD, "cannot start failover of %s: %s",
                     cfg->collections[h->runs[i].collection].name, sg_err_str(rc));
        free((char *)h->runs[i].point);
        h->runs[i].point = NULL;
    }
    h->n = 0;
    return submitted;
}
