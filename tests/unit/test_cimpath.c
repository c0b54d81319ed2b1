/* WMI object paths: what cimpath reads in them, and which keys it takes for
 * a collection and a recovery point. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "provider/cimpath.h"

#include <stdlib.h>
#include <string.h>

static void a_full_path_gives_server_namespace_class_and_keys(void **state)
{
    (void)state;
    sg_cimpath_t p;
    assert_int_equal(sg_cimpath_parse("\\\\hv-b.example.com\\root\\HyperVCluster\\v2:"
                                      "Msvm_CollectionRecoveryPoint.CollectionID=\"C-1\","
                                      "InstanceID=\"a:b \\\"q\\\" \\\\x\"",
                                      &p),
                     SG_OK);
    assert_string_equal(p.server, "hv-b.example.com");
    assert_string_equal(p.name_space, "root\\HyperVCluster\\v2");
    assert_string_equal(p.class_name, "Msvm_CollectionRecoveryPoint");
    assert_int_equal(p.n_keys, 2);
    assert_string_equal(sg_cimpath_key(&p, "collectionid"), "C-1");
    assert_string_equal(sg_cimpath_key(&p, "InstanceID"), "a:b \"q\" \\x");
    assert_true(sg_cimpath_is_point(&p));
    sg_cimpath_fini(&p);
}

static void relative_class_singleton_and_bare_values_parse(void **state)
{
    (void)state;
    sg_cimpath_t p;
    assert_int_equal(sg_cimpath_parse("root\\cimv2:Win32_LogicalDisk.DeviceID=\"C:\"", &p),
                     SG_OK);
    assert_string_equal(p.name_space, "root\\cimv2");
    assert_null(p.server);
    assert_string_equal(sg_cimpath_key(&p, "DeviceID"), "C:");
    sg_cimpath_fini(&p);
    assert_int_equal(sg_cimpath_parse("MyOtherClass.FirstKey=1,SecondKey=-2", &p), SG_OK);
    assert_string_equal(sg_cimpath_key(&p, "SecondKey"), "-2");
    sg_cimpath_fini(&p);
    assert_int_equal(sg_cimpath_parse("Msvm_CollectionReplicationService", &p), SG_OK);
    assert_int_equal(p.n_keys, 0);
    assert_false(p.singleton);
    sg_cimpath_fini(&p);
    assert_int_equal(sg_cimpath_parse("MySingletonClass=@", &p), SG_OK);
    assert_true(p.singleton);
    sg_cimpath_fini(&p);
}

static void what_is_not_an_object_path_is_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "c1 db", "X.", "X.Key", "X.Key=", "X.Key=\"open", "X.Key=\"a\"junk",
        "X.A=1,A=2", "X.A=1,", "\\\\\\root:X", "\\\\host", ":X", "9X.A=1", "X=\"a\",B=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_cimpath_t p;
        if (sg_cimpath_parse(bad[i], &p) != SG_EINVAL)
            fail_msg("'%s' parsed", bad[i]);
    }
}

static void a_collection_is_keyed_by_collection_id_not_instance_id(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        sg_cimpath_coll_t kind;
        const char *id;
    } cases[] = {
        {"Msvm_VirtualSystemCollection.CollectionID=\"9A64\"", SG_CIMPATH_COLLECTION_ID, "9A64"},
        {"\\\\HV1\\root\\HyperVCluster\\v2:Msvm_VirtualSystemCollection.collectionid=\"x\"",
         SG_CIMPATH_COLLECTION_ID, "x"},
        {"Msvm_VirtualSystemCollection=\"one\"", SG_CIMPATH_COLLECTION_ID, "one"},
        {"Msvm_VirtualSystemCollection.InstanceID=\"9A64\"", SG_CIMPATH_INSTANCE_ID, NULL},
        {"X.CollectionID=\"1\",InstanceID=\"2\"", SG_CIMPATH_INSTANCE_ID, NULL},
        {"Msvm_VirtualSystemCollection.Name=\"x\"", SG_CIMPATH_OTHER_KEY, NULL},
        {"Msvm_VirtualSystemCollection", SG_CIMPATH_NOT_A_PATH, NULL}, /* the class */
        {"c1", SG_CIMPATH_NOT_A_PATH, NULL}, /* a class path, by the grammar */
        {"X=@", SG_CIMPATH_NOT_A_PATH, NULL},
        {"sql db", SG_CIMPATH_NOT_A_PATH, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_cimpath_coll_t kind = (sg_cimpath_coll_t)-1;
        char *id = (char *)"untouched";
        assert_int_equal(sg_cimpath_collection(cases[i].path, &kind, &id), SG_OK);
        if (kind != cases[i].kind)
            fail_msg("%s: kind %d, want %d", cases[i].path, kind, cases[i].kind);
        if (cases[i].id)
            assert_string_equal(id, cases[i].id);
        else
            assert_null(id);
        free(id);
    }
}

static void a_recovery_point_needs_both_its_keys(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        bool point;
    } cases[] = {
        {"Msvm_CollectionRecoveryPoint.InstanceID=\"p\",CollectionID=\"c\"", true},
        {"Msvm_CollectionRecoveryPoint.InstanceID=\"c:p\"", false},
        {"Msvm_CollectionRecoveryPoint.CollectionID=\"c\"", false},
        {"Msvm_CollectionRecoveryPoint.CollectionID=\"c\",InstanceID=\"p\",X=1", false},
        {"Msvm_VirtualSystemCollection.CollectionID=\"c\",InstanceID=\"p\"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_cimpath_t p;
        assert_int_equal(sg_cimpath_parse(cases[i].path, &p), SG_OK);
        if (sg_cimpath_is_point(&p) != cases[i].point)
            fail_msg("%s: %s a point", cases[i].path, cases[i].point ? "not" : "taken for");
        sg_cimpath_fini(&p);
    }
}

static void a_quoted_value_parses_back_to_itself(void **state)
{
    (void)state;
    const char *value = "it's \"odd\" \\ C:\\x";
    char *q = sg_cimpath_quote(value);
    assert_string_equal(q, "\"it's \\\"odd\\\" \\\\ C:\\\\x\"");
    char *path = malloc(strlen(q) + 32);
    strcpy(path, "X.CollectionID=");
    strcat(path, q);
    sg_cimpath_t p;
    assert_int_equal(sg_cimpath_parse(path, &p), SG_OK);
    assert_string_equal(sg_cimpath_key(&p, "CollectionID"), value);
    sg_cimpath_fini(&p);
    free(path);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_full_path_gives_server_namespace_class_and_keys),
        cmocka_unit_test(relative_class_singleton_and_bare_values_parse),
        cmocka_unit_test(what_is_not_an_object_path_is_refused),
        cmocka_unit_test(a_collection_is_keyed_by_collection_id_not_instance_id),
        cmocka_unit_test(a_recovery_point_needs_both_its_keys),
        cmocka_unit_test(a_quoted_value_parses_back_to_itself),
    };
    return cmocka_run_group_tests_name("cimpath", tests, NULL, NULL);
}
