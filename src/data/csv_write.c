/* csv_write.c - gravrd_csv_write: a frame to CSV text that gravrd_csv_read
 * reads back to the same values.
 *
 * Numbers use %.17g (enough digits to round-trip every double) under the C
 * locale; integral values below 1e15 are formatted by hand because snprintf
 * dominates the run time and their %.17g form is just the digits. Missing is
 * an empty field ("" in a one-column file, where an empty line would be
 * skipped as blank). Text is quoted only when the reader would otherwise change
 * it (separator, quote, line break, surrounding blanks). A .tsv / .tsv.gz
 * name gives tab separators and a .gz name gzip output, mirroring the reader.
 * Factor levels "", "NA" and "." cannot be told apart from missing on
 * reading; they are written as they are. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data_internal.h"

#define OUT_CAP (1u << 20)

typedef struct {
    const char *path;
    FILE *f;
    gzFile gz;
    char *buf;
    size_t len;
    int failed;   /* first write error already recorded */
    int errnum;
} writer;

static void flush_out(writer *w)
{
    if (w->failed || w->len == 0) {
        w->len = 0;
        return;
    }
    if (w->gz) {
        if (gzwrite(w->gz, w->buf, (unsigned)w->len) != (int)w->len) {
            w->failed = 1;
            w->errnum = errno;
        }
    } else if (fwrite(w->buf, 1, w->len, w->f) != w->len) {
        w->failed = 1;
        w->errnum = errno;
    }
    w->len = 0;
}

static void put(writer *w, const char *s, size_t n)
{
    while (n) {
        if (w->len == OUT_CAP)
            flush_out(w);
        size_t k = OUT_CAP - w->len;
        if (k > n)
            k = n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

static void put_char(writer *w, char c)
{
    if (w->len == OUT_CAP)
        flush_out(w);
    w->buf[w->len++] = c;
}

static void put_text(writer *w, const char *s, char sep)
{
    size_t n = strlen(s);
    int quote = n > 0 && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    for (size_t i = 0; !quote && i < n; i++)
        quote = s[i] == sep || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        put(w, s, n);
        return;
    }
    put_char(w, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            put_char(w, '"');
        put_char(w, s[i]);
    }
    put_char(w, '"');
}

static void put_number(writer *w, double x)
{
    if (isnan(x))
        return; /* missing */
    char tmp[40];
    if (x != 0 && fabs(x) < 1e15 && x == floor(x)) {
        /* Same text as %.17g for these: the integer digits. */
        long long v = (long long)x;
        unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
        char *e = tmp + sizeof tmp, *p = e;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            *--p = '-';
        put(w, p, (size_t)(e - p));
        return;
    }
    int n = snprintf(tmp, sizeof tmp, "%.17g", x);
    put(w, tmp, (size_t)n);
}

static gravrd_status check_frame(const char *path, const gravrd_frame *frame, gravrd_error *err)
{
    for (size_t j = 0; j < frame->n_cols; j++) {
        const gravrd_column *c = &frame->cols[j];
        if (!c->name)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: column %zu has no name", path, j + 1);
        if (c->type == GRAVRD_COL_NUMERIC && !c->num_N && frame->n_rows)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: column '%s' has no values", path,
                                    c->name);
        if (c->type == GRAVRD_COL_FACTOR) {
            if ((!c->codes_N && frame->n_rows) || (!c->levels_L && c->n_levels > 0))
                return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: column '%s' has no codes",
                                        path, c->name);
            for (size_t i = 0; i < frame->n_rows; i++)
                if (c->codes_N[i] < -1 || c->codes_N[i] >= c->n_levels)
                    return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                            "%s: column '%s', row %zu: code %d outside -1..%d", path,
                                            c->name, i + 1, (int)c->codes_N[i], (int)c->n_levels - 1);
        }
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_csv_write(const char *path, const gravrd_frame *frame, gravrd_error *err)
{
    if (!path || !path[0] || !frame)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_csv_write: no file name or frame");
    gravrd_status st = check_frame(path, frame, err);
    if (st != GRAVRD_OK)
        return st;

    writer w;
    memset(&w, 0, sizeof w);
    w.path = path;
    char sep = (gravrd_path_has_suffix(path, ".tsv") || gravrd_path_has_suffix(path, ".tsv.gz")) ? '\t' : ',';
    w.buf = malloc(OUT_CAP);
    if (!w.buf)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory", path);
    errno = 0;
    if (gravrd_path_has_suffix(path, ".gz"))
        w.gz = gzopen(path, "wb");
    else
        w.f = fopen(path, "wb");
    if (!w.gz && !w.f) {
        char msg[256];
        free(w.buf);
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open for writing: %s", path,
                                gravrd_strerror(errno ? errno : ENOMEM, msg, sizeof msg));
    }

    gravrd_numctx num;
    gravrd_numctx_init(&num);
    locale_t prev = gravrd_numctx_enter(&num);

    for (size_t j = 0; j < frame->n_cols; j++) {
        if (j)
            put_char(&w, sep);
        put_text(&w, frame->cols[j].name, sep);
    }
    put_char(&w, '\n');
    for (size_t i = 0; i < frame->n_rows && !w.failed; i++) {
        for (size_t j = 0; j < frame->n_cols; j++) {
            const gravrd_column *c = &frame->cols[j];
            if (j)
                put_char(&w, sep);
            if (c->type == GRAVRD_COL_NUMERIC && !isnan(c->num_N[i]))
                put_number(&w, c->num_N[i]);
            else if (c->type == GRAVRD_COL_FACTOR && c->codes_N[i] >= 0)
                put_text(&w, c->levels_L[c->codes_N[i]], sep);
            else if (frame->n_cols == 1)
                put(&w, "\"\"", 2); /* an empty line would be skipped as blank */
        }
        put_char(&w, '\n');
    }
    flush_out(&w);

    gravrd_numctx_leave(&num, prev);
    gravrd_numctx_free(&num);

    int close_failed;
    if (w.gz) {
        close_failed = gzclose(w.gz) != Z_OK;
    } else {
        close_failed = fclose(w.f) != 0;
    }
    if (close_failed && !w.failed) {
        w.failed = 1;
        w.errnum = errno;
    }
    free(w.buf);
    if (w.failed) {
        char msg[256];
        remove(path); /* do not leave a truncated file that looks complete */
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: write error: %s", path,
                                gravrd_strerror(w.errnum ? w.errnum : EIO, msg, sizeof msg));
    }
    return GRAVRD_OK;
}
