/* calibration.c - is the simulated world as precise as the paper's? (issue
 * 12 part 1; built as gravrd_calibration; tools/calibration.sh runs it and
 * docs/simulator.md#calibration shows its table; not part of the test run).
 *
 * For seeds S .. S+N-1 of the default world (60 months unless --months) it
 * simulates the flows in memory, joins the study's variables (segments at
 * 100 km, as the shipped study) and measures what the paper reports:
 *   Table 1: mean, P25, P50, P75 of trade by direction, and the ratios of
 *            the east-to-west mean and median to the west-to-east ones;
 *   Tables 2 and 3: the pair-clustered standard error of partner and the
 *            adjusted R2 of log1p(trade) ~ partner + log(distance) with
 *            city x month fixed effects (Table 2) and segment-pair fixed
 *            effects (Table 3), on both directions, east to west and west
 *            to east.
 * Each figure is printed beside its target (the paper's value from
 * data/paper_tables.json, compiled in below) and a row ends with the
 * number of targets it misses:
 *   ratio of means in [5, 11], of medians in [6, 13];
 *   each quantile within a factor 1.5 of Table 1's;
 *   each SE within 0.7-1.4 x the paper's; each adjusted R2 within 0.03.
 *
 *   build/gravrd_calibration [--seeds 20] [--first-seed 1] [--months 60]
 *                            [--threads 2] [--format text|md] [--no-effects 1] [--NAME VALUE ...]
 * --NAME VALUE sets any simulator parameter (gravrd simulate --help);
 * --no-effects 1 switches every partnership effect off (the counterfactual
 * world: its partner estimates are the designs' biases).
 * Exit status 1 when some seed misses a target. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/sim.h"
#include "gravrd/study.h"

/* Table 1 of the paper (trade, yuan): P25, P50, P75 by direction. */
static const double paper_q[2][3] = {{300124.01, 892274.52, 5339022.4}, {36360.83, 93751.99, 583916.55}};
/* Tables 2 and 3, log(trade), partner: SE and adjusted R2; samples both, e2w, w2e. */
static const double paper_se[2][3] = {{0.018, 0.012, 0.034}, {0.016, 0.015, 0.028}};
static const double paper_r2[2][3] = {{0.963, 0.986, 0.929}, {0.967, 0.988, 0.935}};
static const char *const sample_name[3] = {"both", "e2w", "w2e"};
static const char *const sample_subset[3] = {NULL, "direction == \"e2w\"", "direction == \"w2e\""};
static const char *const model_formula[2] = {
    "log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month",
    "log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp"};

typedef struct {
    double mean[2], q[2][3];  /* by direction: 0 e2w, 1 w2e */
    long zeros[2];
    double est[2][3], se[2][3], r2[2][3];
    int misses;
} seed_out;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Type-7 quantile (R's default) of sorted v. */
static double quantile(const double *v, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (h - (double)lo) * (v[hi] - v[lo]);
}

static int moments(const gravrd_frame *f, seed_out *o)
{
    const gravrd_column *dir = gravrd_frame_find(f, "direction"), *tr = gravrd_frame_find(f, "trade");
    size_t n = f->n_rows;
    double *v[2] = {malloc(n * sizeof(double)), malloc(n * sizeof(double))};
    size_t m[2] = {0, 0};
    if (!v[0] || !v[1] || !dir || !tr) {
        free(v[0]);
        free(v[1]);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *lvl = dir->levels_L[dir->codes_N[i]];
        int d = !strcmp(lvl, "w2e");
        v[d][m[d]++] = tr->num_N[i];
        o->zeros[d] += tr->num_N[i] == 0;
    }
    for (int d = 0; d < 2; d++) {
        double s = 0;
        for (size_t i = 0; i < m[d]; i++)
            s += v[d][i];
        o->mean[d] = s / (double)m[d];
        qsort(v[d], m[d], sizeof(double), cmp_double);
        for (int k = 0; k < 3; k++)
            o->q[d][k] = quantile(v[d], m[d], 0.25 * (k + 1));
        free(v[d]);
    }
    return 0;
}

static int fit(gravrd_frame *f, gravrd_reg_cache *cache, int threads, seed_out *o, gravrd_error *err)
{
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 3; s++) {
            gravrd_reg_options opt;
            gravrd_reg_options_init(&opt);
            opt.subset = sample_subset[s];
            opt.cluster = "exp_city^imp_city";
            opt.threads = threads;
            opt.cache = cache;
            gravrd_reg_results *res = NULL;
            if (gravrd_reg(f, model_formula[m], &opt, &res, err))
                return -1;
            const gravrd_reg_result *r = &res->results[0];
            o->est[m][s] = o->se[m][s] = NAN;
            for (int k = 0; k < r->n_coef; k++)
                if (!strcmp(r->coefs[k].name, "partner")) {
                    o->est[m][s] = r->coefs[k].estimate;
                    o->se[m][s] = r->coefs[k].se;
                }
            o->r2[m][s] = r->adj_r2;
            gravrd_reg_results_free(res);
        }
    return 0;
}

static int count_misses(const seed_out *o)
{
    int miss = 0;
    double rm = o->mean[0] / o->mean[1], rq = o->q[0][1] / o->q[1][1];
    miss += !(rm >= 5 && rm <= 11);
    miss += !(rq >= 6 && rq <= 13);
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < 3; k++) {
            double f = o->q[d][k] / paper_q[d][k];
            miss += !(f >= 1 / 1.5 && f <= 1.5);
        }
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 3; s++) {
            double f = o->se[m][s] / paper_se[m][s];
            miss += !(f >= 0.7 && f <= 1.4);
            miss += !(fabs(o->r2[m][s] - paper_r2[m][s]) <= 0.03);
        }
    return miss;
}

int main(int argc, char **argv)
{
    int n_seeds = 20, months = 60, threads = 2, md = 0;
    unsigned long long first = 1;
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    gravrd_error err;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "calibration: %s needs a value\n", argv[i]);
            return 2;
        }
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--seeds")) n_seeds = atoi(v);
        else if (!strcmp(a, "--first-seed")) first = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--months")) months = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--format")) md = !strcmp(v, "md");
        else if (!strcmp(a, "--no-effects")) {
            if (!strcmp(v, "1"))
                gravrd_sim_params_effects_off(&p);
        }
        else if (strncmp(a, "--", 2) || gravrd_sim_param_set(&p, a + 2, v, &err)) {
            fprintf(stderr, "calibration: %s: %s\n", a, strncmp(a, "--", 2) ? "unknown argument" : err.message);
            return 2;
        }
    }
    if (n_seeds < 1 || months < 1 || threads < 1) {
        fprintf(stderr, "calibration: --seeds, --months and --threads must be at least 1\n");
        return 2;
    }
    p.months = months;
    gravrd_study *study = NULL;
    if (gravrd_study_load_default(100, &study, &err)) {
        fprintf(stderr, "calibration: %s\n", err.message);
        return 2;
    }
    static const char *const flow_cols[] = {"exp_city", "imp_city", "month", "direction", "trade"};
    static const char *const names[] = {"exp_city", "imp_city", "month", "direction", "trade",
                                        "partner",  "distance", "seg_exp", "seg_imp"};
    const char *sep = md ? " | " : " ";
    if (md)
        printf("| seed | mean e2w/w2e | median e2w/w2e | e2w P25 P50 P75 (x paper) | w2e P25 P50 P75 (x paper) "
               "| T2 SE both e2w w2e (x paper) | T3 SE both e2w w2e (x paper) | T2 adj R2 - paper | "
               "T3 adj R2 - paper | zeros e2w/w2e | misses |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    else
        printf("seed  ratio(mean median)  e2w q(x paper)   w2e q(x paper)   T2 se(x paper)   T3 se(x paper)"
               "   T2 dR2              T3 dR2              zeros  misses\n");
    int bad_seeds = 0;
    double sum_est[2][3] = {{0}};
    for (int s = 0; s < n_seeds; s++) {
        p.seed = first + (unsigned long long)s;
        gravrd_frame *flows = NULL, *frame = NULL;
        seed_out o;
        memset(&o, 0, sizeof o);
        if (gravrd_sim_flows_frame_columns(&p, flow_cols, 5, &flows, &err) ||
            gravrd_study_frame(study, flows, names, sizeof names / sizeof names[0], &frame, &err)) {
            fprintf(stderr, "calibration: seed %llu: %s\n", (unsigned long long)p.seed, err.message);
            return 2;
        }
        gravrd_frame_free(flows);
        gravrd_reg_cache *cache = gravrd_reg_cache_new(frame);
        if (!cache || moments(frame, &o) || fit(frame, cache, threads, &o, &err)) {
            fprintf(stderr, "calibration: seed %llu: %s\n", (unsigned long long)p.seed,
                    cache ? err.message : "out of memory");
            return 2;
        }
        gravrd_reg_cache_free(cache);
        gravrd_frame_free(frame);
        o.misses = count_misses(&o);
        bad_seeds += o.misses > 0;
        for (int m = 0; m < 2; m++)
            for (int k = 0; k < 3; k++)
                sum_est[m][k] += o.est[m][k];
        printf("%s%llu%s%.2f %.2f%s", md ? "| " : "", (unsigned long long)p.seed, md ? " | " : "     ",
               o.mean[0] / o.mean[1], o.q[0][1] / o.q[1][1], md ? "" : "        ");
        if (md)
            printf("%s", sep);
        for (int d = 0; d < 2; d++) {
            for (int k = 0; k < 3; k++)
                printf("%.2f ", o.q[d][k] / paper_q[d][k]);
            printf("%s", sep);
        }
        for (int m = 0; m < 2; m++) {
            for (int k = 0; k < 3; k++)
                printf("%.2f ", o.se[m][k] / paper_se[m][k]);
            printf("%s", sep);
        }
        for (int m = 0; m < 2; m++) {
            for (int k = 0; k < 3; k++)
                printf("%+.3f ", o.r2[m][k] - paper_r2[m][k]);
            printf("%s", sep);
        }
        printf("%ld/%ld%s%d%s\n", o.zeros[0], o.zeros[1], sep, o.misses, md ? " |" : "");
        fflush(stdout);
    }
    printf("%s%d of %d seeds miss a target; mean partner estimate T2 %s %.3f %s %.3f %s %.3f, T3 %.3f %.3f %.3f\n",
           md ? "\n" : "", bad_seeds, n_seeds, sample_name[0], sum_est[0][0] / n_seeds, sample_name[1],
           sum_est[0][1] / n_seeds, sample_name[2], sum_est[0][2] / n_seeds, sum_est[1][0] / n_seeds,
           sum_est[1][1] / n_seeds, sum_est[1][2] / n_seeds);
    gravrd_study_free(study);
    return bad_seeds > 0;
}
