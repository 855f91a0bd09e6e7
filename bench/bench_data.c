/* bench/bench_data.c - in-memory data-generating processes for gravrd_bench.
 *
 * 1. A panel shaped like the East-West Poverty Alleviation Partnership data
 *    (Zhong, Zhou, Li & Li 2024): 87 eastern and 110 western cities, every
 *    directed east->west and west->east pair, monthly. Geography, provinces
 *    and segments are synthetic (see docs/benchmarks.md).
 * 2. The "simple" and "difficult" designs of the public fixest_benchmarks
 *    suite: function base_dgp() in dgp_functions.R of
 *    https://github.com/s3alfisc/fixest_benchmarks (read at commit 3867e33).
 *    Re-implemented here from its description; R's random streams are not
 *    reproduced, only the design and the distributions. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

void bench_paper_params_default(bench_paper_params *p)
{
    p->n_east = 87;
    p->n_west = 110;
    p->n_months = 60;
    p->n_partner_pairs = 128;
    p->city_per_prov = 10.0;
    p->city_per_seg = 2.5;
}

static double *alloc_doubles(size_t n)
{
    return malloc((n ? n : 1) * sizeof(double));
}

/* Hands a numeric column to the frame, which owns *values afterwards whether
 * or not the call succeeds (see src/data/frame.c); *values is set to NULL. */
static gravrd_status add_numeric(gravrd_frame *frame, const char *name, double **values, gravrd_error *err)
{
    gravrd_status st = gravrd_frame_add_numeric(frame, name, *values, err);
    *values = NULL;
    return st;
}

/* Rounds half to even, as R's round() does. */
static long round_even(double x)
{
    return lrint(x);
}

/* ------------------------------------------------------------------------ */
/* Paper-shaped panel                                                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    int n_cities;
    int *prov_C;        /* province of each city, 0-based, east provinces first */
    int *seg_C;         /* segment of each city, 0-based, east segments first */
    double *x_C, *y_C;  /* location, km */
    int n_prov_east, n_prov_west, n_seg;
    int *prov_first_P;  /* first city of each province (cities are contiguous) */
    int *prov_size_P;
} paper_geo;

static void paper_geo_free(paper_geo *g)
{
    free(g->prov_C);
    free(g->seg_C);
    free(g->x_C);
    free(g->y_C);
    free(g->prov_first_P);
    free(g->prov_size_P);
}

/* Provinces of ~city_per_prov consecutive cities in each region, segments of
 * ~city_per_seg consecutive cities within each province; eastern provinces
 * spread along a north-south coast, western ones scattered further inland. */
static gravrd_status paper_geography(const bench_paper_params *p, gsl_rng *rng, paper_geo *g, gravrd_error *err)
{
    int nc = p->n_east + p->n_west;
    g->n_cities = nc;
    g->n_prov_east = (int)round_even(p->n_east / p->city_per_prov);
    g->n_prov_west = (int)round_even(p->n_west / p->city_per_prov);
    if (g->n_prov_east < 1)
        g->n_prov_east = 1;
    if (g->n_prov_west < 1)
        g->n_prov_west = 1;
    int np = g->n_prov_east + g->n_prov_west;
    g->prov_C = malloc((size_t)nc * sizeof(int));
    g->seg_C = malloc((size_t)nc * sizeof(int));
    g->x_C = alloc_doubles((size_t)nc);
    g->y_C = alloc_doubles((size_t)nc);
    g->prov_first_P = calloc((size_t)np, sizeof(int));
    g->prov_size_P = calloc((size_t)np, sizeof(int));
    if (!g->prov_C || !g->seg_C || !g->x_C || !g->y_C || !g->prov_first_P || !g->prov_size_P)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (geography)");

    for (int c = 0; c < nc; c++) {
        int prov;
        if (c < p->n_east)
            prov = (int)((long)c * g->n_prov_east / p->n_east);
        else
            prov = g->n_prov_east + (int)((long)(c - p->n_east) * g->n_prov_west / p->n_west);
        g->prov_C[c] = prov;
        if (g->prov_size_P[prov]++ == 0)
            g->prov_first_P[prov] = c;
    }

    g->n_seg = 0;
    for (int pr = 0; pr < np; pr++) {
        int m = g->prov_size_P[pr];
        int n_seg = (int)round_even(m / p->city_per_seg);
        if (n_seg < 1)
            n_seg = 1;
        if (n_seg > m)
            n_seg = m;
        for (int j = 0; j < m; j++)
            g->seg_C[g->prov_first_P[pr] + j] = g->n_seg + (int)((long)j * n_seg / m);
        g->n_seg += n_seg;
    }

    for (int pr = 0; pr < np; pr++) {
        int east = pr < g->n_prov_east;
        double cx, cy, sd;
        if (east) {
            cx = 150.0 + 300.0 * gsl_rng_uniform(rng);
            cy = 100.0 + 1300.0 * (pr + 0.5) / g->n_prov_east;
            sd = 50.0;
        } else {
            cx = 1200.0 + 1200.0 * gsl_rng_uniform(rng);
            cy = 100.0 + 1300.0 * gsl_rng_uniform(rng);
            sd = 60.0;
        }
        for (int j = 0; j < g->prov_size_P[pr]; j++) {
            int c = g->prov_first_P[pr] + j;
            g->x_C[c] = cx + gsl_ran_gaussian_ziggurat(rng, sd);
            g->y_C[c] = cy + gsl_ran_gaussian_ziggurat(rng, sd);
        }
    }
    return GRAVRD_OK;
}

/* Partnerships: each western province is assigned an eastern partner
 * province (a random permutation, recycled), and treated city pairs are drawn
 * round-robin over western provinces, one western city and one city of its
 * partner province at a time, until n_partner_pairs distinct undirected
 * pairs exist. Treatment is thus spatially clustered by province pair, as in
 * the program. treated_EW[e * n_west + w] = 1 for a treated pair. */
static gravrd_status paper_partners(const bench_paper_params *p, gsl_rng *rng, const paper_geo *g,
                                    uint8_t *treated_EW, gravrd_error *err)
{
    int *perm = malloc((size_t)g->n_prov_east * sizeof(int));
    if (!perm)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (partners)");
    for (int i = 0; i < g->n_prov_east; i++)
        perm[i] = i;
    gsl_ran_shuffle(rng, perm, (size_t)g->n_prov_east, sizeof(int));

    long possible = 0;
    for (int w = 0; w < g->n_prov_west; w++) {
        int pw = g->n_prov_east + w, pe = perm[w % g->n_prov_east];
        possible += (long)g->prov_size_P[pw] * g->prov_size_P[pe];
    }
    if (p->n_partner_pairs < 0 || p->n_partner_pairs > possible / 2) {
        free(perm);
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "%d partner pairs requested, at most %ld fit the province pairing",
                                p->n_partner_pairs, possible / 2);
    }
    int count = 0;
    for (long t = 0; count < p->n_partner_pairs; t++) {
        int w = (int)(t % g->n_prov_west);
        int pw = g->n_prov_east + w, pe = perm[w % g->n_prov_east];
        int cw = g->prov_first_P[pw] + (int)gsl_rng_uniform_int(rng, (unsigned long)g->prov_size_P[pw]);
        int ce = g->prov_first_P[pe] + (int)gsl_rng_uniform_int(rng, (unsigned long)g->prov_size_P[pe]);
        uint8_t *cell = &treated_EW[(size_t)ce * (size_t)p->n_west + (size_t)(cw - p->n_east)];
        if (!*cell) {
            *cell = 1;
            count++;
        }
    }
    free(perm);
    return GRAVRD_OK;
}

gravrd_status bench_make_paper(const bench_paper_params *p, unsigned long seed, gravrd_frame **out,
                               bench_paper_info *info, gravrd_error *err)
{
    *out = NULL;
    if (p->n_east < 1 || p->n_west < 1 || p->n_months < 1 || p->city_per_prov <= 0 || p->city_per_seg <= 0)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "invalid paper panel parameters");

    const int ne = p->n_east, nw = p->n_west, nt = p->n_months, nc = ne + nw;
    const size_t n_pairs = 2 * (size_t)ne * (size_t)nw;
    const size_t n = n_pairs * (size_t)nt;

    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (rng)");
    gsl_rng_set(rng, seed);

    paper_geo g = {0};
    uint8_t *treated_EW = NULL;
    double *ex_CT = NULL, *im_CT = NULL, *month_fe = NULL, *seg_fe = NULL;
    double *cols[11] = {NULL};
    static const char *const names[11] = {"y",     "partner", "distance", "exp_city", "imp_city", "month",
                                          "pair",  "seg_exp", "seg_imp",  "exp_prov", "imp_prov"};
    gravrd_frame *frame = NULL;
    gravrd_status st = paper_geography(p, rng, &g, err);
    if (st != GRAVRD_OK)
        goto done;

    treated_EW = calloc((size_t)ne * (size_t)nw, 1);
    if (!treated_EW) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (partners)");
        goto done;
    }
    st = paper_partners(p, rng, &g, treated_EW, err);
    if (st != GRAVRD_OK)
        goto done;

    /* Fixed effects of the outcome: exporter-month and importer-month (city
     * level + common month shock + idiosyncratic), segment-pair level. */
    ex_CT = alloc_doubles((size_t)nc * (size_t)nt);
    im_CT = alloc_doubles((size_t)nc * (size_t)nt);
    month_fe = alloc_doubles((size_t)nt);
    seg_fe = alloc_doubles((size_t)g.n_seg * (size_t)g.n_seg);
    for (int k = 0; k < 11; k++)
        cols[k] = alloc_doubles(n);
    int ok = ex_CT && im_CT && month_fe && seg_fe;
    for (int k = 0; k < 11; k++)
        ok = ok && cols[k];
    if (!ok) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (%zu rows)", n);
        goto done;
    }
    for (int t = 0; t < nt; t++)
        month_fe[t] = gsl_ran_gaussian_ziggurat(rng, 0.3);
    for (int c = 0; c < nc; c++) {
        double a = gsl_ran_gaussian_ziggurat(rng, 1.0), b = gsl_ran_gaussian_ziggurat(rng, 1.0);
        for (int t = 0; t < nt; t++) {
            ex_CT[(size_t)c * nt + t] = a + 0.5 * month_fe[t] + gsl_ran_gaussian_ziggurat(rng, 0.2);
            im_CT[(size_t)c * nt + t] = b + 0.5 * month_fe[t] + gsl_ran_gaussian_ziggurat(rng, 0.2);
        }
    }
    for (size_t s = 0; s < (size_t)g.n_seg * (size_t)g.n_seg; s++)
        seg_fe[s] = gsl_ran_gaussian_ziggurat(rng, 0.5);

    double *y = cols[0], *partner = cols[1], *distance = cols[2], *exp_city = cols[3], *imp_city = cols[4],
           *month = cols[5], *pair = cols[6], *seg_exp = cols[7], *seg_imp = cols[8], *exp_prov = cols[9],
           *imp_prov = cols[10];
    double dmin = INFINITY, dmax = -INFINITY;
    int n_treated = 0;
    /* Directed pairs: first every east->west pair (e, w), then every
     * west->east pair (w, e); rows are pair-major, month-minor. */
    for (size_t d = 0; d < n_pairs; d++) {
        int e, w, ce, ci;
        if (d < (size_t)ne * nw) {
            e = (int)(d / (size_t)nw);
            w = (int)(d % (size_t)nw);
            ce = e;
            ci = ne + w;
        } else {
            size_t d2 = d - (size_t)ne * nw;
            w = (int)(d2 / (size_t)ne);
            e = (int)(d2 % (size_t)ne);
            ce = ne + w;
            ci = e;
        }
        double dx = g.x_C[ce] - g.x_C[ci], dy = g.y_C[ce] - g.y_C[ci];
        double dist = sqrt(dx * dx + dy * dy);
        if (dist < 500.0)
            dist = 500.0;
        if (dist > 3000.0)
            dist = 3000.0;
        if (dist < dmin)
            dmin = dist;
        if (dist > dmax)
            dmax = dist;
        double treat = treated_EW[(size_t)e * nw + (size_t)w] ? 1.0 : 0.0;
        n_treated += treat > 0;
        double pair_fe = gsl_ran_gaussian_ziggurat(rng, 0.3);
        double sfe = seg_fe[(size_t)g.seg_C[ce] * (size_t)g.n_seg + (size_t)g.seg_C[ci]];
        double base = 5.0 + 0.25 * treat - 1.0 * log(dist) + sfe + pair_fe;
        for (int t = 0; t < nt; t++) {
            size_t i = d * (size_t)nt + (size_t)t;
            y[i] = base + ex_CT[(size_t)ce * nt + t] + im_CT[(size_t)ci * nt + t] +
                   gsl_ran_gaussian_ziggurat(rng, 0.5);
            partner[i] = treat;
            distance[i] = dist;
            exp_city[i] = ce + 1;
            imp_city[i] = ci + 1;
            month[i] = t + 1;
            pair[i] = (double)(d + 1);
            seg_exp[i] = g.seg_C[ce] + 1;
            seg_imp[i] = g.seg_C[ci] + 1;
            exp_prov[i] = g.prov_C[ce] + 1;
            imp_prov[i] = g.prov_C[ci] + 1;
        }
    }

    frame = gravrd_frame_new(n, "");
    if (!frame) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (frame)");
        goto done;
    }
    for (int k = 0; k < 11 && st == GRAVRD_OK; k++)
        st = add_numeric(frame, names[k], &cols[k], err);
    if (st != GRAVRD_OK)
        goto done;

    if (info) {
        info->n_rows = n;
        info->n_provinces = g.n_prov_east + g.n_prov_west;
        info->n_segments = g.n_seg;
        info->n_pairs = (int)n_pairs;
        info->n_treated_pairs = n_treated;
        info->dist_min = dmin;
        info->dist_max = dmax;
    }
    *out = frame;
    frame = NULL;

done:
    if (frame)
        gravrd_frame_free(frame);
    for (int k = 0; k < 11; k++)
        free(cols[k]);
    free(ex_CT);
    free(im_CT);
    free(month_fe);
    free(seg_fe);
    free(treated_EW);
    paper_geo_free(&g);
    gsl_rng_free(rng);
    return st;
}

/* ------------------------------------------------------------------------ */
/* fixest_benchmarks base_dgp                                                */
/* ------------------------------------------------------------------------ */

/* base_dgp(n, nb_year = 10, nb_indiv_per_firm = 23, type):
 *   nb_indiv = round(n / nb_year); nb_firm = round(nb_indiv / nb_indiv_per_firm)
 *   indiv_id: 1..nb_indiv, each repeated nb_year times (row-major panel)
 *   year:     1..nb_year cycling within each individual
 *   firm_id:  simple    -> drawn uniformly from 1..nb_firm for every row
 *             difficult -> 1..nb_firm cycling over the rows
 *   x1 ~ N(0,1); x2 = x1^2
 *   y = x1 + 0.05 x2 + firm_fe[firm] + unit_fe[indiv] + year_fe[year] + N(0,1)
 *   with firm_fe, unit_fe, year_fe ~ N(0,1) per level.
 * The draws are made in the same order as in R (firm sample, x1, firm_fe,
 * unit_fe, year_fe, noise). */
gravrd_status bench_make_fixest_benchmarks(size_t n, int difficult, unsigned long seed,
                                           gravrd_frame **out, gravrd_error *err)
{
    *out = NULL;
    const long nb_year = 10, nb_indiv_per_firm = 23;
    long nb_indiv = round_even((double)n / (double)nb_year);
    long nb_firm = round_even((double)nb_indiv / (double)nb_indiv_per_firm);
    if (nb_indiv < 1 || nb_firm < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "fixest_benchmarks DGP: n = %zu is too small", n);
    const size_t rows = (size_t)nb_indiv * (size_t)nb_year;

    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (rng)");
    gsl_rng_set(rng, seed);

    gravrd_status st = GRAVRD_OK;
    gravrd_frame *frame = NULL;
    double *indiv = alloc_doubles(rows), *firm = alloc_doubles(rows), *year = alloc_doubles(rows);
    double *x1 = alloc_doubles(rows), *x2 = alloc_doubles(rows), *y = alloc_doubles(rows);
    double *firm_fe = alloc_doubles((size_t)nb_firm), *unit_fe = alloc_doubles((size_t)nb_indiv);
    double *year_fe = alloc_doubles((size_t)nb_year);
    if (!indiv || !firm || !year || !x1 || !x2 || !y || !firm_fe || !unit_fe || !year_fe) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (%zu rows)", rows);
        goto done;
    }

    for (size_t i = 0; i < rows; i++) {
        indiv[i] = (double)(i / (size_t)nb_year + 1);
        year[i] = (double)(i % (size_t)nb_year + 1);
    }
    if (difficult) {
        for (size_t i = 0; i < rows; i++)
            firm[i] = (double)(i % (size_t)nb_firm + 1);
    } else {
        for (size_t i = 0; i < rows; i++)
            firm[i] = (double)(gsl_rng_uniform_int(rng, (unsigned long)nb_firm) + 1);
    }
    for (size_t i = 0; i < rows; i++) {
        x1[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        x2[i] = x1[i] * x1[i];
    }
    for (long f = 0; f < nb_firm; f++)
        firm_fe[f] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (long u = 0; u < nb_indiv; u++)
        unit_fe[u] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (long t = 0; t < nb_year; t++)
        year_fe[t] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (size_t i = 0; i < rows; i++) {
        double mu = 1.0 * x1[i] + 0.05 * x2[i] + firm_fe[(size_t)firm[i] - 1] + unit_fe[(size_t)indiv[i] - 1] +
                    year_fe[(size_t)year[i] - 1];
        y[i] = mu + gsl_ran_gaussian_ziggurat(rng, 1.0);
    }

    frame = gravrd_frame_new(rows, "");
    if (!frame) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory (frame)");
        goto done;
    }
    st = add_numeric(frame, "indiv_id", &indiv, err);
    if (st == GRAVRD_OK)
        st = add_numeric(frame, "firm_id", &firm, err);
    if (st == GRAVRD_OK)
        st = add_numeric(frame, "year", &year, err);
    if (st == GRAVRD_OK)
        st = add_numeric(frame, "x1", &x1, err);
    if (st == GRAVRD_OK)
        st = add_numeric(frame, "x2", &x2, err);
    if (st == GRAVRD_OK)
        st = add_numeric(frame, "y", &y, err);
    if (st == GRAVRD_OK) {
        *out = frame;
        frame = NULL;
    }

done:
    if (frame)
        gravrd_frame_free(frame);
    free(indiv);
    free(firm);
    free(year);
    free(x1);
    free(x2);
    free(y);
    free(firm_fe);
    free(unit_fe);
    free(year_fe);
    gsl_rng_free(rng);
    return st;
}

/* ------------------------------------------------------------------------ */
/* CSV export                                                                */
/* ------------------------------------------------------------------------ */

gravrd_status bench_write_csv(const gravrd_frame *frame, const char *path, gravrd_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    for (size_t j = 0; j < frame->n_cols; j++)
        fprintf(f, "%s%s", j ? "," : "", frame->cols[j].name);
    fputc('\n', f);
    for (size_t i = 0; i < frame->n_rows; i++) {
        for (size_t j = 0; j < frame->n_cols; j++) {
            const gravrd_column *col = &frame->cols[j];
            if (j)
                fputc(',', f);
            if (col->type == GRAVRD_COL_FACTOR) {
                int32_t code = col->codes_N[i];
                if (code >= 0)
                    fputs(col->levels_L[code], f);
            } else {
                double v = col->num_N[i];
                if (isnan(v))
                    continue;
                if (v == floor(v) && fabs(v) < 1e15)
                    fprintf(f, "%.0f", v);
                else
                    fprintf(f, "%.17g", v);
            }
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: write error", path);
    return GRAVRD_OK;
}
