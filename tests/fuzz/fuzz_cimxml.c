/* libFuzzer target for CIM-XML instances (provider/cimxml.h), which the WMI
 * provider reads from the string embedded instances WMI answers with
 * (GetReplicationStatistics' ReplicationStatistics). The input is the text.
 *
 * Checks: the class and a property are read (0), missing (SG_ENOTFOUND, for
 * a property) or refused (SG_EPROTO), nothing else; nothing is handed back
 * unless read; a value read is never longer than the input (no entity is
 * shorter than what it decodes to) and holds no NUL before its end; a
 * class name read is not empty and the input names it. */
#include "base/err.h"
#include "provider/cimxml.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void s_check_property(const char *text, size_t size, const char *name)
{
    char *value = (char *)"untouched";
    int rc = sg_cimxml_property(text, name, &value);
    FZ_CHECK(rc == SG_OK || rc == SG_ENOTFOUND || rc == SG_EPROTO);
    FZ_CHECK(rc == SG_OK || value == NULL);
    if (value)
        FZ_CHECK(strlen(value) <= size);
    free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char *name = (char *)"untouched";
    int rc = sg_cimxml_class(text, &name);
    FZ_CHECK(rc == SG_OK || rc == SG_EPROTO);
    FZ_CHECK(rc == SG_OK || name == NULL);
    if (name) {
        FZ_CHECK(name[0] != '\0' && strlen(name) <= size);
        FZ_CHECK(strstr(text, "CLASSNAME") != NULL);
    }
    free(name);
    s_check_property(text, size, "ReplicationHealth");
    s_check_property(text, size, "LastWALReplicationTime");
    s_check_property(text, size, "A");
    free(text);
    return 0;
}
