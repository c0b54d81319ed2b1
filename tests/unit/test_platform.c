/* platform: the files, secrets and users part of platform.h, on the
 * platform this runs on (POSIX modes and user names; on Windows, under
 * Wine, the calls that have no POSIX meaning answer as documented). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "platform/platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_testutil.h"

/* A temporary directory and the name of a file in it that does not exist. */
typedef struct {
    char dir[256];
    char path[300];
} fx_t;

static int setup(void **state)
{
    static fx_t fx;
    if (!sg_test_mkdtemp(fx.dir, sizeof fx.dir, "test_platform."))
        return -1;
    snprintf(fx.path, sizeof fx.path, "%s/private", fx.dir);
    *state = &fx;
    return 0;
}

static int teardown(void **state) { return sg_test_rmtree(((fx_t *)*state)->dir); }

static void test_a_missing_file_is_created_empty(void **state)
{
    fx_t *fx = *state;
    bool open_to_others = true;
    assert_int_equal(sg_platform_file_private(fx->path, &open_to_others), SG_OK);
    assert_false(open_to_others);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_size, 0);
    /* again: it exists now, and is kept */
    assert_int_equal(sg_platform_file_private(fx->path, NULL), SG_OK);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/file", fx->dir);
    assert_int_equal(sg_platform_file_private(bad, NULL), SG_EIO);
}

static void test_secure_zero_clears_every_byte(void **state)
{
    (void)state;
    char secret[32];
    memset(secret, 'x', sizeof secret);
    sg_platform_secure_zero(secret, sizeof secret);
    for (size_t i = 0; i < sizeof secret; i++)
        assert_int_equal(secret[i], 0);
    sg_platform_secure_zero(NULL, 0); /* nothing to do, no crash */
}

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>

static void test_a_new_private_file_is_0600_under_umask_022(void **state)
{
    fx_t *fx = *state;
    mode_t old = umask(022);
    int rc = sg_platform_file_private(fx->path, NULL);
    umask(old);
    assert_int_equal(rc, SG_OK);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_an_existing_file_keeps_its_mode_and_is_reported_when_open_to_others(void **state)
{
    fx_t *fx = *state;
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs("kept", f);
    fclose(f);
    assert_int_equal(chmod(fx->path, 0644), 0);
    bool open_to_others = false;
    assert_int_equal(sg_platform_file_private(fx->path, &open_to_others), SG_OK);
    assert_true(open_to_others);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(chmod(fx->path, 0600), 0);
    assert_int_equal(sg_platform_file_private(fx->path, &open_to_others), SG_OK);
    assert_false(open_to_others);
}

static void test_a_uid_is_named_with_its_number(void **state)
{
    (void)state;
    char buf[128];
    assert_int_equal(sg_platform_user_name(0, buf, sizeof buf), SG_OK);
    assert_string_equal(buf, "root (uid 0)");
    assert_int_equal(sg_platform_user_name(3999999999UL, buf, sizeof buf), SG_OK);
    assert_string_equal(buf, "uid 3999999999");
    assert_int_equal(sg_platform_user_name(0, buf, 5), SG_EINVAL);
}
#else
static void test_windows_has_no_numeric_user_ids(void **state)
{
    (void)state;
    char buf[64] = "x";
    assert_int_equal(sg_platform_user_name(0, buf, sizeof buf), SG_ESTATE);
    assert_string_equal(buf, "");
}
#endif

/* FIPS 180-2's examples, and the empty text. */
static void test_sha256_matches_the_standard_examples(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(sg_platform_sha256_hex("abc", 3, hex), SG_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(sg_platform_sha256_hex("", 0, hex), SG_OK);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(sg_platform_sha256_hex(two, strlen(two), hex), SG_OK);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_a_missing_file_is_created_empty),
        cmocka_unit_test(test_secure_zero_clears_every_byte),
        cmocka_unit_test(test_sha256_matches_the_standard_examples),
#ifndef _WIN32
        T(test_a_new_private_file_is_0600_under_umask_022),
        T(test_an_existing_file_keeps_its_mode_and_is_reported_when_open_to_others),
        cmocka_unit_test(test_a_uid_is_named_with_its_number),
#else
        cmocka_unit_test(test_windows_has_no_numeric_user_ids),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
