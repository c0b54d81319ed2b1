/* fake_wbem: a scripted IWbemServices (a C vtable) for the WMI provider's
 * tests. It answers GetObject from a table of paths, ExecQuery from a table
 * of query fragments, and ExecMethod from a queue of scripted results, and
 * records every call as one line of text:
 *   "GetObject <path>"
 *   "ExecQuery <wql>"
 *   "ExecMethod <object path> <method> Collection=<path> CollectionRecoveryPoint=<path|NULL>"
 * Objects are fake IWbemClassObjects: property bags whose GetMethod and
 * SpawnInstance give new empty bags (the in-parameters). */
#ifndef SG_FAKE_WBEM_H
#define SG_FAKE_WBEM_H

#define COBJMACROS
#include <windows.h>
#include <wbemidl.h>

#include <stddef.h>

typedef struct fake_obj fake_obj_t;
typedef struct fake_wbem fake_wbem_t;

/* A new object with one reference, owned by the caller until handed on. */
fake_obj_t *fake_obj_new(void);
void fake_obj_set_int(fake_obj_t *o, const char *name, LONG value);
/* value NULL: the property is NULL (VT_NULL). */
void fake_obj_set_str(fake_obj_t *o, const char *name, const char *value);
IWbemClassObject *fake_obj_iface(fake_obj_t *o);

fake_wbem_t *fake_wbem_new(void);
/* Frees the fake; the services must have no other references. */
void fake_wbem_free(fake_wbem_t *f);
IWbemServices *fake_wbem_services(fake_wbem_t *f);
/* GetObject(path) gives `o` (the fake takes the caller's reference). */
void fake_wbem_add_object(fake_wbem_t *f, const char *path, fake_obj_t *o);
/* An ExecQuery whose text contains `fragment` enumerates `objs` (taken); the
 * first matching entry answers. A query that matches none enumerates nothing. */
void fake_wbem_add_query(fake_wbem_t *f, const char *fragment, fake_obj_t **objs, size_t n);
/* An ExecQuery whose text contains `fragment` fails with `hr`, as WMI does
 * for a class or association it does not have. */
void fake_wbem_fail_query(fake_wbem_t *f, const char *fragment, HRESULT hr);
/* The next ExecMethod fails with `hr`, or else answers `out` (taken). */
void fake_wbem_push_result(fake_wbem_t *f, HRESULT hr, fake_obj_t *out);
size_t fake_wbem_n_calls(const fake_wbem_t *f);
const char *fake_wbem_call(const fake_wbem_t *f, size_t i);

#endif
