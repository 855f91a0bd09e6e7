/* testutil.h - small helpers shared by the cmocka tests: a private temporary
 * directory per test program and whole-file write/read. Functions return
 * NULL / non-zero on failure so tests can assert on them. */
#ifndef GRAVRD_TESTUTIL_H
#define GRAVRD_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); malloc'ed path. */
char *testutil_tempdir(void);
/* Removes dir and everything below it (symlinks are not followed), then
 * frees the dir string. */
void testutil_rmdir(char *dir);
/* dir + "/" + name, malloc'ed. */
char *testutil_path(const char *dir, const char *name);
/* Writes len bytes to path (truncating); 0 on success. */
int testutil_write_file(const char *path, const void *data, size_t len);
/* Writes the NUL-terminated text to dir/name; malloc'ed path or NULL. */
char *testutil_write_temp(const char *dir, const char *name, const char *text);
/* Reads a whole file; malloc'ed, NUL-terminated, length in *len if not NULL. */
char *testutil_read_file(const char *path, size_t *len);
/* The test panels' directed pairs: pairs 0 .. n_east n_west - 1 go east to
 * west (exporter d / n_west, importer n_east + d % n_west), the next as many
 * west to east; cities numbered 0 .. n_east + n_west - 1, east first. */
void testutil_pair_cities(int d, int n_east, int n_west, int *exporter, int *importer);

#endif
