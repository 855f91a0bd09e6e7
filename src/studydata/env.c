/* env.c - formula functions of a study: above_median(x), below_median(x).
 * The medians are taken over cities (or east-west pairs), not over flow
 * rows: a median over rows would weight each city by its number of rows and
 * months, and would change with --subset. See docs/study-frame.md. */
#include "study_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

double study_median(double *x, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            x[m++] = x[i];
    if (m == 0)
        return NAN;
    qsort(x, m, sizeof *x, cmp_double);
    return m % 2 ? x[m / 2] : 0.5 * (x[m / 2 - 1] + x[m / 2]);
}

/* Median of a numeric city column over the cities of one region. */
static gravrd_status region_median(const gravrd_study *s, const gravrd_column *col, int west, double *out,
                                   gravrd_error *err)
{
    const size_t n = s->cities->n;
    double *x = malloc(n * sizeof *x);
    if (!x)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s->cities->west_N[i] == west)
            x[m++] = col->num_N[i];
    *out = study_median(x, m);
    free(x);
    return GRAVRD_OK;
}

static gravrd_status study_call(const gravrd_eval_env *env, const char *name, const double *const *args_N,
                                int n_args, const gravrd_expr *call, double *out_N, gravrd_error *err)
{
    const gravrd_study *s = env->user;
    int above = !strcmp(name, "above_median");
    if (!above && strcmp(name, "below_median"))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "unknown function '%s' at position %d (a study adds above_median and below_median)",
                                name, call->pos);
    if (n_args != 1 || call->args[0]->kind != GRAVRD_EXPR_VAR)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "%s() takes one variable name, as in %s(west_minority_share) (position %d)", name,
                                name, call->pos);
    const char *var = call->args[0]->name;
    study_var v;
    if (!study_resolve(s, var, &v) ||
        !(v.kind == SV_CITY || v.kind == SV_DISTANCE || v.kind == SV_GDP_DIFF || v.kind == SV_SAME_DIALECT ||
          v.kind == SV_MIGRATION))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "%s(%s): %s is not a city or pair characteristic of the study (medians are taken "
                                "over cities or east-west pairs, see docs/study-frame.md)",
                                name, var, var);
    if (!args_N[0] || (v.kind == SV_CITY && s->cities->frame->cols[v.col].type != GRAVRD_COL_NUMERIC))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s(%s): %s is not numeric", name, var, var);
    const gravrd_frame *frame = env->frame;
    const size_t N = frame->n_rows;
    const double *x = args_N[0];
    double t_east = NAN, t_west = NAN;
    gravrd_status st = GRAVRD_OK;
    if (v.kind == SV_CITY) {
        const gravrd_column *col = &s->cities->frame->cols[v.col];
        if ((st = region_median(s, col, 0, &t_east, err)) || (st = region_median(s, col, 1, &t_west, err)))
            return st;
    } else {
        const size_t P = s->n_east * s->n_west;
        double *val_P = malloc(P * sizeof *val_P);
        if (!val_P)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        st = study_pair_values(s, &v, s->segment_N, s->n_segments, val_P, err);
        if (!st)
            t_east = t_west = study_median(val_P, P);
        free(val_P);
        if (st)
            return st;
    }
    if (v.kind == SV_CITY && (v.prefix == SP_EXP || v.prefix == SP_IMP)) {
        /* The exporter (importer) is eastern on some rows and western on
         * others: compare each with the median of its own region. */
        const char *key = v.prefix == SP_EXP ? "exp_city" : "imp_city";
        const gravrd_column *col = gravrd_frame_find(frame, key);
        if (!col || col->type != GRAVRD_COL_NUMERIC)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s(%s) needs the %s column in the data", name, var,
                                    key);
        double last = NAN, t = NAN;
        for (size_t i = 0; i < N; i++) {
            double id = col->num_N[i];
            if (id != last) {
                long r = isnan(id) ? -1 : study_lookup(s, (int64_t)id);
                t = r < 0 ? NAN : s->cities->west_N[r] ? t_west : t_east;
                last = id;
            }
            out_N[i] = isnan(x[i]) || isnan(t) ? NAN : above ? x[i] > t : x[i] < t;
        }
        return GRAVRD_OK;
    }
    double t = v.kind == SV_CITY && v.prefix == SP_WEST ? t_west : t_east;
    for (size_t i = 0; i < N; i++)
        out_N[i] = isnan(x[i]) || isnan(t) ? NAN : above ? x[i] > t : x[i] < t;
    return GRAVRD_OK;
}

void gravrd_study_env(const gravrd_study *study, gravrd_eval_env *env)
{
    env->frame = NULL;
    env->call = study_call;
    /* user is void * in the env type; the functions only read the study. */
    env->user = (void *)study;
}
