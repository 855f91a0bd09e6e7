/* csv_read.c - gravrd_csv_read: CSV/TSV text (plain or gzip) to a frame.
 *
 * Design, driven by "a million rows in well under a second":
 *  - the whole file is loaded into one buffer (file_load.c); a '\n' sentinel
 *    is appended so inner loops need no bounds checks (every field ends at a
 *    separator or '\n');
 *  - the rows after the header are cut at line ends into chunks of about
 *    chunk_bytes (4 MiB) that threads parse independently, each writing its
 *    rows straight into the frame's column arrays at the chunk's first row
 *    (one pass that counts the line ends of every chunk gives the offsets).
 *    A file with a '"' after the header, a small file or one thread is one
 *    chunk: a quoted field may hold a line end, so only a sequential scan
 *    can tell where rows end;
 *  - in each chunk every column starts out numeric and numbers are parsed
 *    straight from the buffer (numparse.c); a column switches to text at its
 *    first value that is not a number, and the text of its earlier rows is
 *    recovered afterwards by one re-scan of just those rows (rare: text
 *    columns are usually text from the first row), so no per-field offsets
 *    need to be stored. A column is numeric when it stayed numeric in every
 *    chunk; otherwise the chunks where it was (partly) numeric re-scan it;
 *  - text values are interned per chunk and column (intern.c); the level
 *    table of a column is the union of its chunks' tables sorted by strcmp,
 *    so codes do not depend on the chunking (a level's code is its rank);
 *  - the earliest chunk that fails reports its first error, which is the
 *    first error in the file: chunks before it parsed without one, and a
 *    column's type so far does not change which errors a row can raise.
 * The frame is therefore the same whatever the number of threads.
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
#ifdef _OPENMP
#include <omp.h>
#endif

#include "data_internal.h"

enum { CLS_WS = 1, CLS_DELIM = 2 };

#define DEFAULT_CHUNK_BYTES ((size_t)4 << 20)

/* What the threads share: read-only during the parallel parse except the
 * lazily allocated code arrays (under a critical section). */
typedef struct {
    const char *path;
    char sep;
    unsigned char cls[256];
    size_t n_cols;
    char **names;
    size_t cap_rows;      /* rows the column arrays hold (line ends after the header) */
    double **num;         /* per column: values of the rows parsed as numbers, or NULL */
    int32_t **codes;      /* per column: text codes, NULL until a chunk needs them */
    unsigned char *text;  /* per column: forced text (options) */
    gravrd_error *err;
} reader;

/* One column within one chunk. */
typedef struct {
    int numeric;          /* still numeric in this chunk */
    size_t switch_row;    /* text: chunk rows before this need the re-scan */
    double *num;          /* the shared arrays (whole file, not offset) */
    int32_t *codes;
    gravrd_intern levels; /* text values of this chunk, first-seen codes */
} chunk_col;

/* A run of whole rows, [begin, end) with end just after a '\n'. */
typedef struct {
    reader *r;
    const char *begin, *end;
    size_t first_line;    /* 1-based line number at begin */
    size_t line;          /* line number at the scan position */
    size_t row0;          /* index of the chunk's first row in the column arrays */
    size_t n_lines;       /* line ends in the chunk: rows cannot be more */
    size_t n_rows;        /* rows read */
    int has_quote;
    size_t n_cols;        /* entries of cols */
    chunk_col *cols;
    gravrd_numctx num;
    char *scratch;        /* unescaped quoted fields ("" -> ") */
    size_t scratch_cap;
    gravrd_status st;
    gravrd_error err;     /* the chunk's error; the earliest chunk's is reported */
} chunk;

typedef struct {
    const char *s;
    size_t len;
    int quoted;
} field;

static gravrd_status nomem(chunk *k)
{
    return gravrd_error_set(&k->err, GRAVRD_ERR_NOMEM, "%s: out of memory", k->r->path);
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
static gravrd_status scan_field(chunk *k, const char **pp, size_t c, field *f)
{
    const reader *r = k->r;
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

    /* Only a single-chunk read gets here (chunks are cut only without '"'),
     * so k->end is the end of the buffer, after the sentinel. */
    size_t open_line = k->line;
    const char *start = (const char *)p + 1, *q = start, *close;
    int escaped = 0;
    for (;;) {
        close = memchr(q, '"', (size_t)(k->end - q));
        if (!close) {
            char lbl[300];
            return gravrd_error_set(&k->err, GRAVRD_ERR_PARSE,
                                    "%s:%zu%s: unterminated quoted field (no closing '\"')",
                                    r->path, open_line, col_label(r, c, lbl, sizeof lbl));
        }
        for (const char *t = q; t < close; t++)
            k->line += *t == '\n';
        if (close[1] == '"') { /* "" inside quotes; close < end - 1, so close[1] exists */
            escaped = 1;
            q = close + 2;
            continue;
        }
        break;
    }
    size_t raw = (size_t)(close - start);
    if (escaped) {
        if (raw + 1 > k->scratch_cap) {
            size_t cap = k->scratch_cap ? k->scratch_cap : 256;
            while (cap < raw + 1)
                cap *= 2;
            char *ns = realloc(k->scratch, cap);
            if (!ns)
                return nomem(k);
            k->scratch = ns;
            k->scratch_cap = cap;
        }
        size_t n = 0;
        for (const char *t = start; t < close; t++) {
            k->scratch[n++] = *t;
            if (*t == '"')
                t++; /* skip the second quote of "" */
        }
        k->scratch[n] = '\0'; /* terminates number parsing */
        f->s = k->scratch;
        f->len = n;
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
        return gravrd_error_set(&k->err, GRAVRD_ERR_PARSE,
                                "%s:%zu%s: unexpected text after a closing quote: '%.*s'", r->path,
                                k->line, col_label(r, c, lbl, sizeof lbl), n, (const char *)p);
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
static int parse_quoted_number(chunk *k, const field *f, double *v)
{
    const char *s = f->s, *e = f->s + f->len;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    const char *q = gravrd_parse_double(s, v, &k->num);
    if (!q || q > e)
        return 0;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
        q++;
    return q == e;
}

static gravrd_status intern_field(chunk *k, chunk_col *cc, size_t c, const field *f, int32_t *code)
{
    int32_t v = gravrd_intern_get(&cc->levels, f->s, f->len);
    if (v >= 0) {
        *code = v;
        return GRAVRD_OK;
    }
    char lbl[300];
    col_label(k->r, c, lbl, sizeof lbl);
    if (v == -2)
        return gravrd_error_set(&k->err, GRAVRD_ERR_PARSE, "%s:%zu%s: value contains a NUL byte",
                                k->r->path, k->line, lbl);
    if (v == -3)
        return gravrd_error_set(&k->err, GRAVRD_ERR_DATA, "%s:%zu%s: too many distinct values",
                                k->r->path, k->line, lbl);
    return nomem(k);
}

/* The code array of column c, allocated by the first chunk that needs it. */
static int32_t *shared_codes(reader *r, size_t c)
{
    int32_t *codes;
#ifdef _OPENMP
#pragma omp critical(gravrd_csv_codes)
#endif
    {
        if (!r->codes[c])
            r->codes[c] = malloc((r->cap_rows ? r->cap_rows : 1) * sizeof **r->codes);
        codes = r->codes[c];
    }
    return codes;
}

static gravrd_status switch_to_text(chunk *k, chunk_col *cc, size_t c, size_t row)
{
    if (!(cc->codes = shared_codes(k->r, c)))
        return nomem(k);
    cc->numeric = 0;
    cc->switch_row = row;
    return GRAVRD_OK;
}

/* Skips blank lines at *pp; returns 1 if a row (or the header) starts there. */
static int skip_blank_lines(chunk *k, const char **pp)
{
    const unsigned char *cls = k->r->cls;
    const unsigned char *p = (const unsigned char *)*pp;
    while ((const char *)p < k->end) {
        const unsigned char *b = p;
        while (cls[*b] & CLS_WS)
            b++;
        if (*b != '\n')
            break;
        p = b + 1;
        k->line++;
    }
    *pp = (const char *)p;
    return (const char *)p < k->end;
}

/* Counts the fields of a row that has too many, for the message. */
static size_t count_rest(chunk *k, const char *p, size_t c)
{
    size_t n = c + 1;
    while (*p == k->r->sep) {
        p++;
        n++;
        field f;
        if (scan_field(k, &p, c, &f) != GRAVRD_OK)
            break;
    }
    return n;
}

/* Reads the header with k spanning the whole buffer; *pp moves past it. */
static gravrd_status read_header(chunk *k, const char **pp)
{
    reader *r = k->r;
    const char *p = *pp;
    size_t cap = 16;
    gravrd_intern seen;
    gravrd_intern_init(&seen);
    r->names = calloc(cap, sizeof *r->names);
    if (!r->names)
        return nomem(k);
    gravrd_status st = GRAVRD_OK;
    for (;;) {
        field f;
        if ((st = scan_field(k, &p, r->n_cols, &f)) != GRAVRD_OK)
            break;
        if (r->n_cols == cap) {
            char **nn = realloc(r->names, 2 * cap * sizeof *nn);
            if (!nn) {
                st = nomem(k);
                break;
            }
            memset(nn + cap, 0, cap * sizeof *nn);
            r->names = nn;
            cap *= 2;
        }
        if (f.len == 0) {
            st = gravrd_error_set(&k->err, GRAVRD_ERR_PARSE, "%s:%zu: column %zu has an empty name",
                                  r->path, k->line, r->n_cols + 1);
            break;
        }
        int32_t v = gravrd_intern_get(&seen, f.s, f.len);
        if (v == -2) {
            st = gravrd_error_set(&k->err, GRAVRD_ERR_PARSE,
                                  "%s:%zu: column %zu: name contains a NUL byte", r->path, k->line,
                                  r->n_cols + 1);
            break;
        }
        if (v < 0) {
            st = nomem(k);
            break;
        }
        if ((size_t)v != r->n_cols) {
            st = gravrd_error_set(&k->err, GRAVRD_ERR_PARSE,
                                  "%s:%zu: duplicate column name '%s' (columns %d and %zu)", r->path,
                                  k->line, seen.strs[v], (int)v + 1, r->n_cols + 1);
            break;
        }
        r->names[r->n_cols] = malloc(f.len + 1);
        if (!r->names[r->n_cols]) {
            st = nomem(k);
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
        k->line++;
    }
    return st;
}

/* The shared column arrays; forced text columns get their codes now. */
static gravrd_status setup_columns(reader *r, const gravrd_csv_options *opt)
{
    size_t nc = r->n_cols, rows = r->cap_rows ? r->cap_rows : 1;
    r->num = calloc(nc, sizeof *r->num);
    r->codes = calloc(nc, sizeof *r->codes);
    r->text = calloc(nc, 1);
    if (!r->num || !r->codes || !r->text)
        return gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
    if (opt && opt->text_columns) {
        for (const char *const *t = opt->text_columns; *t; t++) {
            size_t c = 0;
            while (c < nc && strcmp(r->names[c], *t) != 0)
                c++;
            if (c == nc)
                return gravrd_error_set(r->err, GRAVRD_ERR_INVALID,
                                        "%s: text column '%s' is not in the header", r->path, *t);
            r->text[c] = 1;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        if (r->text[c])
            r->codes[c] = malloc(rows * sizeof **r->codes);
        else
            r->num[c] = malloc(rows * sizeof **r->num);
        if (!r->codes[c] && !r->num[c])
            return gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
    }
    return GRAVRD_OK;
}

static gravrd_status chunk_init(chunk *k, reader *r)
{
    k->r = r;
    k->line = k->first_line;
    k->st = GRAVRD_OK;
    gravrd_error_clear(&k->err);
    gravrd_numctx_init(&k->num);
    k->cols = calloc(r->n_cols ? r->n_cols : 1, sizeof *k->cols);
    if (!k->cols)
        return nomem(k);
    k->n_cols = r->n_cols;
    for (size_t c = 0; c < r->n_cols; c++) {
        chunk_col *cc = &k->cols[c];
        gravrd_intern_init(&cc->levels);
        cc->numeric = !r->text[c];
        cc->num = r->num[c];
        cc->codes = r->codes[c];
    }
    return GRAVRD_OK;
}

static void chunk_free(chunk *k)
{
    for (size_t c = 0; k->cols && c < k->n_cols; c++)
        gravrd_intern_free(&k->cols[c].levels);
    free(k->cols);
    k->cols = NULL;
    free(k->scratch);
    k->scratch = NULL;
    gravrd_numctx_free(&k->num);
}

/* The main pass over a chunk: every row, every field. */
static gravrd_status read_rows(chunk *k)
{
    const reader *r = k->r;
    const size_t nc = r->n_cols;
    const char sep = r->sep;
    const char *p = k->begin;
    size_t row = k->row0;
    gravrd_status st;

    while (skip_blank_lines(k, &p)) {
        size_t row_line = k->line;
        for (size_t c = 0; c < nc; c++) {
            chunk_col *cc = &k->cols[c];
            if (cc->numeric) {
                /* Fast path: a plain number straight from the buffer. */
                const unsigned char *q = (const unsigned char *)p;
                while (r->cls[*q] & CLS_WS)
                    q++;
                double v;
                const char *e = gravrd_parse_double((const char *)q, &v, &k->num);
                if (e) {
                    while (r->cls[(unsigned char)*e] & CLS_WS)
                        e++;
                    if (r->cls[(unsigned char)*e] & CLS_DELIM) {
                        cc->num[row] = v; /* "nan" gives NaN: missing */
                        p = e;
                        goto delimiter;
                    }
                }
            }
            field f;
            if ((st = scan_field(k, &p, c, &f)) != GRAVRD_OK)
                return st;
            if (cc->numeric) {
                double v;
                if (is_missing(&f)) {
                    cc->num[row] = NAN;
                    goto delimiter;
                }
                /* Unquoted fields already failed the fast path above. */
                if (f.quoted && parse_quoted_number(k, &f, &v)) {
                    cc->num[row] = v;
                    goto delimiter;
                }
                if ((st = switch_to_text(k, cc, c, row - k->row0)) != GRAVRD_OK)
                    return st;
            }
            if (is_missing(&f)) {
                cc->codes[row] = -1;
            } else if ((st = intern_field(k, cc, c, &f, &cc->codes[row])) != GRAVRD_OK) {
                return st;
            }
        delimiter:
            if (*p == sep) {
                if (c + 1 == nc)
                    return gravrd_error_set(&k->err, GRAVRD_ERR_PARSE,
                                            "%s:%zu: row has %zu fields, header has %zu", r->path,
                                            row_line, count_rest(k, p, c), nc);
                p++;
            } else if (c + 1 < nc) { /* '\n' */
                return gravrd_error_set(&k->err, GRAVRD_ERR_PARSE,
                                        "%s:%zu: row has %zu fields, header has %zu", r->path,
                                        row_line, c + 1, nc);
            }
        }
        p++; /* '\n' */
        k->line++;
        row++;
    }
    k->n_rows = row - k->row0;
    return GRAVRD_OK;
}

/* Fills the text of a chunk's rows that were read as numbers in a column
 * that is text in the file: rows before the chunk's switch, or all of its
 * rows if the column stayed numeric in this chunk. Rows are found the same
 * way as in the main pass, which already validated them. */
static gravrd_status rescan_rows(chunk *k)
{
    const reader *r = k->r;
    size_t rmax = 0;
    for (size_t c = 0; c < r->n_cols; c++) {
        chunk_col *cc = &k->cols[c];
        if (!r->codes[c])
            continue; /* numeric in the file */
        if (cc->numeric) {
            cc->numeric = 0;
            cc->switch_row = k->n_rows;
            cc->codes = r->codes[c];
        }
        if (cc->switch_row > rmax)
            rmax = cc->switch_row;
    }
    if (rmax == 0)
        return GRAVRD_OK;
    const char *p = k->begin;
    k->line = k->first_line;
    for (size_t row = 0; row < rmax && skip_blank_lines(k, &p); row++) {
        for (size_t c = 0; c < r->n_cols; c++) {
            chunk_col *cc = &k->cols[c];
            field f;
            gravrd_status st = scan_field(k, &p, c, &f);
            if (st != GRAVRD_OK)
                return st;
            if (!cc->numeric && row < cc->switch_row) {
                int32_t *code = &cc->codes[k->row0 + row];
                if (is_missing(&f))
                    *code = -1;
                else if ((st = intern_field(k, cc, c, &f, code)) != GRAVRD_OK)
                    return st;
            }
            p++; /* separator, or '\n' after the last field */
        }
        k->line++;
    }
    return GRAVRD_OK;
}

/* Codes of chunk k's rows of column c through map (local code -> final). */
static void remap_codes(const chunk *k, size_t c, const int32_t *map)
{
    int32_t *codes = k->r->codes[c] + k->row0;
    for (size_t i = 0; i < k->n_rows; i++)
        if (codes[i] >= 0)
            codes[i] = map[codes[i]];
}

/* The level table of text column c: the union of the chunks' tables, sorted
 * (taking over chunk 0's table), with every chunk's codes remapped. */
static gravrd_status merge_levels(reader *r, chunk *ks, size_t nk, size_t c, int threads, gravrd_intern *out)
{
    (void)threads; /* without OpenMP */
    gravrd_intern *g = &ks[0].cols[c].levels;
    const int32_t n0 = g->n; /* chunk 0's own levels; g grows below */
    int32_t **maps = calloc(nk, sizeof *maps);
    gravrd_status st = GRAVRD_OK;
    if (!maps)
        return gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
    for (size_t j = 0; j < nk && st == GRAVRD_OK; j++) {
        const gravrd_intern *t = &ks[j].cols[c].levels;
        maps[j] = malloc((t->n ? (size_t)t->n : 1) * sizeof **maps);
        if (!maps[j]) {
            st = gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
            break;
        }
        for (int32_t l = 0; l < t->n; l++) {
            int32_t v = j == 0 ? l : gravrd_intern_get(g, t->strs[l], t->ents[l].len);
            if (v < 0) {
                st = v == -3 ? gravrd_error_set(r->err, GRAVRD_ERR_DATA,
                                                "%s: column '%s': too many distinct values", r->path,
                                                r->names[c])
                             : gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
                break;
            }
            maps[j][l] = v;
        }
    }
    int32_t *remap = NULL;
    if (st == GRAVRD_OK) {
        remap = malloc((g->n ? (size_t)g->n : 1) * sizeof *remap);
        if (!remap || gravrd_intern_sort(g, remap))
            st = gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
    }
    if (st == GRAVRD_OK) {
        for (size_t j = 0; j < nk; j++)
            for (int32_t l = 0, n = j ? ks[j].cols[c].levels.n : n0; l < n; l++)
                maps[j][l] = remap[maps[j][l]];
        long nkl = (long)nk;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && nk > 1)
#endif
        for (long j = 0; j < nkl; j++)
            remap_codes(&ks[j], c, maps[j]);
        *out = *g;
        gravrd_intern_init(g);
    }
    for (size_t j = 0; j < nk; j++)
        free(maps[j]);
    free(maps);
    free(remap);
    return st;
}

/* Moves the rows of chunks after one with blank lines down to close the gaps. */
static size_t close_gaps(reader *r, chunk *ks, size_t nk)
{
    size_t rows = 0;
    for (size_t j = 0; j < nk; j++) {
        if (ks[j].row0 != rows && ks[j].n_rows) {
            for (size_t c = 0; c < r->n_cols; c++) {
                if (r->codes[c])
                    memmove(r->codes[c] + rows, r->codes[c] + ks[j].row0, ks[j].n_rows * sizeof **r->codes);
                else
                    memmove(r->num[c] + rows, r->num[c] + ks[j].row0, ks[j].n_rows * sizeof **r->num);
            }
        }
        rows += ks[j].n_rows;
    }
    return rows;
}

/* Moves the column arrays into a new frame. levels[c] holds the sorted
 * level table of each text column. */
static gravrd_status build_frame(reader *r, size_t n_rows, gravrd_intern *levels, gravrd_frame **out)
{
    gravrd_frame *fr = gravrd_frame_new(n_rows, r->path);
    if (!fr)
        return gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
    size_t alloc_rows = n_rows ? n_rows : 1;
    for (size_t c = 0; c < r->n_cols; c++) {
        gravrd_column col = {0};
        col.name = r->names[c];
        r->names[c] = NULL;
        if (!r->codes[c]) {
            col.type = GRAVRD_COL_NUMERIC;
            double *shrunk = realloc(r->num[c], alloc_rows * sizeof *shrunk);
            col.num_N = shrunk ? shrunk : r->num[c];
            r->num[c] = NULL;
        } else {
            col.type = GRAVRD_COL_FACTOR;
            int32_t *shrunk = realloc(r->codes[c], alloc_rows * sizeof *shrunk);
            col.codes_N = shrunk ? shrunk : r->codes[c];
            r->codes[c] = NULL;
            col.levels_L = gravrd_intern_release(&levels[c], &col.n_levels);
            if (!col.levels_L)
                col.levels_L = calloc(1, sizeof(char *)); /* zero levels: keep non-NULL */
            if (!col.levels_L) {
                gravrd_column_clear(&col);
                gravrd_frame_free(fr);
                return gravrd_error_set(r->err, GRAVRD_ERR_NOMEM, "%s: out of memory", r->path);
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
    for (size_t c = 0; c < r->n_cols; c++) {
        if (r->names)
            free(r->names[c]);
        if (r->num)
            free(r->num[c]);
        if (r->codes)
            free(r->codes[c]);
    }
    free(r->names);
    free(r->num);
    free(r->codes);
    free(r->text);
}

/* Number of '\n' bytes in [p, end), 8 bytes at a time (a byte loop costs a
 * noticeable share of the whole read); *quote is set if a '"' occurs. */
static size_t count_newlines(const char *p, const char *end, int *quote)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), low7 = UINT64_C(0x7F7F7F7F7F7F7F7F);
    size_t n = 0;
    uint64_t quotes = 0;
    while ((size_t)(end - p) >= 8) {
        uint64_t w, x;
        memcpy(&w, p, 8);
        x = w ^ (ones * '"');
        w ^= ones * '\n';                          /* '\n' bytes become 0 */
        uint64_t z = ~(((w & low7) + low7) | w | low7); /* 0x80 in each zero byte */
        quotes |= ~(((x & low7) + low7) | x | low7);
        n += (size_t)(((z >> 7) * ones) >> 56);
        p += 8;
    }
    for (; p < end; p++) {
        n += *p == '\n';
        quotes |= *p == '"';
    }
    *quote = quotes != 0;
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

static int read_threads(const gravrd_csv_options *opt)
{
    if (opt && opt->threads > 0)
        return opt->threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Cuts [p, end) into chunks of about chunk_bytes at line ends (one chunk if
 * threads is 1 or the data are smaller than two chunks). Fills n_lines and
 * has_quote of each. Returns the chunk array (*nk entries) or NULL. */
static chunk *cut_chunks(const char *p, const char *end, size_t chunk_bytes, int threads, size_t *nk)
{
    size_t len = (size_t)(end - p), n = 1;
    if (threads > 1 && len / 2 >= chunk_bytes)
        n = len / chunk_bytes;
    chunk *ks = calloc(n, sizeof *ks);
    if (!ks)
        return NULL;
    size_t m = 0;
    const char *b = p;
    while (b < end) {
        const char *e = end;
        if (m + 1 < n && (size_t)(end - b) > chunk_bytes) {
            const char *nl = memchr(b + chunk_bytes - 1, '\n', (size_t)(end - (b + chunk_bytes - 1)));
            e = nl ? nl + 1 : end;
        }
        ks[m].begin = b;
        ks[m].end = e;
        m++;
        b = e;
    }
    if (m == 0) { /* no rows: one empty chunk */
        ks[0].begin = ks[0].end = p;
        m = 1;
    }
    long ml = (long)m;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (ml > 1)
#endif
    for (long j = 0; j < ml; j++)
        ks[j].n_lines = count_newlines(ks[j].begin, ks[j].end, &ks[j].has_quote);
    *nk = m;
    return ks;
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
    const char *end = buf + len;

    const char *p = buf;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 byte order mark (Excel) */

    chunk *ks = NULL;
    size_t nk = 0;
    gravrd_intern *levels = NULL;
    chunk whole; /* the header, and all rows when they are one chunk */
    memset(&whole, 0, sizeof whole);
    whole.begin = p;
    whole.end = end;
    whole.first_line = 1;
    if ((st = chunk_init(&whole, &r)) != GRAVRD_OK)
        goto done;
    if (!skip_blank_lines(&whole, &p)) {
        st = gravrd_error_set(&whole.err, GRAVRD_ERR_PARSE, "%s: empty file (no header row)", path);
        goto done;
    }
    if ((st = read_header(&whole, &p)) != GRAVRD_OK)
        goto done;

    int threads = read_threads(opt);
    size_t chunk_bytes = opt && opt->chunk_bytes ? opt->chunk_bytes : DEFAULT_CHUNK_BYTES;
    if (!(ks = cut_chunks(p, end, chunk_bytes, threads, &nk))) {
        st = nomem(&whole);
        goto done;
    }
    int quote = 0;
    for (size_t j = 0; j < nk; j++) {
        r.cap_rows += ks[j].n_lines;
        quote |= ks[j].has_quote;
    }
    if (quote && nk > 1) { /* a quoted field may span a cut: one chunk */
        memset(ks, 0, nk * sizeof *ks);
        ks[0].begin = p;
        ks[0].end = end;
        ks[0].n_lines = r.cap_rows;
        nk = 1;
    }
    chunk_free(&whole); /* columns are known only now */
    if ((st = setup_columns(&r, opt)) != GRAVRD_OK)
        goto done;
    size_t row = 0, line = whole.line;
    for (size_t j = 0; j < nk; j++) {
        ks[j].row0 = row;
        ks[j].first_line = line;
        row += ks[j].n_lines;
        line += ks[j].n_lines;
        if ((st = chunk_init(&ks[j], &r)) != GRAVRD_OK) {
            if (err)
                *err = ks[j].err;
            goto done;
        }
    }

    long nkl = (long)nk;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && nkl > 1)
#endif
    for (long j = 0; j < nkl; j++)
        ks[j].st = read_rows(&ks[j]);
    for (size_t j = 0; j < nk; j++)
        if ((st = ks[j].st) != GRAVRD_OK)
            goto chunk_error;

    /* A column is text in the file when some chunk allocated its codes (a
     * forced text column, or a value that is not a number); then every
     * chunk needs the codes of all its rows. */
    int rescan = 0;
    for (size_t j = 0; j < nk; j++)
        for (size_t c = 0; c < r.n_cols; c++)
            rescan |= r.codes[c] && (ks[j].cols[c].numeric || ks[j].cols[c].switch_row > 0);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (rescan && threads > 1 && nkl > 1)
#endif
    for (long j = 0; j < nkl; j++)
        ks[j].st = rescan_rows(&ks[j]);
    for (size_t j = 0; j < nk; j++)
        if ((st = ks[j].st) != GRAVRD_OK)
            goto chunk_error;

    if (!(levels = calloc(r.n_cols ? r.n_cols : 1, sizeof *levels))) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t c = 0; c < r.n_cols; c++) {
        gravrd_intern_init(&levels[c]);
        if (r.codes[c] && (st = merge_levels(&r, ks, nk, c, threads, &levels[c])) != GRAVRD_OK)
            goto done;
    }
    for (size_t c = 0; c < r.n_cols; c++) {
        if (r.codes[c]) {
            free(r.num[c]);
            r.num[c] = NULL;
        }
    }
    st = build_frame(&r, close_gaps(&r, ks, nk), levels, out);
    goto done;

chunk_error:
    for (size_t j = 0; j < nk; j++) {
        if (ks[j].st != GRAVRD_OK) {
            if (err)
                *err = ks[j].err;
            break;
        }
    }

done:
    if (st != GRAVRD_OK && whole.err.code != GRAVRD_OK && err)
        *err = whole.err;
    chunk_free(&whole);
    for (size_t j = 0; j < nk; j++)
        chunk_free(&ks[j]);
    free(ks);
    if (levels) {
        for (size_t c = 0; c < r.n_cols; c++)
            gravrd_intern_free(&levels[c]);
        free(levels);
    }
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
