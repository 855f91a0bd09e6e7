/* bench/bench.h - synthetic datasets for the gravrd benchmark program.
 *
 * Every generator builds a gravrd_frame in memory from a fixed seed with
 * GSL's gsl_rng_mt19937, so a run is reproducible and independent of which
 * cases are selected. See docs/benchmarks.md for the data-generating
 * processes. */
#ifndef GRAVRD_BENCH_H
#define GRAVRD_BENCH_H

#include <stddef.h>

#include "gravrd/data.h"
#include "gravrd/error.h"

/* Seeds: one per dataset, so selecting cases with --case does not change the
 * data of the others. */
#define BENCH_SEED_PAPER 20240214UL
#define BENCH_SEED_FB_SIMPLE 20250725UL
#define BENCH_SEED_FB_DIFFICULT 20250726UL

/* Paper-shaped directed city-pair panel (east <-> west, both directions). */
typedef struct {
    int n_east;            /* eastern cities, ids 1..n_east (87) */
    int n_west;            /* western cities, ids n_east+1..n_east+n_west (110) */
    int n_months;          /* 60 */
    int n_partner_pairs;   /* undirected treated east-west pairs (128 -> 256 directed) */
    double city_per_prov;  /* average cities per province (10) */
    double city_per_seg;   /* average cities per segment within a province (2.5) */
} bench_paper_params;

void bench_paper_params_default(bench_paper_params *p);

/* Summary of a generated dataset, for the report. */
typedef struct {
    size_t n_rows;
    int n_provinces;       /* east + west */
    int n_segments;        /* east + west */
    int n_pairs;           /* directed pairs */
    int n_treated_pairs;   /* directed pairs with partner == 1 */
    double dist_min, dist_max;
} bench_paper_info;

/* Columns: y, partner, distance, exp_city, imp_city, month, pair, seg_exp,
 * seg_imp, exp_prov, imp_prov (all numeric). info may be NULL. */
gravrd_status bench_make_paper(const bench_paper_params *p, unsigned long seed, gravrd_frame **out,
                               bench_paper_info *info, gravrd_error *err);

/* fixest_benchmarks base_dgp(n, nb_year = 10, nb_indiv_per_firm = 23, type).
 * difficult = 0: "simple", 1: "difficult". Columns: indiv_id, firm_id, year,
 * x1, x2, y (all numeric). The frame has round(n / 10) * 10 rows. */
gravrd_status bench_make_fixest_benchmarks(size_t n, int difficult, unsigned long seed,
                                           gravrd_frame **out, gravrd_error *err);

/* Writes a frame as CSV (header row; numbers with %.17g, integers plainly;
 * missing values empty; factor columns as their level strings), so that the
 * same data can be timed with fixest. */
gravrd_status bench_write_csv(const gravrd_frame *frame, const char *path, gravrd_error *err);

#endif
