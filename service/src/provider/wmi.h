/* The WMI provider: Msvm_CollectionReplicationService over COM/WMI, in the
 * Windows build only (provider.kind: wmi).
 *
 * Connects to root\HyperVCluster\v2 (provider.wmi.namespace) on this
 * computer, the local cluster, or on provider.wmi.host with the given
 * credentials. Methods are called with ExecMethod on the service instance:
 * in-parameters spawned from the method's definition, the Collection and the
 * CollectionRecoveryPoint (InitiateFailover, TestReplicaCollection) as object
 * path strings, the recovery point left NULL for "latest". ReturnValue and
 * the Job reference are read from the out-parameters; a job is followed with
 * GetObject on its path (JobState, PercentComplete, ErrorCode,
 * ErrorDescription, ElapsedTime). Recovery points are the collection's
 * associators of class Msvm_CollectionRecoveryPoint (CreationTime,
 * ConsistencyLevel 1 = application-consistent). The collection's state comes
 * from its ReplicationState.
 *
 * Not done: find_failover_job answers SG_ENOTFOUND (no query yet ties a
 * Msvm_ConcreteJob to its collection), so a restart after an intent without
 * a job calls again and relies on 32775 (invalid state) and get_state.
 *
 * COM: each call joins the multithreaded apartment for its duration; the
 * provider's creator must stay in it until sg_provider_destroy. */
#ifndef SG_PROVIDER_WMI_H
#define SG_PROVIDER_WMI_H

#include "../config.h"
#include "provider.h"

struct IWbemServices;

/* Connects as configured. NULL after logging why (COM, connection,
 * credentials). Destroy with sg_provider_destroy. */
sg_provider_t *sg_wmi_new(const sg_wmi_cfg_t *cfg);

/* A provider over an already connected services object (the tests pass a
 * fake). Takes its own reference on `svc`; sets no proxy security. */
sg_provider_t *sg_wmi_new_services(struct IWbemServices *svc);

/* CIM datetime "yyyymmddHHMMSS.mmmmmmsUUU" to Unix ms; interval
 * "ddddddddhhmmss.mmmmmm:000" to ms. Return 0 or SG_EINVAL. */
int sg_wmi_parse_datetime(const char *text, int64_t *unix_ms);
int sg_wmi_parse_interval(const char *text, int64_t *ms);

#endif
