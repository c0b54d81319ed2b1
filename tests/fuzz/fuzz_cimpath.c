/* libFuzzer target for WMI object paths (provider/cimpath.h), which the config
 * loader, the simulator and the WMI provider read from cim_path and
 * recovery_point. The input is one path.
 *
 * Checks: a path parses (0) or is refused (SG_EINVAL), with nothing left in
 * the result when refused; a parsed path has a class name and keys with
 * values, names unique; written again (server, namespace, class, each key
 * quoted by sg_cimpath_quote) it parses to the same; sg_cimpath_collection
 * agrees with the parse (no instance named: NOT_A_PATH; an ID only with
 * COLLECTION_ID, and it is the CollectionID key or the one unnamed key); any
 * text quoted by sg_cimpath_quote reads back as itself. */
#include "base/err.h"
#include "base/str.h"
#include "provider/cimpath.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* `p` written again as an object path (caller frees). */
static char *s_write(const sg_cimpath_t *p)
{
    char *s = p->server ? sg_strdupf("\\\\%s\\%s:%s", p->server, p->name_space, p->class_name)
              : p->name_space ? sg_strdupf("%s:%s", p->name_space, p->class_name)
                              : sg_strdupf("%s", p->class_name);
    FZ_CHECK(s != NULL);
    if (p->singleton) {
        char *t = sg_strdupf("%s=@", s);
        free(s);
        return t;
    }
    for (size_t i = 0; i < p->n_keys; i++) {
        char *q = sg_cimpath_quote(p->keys[i].value);
        FZ_CHECK(q != NULL);
        char *t = p->keys[i].name ? sg_strdupf("%s%c%s=%s", s, i ? ',' : '.', p->keys[i].name, q)
                                  : sg_strdupf("%s=%s", s, q);
        FZ_CHECK(t != NULL);
        free(q);
        free(s);
        s = t;
    }
    return s;
}

static void s_check_same(const sg_cimpath_t *a, const sg_cimpath_t *b)
{
    FZ_CHECK(strcmp(a->class_name, b->class_name) == 0);
    FZ_CHECK(a->n_keys == b->n_keys && a->singleton == b->singleton);
    FZ_CHECK(!a->server == !b->server && (!a->server || strcmp(a->server, b->server) == 0));
    for (size_t i = 0; i < a->n_keys; i++) {
        FZ_CHECK(!a->keys[i].name == !b->keys[i].name);
        FZ_CHECK(!a->keys[i].name || strcmp(a->keys[i].name, b->keys[i].name) == 0);
        FZ_CHECK(strcmp(a->keys[i].value, b->keys[i].value) == 0);
    }
}

static void s_check_parsed(const sg_cimpath_t *p)
{
    FZ_CHECK(p->class_name && p->class_name[0]);
    FZ_CHECK(!p->server || p->name_space);
    for (size_t i = 0; i < p->n_keys; i++) {
        FZ_CHECK(p->keys[i].value != NULL);
        FZ_CHECK(p->keys[i].name || p->n_keys == 1);
        for (size_t j = 0; j < i; j++)
            FZ_CHECK(!sg_cimpath_same_name(p->keys[i].name, p->keys[j].name));
    }
    char *again = s_write(p);
    sg_cimpath_t q;
    FZ_CHECK(sg_cimpath_parse(again, &q) == SG_OK);
    s_check_same(p, &q);
    sg_cimpath_fini(&q);
    free(again);
}

static void s_check_collection(const char *text, const sg_cimpath_t *p, bool parsed)
{
    sg_cimpath_coll_t kind;
    char *id = NULL;
    FZ_CHECK(sg_cimpath_collection(text, &kind, &id) == SG_OK);
    FZ_CHECK((kind == SG_CIMPATH_COLLECTION_ID) == (id != NULL));
    if (!parsed || p->n_keys == 0)
        FZ_CHECK(kind == SG_CIMPATH_NOT_A_PATH);
    if (id) {
        const char *want = sg_cimpath_key(p, "CollectionID");
        FZ_CHECK(strcmp(id, want ? want : p->keys[0].value) == 0);
    }
    free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    sg_cimpath_t p;
    int rc = sg_cimpath_parse(text, &p);
    FZ_CHECK(rc == SG_OK || rc == SG_EINVAL);
    if (rc == SG_OK)
        s_check_parsed(&p);
    else
        FZ_CHECK(!p.class_name && !p.keys && !p.server && !p.name_space && p.n_keys == 0);
    s_check_collection(text, &p, rc == SG_OK);
    sg_cimpath_fini(&p);

    char *quoted = sg_cimpath_quote(text), *path = quoted ? sg_strdupf("X.K=%s", quoted) : NULL;
    FZ_CHECK(path != NULL);
    FZ_CHECK(sg_cimpath_parse(path, &p) == SG_OK);
    FZ_CHECK(strcmp(sg_cimpath_key(&p, "k"), text) == 0);
    sg_cimpath_fini(&p);
    free(path);
    free(quoted);
    free(text);
    return 0;
}
