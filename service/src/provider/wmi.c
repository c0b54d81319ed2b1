/* The WMI provider (see wmi.h). */
#define COBJMACROS
#define WIN32_LEAN_AND_MEAN
#include "provider/wmi.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "platform/platform.h"
#include "provider/cimpath.h"
#include "provider/cimxml.h"

#include <assert.h>

#include <windows.h>
#include <objbase.h>
#include <oleauto.h>
#include <wbemidl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#define S_MOD "wmi"
#define S_DEFAULT_NS "root\\HyperVCluster\\v2"
#define S_SERVICE_CLASS "Msvm_CollectionReplicationService"
#define S_STATS_CLASS "Msvm_CollectionReplicationStatistics"
#define S_DEFAULT_TIMEOUT_MS 60000
#define S_MAX_TIMEOUT_MS 0x7ffffffe /* below WBEM_INFINITE as a LONG */

typedef struct s_wmi s_wmi_t;

/* A site the provider knows: its own view, or the provider itself. */
typedef struct {
    char *name;
    s_wmi_t *view;           /* its own connection (sites[].wmi), owned; NULL: the provider */
} s_site_t;

struct s_wmi {
    sg_provider_t base;
    /* Set at creation, then only read. */
    s_wmi_t *parent;         /* a site's view: the provider that owns it; NULL: the provider */
    s_site_t *sites;         /* the provider's sites (a view has none) */
    size_t n_sites;
    char *where;             /* \\host\namespace, for ConnectServer and the log */
    char *user;              /* NULL: the service's own account */
    COAUTHIDENTITY *ident;   /* explicit credentials, or NULL; kept (password
                                included) while the provider lives: every proxy
                                is given them (s_secure); zeroed by destroy */
    IWbemLocator *locator;   /* the tests' fake, or NULL: WMI's own, per connect */
    IWbemServices *fixed;    /* sg_wmi_new_services: the one connection there is */
    bool blanket;            /* set proxy security on every proxy (real connections) */
    bool com_owner;          /* this provider initialised COM on its creating thread */
    LONG timeout_ms;         /* the longest a provider call waits for WMI */
    /* Local state, guarded by `lock`; no remote call is ever made under it. */
    SRWLOCK lock;
    IWbemServices *svc;      /* the connection (one reference), or NULL: connect on use */
    BSTR service_path;       /* the Msvm_CollectionReplicationService instance, once found */
};

/* One provider call: a reference on the connection it uses and its deadline.
 * Every remote call of it waits at most until the deadline. */
typedef struct {
    s_wmi_t *w;
    IWbemServices *svc;
    ULONGLONG deadline;      /* GetTickCount64() */
    bool entered;            /* joined the MTA for the call */
    bool lost;               /* the connection failed under it: drop it */
} s_op_t;

/* --- strings ------------------------------------------------------------------ */

static BSTR s_bstr(const char *utf8)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, utf8, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    BSTR b = SysAllocStringLen(NULL, (UINT)(n - 1));
    if (b)
        MultiByteToWideChar(CP_UTF8, 0, utf8, -1, b, n);
    return b;
}

static char *s_utf8(const WCHAR *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (s)
        WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

static WCHAR *s_wide(const char *utf8)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, utf8, -1, NULL, 0);
    WCHAR *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, utf8, -1, w, n);
    return w;
}

/* `value` as a WQL string literal, in single quotes with `\`, `'` and `"`
 * escaped by a backslash (Microsoft, "WHERE Clause",
 * learn.microsoft.com/windows/win32/wmisdk/where-clause). Caller frees. */
static char *s_wql_string(const char *value)
{
    size_t n = 3;
    for (const char *s = value; *s; s++)
        n += strchr("\\'\"", *s) ? 2 : 1;
    char *q = malloc(n), *d = q;
    if (!q)
        return NULL;
    *d++ = '\'';
    for (const char *s = value; *s; s++) {
        if (strchr("\\'\"", *s))
            *d++ = '\\';
        *d++ = *s;
    }
    *d++ = '\'';
    *d = '\0';
    return q;
}

/* --- errors --------------------------------------------------------------------- */

/* True for the HRESULTs of a connection that is gone (the server or the
 * network down, the proxy disconnected): the next call connects again. */
static bool s_transport_error(HRESULT hr)
{
    return hr == HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE) || /* 0x800706BA */
           hr == HRESULT_FROM_WIN32(RPC_S_CALL_FAILED) ||        /* 0x800706BE */
           hr == HRESULT_FROM_WIN32(RPC_S_CALL_FAILED_DNE) ||    /* 0x800706BF */
           hr == RPC_E_DISCONNECTED ||                           /* 0x80010108 */
           hr == RPC_E_SERVER_DIED || hr == RPC_E_SERVER_DIED_DNE ||
           hr == CO_E_OBJNOTCONNECTED || hr == (HRESULT)WBEM_E_TRANSPORT_FAILURE ||
           hr == (HRESULT)WBEM_E_SHUTTING_DOWN;
}

static int s_hr(HRESULT hr, const char *what)
{
    sg_warn(S_MOD, "%s: HRESULT 0x%08lx", what, (unsigned long)hr);
    if (hr == (HRESULT)WBEM_E_NOT_FOUND || hr == (HRESULT)WBEM_E_INVALID_OBJECT_PATH)
        return SG_ENOTFOUND;
    if (hr == E_OUTOFMEMORY || hr == (HRESULT)WBEM_E_OUT_OF_MEMORY)
        return SG_ENOMEM;
    return SG_EIO;
}

/* A remote call of `op` failed with `hr` (or got no answer in time:
 * WBEM_S_TIMEDOUT). A lost connection, or one that let a call go unanswered,
 * is dropped: the next call connects again. */
static int s_fail(s_op_t *op, HRESULT hr, const char *what)
{
    if (hr == (HRESULT)WBEM_S_TIMEDOUT) {
        sg_warn(S_MOD, "%s: no answer from %s within %ld ms", what, op->w->where,
                (long)op->w->timeout_ms);
        op->lost = true;
        return SG_ETIMEOUT;
    }
    if (s_transport_error(hr)) {
        sg_warn(S_MOD, "%s: the connection to %s is lost (HRESULT 0x%08lx)", what, op->w->where,
                (unsigned long)hr);
        op->lost = true;
        return SG_EIO;
    }
    return s_hr(hr, what);
}

/* --- COM helpers ---------------------------------------------------------------- */

/* Joins the multithreaded apartment; true when the caller must leave it. */
static bool s_enter(void)
{
    return SUCCEEDED(CoInitializeEx(NULL, COINIT_MULTITHREADED));
}

static void s_leave(bool entered)
{
    if (entered)
        CoUninitialize();
}

static void s_secure(s_wmi_t *w, IUnknown *proxy)
{
    if (!w->blanket || !proxy)
        return;
    CoSetProxyBlanket(proxy, RPC_C_AUTHN_DEFAULT, RPC_C_AUTHZ_DEFAULT, COLE_DEFAULT_PRINCIPAL,
                      RPC_C_AUTHN_LEVEL_PKT_PRIVACY, RPC_C_IMP_LEVEL_IMPERSONATE, w->ident,
                      EOAC_NONE);
}

/* Reads an integer property (WMI hands uint16/uint32 as VT_I4, uint64 as a string). */
static int s_get_int(IWbemClassObject *o, const WCHAR *name, int64_t *out)
{
    VARIANT v;
    VariantInit(&v);
    if (FAILED(IWbemClassObject_Get(o, name, 0, &v, NULL, NULL)))
        return SG_ENOTFOUND;
    int rc = SG_OK;
    switch (V_VT(&v)) {
    case VT_I4: *out = V_I4(&v); break;
    case VT_UI4: *out = V_UI4(&v); break;
    case VT_I2: *out = V_I2(&v); break;
    case VT_UI2: *out = V_UI2(&v); break;
    case VT_UI1: *out = V_UI1(&v); break;
    case VT_BSTR: *out = wcstoll(V_BSTR(&v), NULL, 10); break;
    default: rc = SG_ENOTFOUND;
    }
    VariantClear(&v);
    return rc;
}

/* Reads a string property; *out is NULL (and 0 returned) when it is NULL. */
static int s_get_str(IWbemClassObject *o, const WCHAR *name, char **out)
{
    VARIANT v;
    VariantInit(&v);
    *out = NULL;
    if (FAILED(IWbemClassObject_Get(o, name, 0, &v, NULL, NULL)))
        return SG_ENOTFOUND;
    int rc = SG_OK;
    if (V_VT(&v) == VT_BSTR && V_BSTR(&v)) {
        *out = s_utf8(V_BSTR(&v));
        if (!*out)
            rc = SG_ENOMEM;
    }
    VariantClear(&v);
    return rc;
}

static int s_put_str(IWbemClassObject *o, const WCHAR *name, const char *value)
{
    VARIANT v;
    VariantInit(&v);
    V_VT(&v) = VT_BSTR;
    V_BSTR(&v) = s_bstr(value);
    if (!V_BSTR(&v))
        return SG_ENOMEM;
    HRESULT hr = IWbemClassObject_Put(o, name, 0, &v, 0);
    VariantClear(&v);
    return FAILED(hr) ? s_hr(hr, "Put") : SG_OK;
}

/* --- the connection -------------------------------------------------------------- */

/* IWbemLocator::ConnectServer to \\host\namespace with
 * WBEM_FLAG_CONNECT_USE_MAX_WAIT: it returns in 2 minutes or less whether it
 * connected or not (IWbemLocator::ConnectServer and WBEM_CONNECT_OPTIONS,
 * learn.microsoft.com/windows/win32/api/wbemcli/nf-wbemcli-iwbemlocator-connectserver,
 * .../ne-wbemcli-wbem_connect_options); without it a broken server could hold
 * the caller indefinitely. Any failure is SG_EIO: never "not found", which
 * the callers read as an answer about the object. */
static int s_connect(s_wmi_t *w, IWbemServices **out)
{
    if (w->fixed) {
        IWbemServices_AddRef(w->fixed);
        *out = w->fixed;
        return SG_OK;
    }
    IWbemLocator *loc = w->locator;
    BSTR res = s_bstr(w->where), user = NULL, pass = NULL;
    int rc = SG_ENOMEM;
    *out = NULL;
    if (!res || (w->user && (!(user = s_bstr(w->user)) ||
                             !(pass = SysAllocStringLen((WCHAR *)w->ident->Password,
                                                        w->ident->PasswordLength)))))
        goto fail;
    HRESULT hr = loc ? (IWbemLocator_AddRef(loc), S_OK)
                     : CoCreateInstance(&CLSID_WbemLocator, NULL, CLSCTX_INPROC_SERVER,
                                        &IID_IWbemLocator, (void **)&loc);
    if (FAILED(hr)) {
        loc = NULL;
        s_hr(hr, "CoCreateInstance(WbemLocator)");
        rc = SG_EIO;
        goto fail;
    }
    hr = IWbemLocator_ConnectServer(loc, res, user, pass, NULL, WBEM_FLAG_CONNECT_USE_MAX_WAIT,
                                    NULL, NULL, out);
    if (FAILED(hr) || !*out) {
        sg_error(S_MOD, "cannot connect to %s%s%s: HRESULT 0x%08lx", w->where,
                 w->user ? " as " : "", w->user ? w->user : "", (unsigned long)hr);
        *out = NULL;
        rc = SG_EIO;
        goto fail;
    }
    s_secure(w, (IUnknown *)*out);
    sg_info(S_MOD, "connected to %s", w->where);
    rc = SG_OK;
fail:
    if (loc)
        IWbemLocator_Release(loc);
    if (pass)
        sg_platform_secure_zero(pass, SysStringByteLen(pass)); /* the identity has its own */
    SysFreeString(res);
    SysFreeString(user);
    SysFreeString(pass);
    return rc;
}

/* A reference on the connection, connecting first when there is none. The
 * connect is made outside the lock (it may take up to 2 minutes); when two
 * calls connect at once, the first to finish is kept. */
static int s_acquire(s_wmi_t *w, IWbemServices **out)
{
    AcquireSRWLockExclusive(&w->lock);
    IWbemServices *svc = w->svc, *spare = NULL;
    if (svc)
        IWbemServices_AddRef(svc);
    ReleaseSRWLockExclusive(&w->lock);
    if (!svc) {
        int rc = s_connect(w, &svc);
        if (rc != SG_OK)
            return rc;
        AcquireSRWLockExclusive(&w->lock);
        if (!w->svc) {
            w->svc = svc;
            IWbemServices_AddRef(svc);
        } else {
            spare = svc; /* another call connected first: use its connection */
            svc = w->svc;
            IWbemServices_AddRef(svc);
        }
        ReleaseSRWLockExclusive(&w->lock);
    }
    if (spare)
        IWbemServices_Release(spare);
    *out = svc;
    return SG_OK;
}

/* Forgets `svc` (and the service instance found through it), unless another
 * call already replaced it: the next call connects again. */
static void s_drop(s_wmi_t *w, IWbemServices *svc)
{
    IWbemServices *old = NULL;
    BSTR path = NULL;
    AcquireSRWLockExclusive(&w->lock);
    if (w->svc == svc) {
        old = w->svc;
        path = w->service_path;
        w->svc = NULL;
        w->service_path = NULL;
    }
    ReleaseSRWLockExclusive(&w->lock);
    if (old) {
        sg_warn(S_MOD, "dropped the connection to %s: the next call connects again", w->where);
        IWbemServices_Release(old); /* outside the lock: a proxy's release may go remote */
    }
    SysFreeString(path);
}

/* Starts a provider call: the apartment, the deadline, the connection. */
static int s_begin(s_wmi_t *w, s_op_t *op)
{
    memset(op, 0, sizeof *op);
    op->w = w;
    op->entered = s_enter();
    op->deadline = GetTickCount64() + (ULONGLONG)w->timeout_ms;
    return s_acquire(w, &op->svc);
}

static void s_end(s_op_t *op)
{
    if (op->svc) {
        if (op->lost)
            s_drop(op->w, op->svc);
        IWbemServices_Release(op->svc);
    }
    s_leave(op->entered);
}

/* Milliseconds left before the call's deadline (0 once it has passed). */
static LONG s_left(const s_op_t *op)
{
    ULONGLONG now = GetTickCount64();
    return now >= op->deadline ? 0 : (LONG)(op->deadline - now);
}

/* --- remote calls, each waiting at most until the deadline ---------------------- */

/* The object of a semisynchronous GetObject or ExecMethod: `cr` is waited on
 * with IWbemCallResult::GetResultObject, which answers WBEM_S_TIMEDOUT when
 * the object is not there in time (learn.microsoft.com/windows/win32/api/
 * wbemcli/nf-wbemcli-iwbemcallresult-getresultobject). */
static int s_result(s_op_t *op, HRESULT hr, IWbemCallResult *cr, IWbemClassObject **o,
                    const char *what)
{
    *o = NULL;
    if (SUCCEEDED(hr) && cr) {
        s_secure(op->w, (IUnknown *)cr);
        hr = IWbemCallResult_GetResultObject(cr, s_left(op), o);
    } else if (SUCCEEDED(hr)) {
        hr = WBEM_E_FAILED; /* no call result for a call that succeeded */
    }
    if (cr)
        IWbemCallResult_Release(cr);
    if (hr == WBEM_S_NO_ERROR && *o)
        return SG_OK;
    if (*o) {
        IWbemClassObject_Release(*o);
        *o = NULL;
    }
    return s_fail(op, hr == WBEM_S_NO_ERROR ? (HRESULT)WBEM_E_FAILED : hr, what);
}

/* GetObject on a path, semisynchronously (WBEM_FLAG_RETURN_IMMEDIATELY). */
static int s_get_object(s_op_t *op, const char *path, IWbemClassObject **o)
{
    BSTR b = s_bstr(path);
    IWbemCallResult *cr = NULL;
    *o = NULL;
    if (!b)
        return SG_ENOMEM;
    HRESULT hr = IWbemServices_GetObject(op->svc, b, WBEM_FLAG_RETURN_IMMEDIATELY, NULL, NULL,
                                         &cr);
    SysFreeString(b);
    return s_result(op, hr, cr, o, "GetObject");
}

/* ExecMethod, semisynchronously: the out-parameters come by the call result
 * (IWbemServices::ExecMethod, learn.microsoft.com/windows/win32/api/wbemcli/
 * nf-wbemcli-iwbemservices-execmethod). */
static int s_exec_method(s_op_t *op, BSTR target, BSTR method, IWbemClassObject *in,
                         IWbemClassObject **out)
{
    IWbemCallResult *cr = NULL;
    HRESULT hr = IWbemServices_ExecMethod(op->svc, target, method, WBEM_FLAG_RETURN_IMMEDIATELY,
                                          NULL, in, NULL, &cr);
    return s_result(op, hr, cr, out, "ExecMethod");
}

/* Runs a WQL query and hands each object to `each` (which returns 0 to go on,
 * 1 to stop, or a negative sg_err_t to stop with it). *failed, when not NULL,
 * gets the HRESULT of a query or enumeration that failed (else S_OK). Each
 * IEnumWbemClassObject::Next waits at most until the deadline: it answers
 * WBEM_S_TIMEDOUT when nothing came in time (learn.microsoft.com/windows/
 * win32/api/wbemcli/nf-wbemcli-ienumwbemclassobject-next), where
 * WBEM_INFINITE would wait for good. */
static int s_query(s_op_t *op, const char *wql, int (*each)(IWbemClassObject *o, void *arg),
                   void *arg, HRESULT *failed)
{
    BSTR lang = SysAllocString(L"WQL"), q = s_bstr(wql);
    IEnumWbemClassObject *en = NULL;
    HRESULT hr = S_OK;
    int rc = SG_ENOMEM;
    if (!lang || !q)
        goto fail;
    hr = IWbemServices_ExecQuery(op->svc, lang, q,
                                 WBEM_FLAG_FORWARD_ONLY | WBEM_FLAG_RETURN_IMMEDIATELY, NULL, &en);
    if (FAILED(hr)) {
        rc = s_fail(op, hr, wql);
        goto fail;
    }
    s_secure(op->w, (IUnknown *)en);
    rc = SG_OK;
    for (;;) {
        IWbemClassObject *o = NULL;
        ULONG n = 0;
        hr = IEnumWbemClassObject_Next(en, s_left(op), 1, &o, &n);
        if (FAILED(hr) || (hr == (HRESULT)WBEM_S_TIMEDOUT && n == 0)) {
            rc = s_fail(op, hr, "IEnumWbemClassObject::Next");
            break;
        }
        hr = S_OK;
        if (n == 0 || !o)
            break;
        int r = each(o, arg);
        IWbemClassObject_Release(o);
        if (r != 0) {
            rc = r > 0 ? SG_OK : r;
            break;
        }
    }
fail:
    if (failed)
        *failed = rc == SG_OK ? S_OK : hr;
    if (en)
        IEnumWbemClassObject_Release(en);
    SysFreeString(lang);
    SysFreeString(q);
    return rc;
}

/* --- collections --------------------------------------------------------------------- */

/* The CollectionID of a collection's path (*id, caller frees, when `id` is not
 * NULL). Msvm_VirtualSystemCollection is keyed by CollectionID (cimpath.h): a
 * path keyed otherwise names nothing WMI has, and is refused here, before
 * any call. */
static int s_collection_id(const char *path, char **id)
{
    sg_cimpath_coll_t kind;
    char *value = NULL;
    if (id)
        *id = NULL;
    if (sg_cimpath_collection(path, &kind, &value) != SG_OK)
        return SG_ENOMEM;
    if (kind == SG_CIMPATH_COLLECTION_ID) {
        if (id)
            *id = value;
        else
            free(value);
        return SG_OK;
    }
    sg_error(S_MOD, "collection %s: %s (" SG_CIM_COLLECTION_CLASS ".CollectionID=\"...\")", path,
             kind == SG_CIMPATH_INSTANCE_ID
                 ? "keyed by InstanceID, but a collection's key is CollectionID"
                 : "not an object path keyed by CollectionID");
    return SG_EINVAL;
}

/* --- the service instance --------------------------------------------------------- */

static int s_take_path(IWbemClassObject *o, void *arg)
{
    char **path = arg;
    return s_get_str(o, L"__PATH", path) == SG_OK && *path ? 1 : 0;
}

/* The path of the Msvm_CollectionReplicationService instance, looked up
 * once per connection (the lock covers the cache, never the query). */
static int s_service_path(s_op_t *op, BSTR *out)
{
    s_wmi_t *w = op->w;
    AcquireSRWLockExclusive(&w->lock);
    *out = w->service_path && w->svc == op->svc ? SysAllocString(w->service_path) : NULL;
    bool cached = w->service_path && w->svc == op->svc;
    ReleaseSRWLockExclusive(&w->lock);
    if (cached)
        return *out ? SG_OK : SG_ENOMEM;
    char *path = NULL;
    int rc = s_query(op, "SELECT * FROM " S_SERVICE_CLASS, s_take_path, &path, NULL);
    if (rc == SG_OK && !path) {
        sg_error(S_MOD, "no " S_SERVICE_CLASS " instance at %s", w->where);
        rc = SG_ENOTFOUND;
    }
    if (rc == SG_OK && !(*out = s_bstr(path)))
        rc = SG_ENOMEM;
    free(path);
    if (rc != SG_OK)
        return rc;
    AcquireSRWLockExclusive(&w->lock);
    if (!w->service_path && w->svc == op->svc)
        w->service_path = SysAllocString(*out); /* a cache: failing to keep it is harmless */
    ReleaseSRWLockExclusive(&w->lock);
    return SG_OK;
}

/* --- methods ------------------------------------------------------------------------ */

static bool s_takes_point(sg_method_t m)
{
    return m == SG_METHOD_INITIATE_FAILOVER || m == SG_METHOD_TEST_REPLICA;
}

/* In-parameters of `method`: spawned from the class's method definition. */
static int s_in_params(s_op_t *op, const WCHAR *method, IWbemClassObject **in)
{
    IWbemClassObject *cls = NULL, *def = NULL;
    int rc = s_get_object(op, S_SERVICE_CLASS, &cls);
    if (rc != SG_OK)
        return rc;
    HRESULT hr = IWbemClassObject_GetMethod(cls, method, 0, &def, NULL);
    if (FAILED(hr) || !def) {
        rc = s_hr(FAILED(hr) ? hr : (HRESULT)WBEM_E_NOT_FOUND, "GetMethod");
        goto fail;
    }
    hr = IWbemClassObject_SpawnInstance(def, 0, in);
    rc = FAILED(hr) ? s_hr(hr, "SpawnInstance") : SG_OK;
fail:
    if (def)
        IWbemClassObject_Release(def);
    IWbemClassObject_Release(cls);
    return rc;
}

static int s_read_out(IWbemClassObject *out, sg_method_t m, sg_call_result_t *r)
{
    int64_t rv = 0;
    if (s_get_int(out, L"ReturnValue", &rv) != SG_OK) {
        sg_error(S_MOD, "%s: no ReturnValue", sg_method_name(m));
        return SG_EPROTO;
    }
    r->return_value = (uint32_t)rv;
    int rc = s_get_str(out, L"Job", &r->job_path);
    if (rc == SG_OK && m == SG_METHOD_TEST_REPLICA)
        rc = s_get_str(out, L"ResultingCollection", &r->resulting_collection);
    if (rc == SG_ENOTFOUND)
        rc = SG_OK; /* an out parameter the method does not have */
    if (rc == SG_OK && r->return_value == SG_RC_JOB_STARTED && !r->job_path) {
        sg_error(S_MOD, "%s: job started without a Job reference", sg_method_name(m));
        rc = SG_EPROTO;
    }
    return rc;
}

/* The method's in-parameters, filled: the collection, and the recovery point
 * for the methods that take one (NULL, left unset, means the latest).
 *
 * What each method takes, from its page in Microsoft's Failover Clustering
 * Hyper-V WMI reference (clushyperv/msvm-collectionreplicationservice-<method>):
 * - InitiateFailover, TestReplicaCollection: Collection (CIM_CollectionOfMSEs
 *   REF), CollectionRecoveryPoint (REF; NULL: the latest point).
 * - CommitFailover ("commits the recovery snapshot that InitiateFailover has
 *   used"), RevertFailover ("only for the collection which is in failed over
 *   state after using InitiateFailover"), RevertTestReplicaCollection:
 *   Collection only.
 * - ReverseReplicationRelationship ("requires the collection that is a
 *   recovery collection in failover committed state"): Collection and
 *   CollectionReplicationSettingData, a string ("a
 *   CollectionReplicationSettingData containing the setting data for
 *   replication": an embedded Msvm_CollectionReplicationSettingData, the
 *   recovery connection point, port, authentication, ...). The page does not
 *   say it may be NULL, nor what Hyper-V fills in when it is. It is left NULL
 *   here, the safe branch: the provider interface carries no settings, and
 *   settings made up by siteguard could point replication at the wrong
 *   cluster, while a refused NULL (most likely 32773 Invalid parameter, or a
 *   WMI error) changes nothing. (Not verified on a cluster.)
 * Every method answers ReturnValue (uint32) and a Job REF out-parameter. */
static int s_fill_in(s_op_t *op, BSTR method, sg_method_t m, const char *collection,
                     const char *point, IWbemClassObject **in)
{
    int rc = s_in_params(op, method, in);
    if (rc == SG_OK)
        rc = s_put_str(*in, L"Collection", collection);
    if (rc == SG_OK && point && s_takes_point(m))
        rc = s_put_str(*in, L"CollectionRecoveryPoint", point);
    return rc;
}

static int s_call(sg_provider_t *p, sg_method_t m, const char *collection, const char *point,
                  sg_call_result_t *r)
{
    s_wmi_t *w = (s_wmi_t *)p;
    memset(r, 0, sizeof *r);
    int rc = s_collection_id(collection, NULL);
    if (rc != SG_OK)
        return rc;
    s_op_t op;
    IWbemClassObject *in = NULL, *out = NULL;
    BSTR target = NULL, method = s_bstr(sg_method_name(m));
    rc = s_begin(w, &op);
    if (rc == SG_OK)
        rc = method ? s_service_path(&op, &target) : SG_ENOMEM;
    if (rc == SG_OK)
        rc = s_fill_in(&op, method, m, collection, point, &in);
    if (rc == SG_OK)
        rc = s_exec_method(&op, target, method, in, &out);
    if (rc == SG_OK && (rc = s_read_out(out, m, r)) != SG_OK)
        sg_call_result_fini(r);
    if (out)
        IWbemClassObject_Release(out);
    if (in)
        IWbemClassObject_Release(in);
    SysFreeString(target);
    SysFreeString(method);
    s_end(&op);
    return rc;
}

/* --- jobs and collections ------------------------------------------------------------ */

static int s_read_job(IWbemClassObject *job, const char *job_path, sg_job_status_t *out)
{
    int64_t v = 0;
    if (s_get_int(job, L"JobState", &v) != SG_OK) {
        sg_error(S_MOD, "job %s has no JobState", job_path);
        return SG_EPROTO;
    }
    out->job_state = (int)v;
    out->percent_complete = s_get_int(job, L"PercentComplete", &v) == SG_OK ? (int)v : 0;
    out->error_code = s_get_int(job, L"ErrorCode", &v) == SG_OK ? (uint32_t)v : 0;
    int rc = s_get_str(job, L"ErrorDescription", &out->error_description);
    char *elapsed = NULL;
    if (s_get_str(job, L"ElapsedTime", &elapsed) == SG_OK && elapsed)
        sg_wmi_parse_interval(elapsed, &out->elapsed_ms);
    free(elapsed);
    return rc == SG_ENOTFOUND ? SG_OK : rc;
}

/* --- a failed job's errors: Msvm_ConcreteJob.GetErrorEx ---------------------------------
 *
 * Microsoft's pages: Msvm_ConcreteJob of root\HyperVCluster\v2 (clushyperv/
 * msvm-concretejob) lists GetErrorEx, "Retrieves the errors for a failed
 * job"; the method's own page (hyperv_v2/geterrorex-msvm-concretejob, written
 * for root\virtualization\v2) gives
 *   uint32 GetErrorEx([out] string Errors[]);
 * no in-parameters; Errors: "one or more embedded instances of the Msvm_Error
 * class, in CIM-XML format" when the job's operational status is not OK,
 * NULL when it is; ReturnValue 0 Completed with No Error, 32768.. failures.
 * Msvm_Error derives from CIM_Error, whose Message ("the formatted message")
 * and MessageID are strings (CIM_Error's page).
 *
 * Guesses, each taking the branch that gives no detail rather than a wrong
 * one: that the clustered namespace's GetErrorEx answers as the
 * root\virtualization\v2 page says (not verified on a cluster: any failure
 * of the call, another return value than 0, or Errors that are not strings
 * leave ErrorDescription alone); that its embedded instances are the
 * /INSTANCE/PROPERTY CIM-XML cimxml.h reads (text it does not read, or an
 * instance of another class than Msvm_Error or CIM_Error, is skipped). */

#define S_ERROR_TEXT_MAX 2048 /* what GetErrorEx adds keeps error_description within
                                 this many bytes (the NUL included) */
#define S_MAX_JOB_ERRORS 16   /* embedded errors read of one job, at most */

/* Text of bounded length: what does not fit is cut at a UTF-8 character
 * boundary and "..." ends it. */
typedef struct {
    char buf[S_ERROR_TEXT_MAX];
    size_t cap; /* bytes of text allowed, below sizeof buf */
    size_t len;
    bool full;
} s_text_t;

/* Appends `s`, control characters as spaces (error_description is one line). */
static void s_text_add(s_text_t *t, const char *s)
{
    static const char more[] = "...";
    if (t->full)
        return;
    size_t n = strlen(s), room = t->cap - t->len;
    if (n > room) {
        t->full = true;
        if (room < sizeof more - 1) {
            n = 0;
        } else {
            n = room - (sizeof more - 1);
            while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                n--; /* s[n], the first byte left out, continues a character */
        }
    }
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        t->buf[t->len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    if (t->full && t->cap - t->len >= sizeof more - 1) {
        memcpy(t->buf + t->len, more, sizeof more - 1);
        t->len += sizeof more - 1;
    }
    t->buf[t->len] = '\0';
}

/* The detail of one embedded error: "Message (MessageID id)", either part
 * alone when the other is missing, nothing (*piece NULL) when neither is
 * there, the text is not CIM-XML cimxml.h reads, or the instance is not an
 * error. Returns SG_OK or SG_ENOMEM. */
static int s_error_piece(const char *job_path, const char *xml, char **piece)
{
    char *cls = NULL, *msg = NULL, *id = NULL;
    *piece = NULL;
    int rc = sg_cimxml_class(xml, &cls);
    if (rc == SG_OK && strcasecmp(cls, "Msvm_Error") != 0 && strcasecmp(cls, "CIM_Error") != 0) {
        sg_warn(S_MOD, "job %s: GetErrorEx gave a %s, not an Msvm_Error: skipped", job_path, cls);
        rc = SG_EPROTO;
    }
    if (rc == SG_OK && (rc = sg_cimxml_property(xml, "Message", &msg)) == SG_ENOTFOUND)
        rc = SG_OK;
    if (rc == SG_OK && (rc = sg_cimxml_property(xml, "MessageID", &id)) == SG_ENOTFOUND)
        rc = SG_OK;
    if (rc == SG_OK) {
        bool has_msg = msg && *msg, has_id = id && *id;
        if (has_msg && has_id)
            *piece = sg_strdupf("%s (MessageID %s)", msg, id);
        else if (has_msg || has_id)
            *piece = has_msg ? sg_strdupf("%s", msg) : sg_strdupf("MessageID %s", id);
        if ((has_msg || has_id) && !*piece)
            rc = SG_ENOMEM;
    } else if (rc == SG_EPROTO) {
        sg_warn(S_MOD, "job %s: an error of GetErrorEx is not CIM-XML siteguard reads: skipped",
                job_path);
    }
    free(cls);
    free(msg);
    free(id);
    return rc == SG_ENOMEM ? rc : SG_OK;
}

/* Adds the detail of the embedded error `xml` to t, unless `known` (the
 * job's ErrorDescription) or t already says it (as part of its text: a
 * message that is part of one already there is left out, rather than said
 * twice). */
static int s_add_error(const char *job_path, const char *xml, const char *known, s_text_t *t)
{
    char *piece = NULL, *msg = NULL;
    int rc = s_error_piece(job_path, xml, &piece);
    if (rc != SG_OK || !piece)
        return rc;
    /* The Message already in ErrorDescription adds nothing, its MessageID aside. */
    if (sg_cimxml_property(xml, "Message", &msg) == SG_ENOMEM) {
        free(piece);
        return SG_ENOMEM;
    }
    bool said = (known && msg && *msg && strstr(known, msg)) || (t->len && strstr(t->buf, piece));
    if (!said) {
        if (t->len)
            s_text_add(t, "; ");
        s_text_add(t, piece);
    }
    free(msg);
    free(piece);
    return SG_OK;
}

/* The errors of GetErrorEx's out-parameters `o` into t. */
static int s_read_errors(const char *job_path, IWbemClassObject *o, const char *known, s_text_t *t)
{
    int64_t rv = 0;
    if (s_get_int(o, L"ReturnValue", &rv) != SG_OK) {
        sg_warn(S_MOD, "job %s: GetErrorEx without a ReturnValue: no detail", job_path);
        return SG_OK;
    }
    if (rv != SG_RC_COMPLETED) {
        sg_warn(S_MOD, "job %s: GetErrorEx answered %lld (%s): no detail", job_path, (long long)rv,
                sg_rc_text((uint32_t)rv));
        return SG_OK;
    }
    VARIANT v;
    VariantInit(&v);
    if (FAILED(IWbemClassObject_Get(o, L"Errors", 0, &v, NULL, NULL)))
        return SG_OK;
    int rc = SG_OK;
    if (V_VT(&v) == (VT_ARRAY | VT_BSTR) && V_ARRAY(&v) && SafeArrayGetDim(V_ARRAY(&v)) == 1) {
        LONG lo = 0, hi = -1;
        if (FAILED(SafeArrayGetLBound(V_ARRAY(&v), 1, &lo)) ||
            FAILED(SafeArrayGetUBound(V_ARRAY(&v), 1, &hi)))
            hi = lo - 1;
        for (LONG k = lo; k <= hi && k - lo < S_MAX_JOB_ERRORS && rc == SG_OK && !t->full; k++) {
            BSTR b = NULL;
            char *xml = NULL;
            if (SUCCEEDED(SafeArrayGetElement(V_ARRAY(&v), &k, &b)) && b) {
                if (!(xml = s_utf8(b)))
                    rc = SG_ENOMEM;
                else
                    rc = s_add_error(job_path, xml, known, t);
            }
            free(xml);
            SysFreeString(b);
        }
    } else if (V_VT(&v) == VT_BSTR && V_BSTR(&v)) {
        /* One string where the page declares string[]: read as the one error. */
        char *xml = s_utf8(V_BSTR(&v));
        rc = xml ? s_add_error(job_path, xml, known, t) : SG_ENOMEM;
        free(xml);
    }
    VariantClear(&v);
    return rc;
}

/* GetErrorEx on the failed job at `job_path`: its errors' detail appended to
 * out->error_description (ErrorDescription, kept whole), "; " between them,
 * within S_ERROR_TEXT_MAX. A call that fails or answers nothing new leaves
 * error_description as it is: only SG_ENOMEM fails the read of the job. */
static int s_job_errors(s_op_t *op, const char *job_path, sg_job_status_t *out)
{
    const char *known = out->error_description;
    size_t used = known ? strlen(known) + 2 : 0; /* ErrorDescription and "; " */
    if (used + 16 >= S_ERROR_TEXT_MAX)
        return SG_OK; /* no room left for anything worth adding */
    s_text_t *t = calloc(1, sizeof *t);
    BSTR target = s_bstr(job_path), method = SysAllocString(L"GetErrorEx");
    IWbemClassObject *o = NULL;
    int rc = t && target && method ? SG_OK : SG_ENOMEM;
    if (rc == SG_OK) {
        t->cap = S_ERROR_TEXT_MAX - 1 - used;
        /* No in-parameters (the method declares none). */
        if (s_exec_method(op, target, method, NULL, &o) == SG_OK)
            rc = s_read_errors(job_path, o, known, t);
        else
            sg_warn(S_MOD, "job %s: no GetErrorEx from %s: ErrorDescription alone", job_path,
                    op->w->where);
    }
    if (rc == SG_OK && t->len) {
        char *text = known && *known ? sg_strdupf("%s; %s", known, t->buf)
                                     : sg_strdupf("%s", t->buf);
        if (text) {
            free(out->error_description);
            out->error_description = text;
        } else {
            rc = SG_ENOMEM;
        }
    }
    if (o)
        IWbemClassObject_Release(o);
    SysFreeString(target);
    SysFreeString(method);
    free(t);
    return rc;
}

/* A job that ended in failure: 8 Terminated, 9 Killed, 10 Exception (CIM_Job.JobState). */
static bool s_job_failed(int job_state)
{
    return job_state == SG_JOB_TERMINATED || job_state == SG_JOB_KILLED ||
           job_state == SG_JOB_EXCEPTION;
}

static int s_get_job(sg_provider_t *p, const char *job_path, sg_job_status_t *out)
{
    s_wmi_t *w = (s_wmi_t *)p;
    s_op_t op;
    IWbemClassObject *job = NULL;
    memset(out, 0, sizeof *out);
    int rc = s_begin(w, &op);
    if (rc == SG_OK)
        rc = s_get_object(&op, job_path, &job);
    if (rc == SG_OK)
        rc = s_read_job(job, job_path, out);
    if (rc == SG_OK && s_job_failed(out->job_state))
        rc = s_job_errors(&op, job_path, out);
    if (rc != SG_OK)
        sg_job_status_fini(out);
    if (job)
        IWbemClassObject_Release(job);
    s_end(&op);
    return rc;
}

/* Msvm_VirtualSystemCollection.ReplicationState (root\HyperVCluster\v2) to
 * where the collection stands. Source: Microsoft's "Msvm_VirtualSystemCollection
 * class" page of the Failover Clustering Hyper-V WMI provider
 * (learn.microsoft.com/previous-versions/windows/desktop/clushyperv/
 * msvm-virtualsystemcollection). The collection has its own numbering, not
 * the one of Msvm_ReplicationRelationship and
 * Msvm_SharedDiskSetReplicationRelationship (there 4 is "Synced replication
 * complete" and 12 "Failover in progress"; on a collection 12 means
 * something else).
 *   0 Disabled, 1 Ready for replication, 2 Waiting to complete initial
 *   replication: not replicating yet (unknown to siteguard's methods).
 *   3 Replicating; 7 Suspended; 8 Critical: in the relationship and not failed
 *   over, so a failover may be called (8 is what a replica shows when its
 *   primary site is gone; replication health is the engine's guard, from
 *   events, not the provider's).
 *   4 Failover initiated: begun, not recovered (RevertPlannedFailover's page
 *   names it as the state InitiatePlannedFailover leaves): a failover in
 *   flight, never "done".
 *   5 Recovered: failed over, not committed.  6 Committed.
 *   9 Waiting to start resynchronization, 10 Resynchronizing: another
 *   operation (unknown).
 *   11..16: the page prints six names over these values garbled ("Planned
 *   failover initiated", "Repurpose initiated", "Test failover initiated",
 *   "Partially enabled" run together at 11, "Partially disabled" at 12,
 *   "Partially recovered" at 13, 14..16 blank). Seventeen names for the values
 *   0..16 read in order give 13 = Test failover initiated, the state a
 *   TestReplicaCollection leaves; that is how it is read here (fairly sure,
 *   not verified on a cluster). Wrong, it costs a RevertTestReplicaCollection
 *   answered 32775; missing, a drill would leave its test copy behind. The
 *   others stay unknown: a partial recovery is never taken for "failed over". */
static sg_coll_state_t s_coll_state(int64_t replication_state)
{
    switch (replication_state) {
    case 3:                                   /* Replicating */
    case 7:                                   /* Suspended */
    case 8: return SG_COLL_REPLICATING;       /* Critical */
    case 4: return SG_COLL_FAILOVER_RUNNING;  /* Failover initiated */
    case 5: return SG_COLL_FAILED_OVER;       /* Recovered */
    case 6: return SG_COLL_COMMITTED;         /* Committed */
    case 13: return SG_COLL_TESTING;          /* Test failover initiated */
    default: return SG_COLL_UNKNOWN;
    }
}


static int s_get_state(sg_provider_t *p, const char *collection, sg_coll_state_t *out)
{
    s_wmi_t *w = (s_wmi_t *)p;
    s_op_t op;
    IWbemClassObject *c = NULL;
    int64_t v = 0;
    *out = SG_COLL_UNKNOWN;
    int rc = s_collection_id(collection, NULL);
    if (rc != SG_OK)
        return rc;
    rc = s_begin(w, &op);
    if (rc == SG_OK)
        rc = s_get_object(&op, collection, &c);
    if (rc == SG_OK && s_get_int(c, L"ReplicationState", &v) == SG_OK)
        *out = s_coll_state(v);
    if (c)
        IWbemClassObject_Release(c);
    s_end(&op);
    return rc;
}

/* --- replication: mode, state, health, last replication ---------------------------- */

/* Msvm_VirtualSystemCollection.ReplicationMode (uint16, Microsoft's page for
 * the class): 0 None, 1 Primary, 2 Replica, 3 Test Replica; anything else is
 * not known (SG_MODE_NONE, as for a provider that cannot tell). */
static int s_mode(int64_t v)
{
    return v >= SG_MODE_NONE && v <= SG_MODE_TEST_REPLICA ? (int)v : SG_MODE_NONE;
}

/* The collection object's ReplicationMode and ReplicationState (0..16, the
 * collection's own numbering: wmi.c's s_coll_state; -1 when missing or out of
 * range). */
static void s_read_collection(IWbemClassObject *c, sg_replication_t *out)
{
    int64_t v = 0;
    if (s_get_int(c, L"ReplicationMode", &v) == SG_OK)
        out->mode = s_mode(v);
    if (s_get_int(c, L"ReplicationState", &v) == SG_OK && v >= 0 && v <= 16)
        out->state = (int)v;
}

/* The text of ReplicationStatistics: declared `string` (one embedded
 * instance) on the collection method's page, where the per-VM
 * Msvm_ReplicationService methods declare `string[]`; either is taken, an
 * array by its first element. *text is NULL when it is neither. */
static int s_stats_text(IWbemClassObject *out, char **text)
{
    VARIANT v;
    VariantInit(&v);
    *text = NULL;
    if (FAILED(IWbemClassObject_Get(out, L"ReplicationStatistics", 0, &v, NULL, NULL)))
        return SG_OK;
    int rc = SG_OK;
    if (V_VT(&v) == VT_BSTR && V_BSTR(&v)) {
        rc = (*text = s_utf8(V_BSTR(&v))) ? SG_OK : SG_ENOMEM;
    } else if (V_VT(&v) == (VT_ARRAY | VT_BSTR) && V_ARRAY(&v) &&
               SafeArrayGetDim(V_ARRAY(&v)) == 1) {
        LONG lo = 0, hi = -1;
        BSTR first = NULL;
        if (SUCCEEDED(SafeArrayGetLBound(V_ARRAY(&v), 1, &lo)) &&
            SUCCEEDED(SafeArrayGetUBound(V_ARRAY(&v), 1, &hi)) && hi >= lo &&
            SUCCEEDED(SafeArrayGetElement(V_ARRAY(&v), &lo, &first)) && first)
            rc = (*text = s_utf8(first)) ? SG_OK : SG_ENOMEM;
        SysFreeString(first);
    }
    VariantClear(&v);
    return rc;
}

/* Health and last replication from an embedded Msvm_CollectionReplicationStatistics
 * (Microsoft's page for the class, clushyperv/msvm-collectionreplicationstatistics):
 * - ReplicationHealth, uint32, described only as "The current replication.",
 *   no values listed. Read in the numbering of the per-VM
 *   Msvm_ReplicationStatistics.ReplicationHealth (hyperv_v2 page: 0 Not
 *   applicable, 1 Ok, 2 Warning, 3 Critical), which is an inference; any
 *   other value, or none, is unknown.
 * - LastWALReplicationTime, datetime: "the time when the last successful WAL
 *   consistent DR cycle was performed", the collection's last replication
 *   (the class has no LastReplicationTime). One that does not parse (a zero
 *   date: never) is unknown. The collection's own LastApplyTime (when the
 *   last replication was applied on the recovery side) is not used instead:
 *   it is later than the data it applied, so it would make the data look
 *   newer than it is. */
static int s_read_stats(const char *collection, const char *xml, sg_replication_t *out)
{
    char *cls = NULL, *health = NULL, *last = NULL;
    int rc = sg_cimxml_class(xml, &cls);
    if (rc == SG_OK && strcasecmp(cls, S_STATS_CLASS) != 0) {
        sg_warn(S_MOD, "%s: ReplicationStatistics is a %s, not an " S_STATS_CLASS
                       ": health and last replication unknown", collection, cls);
        rc = SG_EPROTO;
    }
    if (rc == SG_OK && (rc = sg_cimxml_property(xml, "ReplicationHealth", &health)) == SG_OK &&
        health) {
        char *end = NULL;
        long v = strtol(health, &end, 10);
        if (end != health && *end == '\0' && v >= SG_HEALTH_NORMAL && v <= SG_HEALTH_CRITICAL)
            out->health = (int)v;
    }
    if (rc == SG_OK || rc == SG_ENOTFOUND)
        rc = sg_cimxml_property(xml, "LastWALReplicationTime", &last);
    int64_t ms = 0;
    if (rc == SG_OK && last && sg_wmi_parse_datetime(last, &ms) == SG_OK && ms > 0)
        out->last_replication_ms = ms;
    if (rc == SG_EPROTO)
        sg_warn(S_MOD, "%s: ReplicationStatistics is not CIM-XML siteguard reads: health and "
                       "last replication unknown", collection);
    free(cls);
    free(health);
    free(last);
    return rc == SG_ENOMEM ? rc : SG_OK;
}

/* The out-parameters of GetReplicationStatistics (its page: ReturnValue,
 * ReplicationStatistics, ReplicationHealthIssues (error description strings,
 * not read), Job "can be null if the task is completed"). Only a return value
 * of 0 carries statistics: with 4096 the method went on as a job, and a job
 * has no out-parameters to read them from (the page says nothing more), so
 * health and last replication stay unknown, as for any error. */
static int s_read_stats_out(IWbemClassObject *o, const char *collection, sg_replication_t *out)
{
    int64_t rv = 0;
    char *xml = NULL;
    if (s_get_int(o, L"ReturnValue", &rv) != SG_OK) {
        sg_warn(S_MOD, "%s: GetReplicationStatistics without a ReturnValue: health and last "
                       "replication unknown", collection);
        return SG_OK;
    }
    if (rv != SG_RC_COMPLETED) {
        sg_warn(S_MOD, "%s: GetReplicationStatistics answered %lld (%s)%s: health and last "
                       "replication unknown", collection, (long long)rv, sg_rc_text((uint32_t)rv),
                rv == SG_RC_JOB_STARTED ? ", a job, which carries no statistics" : "");
        return SG_OK;
    }
    int rc = s_stats_text(o, &xml);
    if (rc == SG_OK && !xml)
        sg_warn(S_MOD, "%s: GetReplicationStatistics gave no ReplicationStatistics: health and "
                       "last replication unknown", collection);
    else if (rc == SG_OK)
        rc = s_read_stats(collection, xml, out);
    free(xml);
    return rc;
}

/* GetReplicationStatistics(Collection) on the service instance. A call that
 * could not be made for a reason other than the connection (no service
 * instance, a method or parameter this WMI does not have, a WMI error)
 * leaves health and last replication unknown; a lost connection or a call
 * that timed out fails (the side did not answer). */
static int s_statistics(s_op_t *op, const char *collection, sg_replication_t *out)
{
    IWbemClassObject *in = NULL, *o = NULL;
    BSTR target = NULL, method = SysAllocString(L"GetReplicationStatistics");
    int rc = method ? s_service_path(op, &target) : SG_ENOMEM;
    if (rc == SG_OK)
        rc = s_in_params(op, L"GetReplicationStatistics", &in);
    if (rc == SG_OK)
        rc = s_put_str(in, L"Collection", collection);
    if (rc == SG_OK)
        rc = s_exec_method(op, target, method, in, &o);
    if (rc == SG_OK)
        rc = s_read_stats_out(o, collection, out);
    else if (rc != SG_ENOMEM && !op->lost) {
        sg_warn(S_MOD, "%s: no replication statistics from %s (%s): health and last replication "
                       "unknown", collection, op->w->where, sg_err_str(rc));
        rc = SG_OK;
    }
    if (o)
        IWbemClassObject_Release(o);
    if (in)
        IWbemClassObject_Release(in);
    SysFreeString(target);
    SysFreeString(method);
    return rc;
}

static int s_get_replication(sg_provider_t *p, const char *collection, sg_replication_t *out)
{
    s_wmi_t *w = (s_wmi_t *)p;
    const sg_replication_t unknown = {.mode = SG_MODE_NONE, .state = -1};
    s_op_t op;
    IWbemClassObject *c = NULL;
    *out = unknown;
    int rc = s_collection_id(collection, NULL);
    if (rc != SG_OK)
        return rc;
    rc = s_begin(w, &op);
    if (rc == SG_OK)
        rc = s_get_object(&op, collection, &c);
    if (rc == SG_OK) {
        s_read_collection(c, out);
        rc = s_statistics(&op, collection, out);
    }
    if (c)
        IWbemClassObject_Release(c);
    s_end(&op);
    if (rc != SG_OK)
        *out = unknown;
    return rc;
}

typedef struct {
    sg_recovery_point_t *items;
    size_t n, cap;
} s_points_t;

static int s_take_point(IWbemClassObject *o, void *arg)
{
    s_points_t *pts = arg;
    if (pts->n == pts->cap) {
        size_t cap = pts->cap ? pts->cap * 2 : 8;
        sg_recovery_point_t *items = realloc(pts->items, cap * sizeof *items);
        if (!items)
            return SG_ENOMEM;
        pts->items = items;
        pts->cap = cap;
    }
    sg_recovery_point_t *rp = &pts->items[pts->n];
    memset(rp, 0, sizeof *rp);
    char *created = NULL;
    int64_t level = 0;
    int rc = s_get_str(o, L"__PATH", &rp->path);
    if (rc == SG_OK && !rp->path)
        rc = SG_EPROTO;
    if (rc == SG_OK && s_get_str(o, L"CreationTime", &created) == SG_OK && created)
        sg_wmi_parse_datetime(created, &rp->created_ms);
    rp->app_consistent = s_get_int(o, L"ConsistencyLevel", &level) == SG_OK && level == 1;
    free(created);
    if (rc != SG_OK) {
        free(rp->path);
        return rc;
    }
    pts->n++;
    return 0;
}


/* Msvm_CollectionRecoveryPoint (root\HyperVCluster\v2; clushyperv/
 * msvm-collectionrecoverypoint) is keyed by CollectionID and InstanceID, and
 * is queried by the collection's CollectionID: the association from the
 * collection declares its Dependent CIM_Collection and may give nothing
 * (HYPERV.md). Each point's __PATH, both keys in it, is what InitiateFailover
 * and TestReplicaCollection are given. */
static int s_list_points(sg_provider_t *p, const char *collection, sg_recovery_point_t **out,
                         size_t *n)
{
    s_wmi_t *w = (s_wmi_t *)p;
    s_points_t pts = {0};
    s_op_t op;
    char *id = NULL, *literal = NULL, *wql = NULL;
    *out = NULL;
    *n = 0;
    int rc = s_collection_id(collection, &id);
    if (rc != SG_OK)
        return rc;
    rc = s_begin(w, &op);
    if (rc == SG_OK && (!(literal = s_wql_string(id)) ||
                        !(wql = sg_strdupf("SELECT * FROM " SG_CIM_POINT_CLASS
                                           " WHERE CollectionID=%s",
                                           literal))))
        rc = SG_ENOMEM;
    if (rc == SG_OK)
        rc = s_query(&op, wql, s_take_point, &pts, NULL);
    s_end(&op);
    free(wql);
    free(literal);
    free(id);
    if (rc != SG_OK) {
        sg_recovery_points_free(pts.items, pts.n);
        return rc;
    }
    *out = pts.items;
    *n = pts.n;
    return SG_OK;
}

/* --- the failover job of a collection ------------------------------------------------ */

/* Msvm_ConcreteJob.JobType "Initiate Failover" (the Failover Clustering
 * Hyper-V provider's Msvm_ConcreteJob page, clushyperv/msvm-concretejob). */
#define S_JOB_TYPE_INITIATE_FAILOVER 97

/* The best InitiateFailover job seen so far: one in flight beats an ended
 * one; between two alike, the later StartTime wins. */
typedef struct {
    int64_t since_ms;
    char *path;      /* owned */
    bool running;
    int64_t start_ms;
} s_job_pick_t;

/* Considers one job: an InitiateFailover job in flight, or one that ended and
 * started at or after since_ms. A job whose StartTime cannot be read counts
 * only while in flight. */
static int s_take_job(IWbemClassObject *o, void *arg)
{
    s_job_pick_t *pick = arg;
    int64_t type = 0, state = 0, start_ms = INT64_MIN;
    if (s_get_int(o, L"JobType", &type) != SG_OK || type != S_JOB_TYPE_INITIATE_FAILOVER ||
        s_get_int(o, L"JobState", &state) != SG_OK)
        return 0;
    char *start = NULL, *path = NULL;
    int rc = s_get_str(o, L"StartTime", &start);
    if (rc == SG_ENOMEM)
        return rc;
    if (!start || sg_wmi_parse_datetime(start, &start_ms) != SG_OK)
        start_ms = INT64_MIN;
    free(start);
    bool running = !sg_job_state_ended((int)state);
    if (!running && start_ms < pick->since_ms)
        return 0; /* ended before the intent: an earlier run's */
    if (pick->path && (pick->running > running ||
                       (pick->running == running && pick->start_ms >= start_ms)))
        return 0;
    rc = s_get_str(o, L"__PATH", &path);
    if (rc != SG_OK || !path)
        return rc == SG_ENOMEM ? rc : 0;
    free(pick->path);
    *pick = (s_job_pick_t){pick->since_ms, path, running, start_ms};
    return 0;
}

/* True for the answers of a WMI that has no such association or class: the
 * lookup is then unavailable, which is "not found", not an error. */
static bool s_no_such_query(HRESULT hr)
{
    return hr == (HRESULT)WBEM_E_INVALID_CLASS || hr == (HRESULT)WBEM_E_INVALID_QUERY ||
           hr == (HRESULT)WBEM_E_NOT_SUPPORTED || hr == (HRESULT)WBEM_E_NOT_FOUND ||
           hr == (HRESULT)WBEM_E_INVALID_OBJECT_PATH;
}

/* The collection's failover jobs are its associators through
 * Msvm_AffectedJobElement (AffectedElement = the collection, AffectingElement
 * = the Msvm_ConcreteJob), filtered here by JobType 97, JobState and
 * StartTime.
 *
 * What this relies on, and how sure it is:
 * - Msvm_AffectedJobElement is documented in root\HyperVCluster\v2
 *   (clushyperv/msvm-affectedjobelement: a CIM_ManagedElement REF
 *   AffectedElement, a CIM_Job REF AffectingElement). Hyper-V associates its
 *   jobs with the elements they change: Microsoft's own samples find the VM a
 *   job created through it, and other Hyper-V clients find the pending jobs of
 *   a VM with it. That the jobs of Msvm_CollectionReplicationService's methods
 *   are associated with the collection is not written anywhere: it is the
 *   same provider's pattern, not verified on a cluster. Without it the query
 *   finds nothing, and a restart falls back to the collection's state and
 *   32775, as it did before this lookup existed.
 * - JobType 97 "Initiate Failover", JobState 2..12, StartTime: documented
 *   (clushyperv/msvm-concretejob).
 * - An ended job is kept for TimeBeforeRemoval (default 5 minutes, same page),
 *   then removed: later than that, only the collection's state tells. */
static int s_find_failover_job(sg_provider_t *p, const char *collection, int64_t since_ms,
                               char **job_path)
{
    s_wmi_t *w = (s_wmi_t *)p;
    s_job_pick_t pick = {.since_ms = since_ms};
    HRESULT hr = S_OK;
    s_op_t op;
    char *wql = NULL;
    *job_path = NULL;
    int rc = s_collection_id(collection, NULL);
    if (rc != SG_OK)
        return rc;
    rc = s_begin(w, &op);
    if (rc == SG_OK && !(wql = sg_strdupf("ASSOCIATORS OF {%s} WHERE AssocClass = "
                                          "Msvm_AffectedJobElement ResultClass = Msvm_ConcreteJob",
                                          collection)))
        rc = SG_ENOMEM;
    if (rc == SG_OK && (rc = s_query(&op, wql, s_take_job, &pick, &hr)) != SG_OK &&
        s_no_such_query(hr)) {
        sg_warn(S_MOD, "%s: no failover job lookup (HRESULT 0x%08lx)", collection,
                (unsigned long)hr);
        rc = SG_ENOTFOUND;
    }
    s_end(&op);
    free(wql);
    if (rc == SG_OK && !pick.path)
        rc = SG_ENOTFOUND;
    if (rc == SG_OK) {
        sg_info(S_MOD, "%s: failover job %s (%s)", collection, pick.path,
                pick.running ? "in flight" : "ended");
        *job_path = pick.path;
        pick.path = NULL;
    }
    free(pick.path);
    return rc;
}

/* Frees a provider or a site's view (and a provider's views). */
static void s_free(s_wmi_t *w)
{
    for (size_t i = 0; i < w->n_sites; i++) {
        if (w->sites[i].view)
            s_free(w->sites[i].view);
        free(w->sites[i].name);
    }
    free(w->sites);
    if (w->svc)
        IWbemServices_Release(w->svc);
    if (w->fixed)
        IWbemServices_Release(w->fixed);
    if (w->locator)
        IWbemLocator_Release(w->locator);
    SysFreeString(w->service_path);
    if (w->ident) {
        free(w->ident->User);
        free(w->ident->Domain);
        if (w->ident->Password)
            sg_platform_secure_zero(w->ident->Password,
                                    w->ident->PasswordLength * sizeof(WCHAR));
        free(w->ident->Password);
        free(w->ident);
    }
    free(w->where);
    free(w->user);
    if (w->com_owner)
        CoUninitialize();
    free(w);
}

static void s_destroy(sg_provider_t *p)
{
    s_wmi_t *w = (s_wmi_t *)p;
    assert(!w->parent && "a site's view is borrowed: its provider frees it");
    if (!w->parent)
        s_free(w);
}

/* The view of `site`: its own connection, or the provider for a site that
 * has none; NULL for a site the provider does not know. A view answers for
 * any site as its provider does. */
static sg_provider_t *s_at_site(sg_provider_t *p, const char *site)
{
    s_wmi_t *w = (s_wmi_t *)p, *root = w->parent ? w->parent : w;
    if (!site)
        return p;
    for (size_t i = 0; i < root->n_sites; i++)
        if (strcmp(root->sites[i].name, site) == 0)
            return root->sites[i].view ? &root->sites[i].view->base : &root->base;
    return NULL;
}

static const sg_provider_ops_t s_ops = {
    .name = "wmi",
    .call = s_call,
    .get_job = s_get_job,
    .get_state = s_get_state,
    .list_recovery_points = s_list_points,
    .find_failover_job = s_find_failover_job,
    .destroy = s_destroy,
    .get_replication = s_get_replication,
    .at_site = s_at_site,
};

/* --- creation -------------------------------------------------------------------------- */

static s_wmi_t *s_alloc(int64_t timeout_ms)
{
    s_wmi_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->base.ops = &s_ops;
    InitializeSRWLock(&w->lock);
    if (timeout_ms <= 0)
        timeout_ms = S_DEFAULT_TIMEOUT_MS;
    w->timeout_ms = (LONG)(timeout_ms < S_MAX_TIMEOUT_MS ? timeout_ms : S_MAX_TIMEOUT_MS);
    return w;
}

sg_provider_t *sg_wmi_new_services(struct IWbemServices *svc, int64_t call_timeout_ms)
{
    s_wmi_t *w = s_alloc(call_timeout_ms);
    if (!w || !(w->where = strdup("(the given services)"))) {
        free(w);
        return NULL;
    }
    IWbemServices_AddRef(svc);
    w->fixed = svc;
    return &w->base;
}

/* "DOMAIN\\user" or "user@domain" with the password, as COM wants them. */
static COAUTHIDENTITY *s_identity(const sg_wmi_cfg_t *cfg)
{
    COAUTHIDENTITY *id = calloc(1, sizeof *id);
    if (!id)
        return NULL;
    const char *sep = strchr(cfg->user, '\\');
    char *domain = sep ? sg_strdupf("%.*s", (int)(sep - cfg->user), cfg->user) : NULL;
    id->User = (USHORT *)s_wide(sep ? sep + 1 : cfg->user);
    id->Domain = domain ? (USHORT *)s_wide(domain) : NULL;
    id->Password = (USHORT *)s_wide(cfg->password ? cfg->password : "");
    free(domain);
    id->UserLength = id->User ? (ULONG)wcslen((WCHAR *)id->User) : 0;
    id->DomainLength = id->Domain ? (ULONG)wcslen((WCHAR *)id->Domain) : 0;
    id->PasswordLength = id->Password ? (ULONG)wcslen((WCHAR *)id->Password) : 0;
    id->Flags = SEC_WINNT_AUTH_IDENTITY_UNICODE;
    if (!id->User || !id->Password || (sep && !id->Domain)) {
        free(id->User);
        free(id->Domain);
        free(id->Password);
        free(id);
        return NULL;
    }
    return id;
}

/* A provider for cfg that connects through `locator` (NULL: WMI's own) when a
 * call first needs it. */
static s_wmi_t *s_new_from_cfg(const sg_wmi_cfg_t *cfg, IWbemLocator *locator)
{
    s_wmi_t *w = s_alloc(cfg->call_timeout_ms);
    if (!w)
        return NULL;
    w->where = sg_strdupf("\\\\%s\\%s", cfg->host ? cfg->host : ".",
                          cfg->name_space ? cfg->name_space : S_DEFAULT_NS);
    w->blanket = true;
    if (!w->where || (cfg->user && (!(w->user = strdup(cfg->user)) ||
                                    !(w->ident = s_identity(cfg))))) {
        s_free(w);
        return NULL;
    }
    if (locator) {
        IWbemLocator_AddRef(locator);
        w->locator = locator;
    }
    return w;
}

/* The provider's sites, each with its own view when it has its own
 * connection: the same locator, and provider.wmi's call timeout. */
static int s_add_sites(s_wmi_t *w, const sg_wmi_site_t *sites, size_t n, IWbemLocator *locator)
{
    if (n == 0)
        return SG_OK;
    if (!(w->sites = calloc(n, sizeof *w->sites)))
        return SG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        s_site_t *site = &w->sites[w->n_sites++];
        if (!(site->name = strdup(sites[i].name ? sites[i].name : "")))
            return SG_ENOMEM;
        if (!sites[i].wmi)
            continue;
        if (!(site->view = s_new_from_cfg(sites[i].wmi, locator)))
            return SG_ENOMEM;
        site->view->parent = w;
        site->view->timeout_ms = w->timeout_ms;
    }
    return SG_OK;
}

/* The provider and its sites' views; NULL when out of memory. */
static s_wmi_t *s_new_with_sites(const sg_wmi_cfg_t *cfg, const sg_wmi_site_t *sites,
                                 size_t n_sites, IWbemLocator *locator)
{
    s_wmi_t *w = s_new_from_cfg(cfg, locator);
    if (w && s_add_sites(w, sites, n_sites, locator) != SG_OK) {
        s_free(w);
        return NULL;
    }
    return w;
}

sg_provider_t *sg_wmi_new_locator(const sg_wmi_cfg_t *cfg, const sg_wmi_site_t *sites,
                                  size_t n_sites, struct IWbemLocator *locator)
{
    s_wmi_t *w = s_new_with_sites(cfg, sites, n_sites, locator);
    return w ? &w->base : NULL;
}

sg_provider_t *sg_wmi_new(const sg_wmi_cfg_t *cfg, const sg_wmi_site_t *sites, size_t n_sites)
{
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    if (FAILED(hr)) {
        s_hr(hr, "CoInitializeEx");
        return NULL;
    }
    /* Once per process; RPC_E_TOO_LATE means someone already chose. */
    HRESULT sec = CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_DEFAULT,
                                       RPC_C_IMP_LEVEL_IMPERSONATE, NULL, EOAC_NONE, NULL);
    if (FAILED(sec) && sec != RPC_E_TOO_LATE)
        s_hr(sec, "CoInitializeSecurity");
    s_wmi_t *w = s_new_with_sites(cfg, sites, n_sites, NULL);
    if (!w) {
        sg_error(S_MOD, "out of memory");
        CoUninitialize();
        return NULL;
    }
    w->com_owner = true;
    sg_info(S_MOD, "WMI at %s%s%s: connecting when first needed (calls wait at most %ld ms)",
            w->where, w->user ? " as " : "", w->user ? w->user : "", (long)w->timeout_ms);
    for (size_t i = 0; i < w->n_sites; i++)
        sg_info(S_MOD, "site %s: WMI at %s%s%s", w->sites[i].name,
                w->sites[i].view ? w->sites[i].view->where : w->where,
                w->sites[i].view && w->sites[i].view->user ? " as " : "",
                w->sites[i].view && w->sites[i].view->user ? w->sites[i].view->user : "");
    return &w->base;
}

/* --- CIM datetimes -------------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t s_days(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads `n` decimal digits at text. */
static int s_digits(const char *text, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return SG_EINVAL;
        v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return SG_OK;
}

int sg_wmi_parse_datetime(const char *t, int64_t *unix_ms)
{
    int64_t y, mo, d, h, mi, s, us, off;
    if (strlen(t) != 25 || t[14] != '.' || (t[21] != '+' && t[21] != '-') ||
        s_digits(t, 4, &y) || s_digits(t + 4, 2, &mo) || s_digits(t + 6, 2, &d) ||
        s_digits(t + 8, 2, &h) || s_digits(t + 10, 2, &mi) || s_digits(t + 12, 2, &s) ||
        s_digits(t + 15, 6, &us) || s_digits(t + 22, 3, &off) || mo < 1 || mo > 12 || d < 1 ||
        d > 31)
        return SG_EINVAL;
    int64_t secs = s_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    secs -= (t[21] == '+' ? 1 : -1) * off * 60; /* the offset is minutes east of UTC */
    *unix_ms = secs * 1000 + us / 1000;
    return SG_OK;
}

int sg_wmi_parse_interval(const char *t, int64_t *ms)
{
    int64_t d, h, mi, s, us;
    if (strlen(t) != 25 || t[14] != '.' || t[21] != ':' || s_digits(t, 8, &d) ||
        s_digits(t + 8, 2, &h) || s_digits(t + 10, 2, &mi) || s_digits(t + 12, 2, &s) ||
        s_digits(t + 15, 6, &us))
        return SG_EINVAL;
    *ms = ((d * 24 + h) * 60 + mi) * 60000 + s * 1000 + us / 1000;
    return SG_OK;
}
