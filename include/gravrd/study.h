/* gravrd/study.h - a study folder (cities.csv, partnerships.csv, flows.csv,
 * migration.csv, as written by `gravrd simulate` or by a user) and the
 * derived variables the paper's designs use, joined onto the flows so a
 * formula can use them directly (see docs/study-frame.md).
 *
 * Typical use (what `gravrd reg --study DIR` does):
 *
 *   gravrd_study_load(dir, 100.0, &study, &err);
 *   gravrd_csv_read(flows_path, NULL, &flows, &err);
 *   gravrd_reg_variables(formula, &opt, &names, &n_names, &err);
 *   gravrd_study_frame(study, flows, (const char *const *)names, n_names, &frame, &err);
 *   gravrd_study_env(study, &env);  opt.env = &env;
 *   gravrd_reg(frame, formula, &opt, &res, &err);
 *
 * Only the variables asked for are built: a study frame of all city
 * characteristics under four prefixes for 1.15M flow rows would take
 * gigabytes. */
#ifndef GRAVRD_STUDY_H
#define GRAVRD_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/error.h"
#include "gravrd/ri.h"
#include "gravrd/estimate.h"
#include "gravrd/formula.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the cities table ---- */

/* What gravrd_cities_read requires beyond city_id, lat and lng. */
enum {
    GRAVRD_CITIES_NEED_PROVINCE = 1, /* a province_en (or province) column, never empty */
    GRAVRD_CITIES_NEED_REGION = 2    /* a region column with values east / west */
};

/* A validated cities table. Rows are in file order. */
typedef struct {
    gravrd_frame *frame;      /* the file as read (every column) */
    size_t n;                 /* cities */
    int64_t *id_N;            /* city_id: unique integers */
    double *lat_N, *lng_N;    /* decimal degrees, in [-90, 90] x [-180, 180] */
    int32_t *province_N;      /* 0..n_provinces-1 in byte order of the names; -1 if no column */
    int32_t n_provinces;
    int8_t *west_N;           /* 0 east, 1 west; -1 when there is no region column */
} gravrd_cities;

/* Reads and validates a cities file (columns city_id, lat, lng; `lon` is
 * accepted for lng). flags: GRAVRD_CITIES_NEED_*. Errors name the file and
 * line ("cities.csv:7: city_id 12: lat is missing"). */
gravrd_status gravrd_cities_read(const char *path, unsigned flags, gravrd_cities **out, gravrd_error *err);
void gravrd_cities_free(gravrd_cities *cities);

/* ---- the study ---- */

typedef struct gravrd_study gravrd_study;

/* Loads DIR/cities.csv and DIR/partnerships.csv (and DIR/migration.csv when
 * present) and builds segments at bandwidth_km (> 0) within provinces.
 * cities.csv needs city_id, lat, lng, province_en (or province) and region
 * (east/west); partnerships.csv needs east_city and west_city (or
 * east_city_id and west_city_id); migration.csv needs east_city and
 * west_city. Validates coordinates, ids, regions and partnership ids; errors
 * name the file and line. */
gravrd_status gravrd_study_load(const char *dir, double bandwidth_km, gravrd_study **out, gravrd_error *err);
/* The study of the embedded default world: the real geography compiled
 * into the library (data/cities.csv, data/partnerships.csv; no migration),
 * the cities and partnerships `gravrd simulate` uses when given no files. */
gravrd_status gravrd_study_load_default(double bandwidth_km, gravrd_study **out, gravrd_error *err);
void gravrd_study_free(gravrd_study *study);

/* Number of cities, cities.csv as read, the bandwidth of the segments. */
size_t gravrd_study_n_cities(const gravrd_study *study);
const gravrd_frame *gravrd_study_cities(const gravrd_study *study);
double gravrd_study_bandwidth(const gravrd_study *study);

/* Read-only per-city arrays, indexed 0..n-1 in cities.csv order. They stay
 * valid as long as the study. */
typedef struct {
    size_t n;
    const int64_t *id_N;
    const double *lat_N, *lng_N;
    const int32_t *province_N;     /* 0..n_provinces-1 */
    int32_t n_provinces;
    const int8_t *west_N;          /* 0 east, 1 west */
    const uint8_t *in_program_N;   /* 1 if the city is in some partnership */
    const int32_t *segment_N;      /* 0..n_segments-1, see gravrd_segments */
    int32_t n_segments;
} gravrd_study_geo;
void gravrd_study_geography(const gravrd_study *study, gravrd_study_geo *out);

/* Index of a city id, or -1. */
long gravrd_study_city_index(const gravrd_study *study, int64_t city_id);
/* 1 if the cities at indexes i and j form a partnership (either order). */
int gravrd_study_partners(const gravrd_study *study, size_t i, size_t j);
/* Great-circle distance between the cities at indexes i and j, km. */
double gravrd_study_distance_km(const gravrd_study *study, size_t i, size_t j);
/* Number of partnerships (undirected east-west pairs). */
size_t gravrd_study_n_partnerships(const gravrd_study *study);

/* The flows joined with the derived variables: a new frame (flows unchanged)
 * holding the flows columns and derived variables named in names (n_names
 * entries), always plus exp_city and imp_city. Names that are neither are
 * skipped, so gravrd_reg can report them as unknown. names == NULL: every
 * flows column and every derived variable. A derived variable replaces a
 * flows column of the same name (the study is the authority on partner).
 * Requires exp_city and imp_city (city ids) in flows, and month ("YYYY-MM"
 * text or YYYYMM numbers) when a month variable is asked for. Errors name the
 * flows file and row: ids missing or not in cities.csv, pairs that are not
 * one eastern and one western city. The frame's source is flows->source. */
gravrd_status gravrd_study_frame(const gravrd_study *study, const gravrd_frame *flows, const char *const *names,
                                 size_t n_names, gravrd_frame **out, gravrd_error *err);

/* The pair-level frame: one row per east-west pair (n_east x n_west rows,
 * east cities outer, both in id order), with columns east_city, west_city,
 * exp_city (= east_city), imp_city (= west_city) and the derived variables
 * asked for (names as in gravrd_study_frame; NULL = all), computed as for an
 * east-to-west flow. Month variables are not available. segment_N: segments
 * to use instead of the study's (NULL = the study's), for balance tables at
 * several bandwidths. */
gravrd_status gravrd_study_pair_frame(const gravrd_study *study, const int32_t *segment_N,
                                      const char *const *names, size_t n_names, gravrd_frame **out,
                                      gravrd_error *err);

/* Names of every derived variable this study offers (fixed names, prefixed
 * city characteristics, migration measures), malloc'ed; free with
 * gravrd_strings_free. */
gravrd_status gravrd_study_variables(const gravrd_study *study, char ***names, size_t *n, gravrd_error *err);

/* An evaluation environment for formulas on a study frame: adds the
 * functions above_median(x) and below_median(x) (strictly above / below;
 * medians computed over cities or east-west pairs, not over rows, see
 * docs/study-frame.md). x must be a variable name. env->frame must be set by
 * the caller (gravrd_reg does it) and hold exp_city and imp_city when x has
 * an exp_ or imp_ prefix. The study must outlive the environment. */
void gravrd_study_env(const gravrd_study *study, gravrd_eval_env *env);

/* ---- placebo partnerships (randomization inference, gravrd/ri.h) ---- */

typedef struct gravrd_study_ri gravrd_study_ri;
/* Prepares the reassignments of the study's partnerships for the rows of
 * frame (its exp_city and imp_city ids: one eastern and one western city
 * of the study per row). Errors name the row, or the eastern city whose
 * partners the scheme cannot draw. */
gravrd_status gravrd_study_ri_new(const gravrd_study *study, const gravrd_frame *frame, gravrd_ri_scheme scheme,
                                  uint64_t seed, gravrd_study_ri **out, gravrd_error *err);
void gravrd_study_ri_free(gravrd_study_ri *ri);
/* The placebo partnerships of one draw: partner_P (n_east x n_west, east
 * and west cities in id order as in gravrd_study_pair_frame) set to 1 for
 * the drawn pairs. Returns 0, -1 when out of memory. */
int gravrd_study_ri_assign(const gravrd_study_ri *ri, long draw, uint8_t *partner_P);
/* A gravrd_ri_draw_fn (user = the gravrd_study_ri): the placebo partner
 * indicator of each requested frame row. */
int gravrd_study_ri_draw(void *user, long draw, const size_t *rows_R, size_t n_rows, double *values_R);

/* ---- balance (the paper's Table A.6) ---- */

typedef struct {
    const double *bandwidths_km;   /* one model with segment-pair FE per bandwidth */
    size_t n_bandwidths;
    int without_fe;                /* also the model without segment FE (first) */
    const char *const *vars;       /* further regressors (expressions), may be NULL */
    size_t n_vars;
    gravrd_vcov_type vcov;         /* IID or HETERO */
} gravrd_balance_options;

/* At the level of east-west pairs (gravrd_study_pair_frame), regresses
 * partner on log(distance), gdp_diff and opt->vars: first without segment
 * FE (with an intercept) when without_fe, then with seg_east^seg_west FE at
 * each bandwidth (segments rebuilt at that bandwidth). Each result's sample
 * label says which ("no segment FE", "segment pairs, 100 km"); wald_f and
 * wald_p are the joint test that all listed coefficients are zero. */
gravrd_status gravrd_study_balance(const gravrd_study *study, const gravrd_balance_options *opt,
                                   gravrd_reg_results **out, gravrd_error *err);

/* ---- calendar ---- */

/* Month (1 or 2) of the Chinese New Year (Spring Festival) in year, for
 * 2010-2030; 0 outside the table. Source in docs/study-frame.md. */
int gravrd_spring_festival_month(int year);

#ifdef __cplusplus
}
#endif
#endif
