/* gravrd/data.h - in-memory data frames, the CSV reader and factor encoding.
 *
 * Vector-length convention used across libgravrd: a suffix names the length
 * of an array argument: _N per observation (row), _K per regressor, _Q per
 * fixed-effect dimension, _G per cluster, _L per level of a factor.
 *
 * A frame owns typed columns. Numeric columns hold doubles with NaN for a
 * missing value. Text columns become factors: int32 codes into a table of
 * level strings sorted in byte order (strcmp), -1 for a missing value. */
#ifndef GRAVRD_DATA_H
#define GRAVRD_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GRAVRD_COL_NUMERIC = 0, GRAVRD_COL_FACTOR = 1 } gravrd_col_type;

typedef struct {
    char *name;
    gravrd_col_type type;
    double *num_N;      /* NUMERIC: values, NaN = missing; NULL for FACTOR */
    int32_t *codes_N;   /* FACTOR: 0..n_levels-1, -1 = missing; NULL for NUMERIC */
    char **levels_L;    /* FACTOR: level strings, sorted by strcmp */
    int32_t n_levels;   /* FACTOR: number of levels */
} gravrd_column;

typedef struct {
    char *source;       /* file the frame was read from ("" if built in memory) */
    size_t n_rows;
    size_t n_cols;
    size_t cap_cols;
    gravrd_column *cols;
} gravrd_frame;

typedef struct {
    char separator;     /* 0 = auto: '\t' if the path ends in .tsv or .tsv.gz, else ',' */
    /* Column names forced to be text (factors) even when every value parses
     * as a number. NULL-terminated list, may be NULL. */
    const char *const *text_columns;
    /* Threads parsing the rows: 0 = omp_get_max_threads() (OMP_NUM_THREADS),
     * 1 = one. The frame, and any error message, do not depend on it. */
    int threads;
    /* Rows are cut at line ends into chunks of about this many bytes that
     * threads parse in parallel; 0 = 4 MiB. Files smaller than two chunks,
     * and files with a '"' after the header (a quoted field may hold a line
     * end), are parsed as one chunk. Tests set it small to exercise the
     * chunked path on small inputs. */
    size_t chunk_bytes;
} gravrd_csv_options;

/* Reads a CSV/TSV file (optionally gzip-compressed: .gz suffix or gzip magic
 * bytes) with a header row. Fields may be quoted with '"' ("" escapes a quote,
 * quoted fields may contain separators and newlines). A field that is empty,
 * NA or "." is missing. A column is numeric when every non-missing value
 * parses as a decimal number (leading/trailing spaces allowed); otherwise it is
 * a factor. CRLF line ends are accepted. opt may be NULL.
 * Errors (GRAVRD_ERR_IO / GRAVRD_ERR_PARSE) name the file, the 1-based line
 * number in the file, and the column, e.g.
 *   "flows.csv:17: row has 5 fields, header has 6" */
gravrd_status gravrd_csv_read(const char *path, const gravrd_csv_options *opt,
                              gravrd_frame **out, gravrd_error *err);

/* The same reader on CSV text already in memory (not compressed); name is
 * used in messages in place of a file name and for the .tsv rule. */
gravrd_status gravrd_csv_read_buffer(const char *name, const char *text, size_t len, const gravrd_csv_options *opt,
                                     gravrd_frame **out, gravrd_error *err);

/* Writes a frame as CSV (numbers with %.17g, missing as empty). */
gravrd_status gravrd_csv_write(const char *path, const gravrd_frame *frame, gravrd_error *err);

/* An empty frame with n_rows rows and no columns. */
gravrd_frame *gravrd_frame_new(size_t n_rows, const char *source);
void gravrd_frame_free(gravrd_frame *frame);

/* Column lookup by exact name; NULL if absent. */
const gravrd_column *gravrd_frame_find(const gravrd_frame *frame, const char *name);
/* Index of a column or -1. */
long gravrd_frame_index(const gravrd_frame *frame, const char *name);

/* Adds a numeric column; the frame takes ownership of values_N (malloc'ed,
 * n_rows long). Fails if the name exists. */
gravrd_status gravrd_frame_add_numeric(gravrd_frame *frame, const char *name, double *values_N,
                                       gravrd_error *err);
/* Adds a factor column; the frame takes ownership of codes_N and levels_L
 * (each level string malloc'ed); levels must be sorted by strcmp. */
gravrd_status gravrd_frame_add_factor(gravrd_frame *frame, const char *name, int32_t *codes_N,
                                      char **levels_L, int32_t n_levels, gravrd_error *err);

/* A new frame with the rows where keep_N[i] != 0, in order. Factor columns
 * keep their level tables (unused levels stay). */
gravrd_frame *gravrd_frame_filter(const gravrd_frame *frame, const uint8_t *keep_N);

/* Dense group codes 0..n_groups-1 for a column, for fixed effects, clusters
 * and splits. Factor columns: codes follow the sorted level order, unused
 * levels removed. Numeric columns: codes follow ascending numeric order.
 * Missing values get -1. If labels_out is not NULL it receives n_groups
 * malloc'ed strings naming each group (numbers printed with %.15g); free with
 * gravrd_strings_free. */
gravrd_status gravrd_column_group_codes(const gravrd_column *col, size_t n_rows, int32_t *codes_N,
                                        int32_t *n_groups, char ***labels_out, gravrd_error *err);

/* Combines two code vectors (each 0..n-1, -1 missing) into dense codes of
 * their interaction, ordered lexicographically by (a, b); -1 if either is
 * missing. Used for fe1^fe2 and cluster a^b. */
gravrd_status gravrd_codes_combine(const int32_t *a_N, int32_t n_a, const int32_t *b_N, int32_t n_b,
                                   size_t n_rows, int32_t *out_N, int32_t *n_out, gravrd_error *err);

void gravrd_strings_free(char **strings, size_t n);

#ifdef __cplusplus
}
#endif
#endif
