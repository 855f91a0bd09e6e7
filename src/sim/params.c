/* params.c - simulator parameters: the paper's defaults, setting by name,
 * parameter files and validation (see include/gravrd/sim.h). */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

const char *const sim_cat_names[GRAVRD_SIM_N_CAT] = {
    "clothing", "food", "household", "electronics", "healthcare", "other"};

const char *const sim_het_names[GRAVRD_SIM_N_HET] = {
    "high_minority_share", "more_gi_products",   "high_gdp_difference",
    "late_high_speed_rail", "low_freeway_density", "low_road_density",
    "better_ecommerce_infra", "better_cum_ecommerce_infra", "low_internet_penetration",
    "low_mobile_penetration"};

/* Earliest and latest month the calendar (Spring Festival dates) covers. */
#define SIM_FIRST_YEAR 2010
#define SIM_LAST_YEAR 2030

void gravrd_sim_params_init(gravrd_sim_params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->months = 60;
    p->scale = 1;
    p->start_year = 2017;
    p->start_month = 1;
    p->cities_path = NULL;
    p->partnerships_path = NULL;

    /* Table 3 (spatial RD): w2e 0.100, e2w about 0; deals 0.060 w2e. */
    p->partner_w2e = 0.10;
    p->partner_e2w = 0.0;
    p->deals_w2e = 0.06;
    p->deals_e2w = 0.0;
    /* Table 4 (w2e categories). */
    p->cat[GRAVRD_SIM_CAT_CLOTHING] = 0.118;
    p->cat[GRAVRD_SIM_CAT_FOOD] = 0.120;
    p->cat[GRAVRD_SIM_CAT_HOUSEHOLD] = 0.096;
    p->cat[GRAVRD_SIM_CAT_ELECTRONICS] = -0.041;
    p->cat[GRAVRD_SIM_CAT_HEALTHCARE] = -0.025;
    p->cat[GRAVRD_SIM_CAT_OTHER] = 0.035;
    /* Table 5: joint coefficients. The indicators are correlated (all follow
     * poverty or supply potential), so each one-at-a-time interaction that
     * Table 5 reports is larger than its joint coefficient; these values give
     * one-at-a-time slopes of the Table 5 order (truth.json lists them as
     * het_marginal). */
    p->het[GRAVRD_SIM_HET_MINORITY] = 0.06;
    p->het[GRAVRD_SIM_HET_GI] = 0.05;
    p->het[GRAVRD_SIM_HET_GDP_GAP] = 0.02;
    p->het[GRAVRD_SIM_HET_LATE_HSR] = 0.04;
    p->het[GRAVRD_SIM_HET_LOW_FREEWAY] = 0.06;
    p->het[GRAVRD_SIM_HET_LOW_ROAD] = 0.05;
    p->het[GRAVRD_SIM_HET_ECOM_2018] = 0.07;
    p->het[GRAVRD_SIM_HET_ECOM_CUM] = 0.05;
    p->het[GRAVRD_SIM_HET_LOW_INTERNET] = 0.01;
    p->het[GRAVRD_SIM_HET_LOW_MOBILE] = 0.03;
    /* Tables 5 (col 11) and 7: no change in COVID, December, Spring Festival. */
    p->covid_interaction = 0.0;
    p->december_interaction = 0.0;
    p->spring_festival_interaction = 0.0;
    /* Table 6. */
    p->migration_effect = 0.528;
    p->migration_trade = 0.009;
    p->migration_trade_e2w = 0.0;
    p->search_effect = 0.121;
    p->search_trade = 0.027;
    /* Table 3, lower panel: no effect on concentration. */
    p->seller_cr_effect = 0.0;
    p->buyer_cr_effect = 0.0;

    /* Table 2: distance elasticity about -0.33. */
    p->distance_elasticity = -0.33;
    /* Table 2 vs Table 3: naive gravity 0.119 w2e vs 0.100 spatial RD. */
    p->affinity_w2e = 0.035;
    p->affinity_e2w = 0.0;
    p->affinity_bandwidth_km = 250.0;
    /* Tables 2 and 3: pair-clustered SEs of partner (0.012-0.034) and
     * adjusted R2 (0.93-0.99) by direction (tools/calibration.sh). */
    p->pair_sd_w2e = 0.04;
    p->pair_sd_e2w = 0.065;
    p->pair_smooth_sd_w2e = 0.35;
    p->pair_smooth_sd_e2w = 0.09;
    p->pair_smooth_km = 300.0;
    p->cell_sd_w2e = 0.6;
    p->cell_sd_e2w = 0.27;
    p->ar1 = 0.5;
    p->covid_shift = 0.10;
}

typedef enum { PT_DOUBLE, PT_INT, PT_SEED, PT_START } param_type;

typedef struct {
    const char *name;
    param_type type;
    size_t offset;
    double lo, hi;
    const char *help;
} param_def;

#define D(field) PT_DOUBLE, offsetof(gravrd_sim_params, field)
#define BIG 1e6

static const param_def params[] = {
    {"seed", PT_SEED, offsetof(gravrd_sim_params, seed), 0, 0, "random seed (0 .. 2^64-1), default 1"},
    {"months", PT_INT, offsetof(gravrd_sim_params, months), 1, 252, "number of months, default 60"},
    {"scale", PT_INT, offsetof(gravrd_sim_params, scale), 1, 100,
     "K times as many cities per province (synthetic ones near the real), default 1"},
    {"start", PT_START, 0, 0, 0, "first month YYYY-MM (2010-01 .. 2030-12), default 2017-01"},
    {"partner_w2e", D(partner_w2e), -5, 5, "partnership effect on log trade, west to east (total), 0.10"},
    {"partner_e2w", D(partner_e2w), -5, 5, "partnership effect on log trade, east to west (total), 0"},
    {"deals_w2e", D(deals_w2e), -5, 5, "partnership effect on log deals, west to east, 0.06"},
    {"deals_e2w", D(deals_e2w), -5, 5, "partnership effect on log deals, east to west, 0"},
    {"cat_clothing", D(cat[GRAVRD_SIM_CAT_CLOTHING]), -5, 5, "w2e category effect (Table 4), clothing 0.118"},
    {"cat_food", D(cat[GRAVRD_SIM_CAT_FOOD]), -5, 5, "w2e category effect, food and beverage 0.120"},
    {"cat_household", D(cat[GRAVRD_SIM_CAT_HOUSEHOLD]), -5, 5, "w2e category effect, household goods 0.096"},
    {"cat_electronics", D(cat[GRAVRD_SIM_CAT_ELECTRONICS]), -5, 5, "w2e category effect, electronics -0.041"},
    {"cat_healthcare", D(cat[GRAVRD_SIM_CAT_HEALTHCARE]), -5, 5, "w2e category effect, healthcare -0.025"},
    {"cat_other", D(cat[GRAVRD_SIM_CAT_OTHER]), -5, 5, "w2e category effect, others 0.035"},
    {"het_minority", D(het[GRAVRD_SIM_HET_MINORITY]), -5, 5, "w2e partner x high minority share (joint), 0.06"},
    {"het_gi", D(het[GRAVRD_SIM_HET_GI]), -5, 5, "w2e partner x more GI products, 0.05"},
    {"het_gdp_gap", D(het[GRAVRD_SIM_HET_GDP_GAP]), -5, 5, "w2e partner x high GDP difference, 0.02"},
    {"het_late_hsr", D(het[GRAVRD_SIM_HET_LATE_HSR]), -5, 5, "w2e partner x late high-speed rail, 0.04"},
    {"het_low_freeway", D(het[GRAVRD_SIM_HET_LOW_FREEWAY]), -5, 5, "w2e partner x low freeway density, 0.06"},
    {"het_low_road", D(het[GRAVRD_SIM_HET_LOW_ROAD]), -5, 5, "w2e partner x low road density, 0.05"},
    {"het_ecom_2018", D(het[GRAVRD_SIM_HET_ECOM_2018]), -5, 5, "w2e partner x more new e-commerce firms 2018, 0.07"},
    {"het_ecom_cum", D(het[GRAVRD_SIM_HET_ECOM_CUM]), -5, 5, "w2e partner x more e-commerce firms to 2021, 0.05"},
    {"het_low_internet", D(het[GRAVRD_SIM_HET_LOW_INTERNET]), -5, 5, "w2e partner x low internet penetration, 0.01"},
    {"het_low_mobile", D(het[GRAVRD_SIM_HET_LOW_MOBILE]), -5, 5, "w2e partner x low mobile penetration, 0.03"},
    {"covid_interaction", D(covid_interaction), -5, 5, "w2e partner x (month >= 2020-01), 0"},
    {"december_interaction", D(december_interaction), -5, 5, "w2e partner x December, 0"},
    {"spring_festival_interaction", D(spring_festival_interaction), -5, 5, "w2e partner x Spring Festival month, 0"},
    {"migration_effect", D(migration_effect), -BIG, BIG, "partner -> pre/post-CNY traffic ratio (level), 0.528"},
    {"migration_trade", D(migration_trade), -5, 5, "pre-CNY traffic ratio -> log trade w2e, 0.009"},
    {"migration_trade_e2w", D(migration_trade_e2w), -5, 5, "pre-CNY traffic ratio -> log trade e2w, 0"},
    {"search_effect", D(search_effect), -5, 5, "partner -> log search index (both directions), 0.121"},
    {"search_trade", D(search_trade), -5, 5, "log search index -> log trade (both directions), 0.027"},
    {"seller_cr_effect", D(seller_cr_effect), -100, 100, "partner -> seller concentration ratio (points), 0"},
    {"buyer_cr_effect", D(buyer_cr_effect), -100, 100, "partner -> buyer concentration ratio (points), 0"},
    {"distance_elasticity", D(distance_elasticity), -5, 5, "elasticity of trade to distance, -0.33"},
    {"affinity_w2e", D(affinity_w2e), -5, 5, "height of the smooth unobserved pair affinity, w2e, 0.035"},
    {"affinity_e2w", D(affinity_e2w), -5, 5, "height of the affinity, e2w, 0"},
    {"affinity_bandwidth_km", D(affinity_bandwidth_km), 1, 5000, "spatial scale of the affinity (km), 250"},
    {"pair_sd_w2e", D(pair_sd_w2e), 0, 5, "sd of the independent pair effect in log trade, w2e, 0.04"},
    {"pair_sd_e2w", D(pair_sd_e2w), 0, 5, "sd of the independent pair effect in log trade, e2w, 0.065"},
    {"pair_smooth_sd_w2e", D(pair_smooth_sd_w2e), 0, 5, "sd of the spatially smooth pair effect, w2e, 0.35"},
    {"pair_smooth_sd_e2w", D(pair_smooth_sd_e2w), 0, 5, "sd of the spatially smooth pair effect, e2w, 0.09"},
    {"pair_smooth_km", D(pair_smooth_km), 1, 5000, "length scale of the smooth pair effect (km), 300"},
    {"cell_sd_w2e", D(cell_sd_w2e), 0, 5, "sd of the pair-month error in log trade, w2e, 0.6"},
    {"cell_sd_e2w", D(cell_sd_e2w), 0, 5, "sd of the pair-month error in log trade, e2w, 0.27"},
    {"ar1", D(ar1), -0.99, 0.99, "AR(1) coefficient of the pair-month error, 0.5"},
    {"covid_shift", D(covid_shift), -5, 5, "level shift of online trade from 2020-01, 0.10"},
};
#undef D

#define N_PARAMS (sizeof params / sizeof params[0])

size_t gravrd_sim_param_count(void) { return N_PARAMS; }
const char *gravrd_sim_param_name(size_t i) { return i < N_PARAMS ? params[i].name : NULL; }
const char *gravrd_sim_param_help(size_t i) { return i < N_PARAMS ? params[i].help : NULL; }

/* Name comparison treating '-' and '_' alike. */
static int name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a == '-' ? '_' : *a, cb = *b == '-' ? '_' : *b;
        if (ca != cb)
            return 0;
    }
    return *a == *b;
}

/* strtod in the "C" locale, whole string (spaces around allowed). */
static int parse_double(const char *s, double *out)
{
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t prev = c ? uselocale(c) : (locale_t)0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int bad = end == s || errno == ERANGE;
    if (c) {
        uselocale(prev);
        freelocale(c);
    }
    if (bad)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

gravrd_status gravrd_sim_param_set(gravrd_sim_params *p, const char *name, const char *value,
                                   gravrd_error *err)
{
    if (!name || !value)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "parameter name or value missing");
    const param_def *d = NULL;
    for (size_t i = 0; i < N_PARAMS; i++)
        if (name_eq(params[i].name, name)) {
            d = &params[i];
            break;
        }
    if (!d)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown parameter '%s'", name);
    char *base = (char *)p;
    switch (d->type) {
    case PT_SEED: {
        uint64_t v;
        if (parse_u64(value, &v))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "seed: '%s' is not a whole number between 0 and 2^64-1", value);
        p->seed = v;
        return GRAVRD_OK;
    }
    case PT_INT: {
        double v;
        if (parse_double(value, &v) || v != floor(v) || v < d->lo || v > d->hi)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "%s: '%s' is not a whole number between %.0f and %.0f", d->name,
                                    value, d->lo, d->hi);
        *(int *)(base + d->offset) = (int)v;
        return GRAVRD_OK;
    }
    case PT_START: {
        int y, m, len = 0;
        if (sscanf(value, "%4d-%2d%n", &y, &m, &len) != 2 || value[len] != '\0' || len != 7 ||
            m < 1 || m > 12 || y < SIM_FIRST_YEAR || y > SIM_LAST_YEAR)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "start: '%s' is not a month YYYY-MM between %d-01 and %d-12",
                                    value, SIM_FIRST_YEAR, SIM_LAST_YEAR);
        p->start_year = y;
        p->start_month = m;
        return GRAVRD_OK;
    }
    case PT_DOUBLE: {
        double v;
        if (parse_double(value, &v))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: '%s' is not a number", d->name,
                                    value);
        if (v < d->lo || v > d->hi)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: %s is outside [%g, %g]", d->name,
                                    value, d->lo, d->hi);
        *(double *)(base + d->offset) = v;
        return GRAVRD_OK;
    }
    }
    return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown parameter '%s'", name);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

gravrd_status gravrd_sim_params_load(gravrd_sim_params *p, const char *path, gravrd_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open parameter file", path);
    char line[1024];
    long lineno = 0;
    gravrd_status st = GRAVRD_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            st = gravrd_error_set(err, GRAVRD_ERR_PARSE, "%s:%ld: line too long", path, lineno);
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st = gravrd_error_set(err, GRAVRD_ERR_PARSE, "%s:%ld: expected 'name = value', got '%s'",
                                  path, lineno, s);
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        gravrd_error e1;
        gravrd_error_clear(&e1);
        if (gravrd_sim_param_set(p, name, value, &e1) != GRAVRD_OK) {
            st = gravrd_error_set(err, e1.code, "%s:%ld: %s", path, lineno, e1.message);
            break;
        }
    }
    if (st == GRAVRD_OK && ferror(f))
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: read error", path);
    fclose(f);
    return st;
}

gravrd_status gravrd_sim_params_validate(const gravrd_sim_params *p, gravrd_error *err)
{
    if (!p)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "no parameters");
    if (p->scale < 1 || p->scale > 100)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "scale must be between 1 and 100 (got %d)",
                                p->scale);
    if (p->months < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "months must be at least 1 (got %d)",
                                p->months);
    if (p->start_month < 1 || p->start_month > 12 || p->start_year < SIM_FIRST_YEAR ||
        p->start_year > SIM_LAST_YEAR)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "start %04d-%02d is outside %d-01 .. %d-12",
                                p->start_year, p->start_month, SIM_FIRST_YEAR, SIM_LAST_YEAR);
    long last = (long)p->start_year * 12 + (p->start_month - 1) + p->months - 1;
    if (last > (long)SIM_LAST_YEAR * 12 + 11)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "%d months from %04d-%02d run past %d-12, the end of the calendar",
                                p->months, p->start_year, p->start_month, SIM_LAST_YEAR);
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (params[i].type != PT_DOUBLE)
            continue;
        double v = *(const double *)((const char *)p + params[i].offset);
        if (!isfinite(v) || v < params[i].lo || v > params[i].hi)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s = %g is outside [%g, %g]",
                                    params[i].name, v, params[i].lo, params[i].hi);
    }
    return GRAVRD_OK;
}

/* Spring Festival (Chinese New Year) month, 2010-2030. */
int sim_spring_festival_month(int year)
{
    static const unsigned char m[SIM_LAST_YEAR - SIM_FIRST_YEAR + 1] = {
        2, 2, 1, 2, 1, 2, 2, 1, 2, 2, /* 2010-2019 */
        1, 2, 2, 1, 2, 1, 2, 2, 1, 2, /* 2020-2029 */
        2};                           /* 2030 */
    if (year < SIM_FIRST_YEAR || year > SIM_LAST_YEAR)
        return 2;
    return m[year - SIM_FIRST_YEAR];
}
