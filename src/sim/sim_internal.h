/* sim_internal.h - shared between the files of src/sim (not public API). */
#ifndef GRAVRD_SIM_INTERNAL_H
#define GRAVRD_SIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "gravrd/error.h"
#include "gravrd/sim.h"

#define SIM_RNG_NAME "gsl_rng_mt19937"
#define SIM_N_YEARS_MIG 3 /* migration years 2019, 2020, 2021 */

extern const char *const sim_cat_names[GRAVRD_SIM_N_CAT];  /* "clothing", ... */
extern const char *const sim_het_names[GRAVRD_SIM_N_HET];  /* "high_minority_share", ... */

/* Random streams: one generator each, seeded from the user seed. */
enum { SIM_STREAM_CITY = 1, SIM_STREAM_PAIR, SIM_STREAM_MONTH, SIM_STREAM_CELL, SIM_STREAM_MIG, SIM_STREAM_FIELD,
       SIM_STREAM_SCALE };
/* NULL when out of memory. */
gsl_rng *sim_rng_new(uint64_t seed, int stream);

/* Spring Festival month (1 or 2) of a year 2010-2030. */
int sim_spring_festival_month(int year);

typedef struct {
    /* geography, in file order */
    int n;                      /* cities */
    int *id;
    char **name_en, **name_zh, **province;
    int *is_east;
    double *lat, *lng, *pop;    /* pop: 10k persons */
    double *gdp;                /* 100m yuan; real or imputed */
    int *gdp_imputed;
    /* simulated characteristics */
    double *gdppc;              /* 10k yuan per person */
    double *minority;           /* percent */
    int *gi;                    /* number of GI products */
    int *ecom18, *ecomcum;      /* new e-commerce firms 2018, cumulative 2018-2021 */
    double *internet, *mobile;  /* per 100 residents */
    int *hsr;                   /* high-speed rail start year */
    double *freeway, *road;     /* km per 100 km^2, km per km^2 */
    const char **dialect;       /* static strings */
    /* latent city terms */
    double *exp_cap, *exp_growth, *imp_dem, *imp_growth, *price_city, *fame;
    double *share_city;         /* n x GRAVRD_SIM_N_CAT log shares */
    double *cr_seller_city, *cr_buyer_city;
    /* east / west */
    int n_east, n_west;
    int *east, *west;           /* indices of east / west cities */
    /* partnerships (indices into the city arrays) */
    int n_part;
    int *part_e, *part_w;
    char **part_conf;           /* may hold "" */
    /* distances, n x n km */
    double *dist;
    /* east-west pair quantities, index a * n_west + b (a-th east, b-th west) */
    uint8_t *partner;
    double *affinity;           /* in [0, 1]: smooth bump around partnership pairs */
    double *mig_pre, *mig_post; /* 3 years each, index (pair * 3 + year) */
    double *mig_pre_mean, *mig_post_mean; /* as written (rounded to 1e-6) */
    double *tau_w2e;            /* direct partner effect of treated w2e pairs, before time interactions */
    uint8_t *het_d;             /* pair * GRAVRD_SIM_N_HET indicators */
    /* calendar */
    int months;
    int *year, *mon;            /* per month index */
    uint8_t *sf_month;          /* Spring Festival month */
    double *exp_month, *imp_month; /* n x months: city-month terms of log trade */
    uint8_t *exp_dark;          /* n x months: the exporter sells nothing online this month */
    double *search_month;       /* months: common search trend */
    /* derived numbers for truth.json */
    double direct_w2e, direct_e2w;
    double het_share_treated[GRAVRD_SIM_N_HET];
    double het_marginal[GRAVRD_SIM_N_HET];
    double cat_implied[GRAVRD_SIM_N_CAT];
    double affinity_treated_mean, affinity_control_mean, affinity_bias_w2e;
    double het_medians[GRAVRD_SIM_N_HET];
} sim_world;

/* Reads and checks the geography, draws the city and pair quantities. */
gravrd_status sim_world_build(const gravrd_sim_params *p, sim_world **out, gravrd_error *err);
void sim_world_free(sim_world *w);

/* One row of flows.csv. */
typedef struct {
    int exp_id, imp_id, t, dir;   /* dir 0 = e2w, 1 = w2e */
    int partner;
    double dist_km;
    int64_t trade_c;              /* cents */
    int64_t deals;
    int seller_cr, buyer_cr;      /* hundredths of a point, -1 = empty */
    int64_t cat_c[GRAVRD_SIM_N_CAT];
    int64_t baidu;
} sim_row;

/* Per-pair draws, made once for all directed pairs in a fixed order. */
typedef struct sim_pairs sim_pairs;
gravrd_status sim_pairs_build(const sim_world *w, const gravrd_sim_params *p, sim_pairs **out,
                              gravrd_error *err);
void sim_pairs_free(sim_pairs *pp);
size_t sim_n_directed(const sim_world *w);
/* Generates the months of directed pair k (0 <= k < sim_n_directed) into
 * rows[0 .. w->months); cells are drawn from rng in order, so pairs must be
 * generated in order 0, 1, 2, ... */
void sim_gen_pair(const sim_world *w, const gravrd_sim_params *p, const sim_pairs *pp, size_t k,
                  gsl_rng *rng, sim_row *rows);

/* Output helpers. */
gravrd_status sim_write_truth(const sim_world *w, const gravrd_sim_params *p, const char *path,
                              size_t n_rows, gravrd_error *err);

#endif
