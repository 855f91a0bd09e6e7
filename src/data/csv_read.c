/* csv_read.c - gravrd_csv_read: CSV/TSV text (plain or gzip) to a frame.
 *
 * Design, driven by "a million rows in well under a second":
 *  - the whole file is loaded into one buffer (file_load.c) and split in a
 *    single pass; a '\n' sentinel is appended so inner loops need no bounds
 *    checks (every field ends at a separator or '\n');
 *  - each column starts out numeric and numbers are parsed straight from the
 *    buffer (numparse.c); a column switches to text at its first value that is
 *    not a number, and the text of its earlier rows is recovered afterwards
 *    by one re-scan of just those rows (rare: text columns are usually text
 *    from the first row), so no per-field offsets need to be stored;
 *  - text values are interned per column (intern.c), levels sorted by strcmp
 *    at the end and codes remapped.
 *
 * Field rules: a field that starts with '"' (after blanks) is quoted: "" is a
 * quote, separators and newlines are literal, blanks around the quotes are
 * ignored and the content is kept exactly. Unquoted fields have leading and
 * trailing blanks (space, '\r', and tab unless tab is the separator) removed.
 * Empty, NA and "." are missing, judged after unquoting (so "" and "NA" in
 * quotes are missing too, as readr does by default). Blank lines are skipped;
 * gravrd_csv_write therefore writes "" for a missing value in a one-column
 * file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

enum { CLS_WS = 1, CLS_DELIM = 2 };

typedef struct {
    int numeric;          /* still numeric so far */
    size_t switch_row;    /* text columns: rows before this need the re-scan */
    double *num;          /* numeric values, one per row */
    int32_t *codes;       /* text: first-seen codes, one per row */
    gravrd_intern levels;
} col_build;

typedef struct {
    const char *path;
    const char *end;      /* one past the final '\n' sentinel */
    char sep;
    unsigned char cls[256];
    gravrd_numctx num;
    char *scratch;        /* unescaped quoted fields ("" -> ") */
    size_t scratch_cap;
    size_t line;          /* 1-based line number at the scan position */
    size_t n_cols;
    char **names;
    col_build *cols;
    size_t cap_rows;
    gravrd_error *err;
} reader;

typedef struct {
    const char *s;
    size_t len;
    int quoted;
} field;

static gravrd_status nomem(reader *r)
{
    return gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
}

static const char *col_label(const reader *r, size_t c, char *buf, size_t len)
{
    if (r->names && c < r->n_cols && r->names[c]) {
        snprintf(buf, len, ", column '%s'", r->names[c]);
    } else {
        snprintf(buf, len, ", column %zu", c + 1);
    }
    return buf;
}

/* Scans one field at *pp and leaves *pp on the separator or '\n' after it.
 * c is the column index, for messages only. */
static gravrd_status scan_field(reader *r, const char **pp, size_t c, field *f)
{
    const unsigned char *p = (const unsigned char *)*pp;
    while (r->cls[*p] & CLS_WS)
        p++;
    if (*p != '"') {
        const unsigned char *s = p;
        while (!(r->cls[*p] & CLS_DELIM))
            p++;
        const unsigned char *e = p;
        while (e > s && (r->cls[e[-1]] & CLS_WS))
            e--;
        f->s = (const char *)s;
        f->len = (size_t)(e - s);
        f->quoted = 0;
        *pp = (const char *)p;
        return GRAVRD_OK;
    }

    size_t open_line = r->line;
    const char *start = (const char *)p + 1, *q = start, *close;
    int escaped = 0;
    for (;;) {
        close = memchr(q, '"', (size_t)(r->end - q));
        if (!close) {
            char lbl[300];
            return gravrd_error_set(r->err, GRAVRD_ERR_PARSE,
                                    "%s:%zu%s: unterminated quoted field (no closing '\"')",
                                    r->path, open_line, col_label(r, c, lbl, sizeof lbl));
        }
        for (const char *t = q; t < close; t++)
            r->line += *t == '\n';
        if (close[1] == '"') { /* "" inside quotes; close < end - 1, so close[1] exists */
            escaped = 1;
            q = close + 2;
            continue;
        }
        break;
    }
    size_t raw = (size_t)(close - start);
    if (escaped) {
        if (raw + 1 > r->scratch_cap) {
            size_t cap = r->scratch_cap ? r->scratch_cap : 256;
            while (cap < raw + 1)
                cap *= 2;
            char *ns = realloc(r->scratch, cap);
            if (!ns)
                return nomem(r);
            r->scratch = ns;
            r->scratch_cap = cap;
        }
        size_t k = 0;
        for (const char *t = start; t < close; t++) {
            r->scratch[k++] = *t;
            if (*t == '"')
                t++; /* skip the second quote of "" */
        }
        r->scratch[k] = '\0'; /* terminates number parsing */
        f->s = r->scratch;
        f->len = k;
    } else {
        f->s = start; /* followed by the closing quote, which ends a number */
        f->len = raw;
    }
    f->quoted = 1;
    p = (const unsigned char *)close + 1;
    while (r->cls[*p] & CLS_WS)
        p++;
    if (!(r->cls[*p] & CLS_DELIM)) {
        char lbl[300];
        int n = 0;
        while (n < 20 && !(r->cls[p[n]] & CLS_DELIM) && p[n] != '\r')
            n++;
        return gravrd_error_set(r->err, GRAVRD_ERR_PARSE,
                                "%s:%zu%s: unexpected text after a closing quote: '%.*s'", r->path,
                                r->line, col_label(r, c, lbl, sizeof lbl), n, (const char *)p);
    }
    *pp = (const char *)p;
    return GRAVRD_OK;
}

static int is_missing(const field *f)
{
    return f->len == 0 || (f->len == 2 && f->s[0] == 'N' && f->s[1] == 'A') ||
           (f->len == 1 && f->s[0] == '.');
}

/* Whole quoted content as a number (blanks around it allowed). */
static int parse_quoted_number(reader *r, const field *f, double *v)
{
    const char *s = f->s, *e = f->s + f->len;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    const char *q = gravrd_parse_double(s, v, &r->num);
    if (!q || q > e)
        return 0;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
        q++;
    return q == e;
}

static gravrd_status intern_field(reader *r, col_build *cb, size_t c, const field *f, int32_t *code)
{
    int32_t k = gravrd_intern_get(&cb->levels, f->s, f->len);
    if (k >= 0) {
        *code = k;
        return GRAVRD_OK;
    }
    char lbl[300];
    col_label(r, c, lbl, sizeof lbl);
    if (k == -2)
        return gravrd_error_set(r->err, GRAVRD_ERR_PARSE, "%s:%zu%s: value contains a NUL byte",
                                r->path, r->line, lbl);
    if (k == -3)
        return gravrd_error_set(r->err, GRAVRD_ERR_DATA, "%s:%zu%s: too many distinct values",
                                r->path, r->line, lbl);
    return nomem(r);
}

static gravrd_status switch_to_text(reader *r, col_build *cb, size_t row)
{
    cb->codes = malloc((r->cap_rows ? r->cap_rows : 1) * sizeof *cb->codes);
    if (!cb->codes)
        return nomem(r);
    free(cb->num);
    cb->num = NULL;
    cb->numeric = 0;
    cb->switch_row = row;
    return GRAVRD_OK;
}

/* Skips blank lines at *pp; returns 1 if a row (or the header) starts there. */
static int skip_blank_lines(reader *r, const char **pp)
{
    const unsigned char *p = (const unsigned char *)*pp;
    while ((const char *)p < r->end) {
        const unsigned char *b = p;
        while (r->cls[*b] & CLS_WS)
            b++;
        if (*b != '\n')
            break;
        p = b + 1;
        r->line++;
    }
    *pp = (const char *)p;
    return (const char *)p < r->end;
}

/* Counts the fields of a row that has too many, for the message. */
static size_t count_rest(reader *r, const char *p, size_t c)
{
    size_t n = c + 1;
    while (*p == r->sep) {
        p++;
        n++;
        field f;
        if (scan_field(r, &p, c, &f) != GRAVRD_OK)
            break;
    }
    return n;
}

static gravrd_status read_header(reader *r, const char **pp)
{
    const char *p = *pp;
    size_t cap = 16;
    gravrd_intern seen;
    gravrd_intern_init(&seen);
    r->names = calloc(cap, sizeof *r->names);
    if (!r->names)
        return nomem(r);
    gravrd_status st = GRAVRD_OK;
    for (;;) {
        field f;
        if ((st = scan_field(r, &p, r->n_cols, &f)) != GRAVRD_OK)
            break;
        if (r->n_cols == cap) {
            char **nn = realloc(r->names, 2 * cap * sizeof *nn);
            if (!nn) {
                st = nomem(r);
                break;
            }
            memset(nn + cap, 0, cap * sizeof *nn);
            r->names = nn;
            cap *= 2;
        }
        if (f.len == 0) {
            st = gravrd_error_set(r->err, GRAVRD_ERR_PARSE, "%s:%zu: column %zu has an empty name",
                                  r->path, r->line, r->n_cols + 1);
            break;
        }
        int32_t k = gravrd_intern_get(&seen, f.s, f.len);
        if (k == -2) {
            st = gravrd_error_set(r->err, GRAVRD_ERR_PARSE,
                                  "%s:%zu: column %zu: name contains a NUL byte", r->path, r->line,
                                  r->n_cols + 1);
            break;
        }
        if (k < 0) {
            st = nomem(r);
            break;
        }
        if ((size_t)k != r->n_cols) {
            st = gravrd_error_set(r->err, GRAVRD_ERR_PARSE,
                                  "%s:%zu: duplicate column name '%s' (columns %d and %zu)", r->path,
                                  r->line, seen.strs[k], (int)k + 1, r->n_cols + 1);
            break;
        }
        r->names[r->n_cols] = malloc(f.len + 1);
        if (!r->names[r->n_cols]) {
            st = nomem(r);
            break;
        }
        memcpy(r->names[r->n_cols], f.s, f.len);
        r->names[r->n_cols][f.len] = '\0';
        r->n_cols++;
        if (*p == '\n')
            break;
        p++; /* separator */
    }
    gravrd_intern_free(&seen);
    if (st == GRAVRD_OK) {
        *pp = p + 1;
        r->line++;
    }
    return st;
}

static gravrd_status setup_columns(reader *r, const gravrd_csv_options *opt)
{
    r->cols = calloc(r->n_cols, sizeof *r->cols);
    if (!r->cols)
        return nomem(r);
    for (size_t c = 0; c < r->n_cols; c++) {
        gravrd_intern_init(&r->cols[c].levels);
        r->cols[c].numeric = 1;
    }
    if (opt && opt->text_columns) {
        for (const char *const *t = opt->text_columns; *t; t++) {
            size_t c = 0;
            while (c < r->n_cols && strcmp(r->names[c], *t) != 0)
                c++;
            if (c == r->n_cols)
                return gravrd_error_set(r->err, GRAVRD_ERR_INVALID,
                                        "%s: text column '%s' is not in the header", r->path, *t);
            if (r->cols[c].numeric && switch_to_text(r, &r->cols[c], 0) != GRAVRD_OK)
                return GRAVRD_ERR_NOMEM;
        }
    }
    for (size_t c = 0; c < r->n_cols; c++) {
        if (r->cols[c].numeric) {
            r->cols[c].num = malloc((r->cap_rows ? r->cap_rows : 1) * sizeof(double));
            if (!r->cols[c].num)
                return nomem(r);
        }
    }
    return GRAVRD_OK;
}

/* The main pass: every row, every field. Returns the row count in *n_rows. */
static gravrd_status read_rows(reader *r, const char *p, size_t *n_rows)
{
    const size_t nc = r->n_cols;
    const char sep = r->sep;
    size_t row = 0;
    gravrd_status st;

    while (skip_blank_lines(r, &p)) {
        size_t row_line = r->line;
        for (size_t c = 0; c < nc; c++) {
            col_build *cb = &r->cols[c];
            if (cb->numeric) {
                /* Fast path: a plain number straight from the buffer. */
                const unsigned char *q = (const unsigned char *)p;
                while (r->cls[*q] & CLS_WS)
                    q++;
                double v;
                const char *e = gravrd_parse_double((const char *)q, &v, &r->num);
                if (e) {
                    while (r->cls[(unsigned char)*e] & CLS_WS)
                        e++;
                    if (r->cls[(unsigned char)*e] & CLS_DELIM) {
                        cb->num[row] = v; /* "nan" gives NaN: missing */
                        p = e;
                        goto delimiter;
                    }
                }
            }
            field f;
            if ((st = scan_field(r, &p, c, &f)) != GRAVRD_OK)
                return st;
            if (cb->numeric) {
                double v;
                if (is_missing(&f)) {
                    cb->num[row] = NAN;
                    goto delimiter;
                }
                /* Unquoted fields already failed the fast path above. */
                if (f.quoted && parse_quoted_number(r, &f, &v)) {
                    cb->num[row] = v;
                    goto delimiter;
                }
                if ((st = switch_to_text(r, cb, row)) != GRAVRD_OK)
                    return st;
            }
            if (is_missing(&f)) {
                cb->codes[row] = -1;
            } else if ((st = intern_field(r, cb, c, &f, &cb->codes[row])) != GRAVRD_OK) {
                return st;
            }
        delimiter:
            if (*p == sep) {
                if (c + 1 == nc)
                    return gravrd_error_set(r->err, GRAVRD_ERR_PARSE,
                                            "%s:%zu: row has %zu fields, header has %zu", r->path,
                                            row_line, count_rest(r, p, c), nc);
                p++;
            } else if (c + 1 < nc) { /* '\n' */
                return gravrd_error_set(r->err, GRAVRD_ERR_PARSE,
                                        "%s:%zu: row has %zu fields, header has %zu", r->path,
                                        row_line, c + 1, nc);
            }
        }
        p++; /* '\n' */
        r->line++;
        row++;
    }
    *n_rows = row;
    return GRAVRD_OK;
}

/* Fills the text of rows that were read before their column turned out to be
 * text. Rows are found the same way as in the main pass, which already
 * validated them. */
static gravrd_status rescan_early_rows(reader *r, const char *p, size_t line)
{
    size_t rmax = 0;
    for (size_t c = 0; c < r->n_cols; c++)
        if (!r->cols[c].numeric && r->cols[c].switch_row > rmax)
            rmax = r->cols[c].switch_row;
    if (rmax == 0)
        return GRAVRD_OK;
    r->line = line;
    for (size_t row = 0; row < rmax && skip_blank_lines(r, &p); row++) {
        for (size_t c = 0; c < r->n_cols; c++) {
            col_build *cb = &r->cols[c];
            field f;
            gravrd_status st = scan_field(r, &p, c, &f);
            if (st != GRAVRD_OK)
                return st;
            if (!cb->numeric && row < cb->switch_row) {
                if (is_missing(&f))
                    cb->codes[row] = -1;
                else if ((st = intern_field(r, cb, c, &f, &cb->codes[row])) != GRAVRD_OK)
                    return st;
            }
            p++; /* separator, or '\n' after the last field */
        }
        r->line++;
    }
    return GRAVRD_OK;
}

/* Moves the built columns into a new frame (sorting factor levels). */
static gravrd_status build_frame(reader *r, size_t n_rows, gravrd_frame **out)
{
    gravrd_frame *fr = gravrd_frame_new(n_rows, r->path);
    if (!fr)
        return nomem(r);
    size_t alloc_rows = n_rows ? n_rows : 1;
    for (size_t c = 0; c < r->n_cols; c++) {
        col_build *cb = &r->cols[c];
        gravrd_column col = {0};
        col.name = r->names[c];
        r->names[c] = NULL;
        if (cb->numeric) {
            col.type = GRAVRD_COL_NUMERIC;
            double *shrunk = realloc(cb->num, alloc_rows * sizeof *shrunk);
            col.num_N = shrunk ? shrunk : cb->num;
            cb->num = NULL;
        } else {
            col.type = GRAVRD_COL_FACTOR;
            int32_t nl = cb->levels.n;
            int32_t *remap = malloc((nl ? (size_t)nl : 1) * sizeof *remap);
            if (!remap || gravrd_intern_sort(&cb->levels, remap)) {
                free(remap);
                gravrd_column_clear(&col);
                gravrd_frame_free(fr);
                return nomem(r);
            }
            int32_t *codes = cb->codes;
            for (size_t i = 0; i < n_rows; i++)
                if (codes[i] >= 0)
                    codes[i] = remap[codes[i]];
            free(remap);
            int32_t *shrunk = realloc(codes, alloc_rows * sizeof *shrunk);
            col.codes_N = shrunk ? shrunk : codes;
            cb->codes = NULL;
            col.levels_L = gravrd_intern_release(&cb->levels, &col.n_levels);
            if (!col.levels_L)
                col.levels_L = calloc(1, sizeof(char *)); /* zero levels: keep non-NULL */
            if (!col.levels_L) {
                gravrd_column_clear(&col);
                gravrd_frame_free(fr);
                return nomem(r);
            }
        }
        if (gravrd_frame_push_column(fr, &col, r->err) != GRAVRD_OK) {
            gravrd_frame_free(fr);
            return GRAVRD_ERR_NOMEM;
        }
    }
    *out = fr;
    return GRAVRD_OK;
}

static void reader_free(reader *r)
{
    if (r->names) {
        for (size_t c = 0; c < r->n_cols; c++)
            free(r->names[c]);
        free(r->names);
    }
    if (r->cols) {
        for (size_t c = 0; c < r->n_cols; c++) {
            free(r->cols[c].num);
            free(r->cols[c].codes);
            gravrd_intern_free(&r->cols[c].levels);
        }
        free(r->cols);
    }
    free(r->scratch);
    gravrd_numctx_free(&r->num);
}

/* Number of '\n' bytes in [p, end), 8 bytes at a time (a byte loop costs a
 * noticeable share of the whole read). */
static size_t count_newlines(const char *p, const char *end)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), low7 = UINT64_C(0x7F7F7F7F7F7F7F7F);
    size_t n = 0;
    while ((size_t)(end - p) >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= ones * '\n';                          /* '\n' bytes become 0 */
        uint64_t z = ~(((w & low7) + low7) | w | low7); /* 0x80 in each zero byte */
        n += (size_t)(((z >> 7) * ones) >> 56);
        p += 8;
    }
    for (; p < end; p++)
        n += *p == '\n';
    return n;
}

static gravrd_status check_separator(const char *path, char sep, gravrd_error *err)
{
    /* Characters that can occur inside a number or around fields would make
     * splitting ambiguous. */
    if (sep == '"' || sep == '\n' || sep == '\r' || sep == ' ' || sep == '.' || sep == '+' ||
        sep == '-' || (sep >= '0' && sep <= '9') || (sep >= 'a' && sep <= 'z') ||
        (sep >= 'A' && sep <= 'Z'))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: unsupported separator '%c'", path,
                                sep);
    return GRAVRD_OK;
}

/* Parses a loaded buffer; takes ownership of buf, which must have room for
 * two more bytes after len (a final newline and the terminating NUL). */
static gravrd_status read_loaded(const char *path, const gravrd_csv_options *opt, char *buf, size_t len,
                                 gravrd_frame **out, gravrd_error *err)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.err = err;
    r.line = 1;
    gravrd_numctx_init(&r.num);
    r.sep = opt && opt->separator ? opt->separator
            : (gravrd_path_has_suffix(path, ".tsv") || gravrd_path_has_suffix(path, ".tsv.gz")) ? '\t'
                                                                                                : ',';
    gravrd_status st = check_separator(path, r.sep, err);
    if (st != GRAVRD_OK) {
        free(buf);
        return st;
    }
    r.cls[' '] = CLS_WS;
    r.cls['\r'] = CLS_WS;
    if (r.sep != '\t')
        r.cls['\t'] = CLS_WS;
    r.cls['\n'] = CLS_DELIM;
    r.cls[(unsigned char)r.sep] = CLS_DELIM;

    if (len == 0 || buf[len - 1] != '\n')
        buf[len++] = '\n'; /* the sentinel: every row ends with '\n' */
    buf[len] = '\0';
    r.end = buf + len;

    const char *p = buf;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 byte order mark (Excel) */

    if (!skip_blank_lines(&r, &p)) {
        st = gravrd_error_set(err, GRAVRD_ERR_PARSE, "%s: empty file (no header row)", path);
        goto done;
    }
    if ((st = read_header(&r, &p)) != GRAVRD_OK)
        goto done;

    /* Rows cannot outnumber the remaining line ends: exact-enough capacity. */
    r.cap_rows = count_newlines(p, r.end);
    if ((st = setup_columns(&r, opt)) != GRAVRD_OK)
        goto done;

    const char *data = p;
    size_t data_line = r.line;
    size_t n_rows = 0;
    if ((st = read_rows(&r, p, &n_rows)) != GRAVRD_OK)
        goto done;
    if ((st = rescan_early_rows(&r, data, data_line)) != GRAVRD_OK)
        goto done;
    st = build_frame(&r, n_rows, out);

done:
    reader_free(&r);
    free(buf);
    return st;
}

gravrd_status gravrd_csv_read(const char *path, const gravrd_csv_options *opt,
                              gravrd_frame **out, gravrd_error *err)
{
    if (!out)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_csv_read: no output frame");
    *out = NULL;
    if (!path)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_csv_read: no file name");
    char *buf;
    size_t len;
    gravrd_status st = gravrd_load_file(path, &buf, &len, err);
    if (st != GRAVRD_OK)
        return st;
    return read_loaded(path, opt, buf, len, out, err);
}

gravrd_status gravrd_csv_read_buffer(const char *name, const char *text, size_t len, const gravrd_csv_options *opt,
                                     gravrd_frame **out, gravrd_error *err)
{
    if (!out)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_csv_read_buffer: no output frame");
    *out = NULL;
    if (!name || (!text && len))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_csv_read_buffer: no name or no text");
    char *buf = malloc(len + 2);
    if (!buf)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory", name);
    if (len)
        memcpy(buf, text, len);
    return read_loaded(name, opt, buf, len, out, err);
}
