/* test_call_graph.c - tools/call_graph.sh on this build: no two source
 * files call each other, no loop between the folders of src/, no src/ file
 * over 1,200 lines (issue 11). The graph is measured with nm on the
 * object files, so it is checked in the release build only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <cmocka.h>

static void test_no_call_loops_and_no_long_files(void **state) {
    (void)state;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sh '%s/tools/call_graph.sh' '%s'", GRAVRD_SOURCE_DIR, GRAVRD_BINARY_DIR);
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_call_loops_and_no_long_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
