/* cmd_segments.c - `gravrd segments CITIES.csv --bandwidth KM[,KM...]`:
 * complete-linkage segments of the cities at each bandwidth (libgravrd's
 * gravrd_segments), written as city_id/segment_id tables or, in text, as
 * the distribution of segment sizes (the paper's Table A.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"

static const char segments_usage[] =
    "usage: gravrd segments CITIES.csv --bandwidth KM[,KM...] [options]\n"
    "\n"
    "Groups cities so that within each group the largest great-circle distance\n"
    "is at most KM: complete-linkage clustering cut at KM, never across\n"
    "provinces unless --by none (see docs/spatial.md).\n"
    "\n"
    "  CITIES.csv          columns city_id, lat, lng, and province_en (or province)\n"
    "options:\n"
    "  --bandwidth KM,...  one or more bandwidths in km (required)\n"
    "  --by province|none  cluster within provinces (default) or across them\n"
    "  --format F          text (default: segment-size distribution), csv, json\n"
    "                      csv: city_id,segment_id (one bandwidth) or\n"
    "                      city_id,segment_id_KM,... (several), rows in city_id order\n"
    "  --out FILE          write to FILE instead of standard output\n";

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
    const char *path = NULL, *bw_text = NULL, *by = "province", *format = "text", *out_path = NULL, *value;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(segments_usage, stdout);
            return 0;
        } else if ((r = arg_value(argc, argv, &i, "--bandwidth", &value))) {
            if (r < 0)
                goto missing;
            bw_text = value;
        } else if ((r = arg_value(argc, argv, &i, "--by", &value))) {
            if (r < 0)
                goto missing;
            by = value;
        } else if ((r = arg_value(argc, argv, &i, "--format", &value))) {
            if (r < 0)
                goto missing;
            format = value;
        } else if ((r = arg_value(argc, argv, &i, "--out", &value))) {
            if (r < 0)
                goto missing;
            out_path = value;
        } else if (arg[0] == '-' && arg[1] == '-') {
            fprintf(stderr, "gravrd segments: unknown option '%s' (see gravrd segments --help)\n", arg);
            return 2;
        } else if (!path) {
            path = arg;
        } else {
            fprintf(stderr, "gravrd segments: unexpected argument '%s'\n", arg);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "gravrd segments: option %s needs a value\n", arg);
        return 2;
    }
    if (!path || !bw_text) {
        fputs(segments_usage, stderr);
        return 2;
    }
    int by_province;
    if (!strcmp(by, "province"))
        by_province = 1;
    else if (!strcmp(by, "none"))
        by_province = 0;
    else {
        fprintf(stderr, "gravrd segments: --by must be province or none, not '%s'\n", by);
        return 2;
    }
    if (strcmp(format, "text") && strcmp(format, "csv") && strcmp(format, "json")) {
        fprintf(stderr, "gravrd segments: --format must be text, csv or json, not '%s'\n", format);
        return 2;
    }
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
    int rc = 0;
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
    if (!strcmp(format, "text")) {
        write_text(out, c, bw, n_bw, n_seg, counts, max_size, by_province);
    } else if (!strcmp(format, "csv")) {
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
