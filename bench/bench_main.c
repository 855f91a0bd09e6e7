/* bench/bench_main.c - gravrd_bench: times gravrd_reg on synthetic datasets
 * generated in memory and compares with reference fixest timings.
 *
 *   gravrd_bench [--quick] [--case NAME[,NAME...]] [--threads N] [--runs N]
 *                [--tol X] [--max-iter N] [--fb-cluster] [--markdown]
 *                [--write-data DIR] [--list]
 *   gravrd_bench --read-csv FILE [--runs N]
 *
 * Each case is timed with CLOCK_MONOTONIC around gravrd_reg only (data
 * generation excluded); the best of --runs runs (default 3) is reported.
 * --read-csv times gravrd_csv_read on FILE instead (threads: OMP_NUM_THREADS)
 * and prints the best and median run and a checksum of the frame.  * See docs/benchmarks.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "gravrd/estimate.h"
#include "gravrd/hdfe.h"

#define BENCH_MAX_RUNS 20

typedef enum { DS_PAPER = 0, DS_FB_SIMPLE, DS_FB_DIFFICULT, DS_COUNT } dataset_id;

static const char *const DATASET_NAMES[DS_COUNT] = {"paper", "simple", "difficult"};

/* Reference fixest timings, seconds (NAN = none).
 *   local:  fixest 0.12.2, 1 thread, measured on the project's benchmark
 *           machine at the full sizes.
 *   pub_*:  published by fixest_benchmarks (github.com/s3alfisc/fixest_benchmarks,
 *           results/bench_ols.csv at commit 703bb62, 2026-02-07): fixest 0.13.0,
 *           8 threads, unknown hardware; best of the 3 recorded iterations,
 *           at 1,000,000 rows (full) and 100,000 rows (quick). */
typedef struct {
    const char *name;
    dataset_id ds;
    const char *formula;
    const char *cluster;   /* NULL: iid */
    double fixest_local;
    double fixest_pub_full;
    double fixest_pub_quick;
    /* Issue 6's target as a speed-up over fixest (fixest s / gravrd s at
     * least this; NAN = no target): 5x on the paper's main regression,
     * no slower on "simple", 2x on "difficult" with 3 FE. */
    double target_speedup;
} bench_case;

static const bench_case CASES[] = {
    {"paper_rd", DS_PAPER, "y ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp",
     "pair", 0.48, NAN, NAN, 5.0},
    {"paper_gravity", DS_PAPER, "y ~ partner + log(distance) | exp_city^month + imp_city^month", "pair", NAN, NAN,
     NAN, NAN},
    {"simple_2fe", DS_FB_SIMPLE, "y ~ x1 | indiv_id + year", NULL, NAN, 0.0688, 0.0104, 1.0},
    {"simple_3fe", DS_FB_SIMPLE, "y ~ x1 | indiv_id + year + firm_id", NULL, NAN, 0.1217, 0.0155, 1.0},
    {"difficult_2fe", DS_FB_DIFFICULT, "y ~ x1 | indiv_id + year", NULL, NAN, 0.0755, 0.0103, NAN},
    {"difficult_3fe", DS_FB_DIFFICULT, "y ~ x1 | indiv_id + year + firm_id", NULL, 6.4, 5.870, 0.2020, 2.0},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

typedef struct {
    int quick;
    int threads;
    int runs;
    double tol;
    int max_iter;
    int fb_cluster;
    int markdown;
    const char *write_dir; /* export each generated dataset as CSV here */
    const char *read_csv;  /* time gravrd_csv_read on this file instead */
    int selected[N_CASES];
} bench_config;

typedef struct {
    int ran, ok;
    size_t rows;       /* rows of the generated frame */
    size_t nobs;       /* rows used by the estimation */
    int n_fe;
    int iterations;
    double best;
    double ref;        /* reference fixest seconds or NAN */
    int ref_published; /* ref comes from fixest_benchmarks, not this machine */
    char error[GRAVRD_ERROR_MSG_LEN + 64];
} case_result;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 1148400 -> "1,148,400" */
static const char *fmt_count(size_t v, char *buf, size_t size)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%zu", v);
    size_t o = 0;
    for (int i = 0; i < len && o + 1 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 1 < size)
            buf[o++] = ',';
        if (o + 1 < size)
            buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gravrd_bench [options]\n"
            "  --quick            smaller sizes (6 months; 100,000 rows) for a smoke run\n"
            "  --case NAME[,...]  run only these cases (a case or dataset name; repeatable)\n"
            "  --threads N        threads for gravrd_reg (default 1)\n"
            "  --runs N           timed runs per case, best reported (default 3, max %d)\n"
            "  --tol X            demeaning tolerance (default %g)\n"
            "  --max-iter N       demeaning iteration cap (default %d)\n"
            "  --fb-cluster       cluster the simple/difficult cases by indiv_id (fixest <= 0.12\n"
            "                     default) instead of iid (fixest >= 0.13 default)\n"
            "  --markdown         print the summary table in Markdown\n"
            "  --write-data DIR   also write each generated dataset to DIR/NAME.csv\n"
            "                     (NAME_quick.csv with --quick), e.g. to time fixest on it\n"
            "  --read-csv FILE    time gravrd_csv_read on FILE instead (threads: OMP_NUM_THREADS;\n"
            "                     prints best and median of --runs and a checksum of the frame)\n"
            "  --list             list the cases and exit\n"
            "  --help             this text\n",
            BENCH_MAX_RUNS, GRAVRD_DEMEAN_TOL, GRAVRD_DEMEAN_MAXITER);
}

static void list_cases(void)
{
    for (int c = 0; c < N_CASES; c++) {
        printf("%-14s dataset %-9s %s", CASES[c].name, DATASET_NAMES[CASES[c].ds], CASES[c].formula);
        if (CASES[c].cluster)
            printf("  [cluster: %s]", CASES[c].cluster);
        printf("\n");
    }
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Marks the cases named in a comma-separated list (case or dataset names). */
static int select_cases(const char *list, bench_config *cfg)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = 0;
        for (int c = 0; c < N_CASES; c++) {
            const char *ds = DATASET_NAMES[CASES[c].ds];
            if ((strlen(CASES[c].name) == len && strncmp(CASES[c].name, p, len) == 0) ||
                (strlen(ds) == len && strncmp(ds, p, len) == 0)) {
                cfg->selected[c] = 1;
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "gravrd_bench: unknown case '%.*s' (see --list)\n", (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int parse_args(int argc, char **argv, bench_config *cfg)
{
    int any_case = 0;
    memset(cfg, 0, sizeof *cfg);
    cfg->threads = 1;
    cfg->runs = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            cfg->quick = 1;
        } else if (strcmp(a, "--markdown") == 0) {
            cfg->markdown = 1;
        } else if (strcmp(a, "--fb-cluster") == 0) {
            cfg->fb_cluster = 1;
        } else if (strcmp(a, "--list") == 0) {
            list_cases();
            return 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--case") == 0 && val) {
            if (select_cases(val, cfg) != 0)
                return -1;
            any_case = 1;
            i++;
        } else if (strcmp(a, "--read-csv") == 0 && val) {
            cfg->read_csv = val;
            i++;
        } else if (strcmp(a, "--write-data") == 0 && val) {
            cfg->write_dir = val;
            i++;
        } else if (strcmp(a, "--threads") == 0 && val) {
            if (parse_int(val, 1, 1024, &cfg->threads) != 0) {
                fprintf(stderr, "gravrd_bench: --threads needs an integer >= 1\n");
                return -1;
            }
            i++;
        } else if (strcmp(a, "--runs") == 0 && val) {
            if (parse_int(val, 1, BENCH_MAX_RUNS, &cfg->runs) != 0) {
                fprintf(stderr, "gravrd_bench: --runs needs an integer in 1..%d\n", BENCH_MAX_RUNS);
                return -1;
            }
            i++;
        } else if (strcmp(a, "--max-iter") == 0 && val) {
            if (parse_int(val, 1, 1000000000, &cfg->max_iter) != 0) {
                fprintf(stderr, "gravrd_bench: --max-iter needs an integer >= 1\n");
                return -1;
            }
            i++;
        } else if (strcmp(a, "--tol") == 0 && val) {
            char *end;
            errno = 0;
            cfg->tol = strtod(val, &end);
            if (errno || end == val || *end || !(cfg->tol > 0) || !isfinite(cfg->tol)) {
                fprintf(stderr, "gravrd_bench: --tol needs a positive number\n");
                return -1;
            }
            i++;
        } else {
            fprintf(stderr, "gravrd_bench: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (!any_case)
        for (int c = 0; c < N_CASES; c++)
            cfg->selected[c] = 1;
    return 0;
}

static void print_cpu(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                printf("cpu: %s", colon);
            }
            break;
        }
    }
    fclose(f);
}

static gravrd_status make_dataset(dataset_id ds, int quick, gravrd_frame **frame, gravrd_error *err)
{
    char buf[32];
    double t0 = now_seconds();
    gravrd_status st;
    if (ds == DS_PAPER) {
        bench_paper_params p;
        bench_paper_info info;
        bench_paper_params_default(&p);
        if (quick)
            p.n_months = 6;
        st = bench_make_paper(&p, BENCH_SEED_PAPER, frame, &info, err);
        if (st == GRAVRD_OK)
            printf("dataset paper: %s rows = %d directed pairs x %d months; %d provinces, %d segments; "
                   "%d treated directed pairs (%.2f%%); distance %.0f-%.0f km; generated in %.2f s\n",
                   fmt_count(info.n_rows, buf, sizeof buf), info.n_pairs, p.n_months, info.n_provinces,
                   info.n_segments, info.n_treated_pairs, 100.0 * info.n_treated_pairs / info.n_pairs,
                   info.dist_min, info.dist_max, now_seconds() - t0);
    } else {
        size_t n = quick ? 100000 : 1000000;
        unsigned long seed = ds == DS_FB_SIMPLE ? BENCH_SEED_FB_SIMPLE : BENCH_SEED_FB_DIFFICULT;
        st = bench_make_fixest_benchmarks(n, ds == DS_FB_DIFFICULT, seed, frame, err);
        if (st == GRAVRD_OK)
            printf("dataset %s: %s rows (fixest_benchmarks base_dgp, type \"%s\"); generated in %.2f s\n",
                   DATASET_NAMES[ds], fmt_count((*frame)->n_rows, buf, sizeof buf), DATASET_NAMES[ds],
                   now_seconds() - t0);
    }
    fflush(stdout);
    return st;
}

static void print_details(const gravrd_reg_results *res, const double *times, int runs)
{
    char b1[32], b2[32], b3[32];
    const gravrd_reg_result *r = &res->results[0];
    printf("  nobs %s (dropped: %s missing, %s singletons); vcov %s; iterations %d\n",
           fmt_count(r->nobs, b1, sizeof b1), fmt_count(r->dropped_missing, b2, sizeof b2),
           fmt_count(r->dropped_singletons, b3, sizeof b3), r->vcov_label ? r->vcov_label : "?", r->iterations);
    printf("  FE levels:");
    for (int q = 0; q < r->n_fe; q++)
        printf(" %s=%s", r->fe_names && r->fe_names[q] ? r->fe_names[q] : "?",
               fmt_count(r->fe_levels ? (size_t)r->fe_levels[q] : 0, b1, sizeof b1));
    printf("\n");
    for (int k = 0; k < r->n_coef; k++)
        printf("  %-16s %12.6f  (se %.6f)\n", r->coefs[k].name, r->coefs[k].estimate, r->coefs[k].se);
    for (int k = 0; k < r->n_collinear; k++)
        printf("  collinear: %s\n", r->collinear[k]);
    for (int w = 0; w < res->n_warnings; w++)
        printf("  warning: %s\n", res->warnings[w]);
    printf("  runs (s):");
    for (int i = 0; i < runs; i++)
        printf(" %.3f", times[i]);
    printf("\n");
}

static void run_case(const bench_config *cfg, const bench_case *bc, const gravrd_frame *frame, case_result *out)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = bc->cluster;
    if (!opt.cluster && bc->ds != DS_PAPER && cfg->fb_cluster)
        opt.cluster = "indiv_id";
    opt.vcov = opt.cluster ? GRAVRD_VCOV_CLUSTER : GRAVRD_VCOV_IID;
    opt.threads = cfg->threads;
    opt.tol = cfg->tol;
    opt.max_iter = cfg->max_iter;

    printf("== %s: %s%s%s\n", bc->name, bc->formula, opt.cluster ? ", cluster " : "",
           opt.cluster ? opt.cluster : "");
    fflush(stdout);

    out->ran = 1;
    out->rows = frame->n_rows;
    out->best = INFINITY;
    double times[BENCH_MAX_RUNS];
    gravrd_reg_results *last = NULL;
    for (int i = 0; i < cfg->runs; i++) {
        gravrd_reg_results *res = NULL;
        gravrd_error err;
        gravrd_error_clear(&err);
        double t0 = now_seconds();
        gravrd_status st = gravrd_reg(frame, bc->formula, &opt, &res, &err);
        double dt = now_seconds() - t0;
        if (st != GRAVRD_OK || !res || res->n < 1) {
            snprintf(out->error, sizeof out->error, "%s: %s", gravrd_status_name(st),
                     st != GRAVRD_OK ? err.message : "no result");
            if (res)
                gravrd_reg_results_free(res);
            printf("  error: %s\n", out->error);
            if (last)
                gravrd_reg_results_free(last);
            return;
        }
        times[i] = dt;
        if (dt < out->best)
            out->best = dt;
        if (last)
            gravrd_reg_results_free(last);
        last = res;
    }
    out->ok = 1;
    out->nobs = last->results[0].nobs;
    out->n_fe = last->results[0].n_fe;
    out->iterations = last->results[0].iterations;
    print_details(last, times, cfg->runs);
    gravrd_reg_results_free(last);
    fflush(stdout);
}

static void print_table(const bench_config *cfg, const case_result *res)
{
    const double tol = cfg->tol > 0 ? cfg->tol : GRAVRD_DEMEAN_TOL;
    int any_local = 0, any_pub = 0;
    char tolbuf[16];
    snprintf(tolbuf, sizeof tolbuf, "%.0e", tol);

    printf("\n");
    if (cfg->markdown) {
        printf("| case | rows | FE | iterations | tolerance | gravrd s | fixest s | fixest/gravrd | target s (issue 6) "
               "| met |\n");
        printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    } else {
        printf("%-14s %11s %3s %7s %7s %9s %10s %14s %16s %4s\n", "case", "rows", "FE", "iter", "tol", "gravrd s",
               "fixest s", "fixest/gravrd", "target s", "met");
    }
    for (int c = 0; c < N_CASES; c++) {
        const case_result *r = &res[c];
        if (!r->ran)
            continue;
        char rows[32], fe[16], iter[16], gr[32], fx[32], ratio[32];
        fmt_count(r->rows, rows, sizeof rows);
        const char *mark = r->ref_published ? " (p)" : "";
        if (isnan(r->ref))
            snprintf(fx, sizeof fx, "n/a");
        else
            snprintf(fx, sizeof fx, "%.3g%s", r->ref, mark);
        any_local |= !isnan(r->ref) && !r->ref_published;
        any_pub |= !isnan(r->ref) && r->ref_published;
        if (r->ok) {
            snprintf(fe, sizeof fe, "%d", r->n_fe);
            snprintf(iter, sizeof iter, "%d", r->iterations);
            snprintf(gr, sizeof gr, "%.3f", r->best);
            if (isnan(r->ref) || !(r->best > 0))
                snprintf(ratio, sizeof ratio, "n/a");
            else
                snprintf(ratio, sizeof ratio, "%.2f%s", r->ref / r->best, mark);
        } else {
            snprintf(fe, sizeof fe, "-");
            snprintf(iter, sizeof iter, "-");
            snprintf(gr, sizeof gr, "error");
            snprintf(ratio, sizeof ratio, "n/a");
        }
        /* The target in seconds: the fixest figure over the required speed-up. */
        char target[48], met[8];
        double speedup = CASES[c].target_speedup;
        if (isnan(speedup) || isnan(r->ref)) {
            snprintf(target, sizeof target, "-");
            snprintf(met, sizeof met, "-");
        } else {
            snprintf(target, sizeof target, "<= %.3g (%gx)", r->ref / speedup, speedup);
            snprintf(met, sizeof met, "%s", r->ok && r->best <= r->ref / speedup ? "yes" : "no");
        }
        if (cfg->markdown)
            printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", CASES[c].name, rows, fe, iter, tolbuf, gr,
                   fx, ratio, target, met);
        else
            printf("%-14s %11s %3s %7s %7s %9s %10s %14s %16s %4s\n", CASES[c].name, rows, fe, iter, tolbuf, gr, fx,
                   ratio, target, met);
    }
    printf("\ngravrd s: best of %d runs of gravrd_reg (CLOCK_MONOTONIC, data generation excluded), "
           "%d thread%s.\n",
           cfg->runs, cfg->threads, cfg->threads == 1 ? "" : "s");
    if (any_local)
        printf("fixest s: fixest 0.12.2, 1 thread, measured on the project's benchmark machine.\n");
    if (any_pub)
        printf("(p): published by fixest_benchmarks (github.com/s3alfisc/fixest_benchmarks, "
               "results/bench_ols.csv @703bb62):\n"
               "     fixest 0.13.0, 8 threads, other hardware, best of 3 -- indicative only.\n");
    if (cfg->threads != 1 && any_local)
        printf("note: the local fixest figures are single-threaded; gravrd ran with %d threads.\n", cfg->threads);
    if (cfg->quick)
        printf("note: --quick sizes; local fixest figures exist only for the full sizes.\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001B3);
    return h;
}

/* Hash of every name, type, value, code and level, to compare two builds. */
static uint64_t frame_checksum(const gravrd_frame *f)
{
    uint64_t h = UINT64_C(0xCBF29CE484222325);
    h = fnv(h, &f->n_rows, sizeof f->n_rows);
    for (size_t c = 0; c < f->n_cols; c++) {
        const gravrd_column *col = &f->cols[c];
        h = fnv(h, col->name, strlen(col->name) + 1);
        h = fnv(h, &col->type, sizeof col->type);
        if (col->type == GRAVRD_COL_NUMERIC) {
            h = fnv(h, col->num_N, f->n_rows * sizeof *col->num_N);
        } else {
            h = fnv(h, col->codes_N, f->n_rows * sizeof *col->codes_N);
            for (int32_t l = 0; l < col->n_levels; l++)
                h = fnv(h, col->levels_L[l], strlen(col->levels_L[l]) + 1);
        }
    }
    return h;
}

/* --read-csv: wall time of gravrd_csv_read (file loading included). */
static int bench_read_csv(const char *path, int runs)
{
    double t[BENCH_MAX_RUNS];
    uint64_t sum = 0;
    size_t rows = 0, cols = 0;
    for (int r = 0; r < runs; r++) {
        gravrd_frame *f = NULL;
        gravrd_error err;
        gravrd_error_clear(&err);
        double t0 = now_seconds();
        gravrd_status st = gravrd_csv_read(path, NULL, &f, &err);
        t[r] = now_seconds() - t0;
        if (st != GRAVRD_OK) {
            fprintf(stderr, "gravrd_bench: %s\n", err.message);
            return 1;
        }
        uint64_t h = frame_checksum(f);
        if (r > 0 && h != sum) {
            fprintf(stderr, "gravrd_bench: %s: the frame differs between runs\n", path);
            gravrd_frame_free(f);
            return 1;
        }
        sum = h;
        rows = f->n_rows;
        cols = f->n_cols;
        gravrd_frame_free(f);
        printf("run %d: %.3f s\n", r + 1, t[r]);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double median = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
    printf("csv_read %s: %zu rows x %zu columns, best %.3f s, median %.3f s (%d runs), checksum %016llx\n", path,
           rows, cols, t[0], median, runs, (unsigned long long)sum);
    return 0;
}

int main(int argc, char **argv)
{
    bench_config cfg;
    int rc = parse_args(argc, argv, &cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    if (cfg.read_csv)
        return bench_read_csv(cfg.read_csv, cfg.runs);

    printf("gravrd_bench: %s sizes, %d thread%s, best of %d runs, tolerance %g\n", cfg.quick ? "quick" : "full",
           cfg.threads, cfg.threads == 1 ? "" : "s", cfg.runs, cfg.tol > 0 ? cfg.tol : GRAVRD_DEMEAN_TOL);
    print_cpu();

    case_result results[N_CASES];
    memset(results, 0, sizeof results);
    int failures = 0;
    for (int ds = 0; ds < DS_COUNT; ds++) {
        int needed = 0;
        for (int c = 0; c < N_CASES; c++)
            needed |= cfg.selected[c] && CASES[c].ds == (dataset_id)ds;
        if (!needed)
            continue;
        gravrd_frame *frame = NULL;
        gravrd_error err;
        gravrd_error_clear(&err);
        gravrd_status st = make_dataset((dataset_id)ds, cfg.quick, &frame, &err);
        if (st != GRAVRD_OK) {
            fprintf(stderr, "gravrd_bench: dataset %s: %s\n", DATASET_NAMES[ds], err.message);
            return 1;
        }
        if (cfg.write_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s%s.csv", cfg.write_dir, DATASET_NAMES[ds], cfg.quick ? "_quick" : "");
            double t0 = now_seconds();
            if (bench_write_csv(frame, path, &err) != GRAVRD_OK) {
                fprintf(stderr, "gravrd_bench: %s\n", err.message);
                gravrd_frame_free(frame);
                return 1;
            }
            printf("wrote %s in %.1f s\n", path, now_seconds() - t0);
        }
        for (int c = 0; c < N_CASES; c++) {
            if (!cfg.selected[c] || CASES[c].ds != (dataset_id)ds)
                continue;
            case_result *r = &results[c];
            if (!cfg.quick && !isnan(CASES[c].fixest_local)) {
                r->ref = CASES[c].fixest_local;
            } else {
                r->ref = cfg.quick ? CASES[c].fixest_pub_quick : CASES[c].fixest_pub_full;
                r->ref_published = !isnan(r->ref);
            }
            run_case(&cfg, &CASES[c], frame, r);
            failures += !r->ok;
        }
        gravrd_frame_free(frame);
    }
    print_table(&cfg, results);
    return failures ? 1 : 0;
}
