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
 * ErrorDescription, ElapsedTime). A collection's path is keyed by CollectionID
 * (Msvm_VirtualSystemCollection.CollectionID="..."); one keyed otherwise is
 * refused with SG_EINVAL before any call. Recovery points are the
 * Msvm_CollectionRecoveryPoint instances of the collection's CollectionID
 * (WQL `SELECT * FROM Msvm_CollectionRecoveryPoint WHERE CollectionID='...'`;
 * CreationTime, ConsistencyLevel 1 = application-consistent), each by its
 * path with both keys. The collection's state comes from its
 * ReplicationState, in the collection's own numbering (3 Replicating,
 * 4 Failover initiated, 5 Recovered, 6 Committed, ...: wmi.c says which
 * value means what and where that comes from).
 *
 * Other methods: CommitFailover, RevertFailover, RevertTestReplicaCollection
 * take the Collection only. ReverseReplicationRelationship takes the
 * Collection and a string CollectionReplicationSettingData (an embedded
 * Msvm_CollectionReplicationSettingData), which this provider leaves NULL:
 * the provider interface carries no settings, and Microsoft's page does not
 * say whether NULL is taken (wmi.c says what a refusal looks like).
 *
 * get_replication: ReplicationMode and ReplicationState of the collection's
 * object, and GetReplicationStatistics' ReplicationStatistics (an embedded
 * Msvm_CollectionReplicationStatistics, CIM-XML text, cimxml.h) for
 * ReplicationHealth and LastWALReplicationTime, the time of the last
 * successful replication cycle. A value that cannot be read is unknown
 * (mode NONE, state -1, health UNKNOWN, time 0), never guessed; only a lost
 * connection or an unknown collection fails the call.
 *
 * Sites: each site with its own block (sites[].wmi) has its own connection,
 * made, dropped and made again exactly as the provider's own, in a view of
 * the provider that at_site hands out (borrowed: it lives as long as the
 * provider, which frees it). A site without a block is served by the
 * provider itself (provider.wmi); an unknown site is NULL. The provider
 * itself keeps provider.wmi's host. Every connection waits at most
 * provider.wmi.call_timeout per call.
 *
 * find_failover_job: the collection's associators of class Msvm_ConcreteJob
 * through Msvm_AffectedJobElement, those of JobType 97 (Initiate Failover);
 * one in flight, else the one with the latest StartTime at or after
 * since_ms. SG_ENOTFOUND when there is none, and also when this WMI has no
 * such association (then a restart relies on the state and 32775, as the
 * executor does for any provider). Hyper-V removes an ended job after its
 * TimeBeforeRemoval (5 minutes by default).
 *
 * The connection: made when a call first needs it, not at creation (the
 * service starts with its WMI host down; a call that cannot connect fails
 * with SG_EIO and the next one tries again), with
 * WBEM_FLAG_CONNECT_USE_MAX_WAIT (ConnectServer returns within 2 minutes).
 * A call that fails with an RPC or transport error (the server unavailable,
 * the proxy disconnected, WBEM_E_TRANSPORT_FAILURE), or gets no answer in
 * time, drops the connection: the next call connects again, and looks the
 * service instance up again.
 *
 * Time: every remote call is bounded. GetObject and ExecMethod are made
 * semisynchronously and their results, like each step of an enumeration,
 * are waited for until the call's deadline, provider.wmi.call_timeout
 * (default 60 s) after the provider call began; past it the call fails with
 * SG_ETIMEOUT (for ExecMethod its outcome is then unknown, as for any call
 * whose answer is lost). Connecting is bounded by WMI's own 2 minutes.
 *
 * Threads: any number of workers call at once, through the provider or any
 * site's view. They share each connection (a reference each for the length
 * of a call) and its service instance's path;
 * the lock guarding those two is never held across a remote call, so a call
 * that hangs in WMI holds up no other.
 *
 * The password (provider.wmi.password, a site's from its password_env): the
 * copy handed to ConnectServer is zeroed as soon as it returns; the provider,
 * and each site's view with its own account, keeps one in its COM identity,
 * which every connection and proxy it gets is given (CoSetProxyBlanket) for
 * as long as it lives, and zeroes it in sg_provider_destroy. The config's own
 * copy is zeroed when the config is freed.
 *
 * COM: each call joins the multithreaded apartment for its duration; the
 * provider's creator must stay in it until sg_provider_destroy. */
#ifndef SG_PROVIDER_WMI_H
#define SG_PROVIDER_WMI_H

#include "config/config.h"
#include "provider/provider.h"

struct IWbemServices;
struct IWbemLocator;

/* A site and where its WMI service is. */
typedef struct {
    const char *name;        /* the site's name (sites[].name) */
    const sg_wmi_cfg_t *wmi; /* its own connection (sites[].wmi), or NULL: provider.wmi's */
} sg_wmi_site_t;

/* A provider for `cfg` (provider.wmi) and the `n_sites` sites (all copied:
 * they need not outlive the provider); each connection is made when a call
 * first needs it. NULL after logging why (COM, out of memory): an
 * unreachable host is not a reason. Destroy with sg_provider_destroy (never
 * a site's view). */
sg_provider_t *sg_wmi_new(const sg_wmi_cfg_t *cfg, const sg_wmi_site_t *sites, size_t n_sites);

/* As sg_wmi_new, connecting through `locator` instead of WMI's own (the tests
 * pass a fake); leaves COM to the caller. Takes its own reference on
 * `locator`. */
sg_provider_t *sg_wmi_new_locator(const sg_wmi_cfg_t *cfg, const sg_wmi_site_t *sites,
                                  size_t n_sites, struct IWbemLocator *locator);

/* A provider over an already connected services object (the tests pass a
 * fake), whose calls wait at most `call_timeout_ms` (<= 0: the default). It
 * never connects: a dropped connection is `svc` again. It knows no sites
 * (at_site: NULL). Takes its own reference on `svc`; sets no proxy
 * security. */
sg_provider_t *sg_wmi_new_services(struct IWbemServices *svc, int64_t call_timeout_ms);

/* CIM datetime "yyyymmddHHMMSS.mmmmmmsUUU" to Unix ms; interval
 * "ddddddddhhmmss.mmmmmm:000" to ms. Return 0 or SG_EINVAL. */
int sg_wmi_parse_datetime(const char *text, int64_t *unix_ms);
int sg_wmi_parse_interval(const char *text, int64_t *ms);

#endif
