/* reg_cache.c - inputs of gravrd_reg shared across calls on one frame (see
 * gravrd/estimate.h and docs/algorithms.md "The input cache").
 *
 * The study fits well over a hundred models on a handful of frames, and most
 * of them share their outcomes, regressors, FE and clusters; evaluating
 * log1p(trade) or grouping exp_city^month again for every model costs more
 * than the collapsed fit itself. Each entry is computed by exactly the code
 * the uncached path runs (same functions, same order of combination), so the
 * numbers cannot differ. Besides evaluated inputs (string keys) the cache
 * holds derived data (blobs: sample masks, panel structures, flags) keyed by
 * the addresses of the inputs they were computed from, and a cache made by
 * gravrd_reg_cache_new_sharing reads its parent's entries for columns the
 * two frames have in common.
 *
 * Concurrency: the mutex guards only the entry index. Values are computed
 * outside the lock; a worker that misses an entry claims its key, and
 * another worker asking for the same key meanwhile waits for it instead of
 * computing it too (the study's parallel models all start by asking for
 * the same outcome, codes and sample). Keys form a hierarchy (a product
 * claims its factors, a combination its prefix, never the reverse), so
 * waits cannot cycle. An entry never changes or moves once added, so the
 * pointers handed out stay valid without the lock until the cache is
 * freed. */
#include "estimate/reg_cache.h"
#include "estimate/column_codes.h"
#include "util/strutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;                 /* "e:" expression, "t:" term, "c:" codes, "s:" split */
    gravrd_eval_call_fn call;  /* env of an evaluated expression (else NULL) */
    void *user;
    double *x_N;               /* "e:" and "t:" */
    int32_t *codes_N;          /* "c:" and "s:" */
    int32_t n_groups;
    char **labels;             /* "s:" */
} cache_entry;

/* Derived data (sample masks, panel structures) keyed by the identity of
 * its inputs: pointers to cache entries and frame columns, which live as
 * long as the cache, and small integers. */
typedef struct {
    uintptr_t *key;
    int n_key;
    void *blob;
    void (*blob_free)(void *);
} blob_entry;

/* A key being computed by some worker. */
typedef struct {
    unsigned char *bytes;
    size_t len;
    gravrd_eval_call_fn call;
    void *user;
} flight;

struct gravrd_reg_cache {
    const gravrd_frame *frame;
    pthread_mutex_t mu;
    pthread_cond_t landed;     /* signalled when a claimed key is released */
    flight *flights;
    size_t n_flights, cap_flights;
    cache_entry **entries;
    size_t n, cap;
    blob_entry *blobs;
    size_t n_blobs, cap_blobs;
    /* gravrd_reg_cache_new_sharing: the parent, and whether each column
     * asked about is identical in both frames */
    gravrd_reg_cache *parent;
    char **memo_names;
    uint8_t *memo_same;
    size_t n_memo, cap_memo;
};

gravrd_reg_cache *gravrd_reg_cache_new(const gravrd_frame *frame)
{
    gravrd_reg_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->landed, NULL)) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    c->frame = frame;
    return c;
}

static void entry_free(cache_entry *e)
{
    if (!e)
        return;
    free(e->key);
    free(e->x_N);
    free(e->codes_N);
    gravrd_strings_free(e->labels, e->labels ? (size_t)e->n_groups : 0);
    free(e);
}

void gravrd_reg_cache_free(gravrd_reg_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_free(c->entries[i]);
    free(c->entries);
    for (size_t i = 0; i < c->n_blobs; i++) {
        c->blobs[i].blob_free(c->blobs[i].blob);
        free(c->blobs[i].key);
    }
    free(c->blobs);
    for (size_t i = 0; i < c->n_flights; i++)
        free(c->flights[i].bytes);
    free(c->flights);
    for (size_t i = 0; i < c->n_memo; i++)
        free(c->memo_names[i]);
    free(c->memo_names);
    free(c->memo_same);
    pthread_cond_destroy(&c->landed);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

gravrd_reg_cache *gravrd_reg_cache_new_sharing(const gravrd_frame *frame, gravrd_reg_cache *parent)
{
    gravrd_reg_cache *c = gravrd_reg_cache_new(frame);
    if (c && parent && parent->frame && parent->frame->n_rows == frame->n_rows)
        c->parent = parent;
    return c;
}

/* 1 when the column has the same type, values (bit for bit) and levels in
 * both frames. */
static int same_column(const gravrd_frame *a, const gravrd_frame *b, const char *name)
{
    const gravrd_column *x = gravrd_frame_find(a, name), *y = gravrd_frame_find(b, name);
    if (!x || !y || x->type != y->type || a->n_rows != b->n_rows)
        return 0;
    const size_t N = a->n_rows;
    if (x->type == GRAVRD_COL_NUMERIC)
        return x->num_N == y->num_N || !memcmp(x->num_N, y->num_N, N * sizeof *x->num_N);
    if (x->n_levels != y->n_levels)
        return 0;
    for (int32_t l = 0; l < x->n_levels; l++)
        if (strcmp(x->levels_L[l], y->levels_L[l]))
            return 0;
    return x->codes_N == y->codes_N || !memcmp(x->codes_N, y->codes_N, N * sizeof *x->codes_N);
}

/* 1 when every column named is identical in c's frame and its parent's
 * (remembered per column: the frames' columns do not change). */
static int shared_columns(gravrd_reg_cache *c, char *const *names, size_t n)
{
    if (!c->parent)
        return 0;
    for (size_t k = 0; k < n; k++) {
        int known = -1;
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->n_memo && known < 0; i++)
            if (!strcmp(c->memo_names[i], names[k]))
                known = c->memo_same[i];
        pthread_mutex_unlock(&c->mu);
        if (known < 0) {
            known = same_column(c->frame, c->parent->frame, names[k]);
            char *copy = gravrd_strdup(names[k]);
            pthread_mutex_lock(&c->mu);
            if (copy && c->n_memo == c->cap_memo) {
                size_t cap = c->cap_memo ? 2 * c->cap_memo : 16;
                char **g = realloc(c->memo_names, cap * sizeof *g);
                uint8_t *h = g ? realloc(c->memo_same, cap) : NULL;
                if (g)
                    c->memo_names = g;
                if (h) {
                    c->memo_same = h;
                    c->cap_memo = cap;
                }
            }
            if (copy && c->n_memo < c->cap_memo) {
                c->memo_names[c->n_memo] = copy;
                c->memo_same[c->n_memo++] = (uint8_t)known;
                copy = NULL;
            }
            pthread_mutex_unlock(&c->mu);
            free(copy); /* not remembered (no memory): compared again next time */
        }
        if (!known)
            return 0;
    }
    return 1;
}

int reg_cache_usable(const gravrd_reg_cache *c, const gravrd_frame *frame)
{
    return c && c->frame == frame;
}

static cache_entry *find_locked(gravrd_reg_cache *c, const char *key, gravrd_eval_call_fn call, void *user)
{
    for (size_t i = 0; i < c->n; i++) {
        cache_entry *e = c->entries[i];
        if (e->call == call && e->user == user && !strcmp(e->key, key))
            return e;
    }
    return NULL;
}

static long flight_find_locked(const gravrd_reg_cache *c, const void *bytes, size_t len, gravrd_eval_call_fn call,
                               void *user)
{
    for (size_t i = 0; i < c->n_flights; i++) {
        const flight *f = &c->flights[i];
        if (f->len == len && f->call == call && f->user == user && !memcmp(f->bytes, bytes, len))
            return (long)i;
    }
    return -1;
}

/* Marks the key as being computed by the caller. Returns 0, or -1 when out
 * of memory (the caller then computes without a claim: others may compute
 * it too, which is only slower). */
static int flight_claim_locked(gravrd_reg_cache *c, const void *bytes, size_t len, gravrd_eval_call_fn call,
                               void *user)
{
    if (c->n_flights == c->cap_flights) {
        size_t cap = c->cap_flights ? 2 * c->cap_flights : 8;
        flight *g = realloc(c->flights, cap * sizeof *g);
        if (!g)
            return -1;
        c->flights = g;
        c->cap_flights = cap;
    }
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, bytes, len);
    c->flights[c->n_flights++] = (flight){copy, len, call, user};
    return 0;
}

static void flight_release_locked(gravrd_reg_cache *c, const void *bytes, size_t len, gravrd_eval_call_fn call,
                                  void *user)
{
    long i = flight_find_locked(c, bytes, len, call, user);
    if (i >= 0) {
        free(c->flights[i].bytes);
        c->flights[i] = c->flights[--c->n_flights];
        pthread_cond_broadcast(&c->landed);
    }
}

static void flight_release(gravrd_reg_cache *c, const void *bytes, size_t len, gravrd_eval_call_fn call, void *user)
{
    pthread_mutex_lock(&c->mu);
    flight_release_locked(c, bytes, len, call, user);
    pthread_mutex_unlock(&c->mu);
}

/* The entry, or NULL after claiming the key: the caller computes it and
 * calls insert (or release_key on failure). Waits while another worker
 * computes the same key. */
static cache_entry *lookup(gravrd_reg_cache *c, const char *key, gravrd_eval_call_fn call, void *user)
{
    const size_t len = strlen(key) + 1;
    pthread_mutex_lock(&c->mu);
    cache_entry *e;
    while (!(e = find_locked(c, key, call, user)) && flight_find_locked(c, key, len, call, user) >= 0)
        pthread_cond_wait(&c->landed, &c->mu);
    if (!e)
        (void)flight_claim_locked(c, key, len, call, user);
    pthread_mutex_unlock(&c->mu);
    return e;
}

/* Gives up a claim made by lookup (the computation failed). */
static void release_key(gravrd_reg_cache *c, const char *key, gravrd_eval_call_fn call, void *user)
{
    flight_release(c, key, strlen(key) + 1, call, user);
}

/* Adds e (owned by the cache from now on) unless an equal key arrived
 * meanwhile, in which case e is freed; returns the entry to use, NULL when
 * out of memory (e freed). */
static cache_entry *insert(gravrd_reg_cache *c, cache_entry *e)
{
    pthread_mutex_lock(&c->mu);
    cache_entry *have = find_locked(c, e->key, e->call, e->user);
    if (!have && c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        cache_entry **g = realloc(c->entries, cap * sizeof *g);
        if (g) {
            c->entries = g;
            c->cap = cap;
        }
    }
    if (!have && c->n < c->cap)
        c->entries[c->n++] = have = e;
    /* the claim (if any) ends here, whatever happened, after the entry is
     * in: a waiter woken now finds it */
    flight_release_locked(c, e->key, strlen(e->key) + 1, e->call, e->user);
    pthread_mutex_unlock(&c->mu);
    if (have != e)
        entry_free(e);
    return have;
}

/* A new entry for a claimed key (taking key) with a row-length array of
 * elem_size bytes in *array_N; NULL when out of memory, the claim then
 * given up and key freed. */
static cache_entry *new_entry(gravrd_reg_cache *c, char *key, gravrd_eval_call_fn call, void *user,
                              size_t elem_size, void **array_N)
{
    const size_t N = c->frame->n_rows;
    cache_entry *e = calloc(1, sizeof *e);
    void *x = malloc((N ? N : 1) * elem_size);
    if (!e || !x) {
        release_key(c, key, call, user);
        free(e);
        free(x);
        free(key);
        return NULL;
    }
    e->key = key;
    e->call = call;
    e->user = user;
    *array_N = x;
    return e;
}

/* Gives up an entry whose computation failed, and its claim. */
static void abandon_entry(gravrd_reg_cache *c, cache_entry *e)
{
    release_key(c, e->key, e->call, e->user);
    entry_free(e);
}

static char *key_of(const char *prefix, char *const *parts, int n, const char *sep)
{
    size_t len = strlen(prefix) + 1;
    for (int i = 0; i < n; i++)
        len += strlen(parts[i]) + strlen(sep);
    char *k = malloc(len);
    if (!k)
        return NULL;
    strcpy(k, prefix);
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(k, sep);
        strcat(k, parts[i]);
    }
    return k;
}

static gravrd_status nomem(gravrd_error *err, const char *what)
{
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory caching %s", what);
}

/* The values of the product of factors (one factor: an expression), keyed
 * by their deparsed texts; computed as model_data_build does. */
static gravrd_status cached_product(gravrd_reg_cache *c, gravrd_expr *const *factors, int n_factors,
                                    const gravrd_eval_env *env, const double **out_N, gravrd_error *err)
{
    const size_t N = c->frame->n_rows;
    if (n_factors < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "empty term");
    /* The env matters only to expressions that call its functions. */
    int uses_env = 0;
    for (int m = 0; m < n_factors; m++)
        uses_env = uses_env || gravrd_expr_uses_env(factors[m]);
    const gravrd_eval_call_fn call = uses_env ? env->call : NULL;
    void *const user = uses_env ? env->user : NULL;
    if (c->parent && !uses_env) {
        /* the parent's entry when every column read is the same there */
        char **vars = NULL;
        size_t n_vars = 0;
        gravrd_status vs = GRAVRD_OK;
        for (int m = 0; m < n_factors && !vs; m++)
            vs = gravrd_expr_variables(factors[m], &vars, &n_vars, err);
        int share = !vs && shared_columns(c, vars, n_vars);
        gravrd_strings_free(vars, n_vars);
        if (vs)
            return vs;
        if (share)
            return cached_product(c->parent, factors, n_factors, env, out_N, err);
    }
    char **texts = calloc((size_t)n_factors, sizeof *texts);
    if (!texts)
        return nomem(err, "an expression");
    gravrd_status st = GRAVRD_OK;
    for (int m = 0; m < n_factors && !st; m++)
        if (!(texts[m] = gravrd_expr_deparse(factors[m])))
            st = nomem(err, "an expression");
    /* \x1f cannot occur in a deparsed expression: keys are unambiguous */
    char *key = st ? NULL : key_of(n_factors == 1 ? "e:" : "t:", texts, n_factors, "\x1f");
    for (int m = 0; m < n_factors; m++)
        free(texts[m]);
    free(texts);
    if (st)
        return st;
    if (!key)
        return nomem(err, "an expression");
    cache_entry *e = lookup(c, key, call, user);
    if (e) {
        free(key);
        *out_N = e->x_N;
        return GRAVRD_OK;
    }
    void *xv = NULL;
    if (!(e = new_entry(c, key, call, user, sizeof(double), &xv)))
        return nomem(err, "an expression");
    double *x = e->x_N = xv;
    if (n_factors == 1) {
        st = gravrd_expr_eval(factors[0], env, x, err);
    } else {
        /* each factor from the cache, multiplied in formula order as the
         * uncached path does (same rounding) */
        for (int m = 0; m < n_factors && !st; m++) {
            const double *f_N = NULL;
            st = cached_product(c, factors + m, 1, env, &f_N, err);
            if (st)
                break;
            if (m == 0)
                memcpy(x, f_N, N * sizeof *x);
            else
                for (size_t i = 0; i < N; i++)
                    x[i] *= f_N[i];
        }
    }
    if (st) {
        abandon_entry(c, e);
        return st;
    }
    if (!(e = insert(c, e)))
        return nomem(err, "an expression");
    *out_N = e->x_N;
    return GRAVRD_OK;
}

gravrd_status reg_cache_expr(gravrd_reg_cache *c, const gravrd_expr *expr, const gravrd_eval_env *env,
                             const double **out_N, gravrd_error *err)
{
    gravrd_expr *one = (gravrd_expr *)expr; /* not modified */
    return cached_product(c, &one, 1, env, out_N, err);
}

gravrd_status gravrd_reg_cache_eval(gravrd_reg_cache *c, const char *expression, const gravrd_eval_env *env_in,
                                    const double **values_N, gravrd_error *err)
{
    *values_N = NULL;
    gravrd_expr *e = NULL;
    gravrd_status st = gravrd_expr_parse(expression, &e, err);
    if (st)
        return st;
    gravrd_eval_env env = {c->frame, env_in ? env_in->call : NULL, env_in ? env_in->user : NULL};
    st = cached_product(c, &e, 1, &env, values_N, err);
    gravrd_expr_free(e);
    return st;
}

gravrd_status reg_cache_term(gravrd_reg_cache *c, const gravrd_term *term, const gravrd_eval_env *env,
                             const double **out_N, gravrd_error *err)
{
    return cached_product(c, term->factors, term->n_factors, env, out_N, err);
}

gravrd_status reg_cache_codes(gravrd_reg_cache *c, char *const *vars, int n_vars, const char *what,
                              const int32_t **codes_N, int32_t *n_groups, gravrd_error *err)
{
    if (shared_columns(c, vars, (size_t)n_vars))
        return reg_cache_codes(c->parent, vars, n_vars, what, codes_N, n_groups, err);
    const gravrd_frame *frame = c->frame;
    const size_t N = frame->n_rows;
    char *key = key_of("c:", vars, n_vars, "^");
    if (!key)
        return nomem(err, what);
    cache_entry *e = lookup(c, key, NULL, NULL);
    if (e) {
        free(key);
        *codes_N = e->codes_N;
        *n_groups = e->n_groups;
        return GRAVRD_OK;
    }
    gravrd_status st = GRAVRD_OK;
    void *cv = NULL;
    if (!(e = new_entry(c, key, NULL, NULL, sizeof(int32_t), &cv)))
        return nomem(err, what);
    int32_t *codes = e->codes_N = cv;
    if (n_vars == 1) {
        const gravrd_column *col = gravrd_frame_find(frame, vars[0]);
        if (!col)
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown variable '%s' in %s%s%s", vars[0], what,
                                  frame->source && frame->source[0] ? " (data: " : "",
                                  frame->source && frame->source[0] ? frame->source : "");
        else
            st = model_column_codes(col, N, codes, &e->n_groups, err);
    } else {
        /* (a^b)^c: the prefix's codes combined with the last column's, the
         * same left-to-right sequence of gravrd_codes_combine the uncached
         * path runs, so the prefix is itself a reusable entry */
        const int32_t *pre = NULL, *last = NULL;
        int32_t n_pre = 0, n_last = 0;
        st = reg_cache_codes(c, vars, n_vars - 1, what, &pre, &n_pre, err);
        if (!st)
            st = reg_cache_codes(c, vars + n_vars - 1, 1, what, &last, &n_last, err);
        if (!st)
            st = gravrd_codes_combine(pre, n_pre, last, n_last, N, codes, &e->n_groups, err);
    }
    if (st) {
        abandon_entry(c, e);
        return st;
    }
    if (!(e = insert(c, e)))
        return nomem(err, what);
    *codes_N = e->codes_N;
    *n_groups = e->n_groups;
    return GRAVRD_OK;
}

gravrd_status reg_cache_split(gravrd_reg_cache *c, const char *name, const int32_t **codes_N, int32_t *n_groups,
                              char *const **labels, gravrd_error *err)
{
    char *const parts[1] = {(char *)name};
    if (shared_columns(c, parts, 1))
        return reg_cache_split(c->parent, name, codes_N, n_groups, labels, err);
    const gravrd_frame *frame = c->frame;
    const size_t N = frame->n_rows;
    char *key = key_of("s:", parts, 1, "");
    if (!key)
        return nomem(err, "--split");
    cache_entry *e = lookup(c, key, NULL, NULL);
    if (!e) {
        const gravrd_column *col = gravrd_frame_find(frame, name);
        if (!col) {
            release_key(c, key, NULL, NULL);
            free(key);
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown variable '%s' in --split", name);
        }
        void *cv = NULL;
        if (!(e = new_entry(c, key, NULL, NULL, sizeof(int32_t), &cv)))
            return nomem(err, "--split");
        int32_t *codes = e->codes_N = cv;
        gravrd_status st = gravrd_column_group_codes(col, N, codes, &e->n_groups, &e->labels, err);
        if (st) {
            abandon_entry(c, e);
            return st;
        }
        if (!(e = insert(c, e)))
            return nomem(err, "--split");
    } else {
        free(key);
    }
    *codes_N = e->codes_N;
    *n_groups = e->n_groups;
    *labels = e->labels;
    return GRAVRD_OK;
}

static void *blob_find_locked(gravrd_reg_cache *c, const uintptr_t *key, int n_key)
{
    for (size_t i = 0; i < c->n_blobs; i++)
        if (c->blobs[i].n_key == n_key && !memcmp(c->blobs[i].key, key, (size_t)n_key * sizeof *key))
            return c->blobs[i].blob;
    return NULL;
}

void *reg_cache_blob_find(gravrd_reg_cache *c, const uintptr_t *key, int n_key)
{
    const size_t len = (size_t)n_key * sizeof *key;
    if (c->parent) {
        /* Keys are the identities of their inputs: an input shared with the
         * parent has the same pointer here, so the parent's entry is valid. */
        pthread_mutex_lock(&c->parent->mu);
        void *b = blob_find_locked(c->parent, key, n_key);
        pthread_mutex_unlock(&c->parent->mu);
        if (b)
            return b;
    }
    pthread_mutex_lock(&c->mu);
    void *b;
    while (!(b = blob_find_locked(c, key, n_key)) && flight_find_locked(c, key, len, NULL, NULL) >= 0)
        pthread_cond_wait(&c->landed, &c->mu);
    if (!b)
        (void)flight_claim_locked(c, key, len, NULL, NULL);
    pthread_mutex_unlock(&c->mu);
    return b;
}

void reg_cache_blob_abandon(gravrd_reg_cache *c, const uintptr_t *key, int n_key)
{
    flight_release(c, key, (size_t)n_key * sizeof *key, NULL, NULL);
}

void *reg_cache_blob_add(gravrd_reg_cache *c, const uintptr_t *key, int n_key, void *blob, void (*blob_free)(void *))
{
    uintptr_t *k = malloc((size_t)n_key * sizeof *k);
    if (k)
        memcpy(k, key, (size_t)n_key * sizeof *k);
    pthread_mutex_lock(&c->mu);
    void *have = blob_find_locked(c, key, n_key);
    if (!have && k && c->n_blobs == c->cap_blobs) {
        size_t cap = c->cap_blobs ? 2 * c->cap_blobs : 16;
        blob_entry *g = realloc(c->blobs, cap * sizeof *g);
        if (g) {
            c->blobs = g;
            c->cap_blobs = cap;
        }
    }
    if (!have && k && c->n_blobs < c->cap_blobs) {
        c->blobs[c->n_blobs++] = (blob_entry){k, n_key, blob, blob_free};
        have = blob;
        k = NULL;
    }
    /* the claim ends here, after the blob is in: a waiter woken now finds it */
    flight_release_locked(c, key, (size_t)n_key * sizeof *key, NULL, NULL);
    pthread_mutex_unlock(&c->mu);
    free(k);
    if (have != blob)
        blob_free(blob);
    return have;
}

gravrd_status reg_cache_flag(gravrd_reg_cache *c, const uintptr_t *key, int n_key, int (*compute)(const void *ctx),
                             const void *ctx, int *value, gravrd_error *err)
{
    const int *have = reg_cache_blob_find(c, key, n_key);
    if (!have) {
        int *v = malloc(sizeof *v);
        int r = v ? compute(ctx) : -1;
        if (r < 0) {
            reg_cache_blob_abandon(c, key, n_key);
            free(v);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
        *v = r;
        if (!(have = reg_cache_blob_add(c, key, n_key, v, free)))
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    *value = *have;
    return GRAVRD_OK;
}
