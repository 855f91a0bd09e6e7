/* sample_rows.c - estimation rows of a model's outcomes, cached across
 * models (see sample_rows.h). */
#include "sample_rows.h"

#include "gravrd/hdfe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *ok_N;
    size_t n_sample, n_ok;
    char detail[1024];
} rhs_blob;

typedef struct {
    uint8_t *ok_own; /* NULL when aliasing the rhs rows */
    outcome_rows rows;
} outcome_blob;

struct sample_rows {
    const model_data *md;
    const gravrd_reg_options *opt;
    rhs_rows rhs;
    const rhs_blob *rb;
    rhs_blob *rhs_local; /* owned when not cached */
    int n_out;
    gravrd_reg_cache *cache; /* the cache holding the masks; NULL: they are s's own */
    uint8_t *complete_V; /* per term, FE, cluster: no missing value in the frame (cached) */
    outcome_rows *out_J;
    outcome_blob **local_J; /* owned when not cached */
    struct keep_blob_s **local_keep_J;
};

static void rhs_blob_free(void *p)
{
    rhs_blob *b = p;
    if (b)
        free(b->ok_N);
    free(b);
}

static void outcome_blob_free(void *p)
{
    outcome_blob *b = p;
    if (b)
        free(b->ok_own);
    free(b);
}

/* Appends "name: count" to buf. */
static void describe_missing(char *buf, size_t cap, const char *name, size_t count)
{
    size_t len = strlen(buf);
    if (count == 0 || len + 1 >= cap)
        return;
    snprintf(buf + len, cap - len, "%s%s: %zu", len ? ", " : "", name, count);
}

static gravrd_status strict_error(gravrd_error *err, const char *source, size_t bad, const char *name, int numeric,
                                  size_t first)
{
    return gravrd_error_set(err, GRAVRD_ERR_DATA,
                            "%s: %zu rows have a missing %svalue of %s (first: data row %zu); "
                            "--strict makes this an error",
                            source && source[0] ? source : "data", bad, numeric ? "or non-finite " : "", name,
                            first + 1);
}

/* Missing values per variable, for the warning and for --strict. Each
 * variable is first counted without branches (a mask with scattered rows
 * mispredicts); rows are cleared in a second pass only when some value is
 * missing. */
static gravrd_status rhs_compute(const model_data *md, const uint8_t *restrict mask, const uint8_t *complete_V,
                                 const gravrd_reg_options *opt, const char *source, rhs_blob *b, gravrd_error *err)
{
    const size_t N = md->n_rows;
    if (!(b->ok_N = malloc(N ? N : 1)))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
    size_t n_sample = 0;
    for (size_t i = 0; i < N; i++)
        n_sample += mask[i] != 0;
    b->n_sample = n_sample;
    memcpy(b->ok_N, mask, N);
    uint8_t *restrict ok = b->ok_N;
    b->detail[0] = '\0';
    for (int t = 0; t < md->n_terms; t++) {
        if (complete_V && complete_V[t])
            continue; /* no missing value anywhere in the frame */
        const double *restrict x = md->term_KN[t];
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < N; i++)
            bad += (size_t)((mask[i] != 0) & !isfinite(x[i]));
        if (bad) {
            int seen = 0;
            for (size_t i = 0; i < N; i++)
                if (mask[i] && !isfinite(x[i])) {
                    if (!seen++)
                        first = i;
                    ok[i] = 0;
                }
        }
        if (bad && opt->strict)
            return strict_error(err, source, bad, md->term_names[t], 1, first);
        describe_missing(b->detail, sizeof b->detail, md->term_names[t], bad);
    }
    for (int q = 0; q < md->n_fe + md->n_cluster; q++) {
        if (complete_V && complete_V[md->n_terms + q])
            continue;
        const int32_t *restrict cq = q < md->n_fe ? md->fe_QN[q] : md->cluster_CN[q - md->n_fe];
        const char *name = q < md->n_fe ? md->fe_names[q] : md->cluster_names[q - md->n_fe];
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < N; i++)
            bad += (size_t)((mask[i] != 0) & (cq[i] < 0));
        if (bad) {
            int seen = 0;
            for (size_t i = 0; i < N; i++)
                if (mask[i] && cq[i] < 0) {
                    if (!seen++)
                        first = i;
                    ok[i] = 0;
                }
        }
        if (bad && opt->strict)
            return strict_error(err, source, bad, name, 0, first);
        describe_missing(b->detail, sizeof b->detail, name, bad);
    }
    size_t n_ok = 0;
    for (size_t i = 0; i < N; i++)
        n_ok += ok[i];
    b->n_ok = n_ok;
    return GRAVRD_OK;
}

static gravrd_status outcome_compute(const model_data *md, int j, const rhs_blob *rb, const uint8_t *restrict mask,
                                     const gravrd_reg_options *opt, const char *source, const char *name,
                                     outcome_blob *b, gravrd_error *err)
{
    const size_t N = md->n_rows;
    const double *restrict y = md->outcome_ON[j];
    const uint8_t *restrict rhs_ok = rb->ok_N;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < N; i++)
        bad += (size_t)((mask[i] != 0) & !isfinite(y[i]));
    if (bad)
        for (size_t i = 0; i < N; i++)
            if (mask[i] && !isfinite(y[i])) {
                first = i;
                break;
            }
    if (bad && opt->strict)
        return strict_error(err, source, bad, name, 1, first);
    b->rows.bad = bad;
    b->rows.first_bad = first;
    if (bad == 0) {
        /* the outcome is present wherever the sample is: the rhs rows */
        b->rows.ok_N = rhs_ok;
        b->rows.usable = rb->n_ok;
        return GRAVRD_OK;
    }
    uint8_t *restrict okj = malloc(N ? N : 1);
    if (!okj)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
    size_t usable = 0;
    for (size_t i = 0; i < N; i++) {
        okj[i] = (uint8_t)((rhs_ok[i] != 0) & (isfinite(y[i]) != 0));
        usable += okj[i];
    }
    b->ok_own = okj;
    b->rows.ok_N = okj;
    b->rows.usable = usable;
    return GRAVRD_OK;
}

/* Whether an input array has no missing value in the whole frame (cached
 * per array): such an array cannot remove a row from any sample, so it
 * neither enters the masks' keys nor needs a pass. */
typedef struct {
    size_t N;
    const double *x_N;
    const int32_t *code_N;
} array_ref;

static int no_missing(const void *ctx)
{
    const array_ref *a = ctx;
    size_t bad = 0;
    if (a->x_N)
        for (size_t i = 0; i < a->N; i++)
            bad += !isfinite(a->x_N[i]);
    else
        for (size_t i = 0; i < a->N; i++)
            bad += a->code_N[i] < 0;
    return bad == 0;
}

static gravrd_status array_complete(gravrd_reg_cache *cache, size_t N, const double *x_N, const int32_t *code_N,
                                    int *complete, gravrd_error *err)
{
    const array_ref a = {N, x_N, code_N};
    uintptr_t key[3] = {'F', (uintptr_t)(x_N ? (const void *)x_N : (const void *)code_N), x_N != NULL};
    return reg_cache_flag(cache, key, 3, no_missing, &a, complete, err);
}

/* Key of the rhs rows: a tag, the sample, then the identity of each input
 * array that has missing values somewhere (the others change no mask). */
static uintptr_t *rhs_key(const model_data *md, const sample_key *key, const uint8_t *complete_V, int *n_key)
{
    int n = 6 + md->n_terms + md->n_fe + md->n_cluster, k = 0;
    uintptr_t *w = malloc((size_t)n * sizeof *w);
    if (!w)
        return NULL;
    w[k++] = 'R';
    w[k++] = (uintptr_t)key->subset_N;
    w[k++] = (uintptr_t)key->split_N;
    w[k++] = (uintptr_t)(intptr_t)key->split_value;
    for (int t = 0; t < md->n_terms; t++)
        if (!complete_V[t])
            w[k++] = (uintptr_t)md->term_KN[t];
    w[k++] = 0; /* terms | codes */
    for (int q = 0; q < md->n_fe + md->n_cluster; q++)
        if (!complete_V[md->n_terms + q])
            w[k++] = (uintptr_t)(q < md->n_fe ? md->fe_QN[q] : md->cluster_CN[q - md->n_fe]);
    *n_key = k;
    return w;
}

/* The rows of ob kept after singletons: computed, or the cache's (keyed by
 * the usable rows and the FE, since outcomes present everywhere share
 * the rhs rows). */
typedef struct keep_blob_s {
    uint8_t *keep_own; /* NULL: nothing dropped, the usable rows */
    size_t dropped;
} keep_blob;

/* Singletons of the FE among the rows ok_N (reghdfe's repeated rule). */
static gravrd_status singletons_compute(const model_data *md, const uint8_t *ok_N, keep_blob *b, gravrd_error *err)
{
    const size_t N = md->n_rows;
    uint8_t *keep = malloc(N ? N : 1);
    if (!keep)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
    memcpy(keep, ok_N, N);
    size_t dropped = 0;
    gravrd_status st = gravrd_fe_drop_singletons_levels(md->n_fe, N, (const int32_t *const *)md->fe_QN,
                                                        md->fe_groups_Q, keep, &dropped, err);
    if (st || dropped == 0) {
        free(keep);
        return st;
    }
    b->keep_own = keep;
    b->dropped = dropped;
    return GRAVRD_OK;
}

static void keep_blob_free(void *p)
{
    keep_blob *b = p;
    if (b)
        free(b->keep_own);
    free(b);
}

gravrd_status sample_rows_new(const model_data *md, const uint8_t *mask_N, const sample_key *key,
                              const gravrd_reg_options *opt, const char *source, const char *const *outcome_names,
                              gravrd_reg_cache *cache, sample_rows **out, gravrd_error *err)
{
    *out = NULL;
    gravrd_status st = GRAVRD_OK;
    sample_rows *s = calloc(1, sizeof *s);
    if (!s)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
    s->md = md;
    s->opt = opt;
    s->n_out = md->n_outcomes;
    s->cache = cache != NULL && md->from_cache && !opt->strict ? cache : NULL;
    s->out_J = calloc((size_t)s->n_out + 1, sizeof *s->out_J);
    s->local_J = calloc((size_t)s->n_out + 1, sizeof *s->local_J);
    s->local_keep_J = calloc((size_t)s->n_out + 1, sizeof *s->local_keep_J);
    if (!s->out_J || !s->local_J || !s->local_keep_J)
        goto nomem;

    rhs_blob *rb = NULL;
    uintptr_t *rkey = NULL;
    int n_rkey = 0;
    const int n_arrays = md->n_terms + md->n_fe + md->n_cluster;
    if (s->cache) {
        if (!(s->complete_V = calloc((size_t)n_arrays + 1, 1)))
            goto nomem;
        for (int v = 0; v < n_arrays && !st; v++) {
            int complete = 0;
            const int q = v - md->n_terms;
            st = array_complete(cache, md->n_rows, v < md->n_terms ? md->term_KN[v] : NULL,
                                v < md->n_terms ? NULL : q < md->n_fe ? md->fe_QN[q] : md->cluster_CN[q - md->n_fe],
                                &complete, err);
            s->complete_V[v] = (uint8_t)complete;
        }
        if (st)
            goto fail;
        if (!(rkey = rhs_key(md, key, s->complete_V, &n_rkey)))
            goto nomem;
        rb = reg_cache_blob_find(cache, rkey, n_rkey);
    }
    if (!rb) {
        rhs_blob *b = calloc(1, sizeof *b);
        st = b ? rhs_compute(md, mask_N, s->complete_V, opt, source, b, err)
               : gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
        if (st) {
            if (s->cache)
                reg_cache_blob_abandon(cache, rkey, n_rkey);
            rhs_blob_free(b);
            free(rkey);
            goto fail;
        }
        if (s->cache) {
            if (!(rb = reg_cache_blob_add(cache, rkey, n_rkey, b, rhs_blob_free))) {
                free(rkey);
                goto nomem;
            }
        } else {
            rb = s->rhs_local = b;
        }
    }
    free(rkey);
    s->rb = rb;
    s->rhs.ok_N = rb->ok_N;
    s->rhs.n_sample = rb->n_sample;
    s->rhs.detail = rb->detail;

    for (int j = 0; j < s->n_out; j++) {
        outcome_blob *ob = NULL;
        uintptr_t okey[3] = {'O', (uintptr_t)rb, (uintptr_t)md->outcome_ON[j]};
        if (s->cache)
            ob = reg_cache_blob_find(cache, okey, 3);
        if (!ob) {
            outcome_blob *b = calloc(1, sizeof *b);
            st = b ? outcome_compute(md, j, rb, mask_N, opt, source, outcome_names[j], b, err)
                   : gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
            if (st) {
                if (s->cache)
                    reg_cache_blob_abandon(cache, okey, 3);
                outcome_blob_free(b);
                goto fail;
            }
            if (s->cache) {
                if (!(ob = reg_cache_blob_add(cache, okey, 3, b, outcome_blob_free)))
                    goto nomem;
            } else {
                ob = s->local_J[j] = b;
            }
        }
        s->out_J[j] = ob->rows;
        s->out_J[j].keep_N = NULL; /* sample_rows_keep */
    }
    *out = s;
    return GRAVRD_OK;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the estimation sample");
fail:
    sample_rows_free(s);
    return st;
}

const rhs_rows *sample_rows_rhs(const sample_rows *s)
{
    return &s->rhs;
}

const outcome_rows *sample_rows_outcome(const sample_rows *s, int j)
{
    return &s->out_J[j];
}

gravrd_status sample_rows_keep(sample_rows *s, int j, gravrd_error *err)
{
    outcome_rows *o = &s->out_J[j];
    if (o->keep_N)
        return GRAVRD_OK;
    const model_data *md = s->md;
    if (md->n_fe == 0 || s->opt->keep_singletons) {
        o->keep_N = o->ok_N;
        o->dropped_singletons = 0;
        return GRAVRD_OK;
    }
    uintptr_t *key = NULL;
    int n_key = 0;
    const keep_blob *kb = NULL;
    if (s->cache) {
        if (!(key = malloc(((size_t)md->n_fe + 2) * sizeof *key)))
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        key[n_key++] = 'K';
        key[n_key++] = (uintptr_t)o->ok_N;
        for (int q = 0; q < md->n_fe; q++)
            key[n_key++] = (uintptr_t)md->fe_QN[q];
        kb = reg_cache_blob_find(s->cache, key, n_key);
    }
    if (!kb) {
        keep_blob *b = calloc(1, sizeof *b);
        gravrd_status st = b ? singletons_compute(md, o->ok_N, b, err)
                             : gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        if (st) {
            if (s->cache)
                reg_cache_blob_abandon(s->cache, key, n_key);
            keep_blob_free(b);
            free(key);
            return st;
        }
        if (s->cache) {
            kb = reg_cache_blob_add(s->cache, key, n_key, b, keep_blob_free);
            if (!kb) {
                free(key);
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            }
        } else {
            kb = s->local_keep_J[j] = b;
        }
    }
    free(key);
    o->keep_N = kb->keep_own ? kb->keep_own : o->ok_N;
    o->dropped_singletons = kb->dropped;
    return GRAVRD_OK;
}

void sample_rows_missing_detail(const sample_rows *s, int j, const char *outcome_name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", s->rhs.detail);
    describe_missing(buf, cap, outcome_name, s->out_J[j].bad);
}

gravrd_reg_cache *sample_rows_cache(const sample_rows *s)
{
    return s->cache;
}

void sample_rows_free(sample_rows *s)
{
    if (!s)
        return;
    rhs_blob_free(s->rhs_local);
    for (int j = 0; s->local_J && j < s->n_out; j++)
        outcome_blob_free(s->local_J[j]);
    free(s->local_J);
    for (int j = 0; s->local_keep_J && j < s->n_out; j++)
        keep_blob_free(s->local_keep_J[j]);
    free(s->local_keep_J);
    free(s->out_J);
    free(s->complete_V);
    free(s);
}
