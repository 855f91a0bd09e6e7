/* montecarlo.c - coverage check of the simulator + estimator (not part of the
 * default build or test run).
 *
 * For seeds S .. S+N-1 it simulates a small world in memory
 * (gravrd_sim_flows_frame), and estimates the west-to-east partnership effect
 * twice with gravrd_reg, clustering by city pair:
 *   gravity:    log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month
 *   spatial RD: the same plus exp_segment^imp_segment fixed effects, where
 *               segments group cities of one province whose pairwise distances
 *               are all <= --bandwidth km (greedy complete linkage; a stand-in
 *               for the spatial module's segments).
 * It reports mean estimate, its sd across seeds, mean standard error and the
 * share of 95% intervals that cover the planted partner_w2e.
 *
 * Build (from the repository root, after building libgravrd in build/):
 *   gcc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Iinclude tools/montecarlo.c \
 *       build/libgravrd.a -lgsl -lgslcblas -llapack -lz -lm -fopenmp -o build/montecarlo
 * Run:
 *   build/montecarlo --seeds 50 --months 12 [--cities data/cities.csv] [--NAME VALUE ...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/sim.h"

typedef struct {
    int n;
    double *id, *lat, *lng;
    int *seg;
} cities_t;

static double dist_km(double la1, double lo1, double la2, double lo2)
{
    const double rad = 3.14159265358979323846 / 180.0;
    double a = sin((la2 - la1) * rad / 2), b = sin((lo2 - lo1) * rad / 2);
    double h = a * a + cos(la1 * rad) * cos(la2 * rad) * b * b;
    return 2 * 6371.0 * asin(fmin(1.0, sqrt(h)));
}

/* Greedy complete-linkage clustering within provinces. */
static int load_segments(const char *path, double bw, cities_t *c)
{
    gravrd_frame *f = NULL;
    gravrd_error err;
    const char *const text[] = {"province_en", NULL};
    gravrd_csv_options opt = {0, text};
    if (gravrd_csv_read(path, &opt, &f, &err)) {
        fprintf(stderr, "montecarlo: %s\n", err.message);
        return -1;
    }
    const gravrd_column *id = gravrd_frame_find(f, "city_id"), *lat = gravrd_frame_find(f, "lat"),
                        *lng = gravrd_frame_find(f, "lng"), *prov = gravrd_frame_find(f, "province_en");
    int n = (int)f->n_rows;
    c->n = n;
    c->id = malloc(n * sizeof(double));
    c->lat = malloc(n * sizeof(double));
    c->lng = malloc(n * sizeof(double));
    c->seg = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) {
        c->id[i] = id->num_N[i];
        c->lat[i] = lat->num_N[i];
        c->lng[i] = lng->num_N[i];
        c->seg[i] = i;
    }
    for (;;) {
        int best_a = -1, best_b = -1;
        double best = INFINITY;
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++) {
                if (c->seg[a] != a || c->seg[b] != b) /* cluster representatives only */
                    continue;
                if (prov->codes_N[a] != prov->codes_N[b])
                    continue;
                double diam = 0;
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++)
                        if (c->seg[i] == a && c->seg[j] == b)
                            diam = fmax(diam, dist_km(c->lat[i], c->lng[i], c->lat[j], c->lng[j]));
                if (diam <= bw && diam < best) {
                    best = diam;
                    best_a = a;
                    best_b = b;
                }
            }
        if (best_a < 0)
            break;
        for (int i = 0; i < n; i++)
            if (c->seg[i] == best_b)
                c->seg[i] = best_a;
        /* keep intra-cluster diameter check valid: representative stays best_a */
    }
    gravrd_frame_free(f);
    return 0;
}

static int seg_of(const cities_t *c, double id)
{
    for (int i = 0; i < c->n; i++)
        if (c->id[i] == id)
            return c->seg[i];
    return -1;
}

static int estimate(const gravrd_frame *f, const char *formula, double *est, double *se, double *df)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.subset = "direction == \"w2e\"";
    opt.cluster = "exp_city^imp_city";
    gravrd_reg_results *res = NULL;
    gravrd_error err;
    if (gravrd_reg(f, formula, &opt, &res, &err)) {
        fprintf(stderr, "montecarlo: %s\n", err.message);
        return -1;
    }
    const gravrd_reg_result *r = &res->results[0];
    int ok = -1;
    for (int k = 0; k < r->n_coef; k++)
        if (!strcmp(r->coefs[k].name, "partner")) {
            *est = r->coefs[k].estimate;
            *se = r->coefs[k].se;
            *df = r->t_df;
            ok = 0;
        }
    gravrd_reg_results_free(res);
    return ok;
}

int main(int argc, char **argv)
{
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    p.months = 12;
    gravrd_error err;
    int n_seeds = 50;
    unsigned long long first = 1;
    double bw = 100;
    const char *cities = "data/cities.csv";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seeds")) n_seeds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--first-seed")) first = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--bandwidth")) bw = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--cities")) { cities = argv[i + 1]; p.cities_path = cities; }
        else if (!strcmp(argv[i], "--partnerships")) p.partnerships_path = argv[i + 1];
        else if (!strncmp(argv[i], "--", 2) && !gravrd_sim_param_set(&p, argv[i] + 2, argv[i + 1], &err)) {}
        else { fprintf(stderr, "montecarlo: bad option %s %s\n", argv[i], argv[i + 1]); return 2; }
    }
    cities_t c;
    if (load_segments(cities, bw, &c))
        return 1;
    int nseg = 0;
    for (int i = 0; i < c.n; i++)
        nseg += c.seg[i] == i;
    printf("segments: %d (bandwidth %.0f km, within provinces), truth partner_w2e = %g, %d months\n",
           nseg, bw, p.partner_w2e, p.months);
    printf("%6s %10s %9s %10s %9s\n", "seed", "gravity", "se", "spatialRD", "se");
    double s_est[2] = {0}, s_est2[2] = {0}, s_se[2] = {0};
    int cover[2] = {0}, done = 0;
    for (int s = 0; s < n_seeds; s++) {
        p.seed = first + (unsigned long long)s;
        gravrd_frame *f = NULL;
        if (gravrd_sim_flows_frame(&p, &f, &err)) {
            fprintf(stderr, "montecarlo: %s\n", err.message);
            return 1;
        }
        const gravrd_column *ex = gravrd_frame_find(f, "exp_city"), *im = gravrd_frame_find(f, "imp_city");
        double *sp = malloc(f->n_rows * sizeof(double));
        for (size_t i = 0; i < f->n_rows; i++)
            sp[i] = seg_of(&c, ex->num_N[i]) * 1000.0 + seg_of(&c, im->num_N[i]);
        gravrd_frame_add_numeric(f, "segpair", sp, &err);
        double e[2], se[2], df[2];
        if (estimate(f, "log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month", &e[0], &se[0], &df[0]) ||
            estimate(f, "log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month + segpair", &e[1], &se[1], &df[1])) {
            gravrd_frame_free(f);
            return 1;
        }
        gravrd_frame_free(f);
        for (int m = 0; m < 2; m++) {
            double crit = gsl_cdf_tdist_Pinv(0.975, df[m]);
            cover[m] += fabs(e[m] - p.partner_w2e) <= crit * se[m];
            s_est[m] += e[m];
            s_est2[m] += e[m] * e[m];
            s_se[m] += se[m];
        }
        done++;
        printf("%6llu %10.4f %9.4f %10.4f %9.4f\n", (unsigned long long)p.seed, e[0], se[0], e[1], se[1]);
        fflush(stdout);
    }
    const char *names[2] = {"gravity", "spatial RD"};
    for (int m = 0; m < 2; m++) {
        double mean = s_est[m] / done, sd = sqrt(fmax(0, s_est2[m] / done - mean * mean) * done / (done - 1.0));
        printf("%-10s mean %.4f  sd across seeds %.4f  mean se %.4f  coverage of 95%% CI %d/%d = %.2f\n",
               names[m], mean, sd, s_se[m] / done, cover[m], done, (double)cover[m] / done);
    }
    free(c.id); free(c.lat); free(c.lng); free(c.seg);
    return 0;
}
