/* CIM-XML instances (DSP0201), as WMI hands an embedded instance declared as
 * a string: what cimxml reads in them, and what it refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "provider/cimxml.h"

#include <stdlib.h>
#include <string.h>

/* As GetReplicationStatistics may give it: a declaration, class-origin
 * attributes, a qualifier with a value of its own, a NULL property. */
static const char s_stats[] =
    "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n"
    "<INSTANCE CLASSNAME=\"Msvm_CollectionReplicationStatistics\">\n"
    "  <PROPERTY NAME=\"InstanceID\" CLASSORIGIN=\"CIM_ManagedElement\" TYPE=\"string\">"
    "<VALUE>Microsoft:C-1 &amp; &lt;1&gt; &quot;q&quot; &apos;a&apos; &#65;&#x42;&#xe9;</VALUE>"
    "</PROPERTY>\n"
    "  <PROPERTY NAME='ReplicationHealth' TYPE='uint32'>\n"
    "    <QUALIFIER NAME=\"Description\" TYPE=\"string\"><VALUE>9</VALUE></QUALIFIER>\n"
    "    <VALUE>2</VALUE>\n"
    "  </PROPERTY>\n"
    "  <PROPERTY NAME=\"LastWALReplicationTime\" TYPE=\"datetime\">"
    "<VALUE>20261125170000.000000+000</VALUE></PROPERTY>\n"
    "  <PROPERTY NAME=\"LastTestFailoverTime\" TYPE=\"datetime\"></PROPERTY>\n"
    "  <PROPERTY NAME=\"ElementName\" TYPE=\"string\"/>\n"
    "  <PROPERTY NAME=\"Caption\" TYPE=\"string\"><VALUE/></PROPERTY>\n"
    "  <PROPERTY.ARRAY NAME=\"Tags\" TYPE=\"string\"><VALUE.ARRAY><VALUE>x</VALUE>"
    "</VALUE.ARRAY></PROPERTY.ARRAY>\n"
    "</INSTANCE>\n";

static void the_class_and_scalar_properties_are_read_entities_decoded(void **state)
{
    (void)state;
    char *v = NULL;
    assert_int_equal(sg_cimxml_class(s_stats, &v), SG_OK);
    assert_string_equal(v, "Msvm_CollectionReplicationStatistics");
    free(v);
    assert_int_equal(sg_cimxml_property(s_stats, "InstanceID", &v), SG_OK);
    assert_string_equal(v, "Microsoft:C-1 & <1> \"q\" 'a' AB\xc3\xa9");
    free(v);
    /* the property's own VALUE, not its qualifier's; names without case */
    assert_int_equal(sg_cimxml_property(s_stats, "replicationhealth", &v), SG_OK);
    assert_string_equal(v, "2");
    free(v);
    assert_int_equal(sg_cimxml_property(s_stats, "LastWALReplicationTime", &v), SG_OK);
    assert_string_equal(v, "20261125170000.000000+000");
    free(v);
    assert_int_equal(sg_cimxml_property(s_stats, "Caption", &v), SG_OK);
    assert_string_equal(v, "");
    free(v);
}

static void a_property_without_a_value_is_null_and_a_missing_one_not_found(void **state)
{
    (void)state;
    char *v = (char *)"untouched";
    assert_int_equal(sg_cimxml_property(s_stats, "LastTestFailoverTime", &v), SG_OK);
    assert_null(v);
    v = (char *)"untouched";
    assert_int_equal(sg_cimxml_property(s_stats, "ElementName", &v), SG_OK);
    assert_null(v);
    assert_int_equal(sg_cimxml_property(s_stats, "PendingReplicationSize", &v), SG_ENOTFOUND);
    assert_null(v);
    /* an array is not a scalar property */
    assert_int_equal(sg_cimxml_property(s_stats, "Tags", &v), SG_ENOTFOUND);
    assert_int_equal(sg_cimxml_property("<INSTANCE CLASSNAME=\"X\"/>", "A", &v), SG_ENOTFOUND);
}

static void text_that_is_not_a_cim_xml_instance_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "instance of Msvm_CollectionReplicationStatistics { ReplicationHealth = 1; };", /* MOF */
        "<INSTANCES CLASSNAME=\"X\"></INSTANCES>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\" TYPE=\"uint32\"><VALUE>1</VALUE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\"><VALUE>1</VALUE></PROPERTY>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\"><VALUE>1</PROPERTY></INSTANCE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\"><VALUE>&nbsp;</VALUE></PROPERTY>"
        "</INSTANCE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\"><VALUE>&#0;</VALUE></PROPERTY>"
        "</INSTANCE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\"><VALUE>&#xD800;</VALUE></PROPERTY>"
        "</INSTANCE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\"><VALUE>a & b</VALUE></PROPERTY>"
        "</INSTANCE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=A><VALUE>1</VALUE></PROPERTY></INSTANCE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY TYPE=\"uint32\"><VALUE>1</VALUE></PROPERTY>"
        "</INSTANCE>",
        "<INSTANCE CLASSNAME=\"X\"><PROPERTY NAME=\"A\"><VALUE>1<b/></VALUE></PROPERTY>"
        "</INSTANCE>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *v = (char *)"untouched";
        int rc = sg_cimxml_property(bad[i], "A", &v);
        if (rc != SG_EPROTO)
            fail_msg("%s: %d, want SG_EPROTO", bad[i], rc);
        assert_null(v);
    }
    char *name = (char *)"untouched";
    assert_int_equal(sg_cimxml_class("<INSTANCE><PROPERTY NAME=\"A\"/></INSTANCE>", &name),
                     SG_EPROTO);
    assert_null(name);
    assert_int_equal(sg_cimxml_class("not xml", &name), SG_EPROTO);
    assert_null(name);
    name = (char *)"untouched";
    assert_int_equal(sg_cimxml_class("", &name), SG_EPROTO);
    assert_null(name);
    assert_int_equal(sg_cimxml_class("<INSTANCE CLASSNAME=\"\"></INSTANCE>", &name), SG_EPROTO);
    assert_null(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_class_and_scalar_properties_are_read_entities_decoded),
        cmocka_unit_test(a_property_without_a_value_is_null_and_a_missing_one_not_found),
        cmocka_unit_test(text_that_is_not_a_cim_xml_instance_is_refused),
    };
    return cmocka_run_group_tests_name("cimxml", tests, NULL, NULL);
}
