/* textbuf: a growing text with HTML and CSV escapes (base/textbuf.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/textbuf.h"

#include <stdlib.h>
#include <string.h>

static char *s_take(sg_textbuf_t *b)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sg_textbuf_take(b, &out, &len), SG_OK);
    assert_int_equal(len, strlen(out));
    return out;
}

static void test_html_escapes_the_five_characters_and_keeps_the_rest(void **state)
{
    (void)state;
    sg_textbuf_t b;
    sg_textbuf_init(&b);
    sg_textbuf_html(&b, "<a href=\"x\">it's & \xc3\xa9</a>");
    sg_textbuf_html(&b, NULL);
    sg_textbuf_htmln(&b, "<<<", 2);
    char *out = s_take(&b);
    assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;it&#39;s &amp; \xc3\xa9&lt;/a&gt;&lt;&lt;");
    free(out);
}

static void test_csv_quotes_only_fields_that_need_it_doubles_quotes_and_defuses_formulas(void **state)
{
    (void)state;
    static const char *const in[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", "", NULL,
                                     "=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "a=b"};
    static const char *const want[] = {"plain", "\"a,b\"", "\"say \"\"hi\"\"\"",
                                       "\"two\nlines\"", "\"cr\r\"", "", "",
                                       "\"'=HYPERLINK(\"\"x\"\")\"", "\"'+1\"", "\"'-2\"",
                                       "\"'@SUM(A1)\"", "\"'\tx\"", "a=b"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        sg_textbuf_t b;
        sg_textbuf_init(&b);
        sg_textbuf_csv(&b, in[i]);
        char *out = s_take(&b);
        assert_string_equal(out, want[i]);
        free(out);
    }
}

static void test_printf_appends_and_an_empty_buffer_gives_an_empty_text(void **state)
{
    (void)state;
    sg_textbuf_t b;
    sg_textbuf_init(&b);
    char *out = s_take(&b);
    assert_string_equal(out, "");
    free(out);
    for (int i = 0; i < 1000; i++) /* past several doublings */
        sg_textbuf_printf(&b, "%03d,", i);
    sg_textbuf_put(&b, "end");
    out = s_take(&b);
    assert_int_equal(strlen(out), 4000 + 3);
    assert_int_equal(strncmp(out, "000,001,", 8), 0);
    assert_string_equal(out + 4000, "end");
    free(out);
    sg_textbuf_fini(&b); /* taken: nothing left to free */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escapes_the_five_characters_and_keeps_the_rest),
        cmocka_unit_test(test_csv_quotes_only_fields_that_need_it_doubles_quotes_and_defuses_formulas),
        cmocka_unit_test(test_printf_appends_and_an_empty_buffer_gives_an_empty_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
