/* cmd_segments.c - `gravrd segments CITIES.csv --bandwidth KM[,KM...]`:
 * complete-linkage segments of the cities at each bandwidth (libgravrd's
 * gravrd_segments), written as city_id/segment_id tables or, in text, as
 * the distribution of segment sizes (the paper's Table A.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"
#include "opts.h"

/* The command line of segments: what opt_parse fills from segments_options. */
typedef struct {
    const char *cities, *bandwidths, *out;
    int by_province, format;
} segments_args;

/* The value is segments_args.by_province. */
static const opt_choice segments_by_choices[] = {{"province", 1, 0}, {"none", 0, 0}, {0}};

/* The three outputs of segments. */
typedef enum { SEGMENTS_TEXT, SEGMENTS_CSV, SEGMENTS_JSON } segments_format;
static const opt_choice segments_format_choices[] = {
    {"text", SEGMENTS_TEXT, 0}, {"csv", SEGMENTS_CSV, 0}, {"json", SEGMENTS_JSON, 0}, {0}};

/* The city table is required. */
static const opt_positional segments_positionals[] = {
    {"CITIES.csv", OPT_AT(segments_args, cities, const char *), 1,
     "columns city_id, lat, lng, and province_en (or province)"},
};

/* --bandwidth stays text: gravrd_parse_bandwidths reads the list. */
static const opt_option segments_options[] = {
    {OPT_STRING("bandwidth", "KM,...", segments_args, bandwidths), .required = 1,
     .help = "one or more bandwidths in km"},
    {OPT_CHOICE("by", segments_args, by_province, segments_by_choices), .def = "province",
     .help = "cluster within provinces or across them"},
    {OPT_CHOICE("format", segments_args, format, segments_format_choices),
     .def = "text: segment-size distribution",
     .help = "output format; csv: city_id,segment_id (one bandwidth) or city_id,segment_id_KM,... (several), rows "
             "in city_id order"},
    {OPT_STRING("out", "FILE", segments_args, out), .help = "write to FILE instead of standard output"},
};

/* Everything segments --help shows and opt_parse accepts. */
static const opt_command segments_command = {
    .name = "segments",
    .about = "Groups cities so that within each group the largest great-circle distance\n"
             "is at most KM: complete-linkage clustering cut at KM, never across\n"
             "provinces unless --by none (see docs/spatial.md).\n",
    .positionals = segments_positionals,
    .n_positionals = OPT_COUNT_OF(segments_positionals),
    .options = segments_options,
    .n_options = OPT_COUNT_OF(segments_options),
};

typedef struct {
    int64_t id;
    size_t row;
} id_row;

static int cmp_id_row(const void *pa, const void *pb)
{
    const id_row *a = pa, *b = pb;
    return (a->id > b->id) - (a->id < b->id);
}

static void write_text(FILE *out, const gravrd_cities *c, const double *bw, size_t n_bw, const int32_t *n_seg, size_t *const *counts, const size_t *max_size, int by_province)
{
    size_t top = 0;
    for (size_t b = 0; b < n_bw; b++)
        if (max_size[b] > top)
            top = max_size[b];
    fprintf(out, "Segment sizes: %zu cities, complete linkage, %s\n\n", c->n,
            by_province ? "within provinces" : "across provinces (--by none)");
    fprintf(out, "%-22s", "bandwidth (km)");
    for (size_t b = 0; b < n_bw; b++)
        fprintf(out, " %9g", bw[b]);
    fputc('\n', out);
    for (size_t s = 1; s <= top; s++) {
        char label[40];
        snprintf(label, sizeof label, "segments of %zu %s", s, s == 1 ? "city" : "cities");
        fprintf(out, "%-22s", label);
        for (size_t b = 0; b < n_bw; b++)
            fprintf(out, " %9zu", s <= max_size[b] ? counts[b][s] : 0);
        fputc('\n', out);
    }
    fprintf(out, "%-22s", "segments");
    for (size_t b = 0; b < n_bw; b++)
        fprintf(out, " %9d", (int)n_seg[b]);
    fprintf(out, "\n%-22s", "mean size");
    for (size_t b = 0; b < n_bw; b++)
        fprintf(out, " %9.2f", (double)c->n / n_seg[b]);
    fprintf(out, "\n%-22s", "largest");
    for (size_t b = 0; b < n_bw; b++)
        fprintf(out, " %9zu", max_size[b]);
    fprintf(out, "\n%-22s", "cities not alone");
    for (size_t b = 0; b < n_bw; b++)
        fprintf(out, " %9zu", c->n - counts[b][1]);
    fputc('\n', out);
}

int cmd_segments(int argc, char **argv)
{
    segments_args a = {.by_province = 1, .format = SEGMENTS_TEXT};
    int rc = opt_parse(&segments_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    const char *path = a.cities, *bw_text = a.bandwidths, *out_path = a.out;
    const int by_province = a.by_province;
    const segments_format format = (segments_format)a.format;
    gravrd_error err = {0};
    double *bw = NULL;
    size_t n_bw = 0;
    if (gravrd_parse_bandwidths(bw_text, &bw, &n_bw, &err)) {
        fprintf(stderr, "gravrd segments: --bandwidth: %s\n", err.message);
        return 2;
    }
    gravrd_cities *c = NULL;
    if (gravrd_cities_read(path, by_province ? GRAVRD_CITIES_NEED_PROVINCE : 0, &c, &err)) {
        fprintf(stderr, "gravrd segments: %s\n", err.message);
        free(bw);
        return err.code == GRAVRD_ERR_NOMEM ? 1 : 2;
    }
    rc = 0;
    int32_t **seg = calloc(n_bw, sizeof *seg), *n_seg = calloc(n_bw, sizeof *n_seg);
    size_t **counts = calloc(n_bw, sizeof *counts), *max_size = calloc(n_bw, sizeof *max_size);
    id_row *order = malloc(c->n * sizeof *order);
    FILE *out = NULL;
    if (!seg || !n_seg || !counts || !max_size || !order) {
        fprintf(stderr, "gravrd segments: out of memory\n");
        rc = 1;
        goto done;
    }
    for (size_t b = 0; b < n_bw; b++) {
        if (!(seg[b] = malloc(c->n * sizeof *seg[b]))) {
            fprintf(stderr, "gravrd segments: out of memory\n");
            rc = 1;
            goto done;
        }
        if (gravrd_segments(c->n, c->id_N, c->lat_N, c->lng_N, by_province ? c->province_N : NULL, bw[b], seg[b],
                            &n_seg[b], &err) ||
            gravrd_segment_size_counts(c->n, seg[b], n_seg[b], &counts[b], &max_size[b], &err)) {
            fprintf(stderr, "gravrd segments: %s\n", err.message);
            rc = err.code == GRAVRD_ERR_NOMEM ? 1 : 2;
            goto done;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        order[i].id = c->id_N[i];
        order[i].row = i;
    }
    qsort(order, c->n, sizeof *order, cmp_id_row);
    out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "gravrd segments: cannot write '%s'\n", out_path);
        rc = 2;
        goto done;
    }
    if (format == SEGMENTS_TEXT) {
        write_text(out, c, bw, n_bw, n_seg, counts, max_size, by_province);
    } else if (format == SEGMENTS_CSV) {
        fputs("city_id", out);
        for (size_t b = 0; b < n_bw; b++) {
            if (n_bw == 1)
                fputs(",segment_id", out);
            else
                fprintf(out, ",segment_id_%g", bw[b]);
        }
        fputc('\n', out);
        for (size_t k = 0; k < c->n; k++) {
            fprintf(out, "%lld", (long long)order[k].id);
            for (size_t b = 0; b < n_bw; b++)
                fprintf(out, ",%d", (int)seg[b][order[k].row]);
            fputc('\n', out);
        }
    } else {
        fprintf(out, "{\"by\":\"%s\",\"n_cities\":%zu,\"segmentations\":[", by_province ? "province" : "none", c->n);
        for (size_t b = 0; b < n_bw; b++) {
            fprintf(out, "%s\n{\"bandwidth_km\":%.17g,\"n_segments\":%d,\"segments_by_size\":{", b ? "," : "", bw[b],
                    (int)n_seg[b]);
            int first = 1;
            for (size_t s = 1; s <= max_size[b]; s++)
                if (counts[b][s]) {
                    fprintf(out, "%s\"%zu\":%zu", first ? "" : ",", s, counts[b][s]);
                    first = 0;
                }
            fputs("},\"cities\":[", out);
            for (size_t k = 0; k < c->n; k++)
                fprintf(out, "%s{\"city_id\":%lld,\"segment_id\":%d}", k ? "," : "", (long long)order[k].id,
                        (int)seg[b][order[k].row]);
            fputs("]}", out);
        }
        fputs("\n]}\n", out);
    }
    if (out != stdout && fclose(out) != 0) {
        fprintf(stderr, "gravrd segments: error writing '%s'\n", out_path);
        rc = 1;
    }
done:
    if (seg)
        for (size_t b = 0; b < n_bw; b++)
            free(seg[b]);
    if (counts)
        for (size_t b = 0; b < n_bw; b++)
            free(counts[b]);
    free(seg);
    free(n_seg);
    free(counts);
    free(max_size);
    free(order);
    free(bw);
    gravrd_cities_free(c);
    return rc;
}
