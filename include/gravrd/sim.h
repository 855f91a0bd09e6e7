/* gravrd/sim.h - the calibrated simulator of the study's world ("embedded
 * default"): real geography (data/cities.csv, data/partnerships.csv) plus
 * simulated city characteristics, monthly e-commerce flows, migration and
 * search, with every planted effect recorded in truth.json.
 *
 * The data-generating process is documented in docs/simulator.md. Defaults of
 * every effect come from the reference paper (Zhong, Zhou, Li & Li 2024):
 * Table 3 (partnership effects), Table 4 (categories), Table 5
 * (heterogeneity), Table 6 (mediators), Table 7 (no change in December / the
 * Spring Festival month) and Table 1 (magnitudes).
 *
 * Random numbers: GSL's gsl_rng_mt19937, one generator per stream (cities,
 * pairs, city-months, cells), each seeded from the user seed with splitmix64.
 * Generation is single-threaded and its draws never depend on effect sizes,
 * so a seed gives byte-identical files on any machine and thread count, and
 * changing an effect changes nothing but that effect (common random numbers). */
#ifndef GRAVRD_SIM_H
#define GRAVRD_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Heterogeneity dimensions of Table 5 (median splits over western cities,
 * or over east-west pairs for the GDP gap). */
enum {
    GRAVRD_SIM_HET_MINORITY = 0,   /* high minority share */
    GRAVRD_SIM_HET_GI,             /* more GI products */
    GRAVRD_SIM_HET_GDP_GAP,        /* high GDP-per-capita difference (pair) */
    GRAVRD_SIM_HET_LATE_HSR,       /* late high-speed-rail start */
    GRAVRD_SIM_HET_LOW_FREEWAY,    /* low freeway density */
    GRAVRD_SIM_HET_LOW_ROAD,       /* low road density */
    GRAVRD_SIM_HET_ECOM_2018,      /* more new e-commerce firms 2018 */
    GRAVRD_SIM_HET_ECOM_CUM,       /* more e-commerce firms cumulative to 2021 */
    GRAVRD_SIM_HET_LOW_INTERNET,   /* low internet penetration */
    GRAVRD_SIM_HET_LOW_MOBILE,     /* low mobile-phone penetration */
    GRAVRD_SIM_N_HET
};

/* Product categories, in the order of the trade_* columns of flows.csv. */
enum {
    GRAVRD_SIM_CAT_CLOTHING = 0,
    GRAVRD_SIM_CAT_FOOD,
    GRAVRD_SIM_CAT_HOUSEHOLD,
    GRAVRD_SIM_CAT_ELECTRONICS,
    GRAVRD_SIM_CAT_HEALTHCARE,
    GRAVRD_SIM_CAT_OTHER,
    GRAVRD_SIM_N_CAT
};

typedef struct {
    /* ---- the world ---- */
    uint64_t seed;              /* default 1 */
    int months;                 /* default 60 */
    int start_year, start_month;/* default 2017-01 */
    int scale;                  /* K >= 1 (default 1): K times as many cities per
                                 * province, K - 1 synthetic ones near each real
                                 * city (docs/simulator.md#scale); K = 1 is the
                                 * real geography, byte-identical to before */
    const char *cities_path;    /* NULL: the copy of data/cities.csv embedded in the library (not owned) */
    const char *partnerships_path; /* NULL: the embedded data/partnerships.csv */

    /* ---- planted effects (log points unless noted) ---- */
    double partner_w2e;         /* total effect on log trade, west to east: 0.10 */
    double partner_e2w;         /* east to west: 0 */
    double deals_w2e;           /* total effect on log deals, w2e: 0.06 */
    double deals_e2w;           /* 0 */
    double cat[GRAVRD_SIM_N_CAT]; /* w2e category effects (Table 4); only their
                                   * differences matter, see docs */
    double het[GRAVRD_SIM_N_HET]; /* joint coefficients of partner x indicator (w2e) */
    double covid_interaction;   /* partner x (month >= 2020-01), w2e: 0 */
    double december_interaction;/* partner x December, w2e: 0 */
    double spring_festival_interaction; /* partner x Spring Festival month, w2e: 0 */
    double migration_effect;    /* partner -> pre/post-CNY traffic ratio (level): 0.528 */
    double migration_trade;     /* traffic ratio -> log trade w2e: 0.009 */
    double migration_trade_e2w; /* traffic ratio -> log trade e2w: 0 */
    double search_effect;       /* partner -> log search index, both directions: 0.121 */
    double search_trade;        /* log search -> log trade, both directions: 0.027 */
    double seller_cr_effect;    /* partner -> seller concentration ratio (points): 0 */
    double buyer_cr_effect;     /* partner -> buyer concentration ratio (points): 0 */

    /* ---- structure and confounding ---- */
    double distance_elasticity; /* -0.33 */
    double affinity_w2e;        /* height of the smooth pair affinity, w2e: see docs */
    double affinity_e2w;        /* e2w: 0 */
    double affinity_bandwidth_km; /* spatial scale of the affinity: 250 */
    /* noise of log trade by direction: west-to-east flows (young sellers,
     * small orders) are about 2.5 times as noisy as east-to-west ones
     * (calibrated to Tables 2 and 3, docs/simulator.md#calibration) */
    double pair_sd_w2e;         /* sd of the independent pair effect, w2e: 0.04 */
    double pair_sd_e2w;         /* e2w: 0.065 */
    double pair_smooth_sd_w2e;  /* sd of the spatially smooth pair effect, w2e: 0.35 */
    double pair_smooth_sd_e2w;  /* e2w: 0.09 */
    double pair_smooth_km;      /* its length scale (km): 300 */
    double cell_sd_w2e;         /* stationary sd of the pair-month error, w2e: 0.6 */
    double cell_sd_e2w;         /* e2w: 0.27 */
    double ar1;                 /* AR(1) coefficient of the pair-month error: 0.5 */
    double covid_shift;         /* level shift of all online trade from 2020-01: 0.10 */
} gravrd_sim_params;

/* Fills p with the paper's defaults. */
void gravrd_sim_params_init(gravrd_sim_params *p);

/* Sets one parameter by name from text. Names are those of truth.json and
 * docs/simulator.md ("partner_w2e", "cat_food", "het_minority", "seed",
 * "months", "start" = "YYYY-MM", ...); '-' and '_' are interchangeable.
 * Unknown names and unparsable or out-of-range values: GRAVRD_ERR_INVALID. */
gravrd_status gravrd_sim_param_set(gravrd_sim_params *p, const char *name, const char *value,
                                   gravrd_error *err);

/* Reads a parameter file: one "name = value" per line; blank lines and
 * lines starting with '#' are ignored. Errors name the file and line. */
gravrd_status gravrd_sim_params_load(gravrd_sim_params *p, const char *path, gravrd_error *err);

/* Checks ranges and combinations (months >= 1, the calendar window, sds >= 0,
 * |ar1| < 1, ...). gravrd_sim_write and gravrd_sim_flows_frame call it. */
gravrd_status gravrd_sim_params_validate(const gravrd_sim_params *p, gravrd_error *err);

/* The settable parameters, for help texts: name and a one-line description
 * of parameter i (0 <= i < count); NULL past the end. */
size_t gravrd_sim_param_count(void);
const char *gravrd_sim_param_name(size_t i);
const char *gravrd_sim_param_help(size_t i);

/* Generates the world and writes cities.csv, partnerships.csv, flows.csv,
 * migration.csv and truth.json into out_dir. Everything is written into a
 * temporary folder next to out_dir and moved into place only when complete.
 * out_dir must not exist, or be empty; with force, an existing non-empty
 * out_dir is accepted and those five files in it are replaced (other files
 * are left alone). Missing parent folders are created. */
gravrd_status gravrd_sim_write(const gravrd_sim_params *p, const char *out_dir, int force,
                               gravrd_error *err);

/* The flows table in memory, for tests and Monte Carlo studies that need no
 * files: the columns of flows.csv with the types gravrd_csv_read would give
 * them (month and direction are factors, the rest numeric, empty = NaN) and
 * the same values. */
gravrd_status gravrd_sim_flows_frame(const gravrd_sim_params *p, gravrd_frame **out,
                                     gravrd_error *err);
/* The same with only the named columns (n_names entries, in flows.csv
 * order whatever the order of names; NULL = all), for worlds too large for
 * every column: a --scale 10 world has 115 million rows, and its 17 columns
 * would take 15 GB where exp_city, imp_city, month and trade take 3.2 GB.
 * An unknown name is GRAVRD_ERR_INVALID. Values are those of the full frame. */
gravrd_status gravrd_sim_flows_frame_columns(const gravrd_sim_params *p, const char *const *names,
                                             size_t n_names, gravrd_frame **out, gravrd_error *err);

/* Switches off every effect of the partnership (partner_*, deals_*, the
 * categories, heterogeneity, the covid / December / Spring Festival
 * interactions, the migration and search channels, the concentration
 * ratios), leaving the rest of p alone: with the same seed, the same world
 * without the partnership (src/sim/effects.c). */
void gravrd_sim_params_effects_off(gravrd_sim_params *p);

#ifdef __cplusplus
}
#endif
#endif
