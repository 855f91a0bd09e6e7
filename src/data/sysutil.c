/* sysutil.c - small OS helpers for the data layer: thread-safe error text and
 * file-name suffix tests (used to pick the separator and gzip output). */
#include <string.h>
#include <stdio.h>

#include "data_internal.h"

const char *gravrd_strerror(int errnum, char *buf, size_t len)
{
    /* XSI strerror_r (we build with _POSIX_C_SOURCE, not _GNU_SOURCE):
     * strerror() may return a shared static buffer. */
    if (strerror_r(errnum, buf, len) != 0)
        snprintf(buf, len, "error %d", errnum);
    return buf;
}

int gravrd_path_has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    if (k > n)
        return 0;
    const char *p = path + (n - k);
    for (size_t i = 0; i < k; i++) {
        int a = (unsigned char)p[i], b = (unsigned char)suffix[i];
        if (a >= 'A' && a <= 'Z')
            a += 'a' - 'A';
        if (b >= 'A' && b <= 'Z')
            b += 'a' - 'A';
        if (a != b)
            return 0;
    }
    return 1;
}
