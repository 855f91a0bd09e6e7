/* file_load.c - reads a whole (possibly gzip-compressed) file into memory.
 *
 * The CSV reader works on one contiguous buffer: splitting fields in a single
 * pass over memory is much faster than stdio line reads, and a buffer lets a
 * column that turns out to be text re-read its earlier fields. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_internal.h"

#define SPARE 2 /* bytes the caller may append (sentinels) */

static gravrd_status io_error(gravrd_error *err, const char *path, const char *what, int errnum)
{
    char msg[256];
    return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: %s: %s", path, what,
                            gravrd_strerror(errnum, msg, sizeof msg));
}

/* Grows *buf so that at least `need` more bytes fit after len (+ SPARE). */
static int reserve(char **buf, size_t *cap, size_t len, size_t need)
{
    if (*cap - len >= need + SPARE)
        return 0;
    size_t ncap = *cap ? *cap : 1 << 16;
    while (ncap - len < need + SPARE) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    char *nb = realloc(*buf, ncap);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

/* zlib's messages start with the path; the caller adds it already. */
static const char *zlib_message(gzFile gz, const char *path, int *zerr)
{
    const char *m = gzerror(gz, zerr);
    size_t n = strlen(path);
    if (m && strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
        m += n + 2;
    return m ? m : "unknown error";
}

static gravrd_status load_gzip(const char *path, size_t size_hint, char **buf_out, size_t *len_out,
                               gravrd_error *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return io_error(err, path, "cannot open", errno ? errno : ENOMEM);
    gzbuffer(gz, 1 << 18);

    char *buf = NULL;
    size_t cap = 0, len = 0;
    /* Trade data compresses about 4-8x; start near the final size. */
    size_t chunk = size_hint < (1 << 20) ? (1 << 20) : size_hint;
    gravrd_status st = GRAVRD_OK;
    for (;;) {
        if (reserve(&buf, &cap, len, chunk)) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory reading the file", path);
            break;
        }
        size_t room = cap - len - SPARE;
        unsigned want = room > (size_t)INT_MAX / 2 ? (unsigned)(INT_MAX / 2) : (unsigned)room;
        int got = gzread(gz, buf + len, want);
        if (got < 0) {
            int zerr;
            const char *zmsg = zlib_message(gz, path, &zerr);
            if (zerr == Z_ERRNO)
                st = io_error(err, path, "read error", errno);
            else
                st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: corrupt gzip data (%s)", path, zmsg);
            break;
        }
        if (got == 0) {
            /* gzread reports a truncated stream only through gzerror. */
            int zerr;
            const char *zmsg = zlib_message(gz, path, &zerr);
            if (zerr != Z_OK)
                st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: corrupt or truncated gzip data (%s)",
                                      path, zmsg);
            break;
        }
        len += (size_t)got;
        chunk = len; /* keep doubling */
    }
    gzclose(gz);
    if (st != GRAVRD_OK) {
        free(buf);
        return st;
    }
    *buf_out = buf;
    *len_out = len;
    return GRAVRD_OK;
}

gravrd_status gravrd_load_file(const char *path, char **buf_out, size_t *len_out, gravrd_error *err)
{
    *buf_out = NULL;
    *len_out = 0;
    if (!path || !path[0])
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "no input file given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return io_error(err, path, "cannot open", errno);

    struct stat sb;
    size_t size_hint = 0;
    if (fstat(fileno(f), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fclose(f);
            return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: is a directory, not a file", path);
        }
        if (S_ISREG(sb.st_mode) && sb.st_size > 0)
            size_hint = (size_t)sb.st_size;
    }

    unsigned char magic[2];
    size_t nmagic = fread(magic, 1, 2, f);
    if (nmagic == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        fclose(f);
        return load_gzip(path, size_hint * 4, buf_out, len_out, err);
    }

    char *buf = NULL;
    size_t cap = 0, len = 0;
    if (reserve(&buf, &cap, 0, size_hint + (1 << 16))) {
        fclose(f);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory reading the file", path);
    }
    memcpy(buf, magic, nmagic);
    len = nmagic;
    gravrd_status st = GRAVRD_OK;
    /* Loop until EOF rather than trusting st_size: pipes and growing files. */
    while (nmagic == 2) {
        if (reserve(&buf, &cap, len, 1 << 16)) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory reading the file", path);
            break;
        }
        size_t got = fread(buf + len, 1, cap - len - SPARE, f);
        len += got;
        if (got == 0)
            break;
    }
    if (st == GRAVRD_OK && ferror(f))
        st = io_error(err, path, "read error", errno);
    fclose(f);
    if (st != GRAVRD_OK) {
        free(buf);
        return st;
    }
    *buf_out = buf;
    *len_out = len;
    return GRAVRD_OK;
}
