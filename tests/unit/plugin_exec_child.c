/* A program for the exec plugin's tests to run:
 *   plugin_exec_child stdin TEXT     exit 0 when stdin is one line holding TEXT, else 3
 *   plugin_exec_child env NAME VALUE exit 0 when NAME is VALUE in the environment, else 4
 *   plugin_exec_child argv ARGS...   exit 0 when ARGS are exactly child_argv below, else 5
 *   plugin_exec_child exit N         read stdin to its end, exit N
 *   plugin_exec_child sleep MS       sleep, then exit 0
 *   plugin_exec_child tree PIDFILE   (Windows) start "sleep 60000" as a child of
 *                                    its own, write that child's id into PIDFILE,
 *                                    then sleep 60 s: a process tree to end */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif

/* What the test passes as args to "argv": quotes and backslashes that the
 * command line must carry through the C runtime's rules. */
static const char *const child_argv[] = {"a\\\"b", "c\\\\", "\"q\"", "d\\e", NULL};

static size_t read_stdin(char *buf, size_t len)
{
    size_t got = 0, n;
    while (got + 1 < len && (n = fread(buf + got, 1, len - 1 - got, stdin)) > 0)
        got += n;
    buf[got] = '\0';
    return got;
}

static int check_argv(int argc, char **argv)
{
    int i = 0;
    for (; child_argv[i]; i++) {
        if (2 + i >= argc || strcmp(argv[2 + i], child_argv[i]) != 0)
            return 5;
    }
    return 2 + i == argc ? 0 : 5;
}

int main(int argc, char **argv)
{
    static char in[65536];
    if (argc >= 3 && strcmp(argv[1], "stdin") == 0) {
        size_t n = read_stdin(in, sizeof in);
        return n > 0 && in[n - 1] == '\n' && !memchr(in, '\n', n - 1) && strstr(in, argv[2]) ? 0 : 3;
    }
    if (argc >= 4 && strcmp(argv[1], "env") == 0) {
        const char *v = getenv(argv[2]);
        return v && strcmp(v, argv[3]) == 0 ? 0 : 4;
    }
    if (argc >= 2 && strcmp(argv[1], "argv") == 0)
        return check_argv(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "exit") == 0) {
        read_stdin(in, sizeof in);
        return atoi(argv[2]);
    }
#if defined(_WIN32)
    if (argc >= 3 && strcmp(argv[1], "tree") == 0) {
        char self[MAX_PATH], line[MAX_PATH + 32];
        DWORD n = GetModuleFileNameA(NULL, self, sizeof self);
        if (n == 0 || n >= sizeof self)
            return 6;
        snprintf(line, sizeof line, "\"%s\" sleep 60000", self);
        STARTUPINFOA si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        if (!CreateProcessA(self, line, NULL, NULL, FALSE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi))
            return 6;
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
        FILE *f = fopen(argv[2], "w");
        if (!f)
            return 6;
        fprintf(f, "%lu\n", (unsigned long)pi.dwProcessId);
        fclose(f);
        Sleep(60000);
        return 0;
    }
#endif
    if (argc >= 3 && strcmp(argv[1], "sleep") == 0) {
#if defined(_WIN32)
        Sleep((DWORD)atoi(argv[2]));
#else
        struct timespec ts = {atoi(argv[2]) / 1000, (atoi(argv[2]) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
#endif
        return 0;
    }
    fprintf(stderr, "usage: plugin_exec_child stdin|env|argv|exit|sleep|tree ...\n");
    return 64;
}
