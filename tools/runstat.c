/* runstat.c - run one command and report what it cost (built as
 * gravrd_runstat; used by tools/bench.sh for `make bench`, docs/benchmarks.md).
 *
 *   build/gravrd_runstat [-o FILE] COMMAND [ARG...]
 *
 * Forks, execs COMMAND (looked up in PATH) with its stdin, stdout and stderr
 * inherited, waits for it with wait4() and prints one line
 *
 *   wall_s=7.052 user_s=10.210 sys_s=1.104 maxrss_kb=1843200 status=0
 *
 * to FILE (appended; default: standard output): wall time from fork to exit
 * (CLOCK_MONOTONIC), the child's user and system CPU time and its peak
 * resident set (ru_maxrss, KiB on Linux), and its exit status (128 + N when
 * killed by signal N). The exit status of gravrd_runstat is the child's, or
 * 127 when COMMAND could not be run, 2 for a usage error. Unlike
 * /usr/bin/time it needs nothing beyond POSIX and the rusage of wait4.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

int main(int argc, char **argv)
{
    const char *out_path = NULL;
    int first = 1;
    if (first + 1 < argc && !strcmp(argv[first], "-o")) {
        out_path = argv[first + 1];
        first += 2;
    }
    if (first < argc && !strcmp(argv[first], "--"))
        first++;
    if (first >= argc || argv[first][0] == '-') {
        fprintf(stderr, "usage: gravrd_runstat [-o FILE] COMMAND [ARG...]\n");
        return 2;
    }
    fflush(NULL);
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("gravrd_runstat: fork");
        return 127;
    }
    if (pid == 0) {
        execvp(argv[first], argv + first);
        fprintf(stderr, "gravrd_runstat: %s: %s\n", argv[first], strerror(errno));
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(pid, &st, 0, &ru)) < 0 && errno == EINTR)
        ;
    double wall = now() - t0;
    if (w < 0) {
        perror("gravrd_runstat: wait4");
        return 127;
    }
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 127;
    FILE *out = out_path ? fopen(out_path, "a") : stdout;
    if (!out) {
        fprintf(stderr, "gravrd_runstat: %s: %s\n", out_path, strerror(errno));
        return status ? status : 1;
    }
    fprintf(out, "wall_s=%.3f user_s=%.3f sys_s=%.3f maxrss_kb=%ld status=%d\n", wall, seconds(ru.ru_utime),
            seconds(ru.ru_stime), (long)ru.ru_maxrss, status);
    if (out != stdout)
        fclose(out);
    else
        fflush(stdout);
    return status;
}
