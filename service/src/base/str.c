#include "base/str.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sg_vstrdupf(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *text = malloc((size_t)n + 1);
    if (text)
        vsnprintf(text, (size_t)n + 1, fmt, ap);
    return text;
}

char *sg_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    return text;
}

unsigned long sg_serial(void)
{
    static atomic_ulong next = 1;
    return atomic_fetch_add(&next, 1);
}

bool sg_str_loopback_tcp(const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}
