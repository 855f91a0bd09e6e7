/* reg.c - the `gravrd reg` pipeline: parse, evaluate, build the samples
 * (subset, split, missing values, singletons), then fit each outcome with
 * ols_fit_sample. Outcomes with the same usable rows are fitted together so
 * they share the fixed-effect work. */
#include "gravrd/estimate.h"
#include "gravrd/hdfe.h"

#include "model_data.h"
#include "ols.h"
#include "ri.h"
#include "sample_rows.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gravrd_reg_options_init(gravrd_reg_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->vcov = GRAVRD_VCOV_IID;
    opt->ssc = GRAVRD_SSC_FIXEST;
    gravrd_boot_options_init(&opt->boot);
}

static void result_free(gravrd_reg_result *r)
{
    free(r->outcome);
    free(r->sample);
    free(r->formula);
    if (r->fe_names)
        for (int q = 0; q < r->n_fe; q++)
            free(r->fe_names[q]);
    free(r->fe_names);
    free(r->fe_levels);
    free(r->vcov_label);
    if (r->coefs)
        for (int a = 0; a < r->n_coef; a++)
        {
            free(r->coefs[a].name);
            free(r->coefs[a].boot);
            ri_result_free(r->coefs[a].ri);
        }
    free(r->coefs);
    free(r->vcov);
    if (r->collinear)
        for (int a = 0; a < r->n_collinear; a++)
            free(r->collinear[a]);
    free(r->collinear);
    free(r->scores);
    free(r->bread);
}

void gravrd_reg_results_free(gravrd_reg_results *res)
{
    if (!res)
        return;
    for (int j = 0; j < res->n; j++)
        result_free(&res->results[j]);
    free(res->results);
    for (int w = 0; w < res->n_warnings; w++)
        free(res->warnings[w]);
    free(res->warnings);
    free(res);
}

static char *format_string(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return s;
}

static gravrd_status add_warning(gravrd_reg_results *res, char *msg, gravrd_error *err)
{
    if (!msg)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    char **grown = realloc(res->warnings, ((size_t)res->n_warnings + 1) * sizeof *grown);
    if (!grown) {
        free(msg);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    res->warnings = grown;
    res->warnings[res->n_warnings++] = msg;
    return GRAVRD_OK;
}

static char *vcov_label(const gravrd_reg_options *opt, const model_data *md)
{
    if (md->n_cluster == 0)
        return format_string("%s", opt->vcov == GRAVRD_VCOV_HETERO ? "hetero" : "iid");
    static const char *ways[] = {"", "cluster", "two-way cluster", "three-way cluster", "four-way cluster"};
    size_t len = 64;
    for (int c = 0; c < md->n_cluster; c++)
        len += strlen(md->cluster_names[c]) + 3;
    char *s = malloc(len);
    if (!s)
        return NULL;
    snprintf(s, len, "%s: ", ways[md->n_cluster < 5 ? md->n_cluster : 4]);
    for (int c = 0; c < md->n_cluster; c++) {
        if (c)
            strcat(s, " + ");
        strcat(s, md->cluster_names[c]);
    }
    return s;
}

typedef struct {
    char *label;
    uint8_t *mask_N;
    sample_key key;
} sample_def;

/* Fits every outcome on one sample, appending to res. */
static gravrd_status fit_sample(const model_data *md, const gravrd_formula *f, const sample_def *sample,
                                const gravrd_reg_options *opt, const gravrd_frame *frame, gravrd_reg_cache *cache,
                                gravrd_reg_results *res, gravrd_error *err)
{
    const size_t N = md->n_rows;
    const int n_out = md->n_outcomes;
    gravrd_status st = GRAVRD_OK;
    sample_rows *rows = NULL;
    const uint8_t **ok_J = calloc((size_t)n_out, sizeof *ok_J);
    int *group_J = malloc((size_t)n_out * sizeof *group_J), *members = malloc((size_t)n_out * sizeof *members);
    size_t *missing_J = calloc((size_t)n_out, sizeof *missing_J);
    if (!ok_J || !group_J || !members || !missing_J)
        goto nomem;
    if ((st = sample_rows_new(md, sample->mask_N, &sample->key, opt, frame->source,
                              (const char *const *)f->outcome_names, cache, &rows, err)))
        goto done;
    const rhs_rows *rhs = sample_rows_rhs(rows);
    const size_t n_sample = rhs->n_sample;
    for (int j = 0; j < n_out; j++) {
        const outcome_rows *o = sample_rows_outcome(rows, j);
        ok_J[j] = o->ok_N;
        missing_J[j] = n_sample - o->usable;
        if (missing_J[j] > 0) {
            char buf[1200];
            sample_rows_missing_detail(rows, j, f->outcome_names[j], buf, sizeof buf);
            if ((st = add_warning(res,
                                  format_string("%s [%s]: %zu observations removed because of missing or "
                                                "non-finite values (%s)",
                                                f->outcome_names[j], sample->label, missing_J[j], buf),
                                  err)))
                goto done;
        }
    }
    /* Outcomes with identical usable rows share one fit. */
    for (int j = 0; j < n_out; j++) {
        group_J[j] = j;
        for (int m = 0; m < j; m++)
            if (group_J[m] == m && (ok_J[m] == ok_J[j] || !memcmp(ok_J[m], ok_J[j], N))) {
                group_J[j] = m;
                break;
            }
    }
    int base = res->n;
    gravrd_reg_result *grown = realloc(res->results, ((size_t)res->n + (size_t)n_out) * sizeof *grown);
    if (!grown)
        goto nomem;
    res->results = grown;
    memset(res->results + base, 0, (size_t)n_out * sizeof *grown);
    res->n += n_out;
    for (int j = 0; j < n_out; j++) {
        if (group_J[j] != j)
            continue;
        int n_members = 0;
        for (int m = j; m < n_out; m++)
            if (group_J[m] == j)
                members[n_members++] = m;
        if ((st = sample_rows_keep(rows, j, err)))
            goto done;
        const outcome_rows *o = sample_rows_outcome(rows, j);
        const size_t dropped_singletons = o->dropped_singletons, usable = o->usable - dropped_singletons;
        if (usable == 0) {
            st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                                  "no observations left to estimate %s on sample '%s' (%zu rows in the sample, "
                                  "%zu with missing values, %zu singletons)",
                                  f->outcome_names[j], sample->label, n_sample, missing_J[j], dropped_singletons);
            goto done;
        }
        gravrd_reg_result *tmp = calloc((size_t)n_members, sizeof *tmp);
        if (!tmp)
            goto nomem;
        st = ols_fit_auto(md, o->keep_N, sample_rows_cache(rows), members, n_members, f->intercept, opt, tmp, err);
        for (int m = 0; m < n_members; m++)
            res->results[base + members[m]] = tmp[m];
        free(tmp);
        if (st)
            goto done;
        if (dropped_singletons > 0 &&
            (st = add_warning(res,
                              format_string("%s [%s]: %zu singleton observations removed (--keep-singletons "
                                            "keeps them)",
                                            f->outcome_names[j], sample->label, dropped_singletons),
                              err)))
            goto done;
        for (int m = 0; m < n_members; m++) {
            gravrd_reg_result *r = &res->results[base + members[m]];
            r->dropped_missing = missing_J[members[m]];
            r->dropped_singletons = dropped_singletons;
            r->outcome = format_string("%s", f->outcome_names[members[m]]);
            r->sample = format_string("%s", sample->label);
            r->formula = format_string("%s", f->text);
            r->vcov_label = vcov_label(opt, md);
            if (!r->outcome || !r->sample || !r->formula || !r->vcov_label)
                goto nomem;
            if (r->n_collinear > 0) {
                size_t len = 0;
                for (int a = 0; a < r->n_collinear; a++)
                    len += strlen(r->collinear[a]) + 2;
                char *names = malloc(len + 1);
                if (!names)
                    goto nomem;
                names[0] = '\0';
                for (int a = 0; a < r->n_collinear; a++) {
                    if (a)
                        strcat(names, ", ");
                    strcat(names, r->collinear[a]);
                }
                st = add_warning(res,
                                 format_string("%s [%s]: %s removed because of collinearity", r->outcome,
                                               r->sample, names),
                                 err);
                free(names);
                if (st)
                    goto done;
            }
        }
    }
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
done:
    sample_rows_free(rows);
    free(ok_J);
    free(group_J);
    free(members);
    free(missing_J);
    return st;
}

gravrd_status gravrd_reg(const gravrd_frame *frame, const char *formula, const gravrd_reg_options *opt_in,
                         gravrd_reg_results **out, gravrd_error *err)
{
    gravrd_reg_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        gravrd_reg_options_init(&opt);
    *out = NULL;
    gravrd_status st;
    gravrd_formula *f = NULL;
    gravrd_fe_term *clusters = NULL;
    int n_clusters = 0;
    model_data md = {0};
    sample_def *samples = NULL;
    int n_samples = 0;
    char **split_labels = NULL;
    int32_t n_split = 0;
    int32_t *split_N = NULL;
    double *subset_N = NULL;
    const double *subset_key = NULL;
    gravrd_reg_results *res = calloc(1, sizeof *res);
    const size_t N = frame->n_rows;
    /* a cache made for another frame would hand out wrong columns */
    gravrd_reg_cache *cache = reg_cache_usable(opt.cache, frame) ? opt.cache : NULL;
    const int32_t *split_codes = NULL;     /* split_N or the cache's */
    char *const *split_names = NULL;       /* split_labels or the cache's */
    if (!res)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");

    if ((st = gravrd_formula_parse(formula, &f, err)))
        goto done;
    if (opt.cluster && opt.cluster[0]) {
        if ((st = gravrd_fe_list_parse(opt.cluster, &clusters, &n_clusters, err)))
            goto done;
        if (n_clusters > 4) {
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "--cluster: at most four clustering dimensions, got %d",
                                  n_clusters);
            goto done;
        }
        opt.vcov = GRAVRD_VCOV_CLUSTER;
    } else if (opt.vcov == GRAVRD_VCOV_CLUSTER) {
        st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "clustered standard errors need --cluster VARS");
        goto done;
    }
    if (opt.ri.reps < 0 || (opt.ri.reps > 0 && (!opt.ri.term || !opt.ri.draw))) {
        st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                              opt.ri.reps < 0 ? "--ri-reps must be at least 1, not %ld"
                                              : "randomization inference needs a term and a draw function (%ld reps)",
                              opt.ri.reps);
        goto done;
    }
    if (opt.boot.method == GRAVRD_BOOT_WILD) {
        /* Checked before any data is read. */
        if (n_clusters != 1) {
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                  n_clusters == 0 ? "--boot wild needs --cluster VAR: it draws one weight per cluster"
                                                  : "--boot wild needs one-way clustering (--cluster VAR), not %d "
                                                    "clustering dimensions",
                                  n_clusters);
            goto done;
        }
        if (opt.boot.reps < 1) {
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "--boot-reps must be at least 1, not %ld",
                                  opt.boot.reps);
            goto done;
        }
        if (!(opt.boot.level > 0 && opt.boot.level < 1)) {
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "--boot-level must be in (0, 1), not %g", opt.boot.level);
            goto done;
        }
    }
    if ((st = model_data_build(frame, f, clusters, n_clusters, opt.env, cache, &md, err)))
        goto done;
    if (N == 0) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY, "%s: the data have no rows",
                              frame->source && frame->source[0] ? frame->source : "data");
        goto done;
    }

    uint8_t *base = malloc(N);
    if (!base)
        goto nomem;
    memset(base, 1, N);
    if (opt.subset && opt.subset[0]) {
        gravrd_expr *e = NULL;
        if ((st = gravrd_expr_parse(opt.subset, &e, err))) {
            free(base);
            goto done;
        }
        gravrd_eval_env env = {frame, opt.env ? opt.env->call : NULL, opt.env ? opt.env->user : NULL};
        const double *sub_N = NULL;
        if (cache) {
            st = reg_cache_expr(cache, e, &env, &sub_N, err);
        } else if (!(subset_N = malloc(N * sizeof *subset_N))) {
            gravrd_expr_free(e);
            free(base);
            goto nomem;
        } else {
            st = gravrd_expr_eval(e, &env, subset_N, err);
            sub_N = subset_N;
        }
        gravrd_expr_free(e);
        if (st) {
            free(base);
            goto done;
        }
        size_t kept = 0;
        for (size_t i = 0; i < N; i++) {
            base[i] = !isnan(sub_N[i]) && sub_N[i] != 0;
            kept += base[i];
        }
        subset_key = cache ? sub_N : NULL; /* the cache's values identify the sample */
        if (kept == 0) {
            free(base);
            st = gravrd_error_set(err, GRAVRD_ERR_EMPTY, "no rows left after --subset '%s' (%zu rows before)",
                                  opt.subset, N);
            goto done;
        }
    }
    if (opt.split && opt.split[0]) {
        const gravrd_column *col = gravrd_frame_find(frame, opt.split);
        if (!col) {
            free(base);
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown variable '%s' in --split", opt.split);
            goto done;
        }
        if (cache) {
            if ((st = reg_cache_split(cache, opt.split, &split_codes, &n_split, &split_names, err))) {
                n_split = 0; /* split_labels stays NULL */
                free(base);
                goto done;
            }
        } else {
            if (!(split_N = malloc(N * sizeof *split_N))) {
                free(base);
                goto nomem;
            }
            if ((st = gravrd_column_group_codes(col, N, split_N, &n_split, &split_labels, err))) {
                free(base);
                goto done;
            }
            split_codes = split_N;
            split_names = split_labels;
        }
        if (!(samples = calloc((size_t)n_split + 1, sizeof *samples))) {
            free(base);
            goto nomem;
        }
        for (int32_t g = 0; g < n_split; g++) {
            samples[g].label = format_string("%s=%s", opt.split, split_names[g]);
            samples[g].mask_N = malloc(N);
            n_samples = g + 1;
            if (!samples[g].label || !samples[g].mask_N) {
                free(base);
                goto nomem;
            }
            for (size_t i = 0; i < N; i++)
                samples[g].mask_N[i] = base[i] && split_codes[i] == g;
            samples[g].key = (sample_key){subset_key, split_codes, g};
        }
        free(base);
    } else {
        if (!(samples = calloc(1, sizeof *samples))) {
            free(base);
            goto nomem;
        }
        samples[0].label = format_string("%s", opt.sample_label ? opt.sample_label : "all");
        samples[0].mask_N = base;
        samples[0].key = (sample_key){subset_key, NULL, -1};
        n_samples = 1;
        if (!samples[0].label)
            goto nomem;
    }
    for (int s = 0; s < n_samples; s++) {
        size_t in_sample = 0;
        for (size_t i = 0; i < N; i++)
            in_sample += samples[s].mask_N[i];
        if (in_sample == 0)
            continue; /* a split value present only outside --subset */
        if ((st = fit_sample(&md, f, &samples[s], &opt, frame, cache, res, err)))
            goto done;
    }
    *out = res;
    res = NULL;
    st = GRAVRD_OK;
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
done:
    gravrd_reg_results_free(res);
    gravrd_formula_free(f);
    gravrd_fe_terms_free(clusters, n_clusters);
    model_data_free(&md);
    for (int s = 0; s < n_samples; s++) {
        free(samples[s].label);
        free(samples[s].mask_N);
    }
    free(samples);
    gravrd_strings_free(split_labels, split_labels ? (size_t)n_split : 0); /* NULL: the cache's */
    free(split_N);
    free(subset_N);
    return st;
}

/* Appends name to the list unless present. */
static gravrd_status add_name(char ***names, size_t *n, const char *name, gravrd_error *err)
{
    for (size_t k = 0; k < *n; k++)
        if (!strcmp((*names)[k], name))
            return GRAVRD_OK;
    char **grown = realloc(*names, (*n + 1) * sizeof *grown);
    if (!grown)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    *names = grown;
    if (!(grown[*n] = format_string("%s", name)))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    (*n)++;
    return GRAVRD_OK;
}

gravrd_status gravrd_reg_variables(const char *formula, const gravrd_reg_options *opt, char ***names_out,
                                   size_t *n_out, gravrd_error *err)
{
    char **names = NULL;
    size_t n = 0;
    gravrd_formula *f = NULL;
    gravrd_fe_term *clusters = NULL;
    int n_clusters = 0;
    gravrd_expr *subset = NULL;
    *names_out = NULL;
    *n_out = 0;
    gravrd_status st = gravrd_formula_parse(formula, &f, err);
    for (int j = 0; !st && j < f->n_outcomes; j++)
        st = gravrd_expr_variables(f->outcomes[j], &names, &n, err);
    for (int t = 0; !st && t < f->n_terms; t++)
        for (int m = 0; !st && m < f->terms[t].n_factors; m++)
            st = gravrd_expr_variables(f->terms[t].factors[m], &names, &n, err);
    for (int q = 0; !st && q < f->n_fes; q++)
        for (int v = 0; !st && v < f->fes[q].n_vars; v++)
            st = add_name(&names, &n, f->fes[q].vars[v], err);
    if (!st && opt && opt->cluster && opt->cluster[0])
        st = gravrd_fe_list_parse(opt->cluster, &clusters, &n_clusters, err);
    for (int c = 0; !st && c < n_clusters; c++)
        for (int v = 0; !st && v < clusters[c].n_vars; v++)
            st = add_name(&names, &n, clusters[c].vars[v], err);
    if (!st && opt && opt->subset && opt->subset[0] && !(st = gravrd_expr_parse(opt->subset, &subset, err)))
        st = gravrd_expr_variables(subset, &names, &n, err);
    if (!st && opt && opt->split && opt->split[0])
        st = add_name(&names, &n, opt->split, err);
    gravrd_formula_free(f);
    gravrd_fe_terms_free(clusters, n_clusters);
    gravrd_expr_free(subset);
    if (st) {
        gravrd_strings_free(names, n);
        return st;
    }
    *names_out = names;
    *n_out = n;
    return GRAVRD_OK;
}
