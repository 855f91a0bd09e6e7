/* clirun.c - see clirun.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support/clirun.h"
#include "support/testutil.h"

cli_result cli_run(const char *dir, const char *args)
{
    cli_result r = {0};
    char *o = testutil_path(dir, "cli-stdout.txt"), *e = testutil_path(dir, "cli-stderr.txt");
    size_t len = strlen(args) + strlen(o) + strlen(e) + strlen(GRAVRD_CLI_PATH) + 16;
    char *cmd = malloc(len);
    snprintf(cmd, len, "%s %s >%s 2>%s", GRAVRD_CLI_PATH, args, o, e);
    int st = system(cmd);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = testutil_read_file(o, NULL);
    r.err = testutil_read_file(e, NULL);
    remove(o);
    remove(e);
    free(cmd);
    free(o);
    free(e);
    return r;
}

void cli_result_free(cli_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

void cli_expect_error(const char *dir, const char *args, const char *needle, int max_lines)
{
    cli_result r = cli_run(dir, args);
    if (r.status != 2 || !r.err || !strstr(r.err, needle)) {
        char msg[2048];
        snprintf(msg, sizeof msg, "gravrd %s: exit %d, stderr '%s'; wanted exit 2 and '%s'", args, r.status,
                 r.err ? r.err : "", needle);
        cli_result_free(&r);
        fail_msg("%s", msg);
    }
    int lines = 0;
    for (const char *c = r.err; *c; c++)
        lines += *c == '\n';
    int quiet = !r.out || !r.out[0];
    cli_result_free(&r);
    if (lines > max_lines || lines == 0)
        fail_msg("gravrd %s: %d lines on stderr, wanted 1 to %d", args, lines, max_lines);
    if (!quiet)
        fail_msg("gravrd %s: wrote to stdout on error", args);
}
