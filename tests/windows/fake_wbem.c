/* fake_wbem: see fake_wbem.h. Test code: aborts on out of memory. */
#include "fake_wbem.h"

#include <oleauto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX 32

/* --- objects ------------------------------------------------------------------- */

struct fake_obj {
    IWbemClassObject iface; /* first: the COM pointer is the object */
    LONG refs;
    WCHAR *names[S_MAX];
    VARIANT values[S_MAX];
    size_t n;
};

static void *s_xalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        abort();
    return p;
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
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = s_xalloc((size_t)n + 1);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

static fake_obj_t *s_obj(IWbemClassObject *i) { return (fake_obj_t *)i; }

static HRESULT STDMETHODCALLTYPE s_obj_qi(IWbemClassObject *i, REFIID iid, void **out)
{
    (void)iid;
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
        free(o);
    }
    return (ULONG)left;
}

static VARIANT *s_slot(fake_obj_t *o, const WCHAR *name, BOOL create)
{
    for (size_t k = 0; k < o->n; k++)
        if (wcscmp(o->names[k], name) == 0)
            return &o->values[k];
    if (!create || o->n == S_MAX)
        return NULL;
    size_t len = wcslen(name) + 1;
    o->names[o->n] = s_xalloc(len * sizeof(WCHAR));
    memcpy(o->names[o->n], name, len * sizeof(WCHAR));
    VariantInit(&o->values[o->n]);
    return &o->values[o->n++];
}

static HRESULT STDMETHODCALLTYPE s_obj_get(IWbemClassObject *i, LPCWSTR name, LONG flags,
                                           VARIANT *v, CIMTYPE *type, LONG *flavor)
{
    (void)flags;
    (void)type;
    (void)flavor;
    VARIANT *have = s_slot(s_obj(i), name, FALSE);
    if (!have)
        return WBEM_E_NOT_FOUND;
    VariantInit(v);
    return VariantCopy(v, have);
}

static HRESULT STDMETHODCALLTYPE s_obj_put(IWbemClassObject *i, LPCWSTR name, LONG flags,
                                           VARIANT *v, CIMTYPE type)
{
    (void)flags;
    (void)type;
    VARIANT *slot = s_slot(s_obj(i), name, TRUE);
    if (!slot)
        return WBEM_E_OUT_OF_MEMORY;
    VariantClear(slot);
    return VariantCopy(slot, v);
}

static HRESULT STDMETHODCALLTYPE s_obj_spawn(IWbemClassObject *i, LONG flags,
                                             IWbemClassObject **out)
{
    (void)i;
    (void)flags;
    *out = fake_obj_iface(fake_obj_new());
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE s_obj_method(IWbemClassObject *i, LPCWSTR name, LONG flags,
                                              IWbemClassObject **in, IWbemClassObject **out)
{
    (void)i;
    (void)name;
    (void)flags;
    if (in)
        *in = fake_obj_iface(fake_obj_new());
    if (out)
        *out = NULL;
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
    VARIANT *v = s_slot(o, w, TRUE);
    free(w);
    VariantClear(v);
    V_VT(v) = VT_I4;
    V_I4(v) = value;
}

void fake_obj_set_str(fake_obj_t *o, const char *name, const char *value)
{
    WCHAR *w = s_wdup(name);
    VARIANT *v = s_slot(o, w, TRUE);
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

/* --- enumerators ------------------------------------------------------------------- */

typedef struct {
    IEnumWbemClassObject iface;
    LONG refs;
    fake_obj_t **objs; /* borrowed from the query table */
    size_t n, next;
} s_enum_t;

static HRESULT STDMETHODCALLTYPE s_en_qi(IEnumWbemClassObject *i, REFIID iid, void **out)
{
    (void)iid;
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
    LONG left = InterlockedDecrement(&((s_enum_t *)i)->refs);
    if (left == 0)
        free(i);
    return (ULONG)left;
}

static HRESULT STDMETHODCALLTYPE s_en_next(IEnumWbemClassObject *i, LONG timeout, ULONG count,
                                           IWbemClassObject **objs, ULONG *returned)
{
    (void)timeout;
    s_enum_t *e = (s_enum_t *)i;
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

/* --- services ------------------------------------------------------------------------ */

typedef struct {
    char *key; /* a path (objects) or a fragment (queries) */
    fake_obj_t **objs;
    size_t n;
    HRESULT hr; /* queries: the failure to answer with, or S_OK */
} s_entry_t;

typedef struct {
    HRESULT hr;
    fake_obj_t *out;
} s_result_t;

struct fake_wbem {
    IWbemServices iface;
    LONG refs;
    s_entry_t objects[S_MAX], queries[S_MAX];
    size_t n_objects, n_queries;
    s_result_t results[S_MAX];
    size_t n_results, next_result;
    char *calls[256];
    size_t n_calls;
};

static fake_wbem_t *s_fw(IWbemServices *i) { return (fake_wbem_t *)i; }

static void s_record(fake_wbem_t *f, char *line)
{
    if (f->n_calls < sizeof f->calls / sizeof f->calls[0])
        f->calls[f->n_calls++] = line;
    else
        free(line);
}

static HRESULT STDMETHODCALLTYPE s_qi(IWbemServices *i, REFIID iid, void **out)
{
    (void)iid;
    *out = i;
    i->lpVtbl->AddRef(i);
    return S_OK;
}

static ULONG STDMETHODCALLTYPE s_addref(IWbemServices *i)
{
    return (ULONG)InterlockedIncrement(&s_fw(i)->refs);
}

static ULONG STDMETHODCALLTYPE s_release(IWbemServices *i)
{
    return (ULONG)InterlockedDecrement(&s_fw(i)->refs);
}

static char *s_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = s_xalloc(n);
    snprintf(s, n, "%s %s", a, b);
    return s;
}

static HRESULT STDMETHODCALLTYPE s_get_object(IWbemServices *i, const BSTR path, LONG flags,
                                              IWbemContext *ctx, IWbemClassObject **out,
                                              IWbemCallResult **call)
{
    (void)flags;
    (void)ctx;
    (void)call;
    fake_wbem_t *f = s_fw(i);
    char *p = s_narrow(path);
    s_record(f, s_join("GetObject", p));
    HRESULT hr = WBEM_E_NOT_FOUND;
    for (size_t k = 0; k < f->n_objects; k++) {
        if (strcmp(f->objects[k].key, p) == 0) {
            *out = fake_obj_iface(f->objects[k].objs[0]);
            (*out)->lpVtbl->AddRef(*out);
            hr = S_OK;
            break;
        }
    }
    free(p);
    return hr;
}

static HRESULT STDMETHODCALLTYPE s_exec_query(IWbemServices *i, const BSTR lang, const BSTR query,
                                              LONG flags, IWbemContext *ctx,
                                              IEnumWbemClassObject **out)
{
    (void)lang;
    (void)flags;
    (void)ctx;
    fake_wbem_t *f = s_fw(i);
    char *q = s_narrow(query);
    s_record(f, s_join("ExecQuery", q));
    const s_entry_t *hit = NULL;
    for (size_t k = 0; k < f->n_queries && !hit; k++)
        if (strstr(q, f->queries[k].key))
            hit = &f->queries[k];
    free(q);
    if (hit && FAILED(hit->hr)) {
        *out = NULL;
        return hit->hr;
    }
    s_enum_t *e = s_xalloc(sizeof *e);
    e->iface.lpVtbl = &s_en_vtbl;
    e->refs = 1;
    if (hit) {
        e->objs = hit->objs;
        e->n = hit->n;
    }
    *out = &e->iface;
    return S_OK;
}

/* A string parameter of the in-parameters, for the call record. */
static char *s_param(IWbemClassObject *in, const WCHAR *name)
{
    VARIANT v;
    VariantInit(&v);
    char *text;
    if (in && SUCCEEDED(in->lpVtbl->Get(in, name, 0, &v, NULL, NULL)) && V_VT(&v) == VT_BSTR)
        text = s_narrow(V_BSTR(&v));
    else {
        text = s_xalloc(5);
        memcpy(text, "NULL", 5);
    }
    VariantClear(&v);
    return text;
}

static HRESULT STDMETHODCALLTYPE s_exec_method(IWbemServices *i, const BSTR path,
                                               const BSTR method, LONG flags, IWbemContext *ctx,
                                               IWbemClassObject *in, IWbemClassObject **out,
                                               IWbemCallResult **call)
{
    (void)flags;
    (void)ctx;
    (void)call;
    fake_wbem_t *f = s_fw(i);
    char *p = s_narrow(path), *m = s_narrow(method);
    char *coll = s_param(in, L"Collection"), *rp = s_param(in, L"CollectionRecoveryPoint");
    size_t n = strlen(p) + strlen(m) + strlen(coll) + strlen(rp) + 64;
    char *line = s_xalloc(n);
    snprintf(line, n, "ExecMethod %s %s Collection=%s CollectionRecoveryPoint=%s", p, m, coll,
             rp);
    s_record(f, line);
    free(p);
    free(m);
    free(coll);
    free(rp);
    if (f->next_result == f->n_results)
        return WBEM_E_FAILED;
    s_result_t *r = &f->results[f->next_result++];
    if (FAILED(r->hr))
        return r->hr;
    *out = fake_obj_iface(r->out);
    (*out)->lpVtbl->AddRef(*out);
    return S_OK;
}

static IWbemServicesVtbl s_vtbl = {
    .QueryInterface = s_qi,
    .AddRef = s_addref,
    .Release = s_release,
    .GetObject = s_get_object,
    .ExecQuery = s_exec_query,
    .ExecMethod = s_exec_method,
};

fake_wbem_t *fake_wbem_new(void)
{
    fake_wbem_t *f = s_xalloc(sizeof *f);
    f->iface.lpVtbl = &s_vtbl;
    f->refs = 1;
    return f;
}

IWbemServices *fake_wbem_services(fake_wbem_t *f) { return &f->iface; }

static void s_entry_set(s_entry_t *e, const char *key, fake_obj_t **objs, size_t n)
{
    size_t len = strlen(key) + 1;
    e->key = s_xalloc(len);
    memcpy(e->key, key, len);
    e->objs = s_xalloc((n ? n : 1) * sizeof *objs);
    if (n)
        memcpy(e->objs, objs, n * sizeof *objs);
    e->n = n;
}

void fake_wbem_add_object(fake_wbem_t *f, const char *path, fake_obj_t *o)
{
    if (f->n_objects < S_MAX)
        s_entry_set(&f->objects[f->n_objects++], path, &o, 1);
}

void fake_wbem_add_query(fake_wbem_t *f, const char *fragment, fake_obj_t **objs, size_t n)
{
    if (f->n_queries < S_MAX)
        s_entry_set(&f->queries[f->n_queries++], fragment, objs, n);
}

void fake_wbem_fail_query(fake_wbem_t *f, const char *fragment, HRESULT hr)
{
    if (f->n_queries < S_MAX) {
        s_entry_set(&f->queries[f->n_queries], fragment, NULL, 0);
        f->queries[f->n_queries++].hr = hr;
    }
}

void fake_wbem_push_result(fake_wbem_t *f, HRESULT hr, fake_obj_t *out)
{
    if (f->n_results < S_MAX)
        f->results[f->n_results++] = (s_result_t){hr, out};
}

size_t fake_wbem_n_calls(const fake_wbem_t *f) { return f->n_calls; }

const char *fake_wbem_call(const fake_wbem_t *f, size_t i)
{
    return i < f->n_calls ? f->calls[i] : NULL;
}

static void s_entry_free(s_entry_t *e)
{
    for (size_t k = 0; k < e->n; k++)
        s_obj_release(fake_obj_iface(e->objs[k]));
    free(e->objs);
    free(e->key);
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
    for (size_t k = 0; k < f->n_calls; k++)
        free(f->calls[k]);
    free(f);
}
