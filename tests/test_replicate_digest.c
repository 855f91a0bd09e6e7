/* test_replicate_digest.c - `gravrd replicate` on the default world writes
 * the files whose SHA-256 digests are stored in tests/replicate_digest.txt
 * (timings masked; tools/replicate_digest.sh). Guards refactorings that
 * must not change a byte of the study's output; a change meant to move
 * numbers regenerates the digest with `sh tools/replicate_digest.sh
 * --update` and says so. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <cmocka.h>

static void test_replicate_outputs_match_stored_digest(void **state) {
    (void)state;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sh '%s/tools/replicate_digest.sh' '%s'", GRAVRD_SOURCE_DIR, GRAVRD_CLI_PATH);
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicate_outputs_match_stored_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
