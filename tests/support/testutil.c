/* testutil.c - temporary directories and whole-file I/O for the tests. */
#include "support/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *testutil_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    size_t n = strlen(base) + sizeof "/gravrd-test-XXXXXX";
    char *dir = malloc(n);
    if (!dir)
        return NULL;
    snprintf(dir, n, "%s/gravrd-test-XXXXXX", base);
    if (!mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    return dir;
}

/* Removes path and, if it is a directory, everything below it. */
static void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = testutil_path(path, e->d_name);
            if (p)
                remove_tree(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(path);
}

void testutil_rmdir(char *dir)
{
    if (!dir)
        return;
    remove_tree(dir);
    free(dir);
}

char *testutil_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int testutil_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

char *testutil_write_temp(const char *dir, const char *name, const char *text)
{
    char *p = testutil_path(dir, name);
    if (p && testutil_write_file(p, text, strlen(text)) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

char *testutil_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

void testutil_pair_cities(int d, int n_east, int n_west, int *exporter, int *importer)
{
    if (d < n_east * n_west) {
        *exporter = d / n_west;
        *importer = n_east + d % n_west;
    } else {
        *exporter = n_east + (d - n_east * n_west) / n_east;
        *importer = (d - n_east * n_west) % n_east;
    }
}
