/* plan: the executor's plan state, with counts per site and group. */
#include "act/plan.h"

#include <stdlib.h>

#define S_GROUP_VALUES 1001 /* a collection's group is 0..1000 (policy_conf) */

typedef struct {
    int in_flight; /* collections queued, or running and not timed out */
    int failed;    /* collections whose last run failed */
    int *members;  /* the group's collections of the site, in config order */
    int n_members;
} s_cell_t;

struct sg_plan {
    const sg_config_t *cfg;
    sg_plan_entry_t *entries; /* per collection */
    int *rank;                /* per collection: its group's rank */
    int n_ranks;
    s_cell_t *cells; /* [site * n_ranks + rank] */
};

static s_cell_t *s_cell(const sg_plan_t *p, int c)
{
    const sg_collection_cfg_t *cc = &p->cfg->collections[c];
    return &p->cells[(size_t)cc->site * (size_t)p->n_ranks + (size_t)p->rank[c]];
}

/* Ranks the groups in use, densely and in ascending order. */
static int s_rank_groups(sg_plan_t *p)
{
    int value_rank[S_GROUP_VALUES];
    for (int v = 0; v < S_GROUP_VALUES; v++)
        value_rank[v] = -1;
    for (size_t c = 0; c < p->cfg->n_collections; c++) {
        int g = p->cfg->collections[c].group;
        if (g < 0 || g >= S_GROUP_VALUES)
            return -1;
        value_rank[g] = 0;
    }
    for (int v = 0; v < S_GROUP_VALUES; v++)
        if (value_rank[v] == 0)
            value_rank[v] = p->n_ranks++;
    for (size_t c = 0; c < p->cfg->n_collections; c++)
        p->rank[c] = value_rank[p->cfg->collections[c].group];
    return 0;
}

/* Fills each cell's member list, in config order. */
static int s_fill_members(sg_plan_t *p)
{
    size_t n = p->cfg->n_collections;
    for (size_t c = 0; c < n; c++)
        s_cell(p, (int)c)->n_members++;
    size_t cells = p->cfg->n_sites * (size_t)p->n_ranks;
    for (size_t i = 0; i < cells; i++) {
        s_cell_t *cell = &p->cells[i];
        cell->members = malloc((cell->n_members ? (size_t)cell->n_members : 1) * sizeof(int));
        if (!cell->members)
            return -1;
        cell->n_members = 0;
    }
    for (size_t c = 0; c < n; c++) {
        s_cell_t *cell = s_cell(p, (int)c);
        cell->members[cell->n_members++] = (int)c;
    }
    return 0;
}

sg_plan_t *sg_plan_new(const sg_config_t *cfg)
{
    sg_plan_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cfg = cfg;
    size_t n = cfg->n_collections ? cfg->n_collections : 1;
    p->entries = calloc(n, sizeof *p->entries);
    p->rank = calloc(n, sizeof *p->rank);
    if (!p->entries || !p->rank || s_rank_groups(p) != 0)
        goto fail;
    size_t cells = cfg->n_sites * (size_t)(p->n_ranks ? p->n_ranks : 1);
    p->cells = calloc(cells ? cells : 1, sizeof *p->cells);
    if (!p->cells || s_fill_members(p) != 0)
        goto fail;
    return p;
fail:
    sg_plan_destroy(&p);
    return NULL;
}

void sg_plan_destroy(sg_plan_t **pp)
{
    if (!pp || !*pp)
        return;
    sg_plan_t *p = *pp;
    size_t cells = p->cells ? p->cfg->n_sites * (size_t)p->n_ranks : 0;
    for (size_t i = 0; i < cells; i++)
        free(p->cells[i].members);
    free(p->cells);
    free(p->entries);
    free(p->rank);
    free(p);
    *pp = NULL;
}

const sg_plan_entry_t *sg_plan_get(const sg_plan_t *p, int c) { return &p->entries[c]; }

bool sg_plan_in_flight(const sg_plan_entry_t *e)
{
    return e->queued || (e->running && !e->timed_out);
}

void sg_plan_set(sg_plan_t *p, int c, sg_plan_entry_t e)
{
    s_cell_t *cell = s_cell(p, c);
    sg_plan_entry_t *old = &p->entries[c];
    cell->in_flight += (int)sg_plan_in_flight(&e) - (int)sg_plan_in_flight(old);
    cell->failed += (int)(e.result < 0) - (int)(old->result < 0);
    *old = e;
}

bool sg_plan_earlier_in_flight(const sg_plan_t *p, int c)
{
    const s_cell_t *row = s_cell(p, c) - p->rank[c];
    for (int r = 0; r < p->rank[c]; r++)
        if (row[r].in_flight > 0)
            return true;
    return false;
}

/* The first member of `cell` whose last run failed; -1 when none did. */
static int s_first_failed(const sg_plan_t *p, const s_cell_t *cell)
{
    for (int i = 0; cell->failed > 0 && i < cell->n_members; i++)
        if (p->entries[cell->members[i]].result < 0)
            return cell->members[i];
    return -1;
}

int sg_plan_earlier_failed(const sg_plan_t *p, int c)
{
    const s_cell_t *row = s_cell(p, c) - p->rank[c];
    int first = -1;
    for (int r = 0; r < p->rank[c]; r++) {
        int f = s_first_failed(p, &row[r]);
        if (f >= 0 && (first < 0 || f < first))
            first = f;
    }
    return first;
}
