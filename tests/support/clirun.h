/* clirun.h - running the gravrd command from a test: capture its exit code,
 * standard output and standard error, and check the bad-input contract (exit
 * code 2, a short message naming the problem, nothing on stdout). */
#ifndef GRAVRD_TEST_CLIRUN_H
#define GRAVRD_TEST_CLIRUN_H

typedef struct {
    int status;  /* exit code, -1 if the command did not exit normally */
    char *out;   /* standard output (malloc'ed, may be NULL) */
    char *err;   /* standard error */
} cli_result;

/* Runs `GRAVRD_CLI_PATH ARGS` (ARGS shell-quoted by the caller); the
 * streams go through files in dir, removed afterwards. */
cli_result cli_run(const char *dir, const char *args);
void cli_result_free(cli_result *r);

/* Fails the current cmocka test unless the command exits with 2, writes
 * nothing to stdout, and writes at most max_lines lines to stderr, one of
 * which contains needle. */
void cli_expect_error(const char *dir, const char *args, const char *needle, int max_lines);

#endif
