/* montecarlo.c - coverage check of the simulator + estimator (built as
 * gravrd_montecarlo; `make montecarlo`; not part of the test run).
 *
 * For seeds S .. S+N-1 it simulates a small world in memory
 * (gravrd_sim_flows_frame), and estimates the west-to-east partnership effect
 * twice with gravrd_reg, clustering by city pair:
 *   gravity:    log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month
 *   spatial RD: the same plus exporter-segment x importer-segment fixed
 *               effects, segments from gravrd_segments at --bandwidth km
 *               (complete linkage within provinces, as gravrd reg --study).
 * It reports mean estimate, its sd across seeds, mean standard error and the
 * share of 95% intervals that cover the planted partner_w2e.
 *
 * Run from the repository root:
 *   build/gravrd_montecarlo --seeds 50 --months 12 [--homogeneous 1] [--cities data/cities.csv]
 *                           [--cluster segpair] [--NAME VALUE ...]   (any simulator parameter)
 * --homogeneous 1 sets every heterogeneity term and the spatially smooth pair
 * effect to 0.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/sim.h"
#include "gravrd/spatial.h"

typedef struct {
    int n;
    double *id, *lat, *lng;
    int *seg;
    int n_segments;
} cities_t;

/* Segments of the spatial RD: gravrd_segments on the real geography. */
static int load_segments(const char *path, double bw, cities_t *c)
{
    gravrd_frame *f = NULL;
    gravrd_error err;
    const char *const text[] = {"province_en", NULL};
    gravrd_csv_options opt = {.separator = 0, .text_columns = text};
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
    int64_t *ids = malloc(n * sizeof *ids);
    int32_t *seg = malloc(n * sizeof *seg), n_seg = 0;
    for (int i = 0; i < n; i++) {
        c->id[i] = id->num_N[i];
        c->lat[i] = lat->num_N[i];
        c->lng[i] = lng->num_N[i];
        ids[i] = (int64_t)id->num_N[i];
    }
    int rc = 0;
    if (gravrd_segments((size_t)n, ids, c->lat, c->lng, prov->codes_N, bw, seg, &n_seg, &err)) {
        fprintf(stderr, "montecarlo: %s\n", err.message);
        rc = -1;
    }
    for (int i = 0; i < n && !rc; i++)
        c->seg[i] = seg[i];
    c->n_segments = n_seg;
    free(ids);
    free(seg);
    gravrd_frame_free(f);
    return rc;
}

static int seg_of(const cities_t *c, double id)
{
    for (int i = 0; i < c->n; i++)
        if (c->id[i] == id)
            return c->seg[i];
    return -1;
}

static int estimate(const gravrd_frame *f, const char *formula, const char *cluster, double *est, double *se,
                    double *df)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.subset = "direction == \"w2e\"";
    opt.cluster = cluster;
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
    const char *cluster = "exp_city^imp_city"; /* the directed city pair, as in the paper */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seeds")) n_seeds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--first-seed")) first = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--bandwidth")) bw = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--homogeneous")) {
            if (strcmp(argv[i + 1], "1"))
                continue; /* --homogeneous 0: the default world's effects */
            /* One effect for every treated pair and no spatially smooth pair
             * effect: the setting where the nominal 95% should hold. */
            static const char *const het[] = {"het_minority", "het_gi", "het_gdp_gap", "het_late_hsr",
                                              "het_low_freeway", "het_low_road", "het_ecom_2018",
                                              "het_ecom_cum", "het_low_internet", "het_low_mobile",
                                              "pair_smooth_sd_w2e", "pair_smooth_sd_e2w"};
            for (size_t h = 0; h < sizeof het / sizeof het[0]; h++)
                gravrd_sim_param_set(&p, het[h], "0", &err);
        }
        else if (!strcmp(argv[i], "--cluster")) cluster = argv[i + 1]; /* e.g. segpair */
        else if (!strcmp(argv[i], "--cities")) { cities = argv[i + 1]; p.cities_path = cities; }
        else if (!strcmp(argv[i], "--partnerships")) p.partnerships_path = argv[i + 1];
        else if (!strncmp(argv[i], "--", 2) && !gravrd_sim_param_set(&p, argv[i] + 2, argv[i + 1], &err)) {}
        else { fprintf(stderr, "montecarlo: bad option %s %s\n", argv[i], argv[i + 1]); return 2; }
    }
    cities_t c;
    if (load_segments(cities, bw, &c))
        return 1;
    int nseg = c.n_segments;
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
        if (estimate(f, "log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month", cluster, &e[0],
                     &se[0], &df[0]) ||
            estimate(f, "log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month + segpair", cluster,
                     &e[1], &se[1], &df[1])) {
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
