/* opstate: the engine's durable operator state (policy/engine.h,
 * sg_opstate_t) as JSON text, for the journal and etcd.
 *
 * Sites and collections are written by name, so the text survives a config
 * that reorders them; on reading, entries that name what the config no
 * longer has are skipped (and counted in *skipped). The text:
 *   {"version": 1, "pauses": [{"site", "collection" (null: any), "until_ms",
 *    "reason"}], "budget_ms": [...], "sites": [{"site", "in_episode",
 *    "budget_taken", "episode", "budget_ms": [...]}], "collections":
 *   [{"collection", "approved", "denied", "released", "deadline_ms"}] (only
 *   those with an operator's decision), "done": [names failed over],
 *   "failed": [names], "cooldowns": {name: until_ms}, "directions": {name:
 *   {"site", "replica_site"}}} ("directions": the collections whose
 *   replication was reversed, with their sites now; absent in older texts)
 * Times are Unix ms. Pure: no I/O. Any thread. */
#ifndef SG_OPSTATE_H
#define SG_OPSTATE_H

#include "config/config.h"
#include "policy/engine.h"

/* The text of `st` (caller frees); NULL when out of memory. */
char *sg_opstate_to_json(const sg_opstate_t *st, const sg_config_t *cfg);
/* Reads `text` into *out (zeroed first; sg_opstate_fini frees it). Returns 0,
 * SG_EPROTO when the text is not such a document, or SG_ENOMEM. */
int sg_opstate_from_json(const char *text, const sg_config_t *cfg, sg_opstate_t *out,
                         size_t *skipped);

#endif
