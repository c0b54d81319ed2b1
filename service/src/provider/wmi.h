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
 * from its ReplicationState, in the collection's own numbering (3 Replicating,
 * 4 Failover initiated, 5 Recovered, 6 Committed, ...: wmi.c says which
 * value means what and where that comes from).
 *
 * find_failover_job: the collection's associators of class Msvm_ConcreteJob
 * through Msvm_AffectedJobElement, those of JobType 97 (Initiate Failover);
 * one in flight, else the one with the latest StartTime at or after
 * since_ms. SG_ENOTFOUND when there is none, and also when this WMI has no
 * such association (then a restart relies on the state and 32775, as the
 * executor does for any provider). Hyper-V removes an ended job after its
 * TimeBeforeRemoval (5 minutes by default).
 *
 * The password (provider.wmi.password): the copy handed to ConnectServer is
 * zeroed as soon as it returns; the provider keeps one in its COM identity,
 * which every proxy it gets is given (CoSetProxyBlanket) for as long as it
 * lives, and zeroes it in sg_provider_destroy (there is no reconnect). The
 * config's own copy is zeroed when the config is freed.
 *
 * COM: each call joins the multithreaded apartment for its duration; the
 * provider's creator must stay in it until sg_provider_destroy. */
#ifndef SG_PROVIDER_WMI_H
#define SG_PROVIDER_WMI_H

#include "config/config.h"
#include "provider/provider.h"

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
