/* sys: host name and process id. */
#include "common/sys.h"

#include "common/text.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#endif

enum { S_NAME_MAX = 256 };

char *sg_sys_hostname(const char *fallback)
{
    char name[S_NAME_MAX] = "";
#if defined(_WIN32)
    DWORD len = sizeof name;
    if (!GetComputerNameExA(ComputerNameDnsHostname, name, &len))
        name[0] = '\0';
#else
    if (gethostname(name, sizeof name) != 0)
        name[0] = '\0';
#endif
    name[sizeof name - 1] = '\0';
    return sg_text_printf("%s", name[0] ? name : fallback);
}

long sg_sys_pid(void)
{
#if defined(_WIN32)
    return (long)GetCurrentProcessId();
#else
    return (long)getpid();
#endif
}
