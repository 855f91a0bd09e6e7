/* frame.c - the study frame: flows (or all east-west pairs) joined with the
 * derived variables of docs/study-frame.md. Only the variables asked for
 * are built, each in one pass over the rows; pair-level variables are
 * computed once per east-west pair and then indexed, so the cost per row is
 * an array read. */
#include "study_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/spatial.h"
#include "util/strutil.h"

const char *const study_prefixes[SP_N] = {"exp_", "imp_", "east_", "west_"};
const char *const study_fixed_names[SV_N_FIXED] = {
    "partner", "distance", "e2w", "w2e", "pair", "ew_pair", "seg_exp", "seg_imp", "seg_east", "seg_west",
    "control_type", "treated_in_segpair", "same_dialect", "gdp_diff", "december", "spring_festival_month", "covid"};

/* migration.csv columns that are keys or repeat what the study derives. */
static int migration_column_usable(const gravrd_study *s, long j)
{
    static const char *const skip[] = {"east_city", "west_city", "east_city_id", "west_city_id", "distance_km",
                                       "partner"};
    const gravrd_column *col = &s->migration->cols[j];
    if (col->type != GRAVRD_COL_NUMERIC)
        return 0;
    for (size_t k = 0; k < sizeof skip / sizeof skip[0]; k++)
        if (!strcmp(col->name, skip[k]))
            return 0;
    for (int k = 0; k < SV_N_FIXED; k++)
        if (!strcmp(col->name, study_fixed_names[k]))
            return 0;
    return 1;
}

int study_resolve(const gravrd_study *s, const char *name, study_var *v)
{
    /* The flow keys are never derived, even if cities.csv had a "city" column. */
    if (!strcmp(name, "exp_city") || !strcmp(name, "imp_city"))
        return 0;
    for (int k = 0; k < SV_N_FIXED; k++)
        if (!strcmp(name, study_fixed_names[k])) {
            v->kind = (study_var_kind)k;
            v->prefix = -1;
            v->col = -1;
            return 1;
        }
    for (int p = 0; p < SP_N; p++) {
        size_t len = strlen(study_prefixes[p]);
        if (strncmp(name, study_prefixes[p], len))
            continue;
        long j = gravrd_frame_index(s->cities->frame, name + len);
        if (j >= 0) {
            v->kind = SV_CITY;
            v->prefix = p;
            v->col = j;
            return 1;
        }
    }
    if (s->migration) {
        long j = gravrd_frame_index(s->migration, name);
        if (j >= 0 && migration_column_usable(s, j)) {
            v->kind = SV_MIGRATION;
            v->prefix = -1;
            v->col = j;
            return 1;
        }
    }
    return 0;
}

int study_is_pair_level(const study_var *v)
{
    switch (v->kind) {
    case SV_PARTNER: case SV_DISTANCE: case SV_EW_PAIR: case SV_CONTROL_TYPE: case SV_TREATED_IN_SEGPAIR:
    case SV_SAME_DIALECT: case SV_GDP_DIFF: case SV_MIGRATION:
        return 1;
    default:
        return 0;
    }
}

static int is_month_var(study_var_kind k)
{
    return k == SV_DECEMBER || k == SV_SPRING_FESTIVAL || k == SV_COVID;
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

gravrd_status study_pair_values(const gravrd_study *s, const study_var *v, const int32_t *seg_N, int32_t n_seg,
                                double *out_P, gravrd_error *err)
{
    const size_t A = s->n_east, B = s->n_west;
    const gravrd_column *dialect = NULL, *mig = NULL;
    int64_t *keys = NULL;
    size_t n_keys = 0;
    if (v->kind == SV_SAME_DIALECT && !(dialect = gravrd_frame_find(s->cities->frame, "dialect_zone")))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "same_dialect needs a dialect_zone column in %s",
                                s->cities_path);
    if (v->kind == SV_GDP_DIFF && !s->has_gdppc)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "gdp_diff needs gdp_per_capita_10k_yuan, or gdp_2018_100m_yuan and "
                                "population_2020_10k, in %s",
                                s->cities_path);
    if (v->kind == SV_MIGRATION)
        mig = &s->migration->cols[v->col];
    if (v->kind == SV_TREATED_IN_SEGPAIR) {
        /* Sorted (east segment, west segment) keys of the treated pairs; a
         * pair's count is the length of its key's run. */
        if (!(keys = malloc((s->n_partnerships ? s->n_partnerships : 1) * sizeof *keys)))
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        for (size_t a = 0; a < A; a++)
            for (size_t b = 0; b < B; b++)
                if (s->partner_P[a * B + b])
                    keys[n_keys++] = (int64_t)seg_N[s->east_row[a]] * n_seg + seg_N[s->west_row[b]];
        qsort(keys, n_keys, sizeof *keys, cmp_i64);
    }
    for (size_t a = 0; a < A; a++) {
        const int32_t e = s->east_row[a];
        for (size_t b = 0; b < B; b++) {
            const int32_t w = s->west_row[b];
            const size_t p = a * B + b;
            double x = NAN;
            switch (v->kind) {
            case SV_PARTNER: x = s->partner_P[p]; break;
            case SV_DISTANCE: x = gravrd_study_distance_km(s, (size_t)e, (size_t)w); break;
            case SV_EW_PAIR: x = (double)p; break;
            case SV_CONTROL_TYPE:
                x = s->partner_P[p] ? 0 : 1 + s->in_program_N[e] + 2 * s->in_program_N[w];
                break;
            case SV_TREATED_IN_SEGPAIR: {
                int64_t key = (int64_t)seg_N[e] * n_seg + seg_N[w];
                size_t lo = 0, hi = n_keys;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (keys[mid] < key)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                size_t k = lo;
                while (k < n_keys && keys[k] == key)
                    k++;
                x = (double)(k - lo);
                break;
            }
            case SV_SAME_DIALECT:
                if (dialect->type == GRAVRD_COL_FACTOR) {
                    if (dialect->codes_N[e] >= 0 && dialect->codes_N[w] >= 0)
                        x = dialect->codes_N[e] == dialect->codes_N[w];
                } else if (!isnan(dialect->num_N[e]) && !isnan(dialect->num_N[w])) {
                    x = dialect->num_N[e] == dialect->num_N[w];
                }
                break;
            case SV_GDP_DIFF: x = s->gdppc_N[e] - s->gdppc_N[w]; break;
            case SV_MIGRATION: {
                int32_t r = s->migration_row_P[p];
                x = r >= 0 ? mig->num_N[r] : NAN;
                break;
            }
            default: break;
            }
            out_P[p] = x;
        }
    }
    free(keys);
    return GRAVRD_OK;
}

/* control_type: 1 + in_program(east) + 2 * in_program(west) gives 1 neither,
 * 2 only the eastern, 3 only the western, 4 both (not partners). */

typedef struct {
    const gravrd_study *s;
    const int32_t *seg_N;
    int32_t n_seg;
    size_t N;
    const int32_t *exp_N, *imp_N;  /* city rows of each frame row */
    int32_t *pair_N;               /* east-west pair of each row, built on first use */
    const gravrd_column *month;    /* NULL: no month column */
    int32_t *ym_N;                 /* 12 * year + month - 1, -1 missing; built on first use */
    const char *source;
} fctx;

static const char *src_name(const fctx *c) { return c->source && c->source[0] ? c->source : "flows"; }

static gravrd_status ensure_pairs(fctx *c, gravrd_error *err)
{
    if (c->pair_N)
        return GRAVRD_OK;
    if (!(c->pair_N = malloc((c->N ? c->N : 1) * sizeof *c->pair_N)))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    const gravrd_study *s = c->s;
    const int8_t *west = s->cities->west_N;
    for (size_t i = 0; i < c->N; i++) {
        int32_t e = c->exp_N[i], w = c->imp_N[i];
        if (west[e]) {
            int32_t t = e;
            e = w;
            w = t;
        }
        c->pair_N[i] = s->region_rank_N[e] * (int32_t)s->n_west + s->region_rank_N[w];
    }
    return GRAVRD_OK;
}

/* "YYYY-MM" (optionally followed by "-DD"), '/' also accepted; -1 if not. */
static int32_t parse_month_text(const char *t)
{
    int y = 0, m = 0, k = 0;
    for (; k < 4; k++) {
        if (t[k] < '0' || t[k] > '9')
            return -1;
        y = 10 * y + (t[k] - '0');
    }
    if (t[k] != '-' && t[k] != '/')
        return -1;
    k++;
    int digits = 0;
    while (t[k] >= '0' && t[k] <= '9' && digits < 2) {
        m = 10 * m + (t[k++] - '0');
        digits++;
    }
    if (digits == 0 || m < 1 || m > 12 || (t[k] && t[k] != '-' && t[k] != '/'))
        return -1;
    return 12 * y + m - 1;
}

static gravrd_status ensure_months(fctx *c, gravrd_error *err)
{
    if (c->ym_N)
        return GRAVRD_OK;
    if (!c->month)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "%s: the month variables (december, spring_festival_month, covid) need a month "
                                "column",
                                src_name(c));
    if (!(c->ym_N = malloc((c->N ? c->N : 1) * sizeof *c->ym_N)))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    const gravrd_column *col = c->month;
    if (col->type == GRAVRD_COL_FACTOR) {
        int32_t *ym_L = malloc((col->n_levels ? (size_t)col->n_levels : 1) * sizeof *ym_L);
        if (!ym_L)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        for (int32_t l = 0; l < col->n_levels; l++)
            ym_L[l] = parse_month_text(col->levels_L[l]);
        for (size_t i = 0; i < c->N; i++) {
            int32_t code = col->codes_N[i];
            if (code >= 0 && ym_L[code] < 0) {
                gravrd_status st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                                                    "%s: data row %zu (line %zu): month '%s' is not YYYY-MM",
                                                    src_name(c), i + 1, i + 2, col->levels_L[code]);
                free(ym_L);
                return st;
            }
            c->ym_N[i] = code >= 0 ? ym_L[code] : -1;
        }
        free(ym_L);
        return GRAVRD_OK;
    }
    for (size_t i = 0; i < c->N; i++) {
        double v = col->num_N[i];
        if (isnan(v)) {
            c->ym_N[i] = -1;
            continue;
        }
        int m = v == floor(v) && v >= 100001 && v <= 999912 ? (int)v % 100 : 0;
        if (m < 1 || m > 12)
            return gravrd_error_set(err, GRAVRD_ERR_DATA,
                                    "%s: data row %zu (line %zu): month %g is not YYYYMM or \"YYYY-MM\"", src_name(c),
                                    i + 1, i + 2, v);
        c->ym_N[i] = 12 * ((int)v / 100) + m - 1;
    }
    return GRAVRD_OK;
}

static char **dup_levels(const gravrd_column *col)
{
    char **lv = calloc(col->n_levels ? (size_t)col->n_levels : 1, sizeof *lv);
    if (!lv)
        return NULL;
    for (int32_t l = 0; l < col->n_levels; l++)
        if (!(lv[l] = gravrd_strdup(col->levels_L[l]))) {
            gravrd_strings_free(lv, (size_t)col->n_levels);
            return NULL;
        }
    return lv;
}

static gravrd_status copy_column(gravrd_frame *out, const gravrd_column *col, gravrd_error *err)
{
    const size_t N = out->n_rows, rows = N ? N : 1;
    if (col->type == GRAVRD_COL_NUMERIC) {
        double *x = malloc(rows * sizeof *x);
        if (!x)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory copying %s", col->name);
        memcpy(x, col->num_N, N * sizeof *x);
        return gravrd_frame_add_numeric(out, col->name, x, err);
    }
    int32_t *codes = malloc(rows * sizeof *codes);
    char **lv = dup_levels(col);
    if (!codes || !lv) {
        free(codes);
        if (lv)
            gravrd_strings_free(lv, (size_t)col->n_levels);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory copying %s", col->name);
    }
    memcpy(codes, col->codes_N, N * sizeof *codes);
    return gravrd_frame_add_factor(out, col->name, codes, lv, col->n_levels, err);
}

/* The city each row's prefix refers to. */
static int32_t prefixed_city(const fctx *c, int prefix, size_t i)
{
    int32_t e = c->exp_N[i], m = c->imp_N[i];
    switch (prefix) {
    case SP_EXP: return e;
    case SP_IMP: return m;
    case SP_EAST: return c->s->cities->west_N[e] ? m : e;
    default: return c->s->cities->west_N[e] ? e : m;
    }
}

static gravrd_status build_city_var(fctx *c, const study_var *v, const char *name, gravrd_frame *out,
                                    gravrd_error *err)
{
    const gravrd_column *col = &c->s->cities->frame->cols[v->col];
    const size_t N = c->N, rows = N ? N : 1;
    if (col->type == GRAVRD_COL_NUMERIC) {
        double *x = malloc(rows * sizeof *x);
        if (!x)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building %s", name);
        for (size_t i = 0; i < N; i++)
            x[i] = col->num_N[prefixed_city(c, v->prefix, i)];
        return gravrd_frame_add_numeric(out, name, x, err);
    }
    int32_t *codes = malloc(rows * sizeof *codes);
    char **lv = dup_levels(col);
    if (!codes || !lv) {
        free(codes);
        if (lv)
            gravrd_strings_free(lv, (size_t)col->n_levels);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building %s", name);
    }
    for (size_t i = 0; i < N; i++)
        codes[i] = col->codes_N[prefixed_city(c, v->prefix, i)];
    return gravrd_frame_add_factor(out, name, codes, lv, col->n_levels, err);
}

static gravrd_status build_var(fctx *c, const study_var *v, const char *name, gravrd_frame *out, gravrd_error *err)
{
    if (v->kind == SV_CITY)
        return build_city_var(c, v, name, out, err);
    const gravrd_study *s = c->s;
    const size_t N = c->N;
    const int8_t *west = s->cities->west_N;
    gravrd_status st = GRAVRD_OK;
    double *x = malloc((N ? N : 1) * sizeof *x);
    if (!x)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building %s", name);
    if (study_is_pair_level(v)) {
        double *val_P = malloc(s->n_east * s->n_west * sizeof *val_P);
        if (!val_P)
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building %s", name);
        if (!st)
            st = study_pair_values(s, v, c->seg_N, c->n_seg, val_P, err);
        if (!st)
            st = ensure_pairs(c, err);
        if (!st)
            for (size_t i = 0; i < N; i++)
                x[i] = val_P[c->pair_N[i]];
        free(val_P);
    } else if (is_month_var(v->kind)) {
        if (!(st = ensure_months(c, err)))
            for (size_t i = 0; i < N && !st; i++) {
                int32_t ym = c->ym_N[i];
                if (ym < 0) {
                    x[i] = NAN;
                    continue;
                }
                int year = ym / 12, mon = ym % 12 + 1;
                if (v->kind == SV_DECEMBER)
                    x[i] = mon == 12;
                else if (v->kind == SV_COVID)
                    x[i] = ym >= 12 * 2020; /* from 2020-01 */
                else {
                    int sf = gravrd_spring_festival_month(year);
                    if (!sf)
                        st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                                              "%s: data row %zu (line %zu): spring_festival_month: year %d is "
                                              "outside the calendar (2010-2030)",
                                              src_name(c), i + 1, i + 2, year);
                    x[i] = mon == sf;
                }
            }
    } else {
        int32_t *rank = NULL;
        if (v->kind == SV_PAIR) {
            /* rank of each city in id order, so the id does not depend on row order */
            if (!(rank = malloc(s->cities->n * sizeof *rank))) {
                free(x);
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            }
            for (size_t k = 0; k < s->cities->n; k++)
                rank[s->sorted_row[k]] = (int32_t)k;
        }
        const double n_cities = (double)s->cities->n;
        for (size_t i = 0; i < N; i++) {
            int32_t e = c->exp_N[i], m = c->imp_N[i];
            switch (v->kind) {
            case SV_E2W: x[i] = !west[e]; break;
            case SV_W2E: x[i] = west[e] == 1; break;
            case SV_PAIR: x[i] = rank[e] * n_cities + rank[m]; break;
            case SV_SEG_EXP: x[i] = c->seg_N[e]; break;
            case SV_SEG_IMP: x[i] = c->seg_N[m]; break;
            case SV_SEG_EAST: x[i] = c->seg_N[west[e] ? m : e]; break;
            case SV_SEG_WEST: x[i] = c->seg_N[west[e] ? e : m]; break;
            default: x[i] = NAN; break;
            }
        }
        free(rank);
    }
    if (st) {
        free(x);
        return st;
    }
    return gravrd_frame_add_numeric(out, name, x, err);
}

static void ctx_free(fctx *c)
{
    free(c->pair_N);
    free(c->ym_N);
}

static int listed(const char *const *names, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(names[k], name))
            return 1;
    return 0;
}

/* Adds the requested columns (names == NULL: all) after the key columns the
 * caller already put in out. */
static gravrd_status build_columns(fctx *c, const gravrd_frame *flows, const char *const *names, size_t n_names,
                                   gravrd_frame *out, gravrd_error *err)
{
    gravrd_status st = GRAVRD_OK;
    char **all = NULL;
    size_t n_all = 0;
    const char **list = NULL;
    if (!names) {
        if ((st = gravrd_study_variables(c->s, &all, &n_all, err)))
            return st;
        size_t n_flows = flows ? flows->n_cols : 0;
        if (!(list = malloc((n_flows + n_all + 1) * sizeof *list))) {
            gravrd_strings_free(all, n_all);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
        n_names = 0;
        for (size_t j = 0; j < n_flows; j++)
            list[n_names++] = flows->cols[j].name;
        for (size_t k = 0; k < n_all; k++) {
            study_var v;
            if (study_resolve(c->s, all[k], &v) && is_month_var(v.kind) && !c->month)
                continue; /* "all" means all that can be built */
            list[n_names++] = all[k];
        }
        names = list;
    }
    for (size_t k = 0; k < n_names && !st; k++) {
        const char *name = names[k];
        if (!name || gravrd_frame_index(out, name) >= 0 || listed(names, k, name))
            continue;
        study_var v;
        if (study_resolve(c->s, name, &v)) {
            st = build_var(c, &v, name, out, err);
        } else if (flows) {
            const gravrd_column *col = gravrd_frame_find(flows, name);
            if (col)
                st = copy_column(out, col, err);
        }
    }
    free(list);
    gravrd_strings_free(all, n_all);
    return st;
}

/* Row -> city index for one key column of flows, with the checks that give
 * the user the row to fix. Rows come grouped by pair, so the previous id is
 * cached. */
static gravrd_status map_key(const gravrd_study *s, const gravrd_frame *flows, const char *key, int32_t *row_N,
                             gravrd_error *err)
{
    const char *src = flows->source && flows->source[0] ? flows->source : "flows";
    const gravrd_column *col = gravrd_frame_find(flows, key);
    if (!col)
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: no %s column (the %s city id)", src, key,
                                strcmp(key, "exp_city") ? "importer's" : "exporter's");
    if (col->type != GRAVRD_COL_NUMERIC) {
        for (size_t i = 0; i < flows->n_rows; i++)
            if (col->codes_N[i] >= 0)
                return gravrd_error_set(err, GRAVRD_ERR_DATA,
                                        "%s: data row %zu (line %zu): %s '%s' is not a city id (a number)", src, i + 1,
                                        i + 2, key, col->levels_L[col->codes_N[i]]);
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: %s is empty", src, key);
    }
    double last = NAN;
    long last_row = -1;
    for (size_t i = 0; i < flows->n_rows; i++) {
        double v = col->num_N[i];
        if (v != last) {
            if (isnan(v))
                return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: data row %zu (line %zu): %s is missing", src, i + 1,
                                        i + 2, key);
            last_row = v == floor(v) && fabs(v) < 9007199254740992.0 ? study_lookup(s, (int64_t)v) : -1;
            if (last_row < 0)
                return gravrd_error_set(err, GRAVRD_ERR_DATA,
                                        "%s: data row %zu (line %zu): %s %.15g is not a city of the study (%s)", src,
                                        i + 1, i + 2, key, v, s->cities_path);
            last = v;
        }
        row_N[i] = (int32_t)last_row;
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_study_frame(const gravrd_study *s, const gravrd_frame *flows, const char *const *names,
                                 size_t n_names, gravrd_frame **out, gravrd_error *err)
{
    *out = NULL;
    const size_t N = flows->n_rows;
    const char *src = flows->source && flows->source[0] ? flows->source : "flows";
    gravrd_status st;
    int32_t *exp_N = malloc((N ? N : 1) * sizeof *exp_N), *imp_N = malloc((N ? N : 1) * sizeof *imp_N);
    gravrd_frame *f = NULL;
    fctx c = {0};
    if (!exp_N || !imp_N) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = map_key(s, flows, "exp_city", exp_N, err)) || (st = map_key(s, flows, "imp_city", imp_N, err)))
        goto done;
    const int8_t *west = s->cities->west_N;
    for (size_t i = 0; i < N; i++)
        if (west[exp_N[i]] == west[imp_N[i]]) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                                  "%s: data row %zu (line %zu): exp_city %lld and imp_city %lld are both %s cities; "
                                  "the study has east-west pairs only",
                                  src, i + 1, i + 2, (long long)s->cities->id_N[exp_N[i]],
                                  (long long)s->cities->id_N[imp_N[i]], west[exp_N[i]] ? "western" : "eastern");
            goto done;
        }
    if (!(f = gravrd_frame_new(N, flows->source))) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = copy_column(f, gravrd_frame_find(flows, "exp_city"), err)) ||
        (st = copy_column(f, gravrd_frame_find(flows, "imp_city"), err)))
        goto done;
    c.s = s;
    c.seg_N = s->segment_N;
    c.n_seg = s->n_segments;
    c.N = N;
    c.exp_N = exp_N;
    c.imp_N = imp_N;
    c.month = gravrd_frame_find(flows, "month");
    c.source = src;
    if ((st = build_columns(&c, flows, names, n_names, f, err)))
        goto done;
    *out = f;
    f = NULL;
done:
    ctx_free(&c);
    gravrd_frame_free(f);
    free(exp_N);
    free(imp_N);
    return st;
}

gravrd_status gravrd_study_pair_frame(const gravrd_study *s, const int32_t *segment_N, const char *const *names,
                                      size_t n_names, gravrd_frame **out, gravrd_error *err)
{
    *out = NULL;
    const size_t A = s->n_east, B = s->n_west, N = A * B;
    gravrd_status st = GRAVRD_OK;
    int32_t *exp_N = malloc(N * sizeof *exp_N), *imp_N = malloc(N * sizeof *imp_N);
    gravrd_frame *f = gravrd_frame_new(N, "east-west pairs");
    fctx c = {0};
    if (!exp_N || !imp_N || !f)
        goto nomem;
    const char *keys[] = {"east_city", "west_city", "exp_city", "imp_city"};
    for (int k = 0; k < 4; k++) {
        double *x = malloc(N * sizeof *x);
        if (!x)
            goto nomem;
        for (size_t a = 0; a < A; a++)
            for (size_t b = 0; b < B; b++)
                x[a * B + b] = (double)s->cities->id_N[k % 2 ? s->west_row[b] : s->east_row[a]];
        if ((st = gravrd_frame_add_numeric(f, keys[k], x, err)))
            goto done;
    }
    for (size_t a = 0; a < A; a++)
        for (size_t b = 0; b < B; b++) {
            exp_N[a * B + b] = s->east_row[a];
            imp_N[a * B + b] = s->west_row[b];
        }
    c.s = s;
    c.seg_N = segment_N ? segment_N : s->segment_N;
    c.n_seg = 0;
    for (size_t i = 0; i < s->cities->n; i++)
        if (c.seg_N[i] + 1 > c.n_seg)
            c.n_seg = c.seg_N[i] + 1;
    c.N = N;
    c.exp_N = exp_N;
    c.imp_N = imp_N;
    c.source = "east-west pairs";
    if ((st = build_columns(&c, NULL, names, n_names, f, err)))
        goto done;
    *out = f;
    f = NULL;
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the pair frame");
done:
    ctx_free(&c);
    gravrd_frame_free(f);
    free(exp_N);
    free(imp_N);
    return st;
}

gravrd_status gravrd_study_variables(const gravrd_study *s, char ***names, size_t *n, gravrd_error *err)
{
    const gravrd_frame *cf = s->cities->frame;
    size_t cap = SV_N_FIXED + SP_N * cf->n_cols + (s->migration ? s->migration->n_cols : 0);
    char **list = calloc(cap ? cap : 1, sizeof *list);
    size_t k = 0;
    *names = NULL;
    *n = 0;
    if (!list)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    for (int v = 0; v < SV_N_FIXED; v++)
        if (!(list[k++] = gravrd_strdup(study_fixed_names[v])))
            goto nomem;
    for (int p = 0; p < SP_N; p++)
        for (size_t j = 0; j < cf->n_cols; j++) {
            size_t len = strlen(study_prefixes[p]) + strlen(cf->cols[j].name) + 1;
            char *name = malloc(len);
            if (!(list[k++] = name))
                goto nomem;
            snprintf(name, len, "%s%s", study_prefixes[p], cf->cols[j].name);
            study_var v;
            if (!study_resolve(s, name, &v) || v.kind != SV_CITY) {
                /* shadowed by a fixed name or a flow key */
                free(list[--k]);
                list[k] = NULL;
            }
        }
    if (s->migration)
        for (size_t j = 0; j < s->migration->n_cols; j++)
            if (migration_column_usable(s, (long)j) && !listed((const char *const *)list, k, s->migration->cols[j].name))
                if (!(list[k++] = gravrd_strdup(s->migration->cols[j].name)))
                    goto nomem;
    *names = list;
    *n = k;
    return GRAVRD_OK;
nomem:
    gravrd_strings_free(list, cap);
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
}
