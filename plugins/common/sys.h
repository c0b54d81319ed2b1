/* sys: the little the plugins ask of the operating system, the same way on
 * POSIX and Windows. */
#ifndef SG_PLUGIN_COMMON_SYS_H
#define SG_PLUGIN_COMMON_SYS_H

/* This host's name (gethostname; on Windows the DNS host name), or
 * `fallback` when it has none. Caller frees; NULL when out of memory. */
char *sg_sys_hostname(const char *fallback);

/* This process's id. */
long sg_sys_pid(void);

#endif
