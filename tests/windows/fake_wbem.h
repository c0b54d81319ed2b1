/* fake_wbem: a strict, scripted IWbemServices and IWbemLocator (C vtables)
 * for the WMI provider's tests, shaped after root\HyperVCluster\v2 as
 * Microsoft documents it (the Failover Clustering Hyper-V WMI provider's
 * pages, learn.microsoft.com/previous-versions/windows/desktop/clushyperv/).
 *
 * What it knows, and refuses as WMI would:
 * - Classes, their keys and properties (each class's page):
 *   Msvm_CollectionReplicationService (CIM_Service's CreationClassName,
 *   Name, SystemCreationClassName, SystemName),
 *   Msvm_VirtualSystemCollection (CollectionID; ReplicationState,
 *   ReplicationMode, LastApplyTime, ...), Msvm_CollectionRecoveryPoint
 *   (CollectionID and InstanceID), Msvm_ConcreteJob (InstanceID). GetObject
 *   answers WBEM_E_INVALID_OBJECT_PATH for a path that does not parse or is
 *   keyed otherwise, WBEM_E_INVALID_CLASS for another class, WBEM_E_NOT_FOUND
 *   for an instance it does not have; a class path gives the class. An
 *   instance added with a property its class does not have is the test's
 *   mistake (abort). Msvm_CollectionReplicationStatistics, which has no
 *   instances of its own, only as embedded CIM-XML text
 *   (fake_wbem_stats_xml), with its page's properties only.
 * - Msvm_CollectionReplicationService's methods and their in-parameters by
 *   name and type (each method's MOF page): InitiateFailover(Collection REF,
 *   CollectionRecoveryPoint REF), TestReplicaCollection(Collection,
 *   CollectionRecoveryPoint), RevertTestReplicaCollection(Collection),
 *   CommitFailover(Collection), RevertFailover(Collection),
 *   InitiatePlannedFailover(Collection), RevertPlannedFailover(Collection),
 *   PrepareForReverseReplication(Collection),
 *   ReverseReplicationRelationship(Collection,
 *   CollectionReplicationSettingData string), GetReplicationStatistics(
 *   Collection). GetMethod of another name answers WBEM_E_NOT_FOUND; Put of a
 *   property the in-parameters do not have WBEM_E_NOT_FOUND, of a value of
 *   the wrong type WBEM_E_TYPE_MISMATCH. ExecMethod answers
 *   WBEM_E_INVALID_METHOD for another method, WBEM_E_NOT_FOUND for a service
 *   instance it does not have, and WBEM_E_INVALID_METHOD_PARAMETERS for
 *   in-parameters of another method, no Collection, a REF that is not the
 *   path of what it refers to (a collection keyed by CollectionID, a point by
 *   both its keys), or settings that are not an embedded
 *   Msvm_CollectionReplicationSettingData: what real WMI answers to those is
 *   not documented, so the fake only refuses them loudly. Out-parameters are
 *   scripted (fake_wbem_push_result).
 * - Msvm_ConcreteJob's GetErrorEx (clushyperv/msvm-concretejob lists it;
 *   hyperv_v2/geterrorex-msvm-concretejob: uint32 GetErrorEx([out] string
 *   Errors[]), Errors embedded Msvm_Error instances in CIM-XML): ExecMethod on
 *   a job instance it has, with no in-parameters (any given:
 *   WBEM_E_INVALID_METHOD_PARAMETERS, loudly, as above); another method of a
 *   job, or the job class, WBEM_E_INVALID_METHOD; a job it does not have
 *   WBEM_E_NOT_FOUND. Each job's answer is scripted on the job
 *   (fake_obj_set_job_errors; none: WBEM_E_FAILED), apart from the
 *   ExecMethod results of the service's methods. Errors' text:
 *   fake_wbem_error_xml.
 * - Hosts: ConnectServer to \\HOST\namespace gives HOST's own services
 *   (one per host, the same each time); every call is recorded with the host
 *   it went to (fake_wbem_call_host). An instance may belong to one host
 *   (fake_wbem_add_object_at), shadowing one every host has. A host set down
 *   (fake_wbem_set_down) refuses ConnectServer, and every call on its
 *   services made earlier, with HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE),
 *   as a dead RPC server does; set up again it answers.
 * - WQL data queries `SELECT * FROM Class [WHERE Prop = 'literal' [AND ...]]`
 *   over the instances it has (a literal in single or double quotes, `\`
 *   escaping `\`, `'` and `"`; compared without regard to case, as WQL does:
 *   learn.microsoft.com/windows/win32/wmisdk/where-clause). Another class is
 *   WBEM_E_INVALID_CLASS, a property the class does not have or another
 *   shape of query WBEM_E_INVALID_QUERY. ASSOCIATORS OF is not modelled: a
 *   query containing a scripted fragment (fake_wbem_add_query) answers that,
 *   before any of the above.
 * - QueryInterface gives IUnknown and the object's own interface only.
 * GetObject and ExecMethod answer synchronously, or semisynchronously with
 * WBEM_FLAG_RETURN_IMMEDIATELY (an IWbemCallResult). Every call is recorded as
 * one line of text:
 *   "ConnectServer <resource> user=<user|NULL> password=<set|NULL> flags=0x<hex>"
 *   "GetObject <path>"
 *   "ExecQuery <wql>"
 *   "ExecMethod <object path> <method> Collection=<path|NULL>[ <Param>=<value|NULL>]"
 *   ("ExecMethod <job path> GetErrorEx": a job's method has no in-parameters)
 *   (each in-parameter the method declares, in its order: InitiateFailover's
 *   "Collection=... CollectionRecoveryPoint=...", CommitFailover's
 *   "Collection=..." alone)
 * A call may be made to hang (fake_wbem_hang): its answer (the enumeration's
 * Next, the call result's GetResultObject, or a synchronous call itself)
 * blocks until fake_wbem_release, or for the timeout the caller gave, then
 * WBEM_S_TIMEDOUT.
 *
 * Thread safe: calls may come from several threads at once. Test code:
 * aborts on out of memory and on a path the test itself gets wrong. */
#ifndef SG_FAKE_WBEM_H
#define SG_FAKE_WBEM_H

#define COBJMACROS
#include <windows.h>
#include <wbemidl.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct fake_obj fake_obj_t;
typedef struct fake_wbem fake_wbem_t;

/* A new object with one reference, owned by the caller until handed on. */
fake_obj_t *fake_obj_new(void);
void fake_obj_set_int(fake_obj_t *o, const char *name, LONG value);
/* value NULL: the property is NULL (VT_NULL). */
void fake_obj_set_str(fake_obj_t *o, const char *name, const char *value);
/* A string array property (VT_ARRAY | VT_BSTR) of `n` values. */
void fake_obj_set_strs(fake_obj_t *o, const char *name, const char *const *values, size_t n);
IWbemClassObject *fake_obj_iface(fake_obj_t *o);

fake_wbem_t *fake_wbem_new(void);
/* Frees the fake; the services and locator must have no other references. */
void fake_wbem_free(fake_wbem_t *f);
IWbemServices *fake_wbem_services(fake_wbem_t *f);
/* A locator whose ConnectServer gives the services (another reference). */
IWbemLocator *fake_wbem_locator(fake_wbem_t *f);
/* The next `times` ConnectServer calls fail with `hr`. */
void fake_wbem_fail_connect(fake_wbem_t *f, HRESULT hr, int times);

/* The instance at `path` (a known class, keyed as it is): GetObject on that
 * path, with or without its server and namespace, gives `o`, and a WQL query
 * of its class considers it, on every host. Sets __PATH (unless set),
 * __CLASS and the key properties on `o`. Takes the caller's reference. */
void fake_wbem_add_object(fake_wbem_t *f, const char *path, fake_obj_t *o);
/* As fake_wbem_add_object, on `host` only (NULL: the services given), where
 * it stands in for an instance of the same keys that every host has. */
void fake_wbem_add_object_at(fake_wbem_t *f, const char *host, const char *path, fake_obj_t *o);
/* `host` is unreachable (down) or reachable again (see above). */
void fake_wbem_set_down(fake_wbem_t *f, const char *host, bool down);
/* An embedded Msvm_CollectionReplicationStatistics as CIM-XML (DSP0201)
 * text, as GetReplicationStatistics' ReplicationStatistics: each of the `n`
 * {name, value} pairs a property of the class (another name aborts), value
 * NULL a property without a VALUE. Caller frees. */
char *fake_wbem_stats_xml(const char *const props[][2], size_t n);
/* An embedded error of class `cls` (Msvm_Error or CIM_Error; another aborts)
 * as CIM-XML text, as in GetErrorEx's Errors: each of the `n` {name, value}
 * pairs a scalar property of CIM_Error (another name aborts), value NULL a
 * property without a VALUE. Caller frees. */
char *fake_wbem_error_xml(const char *cls, const char *const props[][2], size_t n);
/* What GetErrorEx on the job `job` answers (set before the job is added):
 * with `hr` a failure, the call fails so; else the out-parameters
 * ReturnValue `return_value` and Errors, the `n` strings of `errors` (copied),
 * or NULL when `errors` is NULL. */
void fake_obj_set_job_errors(fake_obj_t *job, HRESULT hr, LONG return_value,
                             const char *const *errors, size_t n);
/* An ExecQuery whose text contains `fragment` enumerates `objs` (taken); the
 * first matching entry answers. */
void fake_wbem_add_query(fake_wbem_t *f, const char *fragment, fake_obj_t **objs, size_t n);
/* An ExecQuery whose text contains `fragment` fails with `hr`, as WMI does
 * for a class or association it does not have. */
void fake_wbem_fail_query(fake_wbem_t *f, const char *fragment, HRESULT hr);
/* The next ExecMethod (that passes the checks above) fails with `hr`, or
 * else answers `out` (taken). With none scripted it fails with WBEM_E_FAILED. */
void fake_wbem_push_result(fake_wbem_t *f, HRESULT hr, fake_obj_t *out);

/* The next call whose recorded line starts with `prefix` hangs (see above). */
void fake_wbem_hang(fake_wbem_t *f, const char *prefix);
/* Waits up to `ms` for a call to be hanging; true when one is. */
bool fake_wbem_wait_hung(fake_wbem_t *f, DWORD ms);
/* Lets a hanging call go on. */
void fake_wbem_release(fake_wbem_t *f);

/* References others hold on the locator and every services object (0 once
 * whoever used them let go of them all). */
long fake_wbem_outstanding(fake_wbem_t *f);

size_t fake_wbem_n_calls(fake_wbem_t *f);
/* The i-th recorded line (owned by the fake, valid until it is freed). */
const char *fake_wbem_call(fake_wbem_t *f, size_t i);
/* The host the i-th call went to (ConnectServer: the host it asked for), or
 * NULL: the services given directly (fake_wbem_services). */
const char *fake_wbem_call_host(fake_wbem_t *f, size_t i);

#endif
