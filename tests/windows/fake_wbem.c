/* fake_wbem: see fake_wbem.h. Test code: aborts on out of memory. */
#include "fake_wbem.h"

#include "provider/cimpath.h"
#include "provider/cimxml.h"

#include <oleauto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX 64
#define S_SERVICE_CLASS "Msvm_CollectionReplicationService"

/* --- what the fake knows of root\HyperVCluster\v2 -------------------------------- */

typedef struct {
    const char *name;
    const char *keys[4];
    size_t n_keys;
    const char *props[24]; /* besides the keys: what an instance has, what a WHERE may name */
} s_class_t;

/* Each class's properties as its page lists them (the service's and the
 * job's, the ones siteguard reads and a few more). */
static const s_class_t s_classes[] = {
    {S_SERVICE_CLASS, {"CreationClassName", "Name", "SystemCreationClassName", "SystemName"}, 4,
     {"InstanceID", "Caption", "Description", "ElementName", "EnabledState", "HealthState",
      "Started"}},
    {"Msvm_VirtualSystemCollection", {"CollectionID"}, 1,
     {"InstanceID", "Caption", "Description", "ElementName", "ReplicationState",
      "ReplicationMode", "FailedOverReplicationType", "LastApplyTime",
      "LastApplyVirtualMachineIds", "LastApplyConsistencyLevel"}},
    {"Msvm_CollectionRecoveryPoint", {"CollectionID", "InstanceID"}, 2,
     {"Caption", "Description", "ElementName", "CreationTime", "VirtualMachineIds",
      "RecoveryPointIds", "ConsistencyLevel"}},
    {"Msvm_ConcreteJob", {"InstanceID"}, 1,
     {"Caption", "Description", "ElementName", "Name", "JobState", "JobType", "StartTime",
      "TimeSubmitted", "ElapsedTime", "PercentComplete", "ErrorCode", "ErrorDescription",
      "ErrorSummaryDescription", "TimeBeforeRemoval", "DeleteOnCompletion", "Cancellable"}},
};

/* Msvm_CollectionReplicationStatistics (clushyperv/
 * msvm-collectionreplicationstatistics): no instances to get or query, only
 * embedded in GetReplicationStatistics' ReplicationStatistics. Each property
 * with its CIM type. */
typedef struct {
    const char *name, *type;
} s_prop_t;

static const s_prop_t s_stats_props[] = {
    {"InstanceID", "string"},
    {"Caption", "string"},
    {"Description", "string"},
    {"ElementName", "string"},
    {"StartStatisticTime", "datetime"},
    {"EndStatisticTime", "datetime"},
    {"ReplicationWALSuccessCount", "uint32"},
    {"ReplicationWALMissCount", "uint32"},
    {"ReplicationSize", "uint64"},
    {"MaxReplicationSize", "uint64"},
    {"PendingReplicationSize", "uint64"},
    {"NetworkFailureCount", "uint32"},
    {"ReplicationFailureCount", "uint32"},
    {"ApplicationConsistentSnapshotFailureCount", "uint32"},
    {"ReplicationHealth", "uint32"},
    {"MaxReplicationLatency", "uint32"},
    {"LastWALReplicationTime", "datetime"},
    {"LastTestFailoverTime", "datetime"},
};

typedef struct {
    const char *name;
    CIMTYPE type;
} s_param_t;

typedef struct {
    const char *name;
    s_param_t in[2];
    size_t n_in;
} s_method_t;

#define S_COLLECTION {"Collection", CIM_REFERENCE}
#define S_POINT {"CollectionRecoveryPoint", CIM_REFERENCE}
#define S_SETTINGS {"CollectionReplicationSettingData", CIM_STRING}
static const s_method_t s_methods[] = {
    {"InitiateFailover", {S_COLLECTION, S_POINT}, 2},
    {"TestReplicaCollection", {S_COLLECTION, S_POINT}, 2},
    {"RevertTestReplicaCollection", {S_COLLECTION}, 1},
    {"CommitFailover", {S_COLLECTION}, 1},
    {"RevertFailover", {S_COLLECTION}, 1},
    {"InitiatePlannedFailover", {S_COLLECTION}, 1},
    {"RevertPlannedFailover", {S_COLLECTION}, 1},
    {"PrepareForReverseReplication", {S_COLLECTION}, 1},
    {"ReverseReplicationRelationship", {S_COLLECTION, S_SETTINGS}, 2},
    {"GetReplicationStatistics", {S_COLLECTION}, 1},
};

/* Msvm_ConcreteJob's methods siteguard calls (clushyperv/msvm-concretejob;
 * hyperv_v2/geterrorex-msvm-concretejob): GetErrorEx, no in-parameters, out
 * Errors (string[], embedded Msvm_Error instances) and ReturnValue. */
#define S_JOB_CLASS "Msvm_ConcreteJob"
static const s_method_t s_job_methods[] = {
    {"GetErrorEx", {{NULL, CIM_EMPTY}}, 0},
};

/* CIM_Error's properties (Msvm_Error adds none: CIM_Error's page, Msvm_Error's
 * page), each with its CIM type: what an embedded error may carry. */
static const s_prop_t s_error_props[] = {
    {"ErrorType", "uint16"},
    {"OtherErrorType", "string"},
    {"OwningEntity", "string"},
    {"MessageID", "string"},
    {"Message", "string"},
    {"PerceivedSeverity", "uint16"},
    {"ProbableCause", "uint16"},
    {"ProbableCauseDescription", "string"},
    {"ErrorSource", "string"},
    {"ErrorSourceFormat", "uint16"},
    {"OtherErrorSourceFormat", "string"},
    {"CIMStatusCode", "uint32"},
    {"CIMStatusCodeDescription", "string"},
};

static const s_method_t *s_job_method(const char *name)
{
    for (size_t i = 0; i < sizeof s_job_methods / sizeof s_job_methods[0]; i++)
        if (strcmp(s_job_methods[i].name, name) == 0)
            return &s_job_methods[i];
    return NULL;
}

static const s_class_t *s_class(const char *name)
{
    for (size_t i = 0; i < sizeof s_classes / sizeof s_classes[0]; i++)
        if (sg_cimpath_same_name(s_classes[i].name, name))
            return &s_classes[i];
    return NULL;
}

static const s_method_t *s_method(const char *name)
{
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
        if (strcmp(s_methods[i].name, name) == 0)
            return &s_methods[i];
    return NULL;
}

static bool s_class_has(const s_class_t *c, const char *prop)
{
    for (size_t i = 0; i < c->n_keys; i++)
        if (sg_cimpath_same_name(c->keys[i], prop))
            return true;
    for (size_t i = 0; i < sizeof c->props / sizeof c->props[0] && c->props[i]; i++)
        if (sg_cimpath_same_name(c->props[i], prop))
            return true;
    return false;
}

/* The key `name` of a parsed path of class c; the unnamed key of Class="v"
 * stands for a class's one key. */
static const char *s_path_key(const sg_cimpath_t *p, const s_class_t *c, const char *name)
{
    if (p->n_keys == 1 && !p->keys[0].name && c->n_keys == 1)
        return p->keys[0].value;
    return sg_cimpath_key(p, name);
}

/* True when the instance path `p` of class c gives every key of c, no more. */
static bool s_keyed_right(const sg_cimpath_t *p, const s_class_t *c)
{
    if (p->n_keys == 1 && !p->keys[0].name)
        return c->n_keys == 1;
    return sg_cimpath_keyed_by(p, c->keys, c->n_keys);
}

/* --- helpers ------------------------------------------------------------------------ */

static void *s_xalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        abort();
    return p;
}

static char *s_xstrdup(const char *s)
{
    char *d = s_xalloc(strlen(s) + 1);
    memcpy(d, s, strlen(s) + 1);
    return d;
}

static WCHAR *s_wdup(const char *s)
{
    size_t n = strlen(s) + 1;
    WCHAR *w = s_xalloc(n * sizeof *w);
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, (int)n);
    return w;
}

static char *s_narrow(const WCHAR *w)
{
    if (!w)
        return s_xstrdup("NULL");
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = s_xalloc((size_t)n + 1);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

static void s_bad_test(const char *what, const char *path)
{
    fprintf(stderr, "fake_wbem: %s: %s\n", what, path);
    abort();
}

/* --- objects --------------------------------------------------------------------- */

struct fake_obj {
    IWbemClassObject iface; /* first: the COM pointer is the object */
    LONG refs;
    WCHAR *names[S_MAX];
    VARIANT values[S_MAX];
    CIMTYPE types[S_MAX];  /* in-parameters: each property's declared type */
    size_t n;
    bool service_class;      /* Msvm_CollectionReplicationService's class object */
    const s_method_t *def;   /* a method's in-parameter definition (a class) */
    const s_method_t *in;    /* in-parameters spawned from def: only its properties */
    bool errors_set;         /* a job: GetErrorEx is scripted (fake_obj_set_job_errors) */
    HRESULT errors_hr;       /* what the call answers, or S_OK */
    fake_obj_t *errors_out;  /* its out-parameters (one reference), when S_OK */
};

static fake_obj_t *s_obj(IWbemClassObject *i) { return (fake_obj_t *)i; }

static HRESULT STDMETHODCALLTYPE s_obj_qi(IWbemClassObject *i, REFIID iid, void **out)
{
    *out = NULL;
    if (!IsEqualIID(iid, &IID_IUnknown) && !IsEqualIID(iid, &IID_IWbemClassObject))
        return E_NOINTERFACE;
    *out = i;
    i->lpVtbl->AddRef(i);
    return S_OK;
}

static ULONG STDMETHODCALLTYPE s_obj_addref(IWbemClassObject *i)
{
    return (ULONG)InterlockedIncrement(&s_obj(i)->refs);
}

static ULONG STDMETHODCALLTYPE s_obj_release(IWbemClassObject *i)
{
    fake_obj_t *o = s_obj(i);
    LONG left = InterlockedDecrement(&o->refs);
    if (left == 0) {
        for (size_t k = 0; k < o->n; k++) {
            free(o->names[k]);
            VariantClear(&o->values[k]);
        }
        if (o->errors_out)
            s_obj_release(&o->errors_out->iface);
        free(o);
    }
    return (ULONG)left;
}

static VARIANT *s_slot(fake_obj_t *o, const WCHAR *name, BOOL create, CIMTYPE type)
{
    for (size_t k = 0; k < o->n; k++)
        if (_wcsicmp(o->names[k], name) == 0)
            return &o->values[k];
    if (!create || o->n == S_MAX)
        return NULL;
    size_t len = wcslen(name) + 1;
    o->names[o->n] = s_xalloc(len * sizeof(WCHAR));
    memcpy(o->names[o->n], name, len * sizeof(WCHAR));
    VariantInit(&o->values[o->n]);
    V_VT(&o->values[o->n]) = VT_NULL;
    o->types[o->n] = type;
    return &o->values[o->n++];
}

static CIMTYPE s_type_of(const fake_obj_t *o, const WCHAR *name)
{
    for (size_t k = 0; k < o->n; k++)
        if (_wcsicmp(o->names[k], name) == 0)
            return o->types[k];
    return CIM_EMPTY;
}

static HRESULT STDMETHODCALLTYPE s_obj_get(IWbemClassObject *i, LPCWSTR name, LONG flags,
                                           VARIANT *v, CIMTYPE *type, LONG *flavor)
{
    (void)flags;
    (void)flavor;
    VARIANT *have = s_slot(s_obj(i), name, FALSE, CIM_EMPTY);
    if (!have)
        return WBEM_E_NOT_FOUND;
    if (type)
        *type = s_type_of(s_obj(i), name);
    VariantInit(v);
    return VariantCopy(v, have);
}

/* True when a value of VARIANT type vt may be put in a property of `type`. */
static bool s_fits(CIMTYPE type, VARTYPE vt)
{
    if (vt == VT_NULL || vt == VT_EMPTY)
        return true;
    switch (type) {
    case CIM_REFERENCE:
    case CIM_STRING:
    case CIM_DATETIME: return vt == VT_BSTR;
    case CIM_UINT32:
    case CIM_SINT32:
    case CIM_UINT16: return vt == VT_I4;
    default: return true;
    }
}

static HRESULT STDMETHODCALLTYPE s_obj_put(IWbemClassObject *i, LPCWSTR name, LONG flags,
                                           VARIANT *v, CIMTYPE type)
{
    (void)flags;
    fake_obj_t *o = s_obj(i);
    VARIANT *slot = s_slot(o, name, !o->in, CIM_EMPTY);
    if (!slot)
        return o->in ? WBEM_E_NOT_FOUND : WBEM_E_OUT_OF_MEMORY; /* not an in-parameter */
    CIMTYPE declared = s_type_of(o, name);
    if (o->in && ((type != 0 && type != declared) || !s_fits(declared, V_VT(v))))
        return WBEM_E_TYPE_MISMATCH;
    VariantClear(slot);
    return VariantCopy(slot, v);
}

static fake_obj_t *s_in_params(const s_method_t *m, bool def)
{
    fake_obj_t *o = fake_obj_new();
    for (size_t k = 0; k < m->n_in; k++) {
        WCHAR *w = s_wdup(m->in[k].name);
        s_slot(o, w, TRUE, m->in[k].type);
        free(w);
    }
    if (def)
        o->def = m;
    else
        o->in = m;
    return o;
}

static HRESULT STDMETHODCALLTYPE s_obj_spawn(IWbemClassObject *i, LONG flags,
                                             IWbemClassObject **out)
{
    (void)flags;
    *out = NULL;
    if (!s_obj(i)->def)
        return WBEM_E_INVALID_OPERATION; /* not a class the fake can instantiate */
    *out = fake_obj_iface(s_in_params(s_obj(i)->def, false));
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE s_obj_method(IWbemClassObject *i, LPCWSTR name, LONG flags,
                                              IWbemClassObject **in, IWbemClassObject **out)
{
    (void)flags;
    if (in)
        *in = NULL;
    if (out)
        *out = NULL;
    char *n = s_narrow(name);
    const s_method_t *m = s_obj(i)->service_class ? s_method(n) : NULL;
    free(n);
    if (!m)
        return WBEM_E_NOT_FOUND;
    if (in)
        *in = fake_obj_iface(s_in_params(m, true));
    return S_OK;
}

static IWbemClassObjectVtbl s_obj_vtbl = {
    .QueryInterface = s_obj_qi,
    .AddRef = s_obj_addref,
    .Release = s_obj_release,
    .Get = s_obj_get,
    .Put = s_obj_put,
    .SpawnInstance = s_obj_spawn,
    .GetMethod = s_obj_method,
};

fake_obj_t *fake_obj_new(void)
{
    fake_obj_t *o = s_xalloc(sizeof *o);
    o->iface.lpVtbl = &s_obj_vtbl;
    o->refs = 1;
    return o;
}

IWbemClassObject *fake_obj_iface(fake_obj_t *o) { return &o->iface; }

void fake_obj_set_int(fake_obj_t *o, const char *name, LONG value)
{
    WCHAR *w = s_wdup(name);
    VARIANT *v = s_slot(o, w, TRUE, CIM_UINT32);
    free(w);
    VariantClear(v);
    V_VT(v) = VT_I4;
    V_I4(v) = value;
}

void fake_obj_set_str(fake_obj_t *o, const char *name, const char *value)
{
    WCHAR *w = s_wdup(name);
    VARIANT *v = s_slot(o, w, TRUE, CIM_STRING);
    free(w);
    VariantClear(v);
    if (!value) {
        V_VT(v) = VT_NULL;
        return;
    }
    WCHAR *wv = s_wdup(value);
    V_VT(v) = VT_BSTR;
    V_BSTR(v) = SysAllocString(wv);
    free(wv);
}

void fake_obj_set_strs(fake_obj_t *o, const char *name, const char *const *values, size_t n)
{
    WCHAR *w = s_wdup(name);
    VARIANT *v = s_slot(o, w, TRUE, CIM_STRING | CIM_FLAG_ARRAY);
    free(w);
    VariantClear(v);
    SAFEARRAY *a = SafeArrayCreateVector(VT_BSTR, 0, (ULONG)n);
    if (!a)
        abort();
    for (LONG k = 0; k < (LONG)n; k++) {
        WCHAR *wv = s_wdup(values[k]);
        BSTR b = SysAllocString(wv);
        free(wv);
        if (!b || FAILED(SafeArrayPutElement(a, &k, b)))
            abort();
        SysFreeString(b); /* SafeArrayPutElement copied it */
    }
    V_VT(v) = VT_ARRAY | VT_BSTR;
    V_ARRAY(v) = a;
}

/* `text` with &, < and > escaped for XML (caller frees). */
static char *s_xml_escape(const char *text)
{
    char *e = s_xalloc(strlen(text) * 5 + 1), *d = e;
    for (const char *c = text; *c; c++) {
        const char *rep = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : NULL;
        if (rep) {
            memcpy(d, rep, strlen(rep));
            d += strlen(rep);
        } else {
            *d++ = *c;
        }
    }
    *d = '\0';
    return e;
}

/* An instance of `cls` in CIM-XML with `props` (name, value or NULL), each
 * typed from `table`: a name not in it is a broken test (`what`). */
static char *s_instance_xml(const char *cls, const s_prop_t *table, size_t n_table,
                            const char *const props[][2], size_t n, const char *what)
{
    size_t cap = 256 + strlen(cls);
    for (size_t k = 0; k < n; k++)
        cap += 96 + strlen(props[k][0]) + (props[k][1] ? strlen(props[k][1]) * 5 : 0);
    char *xml = s_xalloc(cap);
    size_t len = (size_t)snprintf(xml, cap, "<INSTANCE CLASSNAME=\"%s\">", cls);
    for (size_t k = 0; k < n; k++) {
        const char *type = NULL;
        for (size_t j = 0; j < n_table && !type; j++)
            if (strcmp(table[j].name, props[k][0]) == 0)
                type = table[j].type;
        if (!type)
            s_bad_test(what, props[k][0]);
        char *value = props[k][1] ? s_xml_escape(props[k][1]) : NULL;
        len += (size_t)snprintf(xml + len, cap - len,
                                "<PROPERTY NAME=\"%s\" TYPE=\"%s\">%s%s%s</PROPERTY>",
                                props[k][0], type, value ? "<VALUE>" : "", value ? value : "",
                                value ? "</VALUE>" : "");
        free(value);
    }
    snprintf(xml + len, cap - len, "</INSTANCE>");
    return xml;
}

char *fake_wbem_stats_xml(const char *const props[][2], size_t n)
{
    return s_instance_xml("Msvm_CollectionReplicationStatistics", s_stats_props,
                          sizeof s_stats_props / sizeof s_stats_props[0], props, n,
                          "not a property of Msvm_CollectionReplicationStatistics");
}

char *fake_wbem_error_xml(const char *cls, const char *const props[][2], size_t n)
{
    if (_stricmp(cls, "Msvm_Error") != 0 && _stricmp(cls, "CIM_Error") != 0)
        s_bad_test("not an error class", cls);
    return s_instance_xml(cls, s_error_props, sizeof s_error_props / sizeof s_error_props[0],
                          props, n, "not a scalar property of CIM_Error");
}

void fake_obj_set_job_errors(fake_obj_t *job, HRESULT hr, LONG return_value,
                             const char *const *errors, size_t n)
{
    if (job->errors_out)
        s_obj_release(&job->errors_out->iface);
    job->errors_out = NULL;
    job->errors_set = true;
    job->errors_hr = hr;
    if (FAILED(hr))
        return;
    fake_obj_t *out = fake_obj_new();
    fake_obj_set_int(out, "ReturnValue", return_value);
    if (errors)
        fake_obj_set_strs(out, "Errors", errors, n);
    else
        fake_obj_set_str(out, "Errors", NULL);
    job->errors_out = out;
}

/* A string property of `o` (caller frees), or NULL. */
static char *s_obj_str(fake_obj_t *o, const char *name)
{
    WCHAR *w = s_wdup(name);
    VARIANT *v = s_slot(o, w, FALSE, CIM_EMPTY);
    free(w);
    return v && V_VT(v) == VT_BSTR ? s_narrow(V_BSTR(v)) : NULL;
}

/* --- the fake ------------------------------------------------------------------------ */

typedef struct {
    char *key;            /* a fragment (scripted queries) or a path (instances) */
    char *host;           /* instances: the one host that has it, or NULL: every host */
    sg_cimpath_t path;    /* instances: the parsed path */
    const s_class_t *cls; /* instances: the class */
    fake_obj_t **objs;
    size_t n;
    HRESULT hr;           /* scripted queries: the failure to answer with, or S_OK */
} s_entry_t;

typedef struct {
    HRESULT hr;
    fake_obj_t *out;
} s_result_t;

/* A services object: the one given directly (host NULL), or one per host
 * that ConnectServer reached. */
typedef struct {
    IWbemServices iface; /* first: the COM pointer is the object */
    LONG refs;
    fake_wbem_t *f;
    char *host;
} s_svc_t;

struct fake_wbem {
    s_svc_t svc;
    IWbemLocator locator;
    LONG refs;
    CRITICAL_SECTION lock; /* guards everything below */
    s_svc_t *hosts[S_MAX]; /* each host's services, made by its first ConnectServer */
    size_t n_hosts;
    char *down[S_MAX];     /* hosts that are unreachable */
    size_t n_down;
    s_entry_t objects[S_MAX], queries[S_MAX];
    size_t n_objects, n_queries;
    s_result_t results[S_MAX];
    size_t n_results, next_result;
    HRESULT connect_hr;
    int connect_failures;
    char *hang_prefix;     /* the next call starting with it hangs */
    HANDLE hung, released; /* manual-reset events */
    char *calls[512];
    char *call_hosts[512]; /* the host each call went to, or NULL: the services given */
    size_t n_calls;
};

static fake_wbem_t *s_fw(IWbemServices *i) { return ((s_svc_t *)i)->f; }

static const char *s_svc_host(IWbemServices *i) { return ((s_svc_t *)i)->host; }

/* Host names compare without regard to case; NULL is the services given. */
static bool s_same_host(const char *a, const char *b)
{
    return (!a && !b) || (a && b && _stricmp(a, b) == 0);
}

/* Whether `host` is down. Under the lock. */
static bool s_is_down(fake_wbem_t *f, const char *host)
{
    for (size_t k = 0; host && k < f->n_down; k++)
        if (s_same_host(f->down[k], host))
            return true;
    return false;
}

/* What a call to a host that is down answers: the RPC server is gone. */
#define S_HOST_DOWN HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE)

static bool s_down(fake_wbem_t *f, const char *host)
{
    EnterCriticalSection(&f->lock);
    bool down = s_is_down(f, host);
    LeaveCriticalSection(&f->lock);
    return down;
}

static fake_wbem_t *s_fl(IWbemLocator *i)
{
    return (fake_wbem_t *)((char *)i - offsetof(fake_wbem_t, locator));
}

/* Records a call made to `host`; true when it is the one to hang. */
static bool s_record(fake_wbem_t *f, const char *host, char *line)
{
    EnterCriticalSection(&f->lock);
    bool hang = f->hang_prefix && strncmp(line, f->hang_prefix, strlen(f->hang_prefix)) == 0;
    if (hang) {
        free(f->hang_prefix);
        f->hang_prefix = NULL;
    }
    if (f->n_calls < sizeof f->calls / sizeof f->calls[0]) {
        f->call_hosts[f->n_calls] = host ? s_xstrdup(host) : NULL;
        f->calls[f->n_calls++] = line;
    } else {
        free(line);
    }
    LeaveCriticalSection(&f->lock);
    return hang;
}

/* A hung call waits: until released (true), or `timeout` ms. */
static bool s_hang(fake_wbem_t *f, LONG timeout)
{
    SetEvent(f->hung);
    DWORD ms = timeout == (LONG)WBEM_INFINITE ? INFINITE : (DWORD)timeout;
    return WaitForSingleObject(f->released, ms) == WAIT_OBJECT_0;
}

static char *s_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = s_xalloc(n);
    snprintf(s, n, "%s %s", a, b);
    return s;
}

/* --- enumerators ---------------------------------------------------------------------- */

typedef struct {
    IEnumWbemClassObject iface;
    LONG refs;
    fake_wbem_t *f;
    fake_obj_t **objs; /* each with a reference of the enumerator's */
    size_t n, next;
    bool hang;
} s_enum_t;

static HRESULT STDMETHODCALLTYPE s_en_qi(IEnumWbemClassObject *i, REFIID iid, void **out)
{
    *out = NULL;
    if (!IsEqualIID(iid, &IID_IUnknown) && !IsEqualIID(iid, &IID_IEnumWbemClassObject))
        return E_NOINTERFACE;
    *out = i;
    i->lpVtbl->AddRef(i);
    return S_OK;
}

static ULONG STDMETHODCALLTYPE s_en_addref(IEnumWbemClassObject *i)
{
    return (ULONG)InterlockedIncrement(&((s_enum_t *)i)->refs);
}

static ULONG STDMETHODCALLTYPE s_en_release(IEnumWbemClassObject *i)
{
    s_enum_t *e = (s_enum_t *)i;
    LONG left = InterlockedDecrement(&e->refs);
    if (left == 0) {
        for (size_t k = 0; k < e->n; k++)
            s_obj_release(fake_obj_iface(e->objs[k]));
        free(e->objs);
        free(e);
    }
    return (ULONG)left;
}

static HRESULT STDMETHODCALLTYPE s_en_next(IEnumWbemClassObject *i, LONG timeout, ULONG count,
                                           IWbemClassObject **objs, ULONG *returned)
{
    s_enum_t *e = (s_enum_t *)i;
    *returned = 0;
    if (e->hang) {
        if (!s_hang(e->f, timeout))
            return WBEM_S_TIMEDOUT;
        e->hang = false;
    }
    ULONG k = 0;
    while (k < count && e->next < e->n) {
        objs[k] = fake_obj_iface(e->objs[e->next++]);
        objs[k]->lpVtbl->AddRef(objs[k]);
        k++;
    }
    *returned = k;
    return k == count ? WBEM_S_NO_ERROR : WBEM_S_FALSE;
}

static IEnumWbemClassObjectVtbl s_en_vtbl = {
    .QueryInterface = s_en_qi,
    .AddRef = s_en_addref,
    .Release = s_en_release,
    .Next = s_en_next,
};

static s_enum_t *s_enum_new(fake_wbem_t *f, bool hang)
{
    s_enum_t *e = s_xalloc(sizeof *e);
    e->iface.lpVtbl = &s_en_vtbl;
    e->refs = 1;
    e->f = f;
    e->hang = hang;
    e->objs = s_xalloc(S_MAX * sizeof *e->objs);
    return e;
}

static void s_enum_add(s_enum_t *e, fake_obj_t *o)
{
    if (e->n == S_MAX)
        abort();
    s_obj_addref(fake_obj_iface(o));
    e->objs[e->n++] = o;
}

/* --- call results (semisynchronous calls) ----------------------------------------------- */

typedef struct {
    IWbemCallResult iface;
    LONG refs;
    fake_wbem_t *f;
    HRESULT hr;
    fake_obj_t *obj; /* a reference of the call result's, or NULL */
    bool hang;
} s_cr_t;

static HRESULT STDMETHODCALLTYPE s_cr_qi(IWbemCallResult *i, REFIID iid, void **out)
{
    *out = NULL;
    if (!IsEqualIID(iid, &IID_IUnknown) && !IsEqualIID(iid, &IID_IWbemCallResult))
        return E_NOINTERFACE;
    *out = i;
    i->lpVtbl->AddRef(i);
    return S_OK;
}

static ULONG STDMETHODCALLTYPE s_cr_addref(IWbemCallResult *i)
{
    return (ULONG)InterlockedIncrement(&((s_cr_t *)i)->refs);
}

static ULONG STDMETHODCALLTYPE s_cr_release(IWbemCallResult *i)
{
    s_cr_t *c = (s_cr_t *)i;
    LONG left = InterlockedDecrement(&c->refs);
    if (left == 0) {
        if (c->obj)
            s_obj_release(fake_obj_iface(c->obj));
        free(c);
    }
    return (ULONG)left;
}

static HRESULT s_cr_wait(s_cr_t *c, LONG timeout)
{
    if (c->hang) {
        if (!s_hang(c->f, timeout))
            return WBEM_S_TIMEDOUT;
        c->hang = false;
    }
    return c->hr;
}

static HRESULT STDMETHODCALLTYPE s_cr_object(IWbemCallResult *i, LONG timeout,
                                             IWbemClassObject **out)
{
    s_cr_t *c = (s_cr_t *)i;
    *out = NULL;
    HRESULT hr = s_cr_wait(c, timeout);
    if (hr != S_OK)
        return hr;
    if (!c->obj)
        return WBEM_E_FAILED;
    *out = fake_obj_iface(c->obj);
    (*out)->lpVtbl->AddRef(*out);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE s_cr_status(IWbemCallResult *i, LONG timeout, LONG *status)
{
    HRESULT hr = s_cr_wait((s_cr_t *)i, timeout);
    if (hr == WBEM_S_TIMEDOUT)
        return hr;
    *status = hr;
    return S_OK;
}

static IWbemCallResultVtbl s_cr_vtbl = {
    .QueryInterface = s_cr_qi,
    .AddRef = s_cr_addref,
    .Release = s_cr_release,
    .GetResultObject = s_cr_object,
    .GetCallStatus = s_cr_status,
};

/* Answers a call: semisynchronously through a call result when `call` is
 * given, else synchronously into *out (a hang then waits without limit).
 * Takes `obj` (a reference), which may be NULL on failure. */
static HRESULT s_answer(fake_wbem_t *f, bool hang, HRESULT hr, fake_obj_t *obj,
                        IWbemClassObject **out, IWbemCallResult **call)
{
    if (call) {
        s_cr_t *c = s_xalloc(sizeof *c);
        c->iface.lpVtbl = &s_cr_vtbl;
        c->refs = 1;
        c->f = f;
        c->hr = hr;
        c->obj = obj;
        c->hang = hang;
        *call = &c->iface;
        return WBEM_S_NO_ERROR;
    }
    if (hang)
        s_hang(f, (LONG)WBEM_INFINITE);
    if (FAILED(hr) || !out) {
        if (obj)
            s_obj_release(fake_obj_iface(obj));
        return FAILED(hr) ? hr : (HRESULT)WBEM_E_INVALID_PARAMETER;
    }
    *out = fake_obj_iface(obj);
    return S_OK;
}

/* --- services: GetObject ------------------------------------------------------------------ */

static HRESULT STDMETHODCALLTYPE s_qi(IWbemServices *i, REFIID iid, void **out)
{
    *out = NULL;
    if (!IsEqualIID(iid, &IID_IUnknown) && !IsEqualIID(iid, &IID_IWbemServices))
        return E_NOINTERFACE;
    *out = i;
    i->lpVtbl->AddRef(i);
    return S_OK;
}

static ULONG STDMETHODCALLTYPE s_addref(IWbemServices *i)
{
    return (ULONG)InterlockedIncrement(&((s_svc_t *)i)->refs);
}

static ULONG STDMETHODCALLTYPE s_release(IWbemServices *i)
{
    return (ULONG)InterlockedDecrement(&((s_svc_t *)i)->refs);
}

/* The entry of the instance at `p` of class c that `host` sees: its own, or
 * else one every host has; NULL when none. Under the lock. */
static const s_entry_t *s_find_entry(fake_wbem_t *f, const char *host, const sg_cimpath_t *p,
                                     const s_class_t *c)
{
    const s_entry_t *shared = NULL;
    for (size_t k = 0; k < f->n_objects; k++) {
        const s_entry_t *e = &f->objects[k];
        bool same = e->cls == c && (!e->host || s_same_host(e->host, host));
        for (size_t j = 0; same && j < c->n_keys; j++)
            same = strcmp(s_path_key(&e->path, c, c->keys[j]), s_path_key(p, c, c->keys[j])) == 0;
        if (same && e->host)
            return e;
        if (same && !shared)
            shared = e;
    }
    return shared;
}

static fake_obj_t *s_find_instance(fake_wbem_t *f, const char *host, const sg_cimpath_t *p,
                                   const s_class_t *c)
{
    const s_entry_t *e = s_find_entry(f, host, p, c);
    return e ? e->objs[0] : NULL;
}

/* What GetObject on `host` finds at `text`: *hr and the object (a new
 * reference). */
static fake_obj_t *s_lookup(fake_wbem_t *f, const char *host, const char *text, HRESULT *hr)
{
    sg_cimpath_t p;
    fake_obj_t *o = NULL;
    if (sg_cimpath_parse(text, &p) != 0) {
        *hr = WBEM_E_INVALID_OBJECT_PATH;
        return NULL;
    }
    const s_class_t *c = s_class(p.class_name);
    if (!c) {
        *hr = WBEM_E_INVALID_CLASS;
    } else if (p.n_keys == 0 && !p.singleton) {
        o = fake_obj_new(); /* the class */
        o->service_class = strcmp(c->name, S_SERVICE_CLASS) == 0;
        *hr = S_OK;
    } else if (!s_keyed_right(&p, c)) {
        *hr = WBEM_E_INVALID_OBJECT_PATH;
    } else {
        EnterCriticalSection(&f->lock);
        if ((o = s_find_instance(f, host, &p, c)))
            s_obj_addref(fake_obj_iface(o));
        LeaveCriticalSection(&f->lock);
        *hr = o ? S_OK : WBEM_E_NOT_FOUND;
    }
    sg_cimpath_fini(&p);
    return o;
}

static HRESULT STDMETHODCALLTYPE s_get_object(IWbemServices *i, const BSTR path, LONG flags,
                                              IWbemContext *ctx, IWbemClassObject **out,
                                              IWbemCallResult **call)
{
    (void)ctx;
    fake_wbem_t *f = s_fw(i);
    char *p = s_narrow(path);
    bool semisync = (flags & WBEM_FLAG_RETURN_IMMEDIATELY) != 0;
    if (out)
        *out = NULL;
    if (semisync && (out || !call))
        return WBEM_E_INVALID_PARAMETER; /* semisynchronous: the result comes by `call` */
    bool hang = s_record(f, s_svc_host(i), s_join("GetObject", p));
    HRESULT hr;
    fake_obj_t *o = NULL;
    if (s_down(f, s_svc_host(i))) {
        free(p);
        return S_HOST_DOWN;
    }
    o = s_lookup(f, s_svc_host(i), p, &hr);
    free(p);
    return s_answer(f, hang, hr, o, out, semisync ? call : NULL);
}

/* --- services: ExecQuery ---------------------------------------------------------------- */

static const char *s_skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* A keyword at *s (case ignored), followed by a space or the end. */
static bool s_word(const char **s, const char *word)
{
    const char *p = s_skip_ws(*s);
    size_t n = strlen(word);
    if (_strnicmp(p, word, n) != 0 || (p[n] && p[n] != ' ' && p[n] != '\t'))
        return false;
    *s = p + n;
    return true;
}

static char *s_ident(const char **s)
{
    const char *p = s_skip_ws(*s);
    size_t n = 0;
    while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z') ||
           (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
        n++;
    if (n == 0)
        return NULL;
    char *id = s_xalloc(n + 1);
    memcpy(id, p, n);
    *s = p + n;
    return id;
}

/* A WQL string literal: 'x' or "x", `\` escaping the next character. */
static char *s_literal(const char **s)
{
    const char *p = s_skip_ws(*s);
    char quote = *p;
    if (quote != '\'' && quote != '"')
        return NULL;
    char *v = s_xalloc(strlen(p) + 1);
    size_t n = 0;
    for (p++; *p && *p != quote; p++) {
        if (*p == '\\' && p[1])
            p++;
        v[n++] = *p;
    }
    if (*p != quote) {
        free(v);
        return NULL;
    }
    *s = p + 1;
    return v;
}

typedef struct {
    char *prop[4];
    char *value[4];
    size_t n;
} s_where_t;

static void s_where_fini(s_where_t *w)
{
    for (size_t k = 0; k < w->n; k++) {
        free(w->prop[k]);
        free(w->value[k]);
    }
}

/* Prop = 'x' [AND Prop = 'x' ...] to the end. */
static HRESULT s_parse_where(const char *s, const s_class_t *c, s_where_t *w)
{
    do {
        char *prop = s_ident(&s);
        s = s_skip_ws(s);
        char *value = prop && *s == '=' ? (s++, s_literal(&s)) : NULL;
        if (!prop || !value || w->n == 4) {
            free(prop);
            free(value);
            return WBEM_E_INVALID_QUERY;
        }
        w->prop[w->n] = prop;
        w->value[w->n++] = value;
        if (!s_class_has(c, prop))
            return WBEM_E_INVALID_QUERY;
    } while (s_word(&s, "AND"));
    return *s_skip_ws(s) ? WBEM_E_INVALID_QUERY : S_OK;
}

static bool s_matches(fake_obj_t *o, const s_where_t *w)
{
    for (size_t k = 0; k < w->n; k++) {
        char *have = s_obj_str(o, w->prop[k]);
        bool same = have && _stricmp(have, w->value[k]) == 0;
        free(have);
        if (!same)
            return false;
    }
    return true;
}

/* SELECT * FROM Class [WHERE ...] over the instances. */
static HRESULT s_select(fake_wbem_t *f, const char *host, const char *q, s_enum_t *e)
{
    const char *s = q;
    if (!s_word(&s, "SELECT") || *(s = s_skip_ws(s)) != '*' || !(s++, s_word(&s, "FROM")))
        return WBEM_E_INVALID_QUERY;
    char *name = s_ident(&s);
    const s_class_t *c = name ? s_class(name) : NULL;
    free(name);
    if (!c)
        return WBEM_E_INVALID_CLASS;
    s_where_t w = {0};
    HRESULT hr = s_word(&s, "WHERE") ? s_parse_where(s, c, &w)
                                      : (*s_skip_ws(s) ? (HRESULT)WBEM_E_INVALID_QUERY : S_OK);
    EnterCriticalSection(&f->lock);
    for (size_t k = 0; SUCCEEDED(hr) && k < f->n_objects; k++) {
        const s_entry_t *o = &f->objects[k];
        /* what `host` sees: its own instance, or else the shared one */
        if (o->cls == c && s_find_entry(f, host, &o->path, c) == o && s_matches(o->objs[0], &w))
            s_enum_add(e, o->objs[0]);
    }
    LeaveCriticalSection(&f->lock);
    s_where_fini(&w);
    return hr;
}

/* A scripted answer for `q`: true when one matched (*hr, and objects in e). */
static bool s_scripted(fake_wbem_t *f, const char *q, s_enum_t *e, HRESULT *hr)
{
    const s_entry_t *hit = NULL;
    EnterCriticalSection(&f->lock);
    for (size_t k = 0; k < f->n_queries && !hit; k++)
        if (strstr(q, f->queries[k].key))
            hit = &f->queries[k];
    *hr = hit ? hit->hr : S_OK;
    for (size_t k = 0; hit && SUCCEEDED(*hr) && k < hit->n; k++)
        s_enum_add(e, hit->objs[k]);
    LeaveCriticalSection(&f->lock);
    return hit != NULL;
}

static HRESULT STDMETHODCALLTYPE s_exec_query(IWbemServices *i, const BSTR lang, const BSTR query,
                                              LONG flags, IWbemContext *ctx,
                                              IEnumWbemClassObject **out)
{
    (void)flags;
    (void)ctx;
    fake_wbem_t *f = s_fw(i);
    char *q = s_narrow(query), *l = s_narrow(lang);
    bool hang = s_record(f, s_svc_host(i), s_join("ExecQuery", q));
    s_enum_t *e = s_enum_new(f, hang);
    HRESULT hr = WBEM_E_INVALID_QUERY_TYPE;
    if (s_down(f, s_svc_host(i)))
        hr = S_HOST_DOWN;
    else if (strcmp(l, "WQL") == 0 && !s_scripted(f, q, e, &hr))
        hr = s_select(f, s_svc_host(i), q, e);
    free(q);
    free(l);
    *out = NULL;
    if (FAILED(hr)) {
        s_en_release(&e->iface);
        return hr;
    }
    *out = &e->iface;
    return S_OK;
}

/* --- services: ExecMethod ---------------------------------------------------------------- */

/* A string parameter of the in-parameters (caller frees), or "NULL". */
static char *s_param(IWbemClassObject *in, const WCHAR *name)
{
    VARIANT v;
    VariantInit(&v);
    char *text;
    if (in && SUCCEEDED(in->lpVtbl->Get(in, name, 0, &v, NULL, NULL)) && V_VT(&v) == VT_BSTR)
        text = s_narrow(V_BSTR(&v));
    else
        text = s_xstrdup("NULL");
    VariantClear(&v);
    return text;
}

/* The checks of a call on `host` on `path` of method `m` with `in` (see
 * fake_wbem.h). */
static HRESULT s_check_call(fake_wbem_t *f, const char *host, const char *path,
                            const s_method_t *m, IWbemClassObject *in, const char *coll,
                            const char *point, const char *settings)
{
    HRESULT hr;
    fake_obj_t *target = s_lookup(f, host, path, &hr);
    bool service = target && !target->service_class; /* an instance, not the class */
    if (target)
        s_obj_release(fake_obj_iface(target));
    sg_cimpath_t p = {0};
    bool service_class = sg_cimpath_parse(path, &p) == 0 &&
                         sg_cimpath_same_name(p.class_name, S_SERVICE_CLASS);
    sg_cimpath_fini(&p);
    if (FAILED(hr))
        return hr;
    if (!service || !service_class)
        return WBEM_E_INVALID_METHOD; /* methods of an instance of the service only */
    if (!m)
        return WBEM_E_INVALID_METHOD;
    if (!in || s_obj(in)->in != m)
        return WBEM_E_INVALID_METHOD_PARAMETERS;
    sg_cimpath_coll_t kind;
    if (strcmp(coll, "NULL") == 0 || sg_cimpath_collection(coll, &kind, NULL) != 0 ||
        kind != SG_CIMPATH_COLLECTION_ID)
        return WBEM_E_INVALID_METHOD_PARAMETERS;
    if (strcmp(point, "NULL") != 0) {
        bool ok = sg_cimpath_parse(point, &p) == 0 && sg_cimpath_is_point(&p);
        sg_cimpath_fini(&p);
        if (!ok)
            return WBEM_E_INVALID_METHOD_PARAMETERS;
    }
    if (strcmp(settings, "NULL") != 0) {
        char *cls = NULL;
        bool ok = sg_cimxml_class(settings, &cls) == 0 &&
                  _stricmp(cls, "Msvm_CollectionReplicationSettingData") == 0;
        free(cls);
        if (!ok)
            return WBEM_E_INVALID_METHOD_PARAMETERS; /* not an embedded settings instance */
    }
    return S_OK;
}

/* True when `path` names Msvm_ConcreteJob (its class or an instance). */
static bool s_job_path(const char *path)
{
    sg_cimpath_t p = {0};
    bool job = sg_cimpath_parse(path, &p) == 0 && sg_cimpath_same_name(p.class_name, S_JOB_CLASS);
    sg_cimpath_fini(&p);
    return job;
}

/* A call on `host` of the job method `m` on `path` with `in`: a job instance
 * it has (WBEM_E_NOT_FOUND, or the path's own error, otherwise; the class
 * itself WBEM_E_INVALID_METHOD: GetErrorEx is not static), a method of the
 * job's (WBEM_E_INVALID_METHOD), no in-parameters (GetErrorEx declares none;
 * what WMI answers to in-parameters it does not declare is not documented:
 * refused loudly, WBEM_E_INVALID_METHOD_PARAMETERS). Then the job's scripted
 * answer (fake_obj_set_job_errors), WBEM_E_FAILED with none. */
static HRESULT s_job_call(fake_wbem_t *f, const char *host, const char *path,
                          const s_method_t *m, IWbemClassObject *in, fake_obj_t **result)
{
    HRESULT hr;
    *result = NULL;
    fake_obj_t *job = s_lookup(f, host, path, &hr);
    if (FAILED(hr))
        return hr;
    sg_cimpath_t p = {0};
    bool instance = sg_cimpath_parse(path, &p) == 0 && (p.n_keys > 0 || p.singleton);
    sg_cimpath_fini(&p);
    if (!instance || !m)
        hr = WBEM_E_INVALID_METHOD;
    else if (in)
        hr = WBEM_E_INVALID_METHOD_PARAMETERS;
    else if (!job->errors_set)
        hr = WBEM_E_FAILED;
    else if (FAILED(hr = job->errors_hr))
        ;
    else if ((*result = job->errors_out))
        s_obj_addref(fake_obj_iface(*result));
    else
        hr = WBEM_E_FAILED;
    s_obj_release(fake_obj_iface(job));
    return hr;
}

/* "ExecMethod <path> <method>" and each in-parameter the method declares as
 * Name=<value|NULL>; Collection= only for a method the fake does not know. */
static char *s_method_line(const char *path, const char *name, const s_method_t *m,
                           IWbemClassObject *in)
{
    size_t cap = strlen(path) + strlen(name) + 32, len;
    char *values[2] = {0};
    size_t n = m ? m->n_in : 1;
    for (size_t k = 0; k < n; k++) {
        WCHAR *w = s_wdup(m ? m->in[k].name : "Collection");
        values[k] = s_param(in, w);
        free(w);
        cap += strlen(m ? m->in[k].name : "Collection") + strlen(values[k]) + 2;
    }
    char *line = s_xalloc(cap);
    len = (size_t)snprintf(line, cap, "ExecMethod %s %s", path, name);
    for (size_t k = 0; k < n; k++) {
        len += (size_t)snprintf(line + len, cap - len, " %s=%s",
                                m ? m->in[k].name : "Collection", values[k]);
        free(values[k]);
    }
    return line;
}

/* The next scripted result: *out gets its object (a reference), or NULL. */
static HRESULT s_next_result(fake_wbem_t *f, fake_obj_t **out)
{
    HRESULT hr = WBEM_E_FAILED;
    *out = NULL;
    EnterCriticalSection(&f->lock);
    if (f->next_result < f->n_results) {
        s_result_t *r = &f->results[f->next_result++];
        hr = r->hr;
        if (SUCCEEDED(hr)) {
            *out = r->out;
            s_obj_addref(fake_obj_iface(r->out));
        }
    }
    LeaveCriticalSection(&f->lock);
    return hr;
}

static HRESULT STDMETHODCALLTYPE s_exec_method(IWbemServices *i, const BSTR path,
                                               const BSTR method, LONG flags, IWbemContext *ctx,
                                               IWbemClassObject *in, IWbemClassObject **out,
                                               IWbemCallResult **call)
{
    (void)ctx;
    fake_wbem_t *f = s_fw(i);
    bool semisync = (flags & WBEM_FLAG_RETURN_IMMEDIATELY) != 0;
    if (out)
        *out = NULL;
    if (semisync && (out || !call))
        return WBEM_E_INVALID_PARAMETER;
    char *p = s_narrow(path), *m = s_narrow(method);
    char *coll = s_param(in, L"Collection"), *rp = s_param(in, L"CollectionRecoveryPoint");
    char *settings = s_param(in, L"CollectionReplicationSettingData");
    bool job = s_job_path(p);
    const s_method_t *def = job ? s_job_method(m) : s_method(m);
    bool hang = s_record(f, s_svc_host(i), s_method_line(p, m, def, in));
    fake_obj_t *result = NULL;
    HRESULT hr;
    if (s_down(f, s_svc_host(i)))
        hr = S_HOST_DOWN;
    else if (job)
        hr = s_job_call(f, s_svc_host(i), p, def, in, &result);
    else if (SUCCEEDED(hr = s_check_call(f, s_svc_host(i), p, def, in, coll, rp, settings)))
        hr = s_next_result(f, &result);
    free(p);
    free(m);
    free(coll);
    free(rp);
    free(settings);
    if (hr == S_HOST_DOWN)
        return hr; /* the call itself fails: no call result */
    return s_answer(f, hang, hr, result, out, semisync ? call : NULL);
}

static IWbemServicesVtbl s_vtbl = {
    .QueryInterface = s_qi,
    .AddRef = s_addref,
    .Release = s_release,
    .GetObject = s_get_object,
    .ExecQuery = s_exec_query,
    .ExecMethod = s_exec_method,
};

/* --- the locator ------------------------------------------------------------------------- */

static HRESULT STDMETHODCALLTYPE s_loc_qi(IWbemLocator *i, REFIID iid, void **out)
{
    *out = NULL;
    if (!IsEqualIID(iid, &IID_IUnknown) && !IsEqualIID(iid, &IID_IWbemLocator))
        return E_NOINTERFACE;
    *out = i;
    i->lpVtbl->AddRef(i);
    return S_OK;
}

static ULONG STDMETHODCALLTYPE s_loc_addref(IWbemLocator *i)
{
    return (ULONG)InterlockedIncrement(&s_fl(i)->refs);
}

static ULONG STDMETHODCALLTYPE s_loc_release(IWbemLocator *i)
{
    return (ULONG)InterlockedDecrement(&s_fl(i)->refs);
}

static HRESULT STDMETHODCALLTYPE s_connect(IWbemLocator *i, const BSTR resource, const BSTR user,
                                           const BSTR password, const BSTR locale, LONG flags,
                                           const BSTR authority, IWbemContext *ctx,
                                           IWbemServices **out)
{
    (void)locale;
    (void)authority;
    (void)ctx;
    fake_wbem_t *f = s_fl(i);
    char *r = s_narrow(resource), *u = s_narrow(user);
    size_t n = strlen(r) + strlen(u) + 96;
    char *line = s_xalloc(n);
    snprintf(line, n, "ConnectServer %s user=%s password=%s flags=0x%lx", r, u,
             password ? "set" : "NULL", (unsigned long)flags);
    /* \\host\namespace: the host */
    char *host = NULL;
    if (strncmp(r, "\\\\", 2) == 0) {
        host = s_xstrdup(r + 2);
        char *sep = strchr(host, '\\');
        if (sep)
            *sep = '\0';
    }
    free(r);
    free(u);
    s_record(f, host, line);
    *out = NULL;
    EnterCriticalSection(&f->lock);
    HRESULT hr = f->connect_failures > 0 ? f->connect_hr : S_OK;
    if (f->connect_failures > 0)
        f->connect_failures--;
    if (SUCCEEDED(hr) && s_is_down(f, host))
        hr = S_HOST_DOWN;
    s_svc_t *svc = NULL;
    for (size_t k = 0; SUCCEEDED(hr) && k < f->n_hosts && !svc; k++)
        if (s_same_host(f->hosts[k]->host, host))
            svc = f->hosts[k];
    if (SUCCEEDED(hr) && !svc) {
        if (!host || f->n_hosts == S_MAX)
            abort(); /* a resource without a host, or too many hosts: the test's mistake */
        svc = s_xalloc(sizeof *svc);
        svc->iface.lpVtbl = &s_vtbl;
        svc->f = f;
        svc->host = host;
        host = NULL;
        f->hosts[f->n_hosts++] = svc;
    }
    LeaveCriticalSection(&f->lock);
    free(host);
    if (FAILED(hr))
        return hr;
    *out = &svc->iface;
    s_addref(*out);
    return S_OK;
}

static IWbemLocatorVtbl s_loc_vtbl = {
    .QueryInterface = s_loc_qi,
    .AddRef = s_loc_addref,
    .Release = s_loc_release,
    .ConnectServer = s_connect,
};

/* --- set-up -------------------------------------------------------------------------------- */

fake_wbem_t *fake_wbem_new(void)
{
    fake_wbem_t *f = s_xalloc(sizeof *f);
    f->svc.iface.lpVtbl = &s_vtbl;
    f->svc.f = f;
    f->locator.lpVtbl = &s_loc_vtbl;
    f->refs = 1;
    InitializeCriticalSection(&f->lock);
    f->hung = CreateEventW(NULL, TRUE, FALSE, NULL);
    f->released = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!f->hung || !f->released)
        abort();
    return f;
}

IWbemServices *fake_wbem_services(fake_wbem_t *f) { return &f->svc.iface; }

IWbemLocator *fake_wbem_locator(fake_wbem_t *f) { return &f->locator; }

void fake_wbem_fail_connect(fake_wbem_t *f, HRESULT hr, int times)
{
    EnterCriticalSection(&f->lock);
    f->connect_hr = hr;
    f->connect_failures = times;
    LeaveCriticalSection(&f->lock);
}

static void s_entry_set(s_entry_t *e, const char *key, fake_obj_t **objs, size_t n)
{
    e->key = s_xstrdup(key);
    e->objs = s_xalloc((n ? n : 1) * sizeof *objs);
    if (n)
        memcpy(e->objs, objs, n * sizeof *objs);
    e->n = n;
}

void fake_wbem_set_down(fake_wbem_t *f, const char *host, bool down)
{
    EnterCriticalSection(&f->lock);
    size_t k = 0;
    while (k < f->n_down && !s_same_host(f->down[k], host))
        k++;
    if (down && k == f->n_down && f->n_down < S_MAX) {
        f->down[f->n_down++] = s_xstrdup(host);
    } else if (!down && k < f->n_down) {
        free(f->down[k]);
        f->down[k] = f->down[--f->n_down];
    }
    LeaveCriticalSection(&f->lock);
}

void fake_wbem_add_object(fake_wbem_t *f, const char *path, fake_obj_t *o)
{
    fake_wbem_add_object_at(f, NULL, path, o);
}

void fake_wbem_add_object_at(fake_wbem_t *f, const char *host, const char *path, fake_obj_t *o)
{
    EnterCriticalSection(&f->lock);
    if (f->n_objects == S_MAX)
        abort();
    s_entry_t *e = &f->objects[f->n_objects];
    if (sg_cimpath_parse(path, &e->path) != 0)
        s_bad_test("not an object path", path);
    if (!(e->cls = s_class(e->path.class_name)) || !s_keyed_right(&e->path, e->cls))
        s_bad_test("not an instance path of a class the fake knows, keyed as it is", path);
    for (size_t k = 0; k < o->n; k++) {
        char *name = s_narrow(o->names[k]);
        if (strncmp(name, "__", 2) != 0 && !s_class_has(e->cls, name))
            s_bad_test("a property its class does not have", name);
        free(name);
    }
    e->host = host ? s_xstrdup(host) : NULL;
    char *have = s_obj_str(o, "__PATH");
    if (!have)
        fake_obj_set_str(o, "__PATH", path);
    free(have);
    fake_obj_set_str(o, "__CLASS", e->cls->name);
    for (size_t k = 0; k < e->cls->n_keys; k++)
        fake_obj_set_str(o, e->cls->keys[k], s_path_key(&e->path, e->cls, e->cls->keys[k]));
    s_entry_set(e, path, &o, 1);
    f->n_objects++;
    LeaveCriticalSection(&f->lock);
}

void fake_wbem_add_query(fake_wbem_t *f, const char *fragment, fake_obj_t **objs, size_t n)
{
    EnterCriticalSection(&f->lock);
    if (f->n_queries < S_MAX)
        s_entry_set(&f->queries[f->n_queries++], fragment, objs, n);
    LeaveCriticalSection(&f->lock);
}

void fake_wbem_fail_query(fake_wbem_t *f, const char *fragment, HRESULT hr)
{
    EnterCriticalSection(&f->lock);
    if (f->n_queries < S_MAX) {
        s_entry_set(&f->queries[f->n_queries], fragment, NULL, 0);
        f->queries[f->n_queries++].hr = hr;
    }
    LeaveCriticalSection(&f->lock);
}

void fake_wbem_push_result(fake_wbem_t *f, HRESULT hr, fake_obj_t *out)
{
    EnterCriticalSection(&f->lock);
    if (f->n_results < S_MAX)
        f->results[f->n_results++] = (s_result_t){hr, out};
    LeaveCriticalSection(&f->lock);
}

void fake_wbem_hang(fake_wbem_t *f, const char *prefix)
{
    EnterCriticalSection(&f->lock);
    free(f->hang_prefix);
    f->hang_prefix = s_xstrdup(prefix);
    ResetEvent(f->hung);
    ResetEvent(f->released);
    LeaveCriticalSection(&f->lock);
}

bool fake_wbem_wait_hung(fake_wbem_t *f, DWORD ms)
{
    return WaitForSingleObject(f->hung, ms) == WAIT_OBJECT_0;
}

void fake_wbem_release(fake_wbem_t *f) { SetEvent(f->released); }

long fake_wbem_outstanding(fake_wbem_t *f)
{
    EnterCriticalSection(&f->lock);
    long n = (long)(f->refs - 1) + (long)f->svc.refs;
    for (size_t k = 0; k < f->n_hosts; k++)
        n += (long)f->hosts[k]->refs;
    LeaveCriticalSection(&f->lock);
    return n;
}

size_t fake_wbem_n_calls(fake_wbem_t *f)
{
    EnterCriticalSection(&f->lock);
    size_t n = f->n_calls;
    LeaveCriticalSection(&f->lock);
    return n;
}

const char *fake_wbem_call_host(fake_wbem_t *f, size_t i)
{
    EnterCriticalSection(&f->lock);
    const char *host = i < f->n_calls ? f->call_hosts[i] : NULL;
    LeaveCriticalSection(&f->lock);
    return host;
}

const char *fake_wbem_call(fake_wbem_t *f, size_t i)
{
    EnterCriticalSection(&f->lock);
    const char *line = i < f->n_calls ? f->calls[i] : NULL;
    LeaveCriticalSection(&f->lock);
    return line;
}

static void s_entry_free(s_entry_t *e)
{
    for (size_t k = 0; k < e->n; k++)
        s_obj_release(fake_obj_iface(e->objs[k]));
    free(e->objs);
    free(e->key);
    free(e->host);
    sg_cimpath_fini(&e->path);
}

void fake_wbem_free(fake_wbem_t *f)
{
    if (!f)
        return;
    for (size_t k = 0; k < f->n_objects; k++)
        s_entry_free(&f->objects[k]);
    for (size_t k = 0; k < f->n_queries; k++)
        s_entry_free(&f->queries[k]);
    for (size_t k = 0; k < f->n_results; k++)
        if (f->results[k].out)
            s_obj_release(fake_obj_iface(f->results[k].out));
    for (size_t k = 0; k < f->n_calls; k++) {
        free(f->calls[k]);
        free(f->call_hosts[k]);
    }
    for (size_t k = 0; k < f->n_hosts; k++) {
        free(f->hosts[k]->host);
        free(f->hosts[k]);
    }
    for (size_t k = 0; k < f->n_down; k++)
        free(f->down[k]);
    free(f->hang_prefix);
    CloseHandle(f->hung);
    CloseHandle(f->released);
    DeleteCriticalSection(&f->lock);
    free(f);
}
