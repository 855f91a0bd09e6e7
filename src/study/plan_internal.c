/* plan_internal.c - what the parser, the runner and the writers share
 * about a plan (declared in plan_internal.h and gravrd/plan.h): lookups of
 * definitions, tables, templates and attributes, term patterns, the pool
 * that owns a plan, and small string helpers. It calls nothing of the
 * parser or the runner; the names and formatting the table writers also
 * need (kind names, plan_format, plan_same_term) are in src/table/, below
 * both the study and the report. */
#include "study/plan_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const gravrd_plan_table *gravrd_plan_find_table(const gravrd_plan *plan, const char *name)
{
    for (size_t t = 0; t < plan->n_tables; t++)
        if (!strcmp(plan->tables[t].name, name))
            return &plan->tables[t];
    return NULL;
}

const gravrd_plan_def *gravrd_plan_find_def(const gravrd_plan_def *defs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name))
            return &defs[i];
    return NULL;
}

/* ---- small string helpers ---- */

char *plan_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *plan_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

gravrd_status plan_line_verror(gravrd_error *err, const char *source, int line, gravrd_status code, const char *fmt,
                               va_list ap)
{
    char msg[GRAVRD_ERROR_MSG_LEN];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (line > 0)
        return gravrd_error_set(err, code, "%s:%d: %s", source, line, msg);
    return gravrd_error_set(err, code, "%s: %s", source, msg);
}

/* A term pattern: exact (ignoring spaces), or a prefix when it ends in '*'. */
int plan_term_matches(const char *pattern, const char *term)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') {
        char *prefix = plan_strndup(pattern, n - 1);
        if (!prefix)
            return 0;
        /* compare without spaces */
        const char *p = prefix, *t = term;
        int ok = 1;
        for (;;) {
            while (isspace((unsigned char)*p))
                p++;
            while (isspace((unsigned char)*t))
                t++;
            if (!*p)
                break;
            if (*p != *t) {
                ok = 0;
                break;
            }
            p++;
            t++;
        }
        free(prefix);
        return ok;
    }
    return plan_same_term(pattern, term);
}

/* The name of a column from a name template ({outcome}, {sample}). */
char *plan_grid_name(const char *tmpl, const char *outcome, const char *sample)
{
    size_t cap = strlen(tmpl) + strlen(outcome) + strlen(sample) * 2 + 16, len = 0;
    char *s = malloc(cap + strlen(outcome) * 4);
    if (!s)
        return NULL;
    cap += strlen(outcome) * 4;
    for (const char *c = tmpl; *c;) {
        const char *put = NULL;
        size_t skip = 1;
        if (!strncmp(c, "{outcome}", 9)) {
            put = outcome;
            skip = 9;
        } else if (!strncmp(c, "{sample}", 8)) {
            put = sample;
            skip = 8;
        }
        if (put) {
            size_t pl = strlen(put);
            if (len + pl + 1 > cap) {
                cap = 2 * (len + pl + 1);
                char *g = realloc(s, cap);
                if (!g) {
                    free(s);
                    return NULL;
                }
                s = g;
            }
            memcpy(s + len, put, pl);
            len += pl;
            c += skip;
        } else {
            if (len + 2 > cap) {
                cap *= 2;
                char *g = realloc(s, cap);
                if (!g) {
                    free(s);
                    return NULL;
                }
                s = g;
            }
            s[len++] = *c++;
        }
    }
    s[len] = '\0';
    return s;
}

const char *plan_template_for(const gravrd_plan_template *t, size_t n, const char *term)
{
    for (size_t i = n; i-- > 0;)
        if (plan_term_matches(t[i].pattern, term))
            return t[i].tmpl;
    return NULL;
}

const char *plan_attr(const gravrd_plan_attr *attrs, size_t n, const char *key)
{
    for (size_t i = n; i-- > 0;)
        if (!strcmp(attrs[i].key, key))
            return attrs[i].value;
    return NULL;
}

void plan_strings_free(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* ---- the pool ---- */

/* A chunk of the pool: bump allocation in data, aligned for any type. */
typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t size, used;
    _Alignas(max_align_t) unsigned char data[];
} pool_chunk;

struct plan_pool {
    pool_chunk *chunks;
};

enum { POOL_CHUNK = 1 << 16 };

plan_pool *plan_pool_new(void) { return calloc(1, sizeof(plan_pool)); }

void plan_pool_free(plan_pool *pool)
{
    if (!pool)
        return;
    for (pool_chunk *c = pool->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(pool);
}

void *plan_pool_alloc(plan_pool *pool, size_t size)
{
    size_t align = _Alignof(max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    pool_chunk *c = pool->chunks;
    if (!c || c->size - c->used < size) {
        size_t cap = size > POOL_CHUNK ? size : POOL_CHUNK;
        pool_chunk *n = malloc(sizeof *n + cap);
        if (!n)
            return NULL;
        n->size = cap;
        n->used = 0;
        if (c && cap > POOL_CHUNK) {    /* a big block: keep filling the current chunk */
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            pool->chunks = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *plan_pool_strndup(plan_pool *pool, const char *s, size_t n)
{
    char *d = plan_pool_alloc(pool, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *plan_pool_strdup(plan_pool *pool, const char *s) { return plan_pool_strndup(pool, s, strlen(s)); }

/* Formatted by plan_vformat, then copied into the pool: only the parser
 * formats into a pool, so the copy costs nothing that matters. */
char *plan_pool_format(plan_pool *pool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *tmp = plan_vformat(fmt, ap);
    va_end(ap);
    char *s = tmp ? plan_pool_strdup(pool, tmp) : NULL;
    free(tmp);
    return s;
}

void *plan_pool_grow(plan_pool *pool, void *arr, size_t n, size_t elem)
{
    if (n != 0 && !(n >= 4 && (n & (n - 1)) == 0))
        return arr;
    void *g = plan_pool_alloc(pool, (n ? 2 * n : 4) * elem);
    if (g && n)
        memcpy(g, arr, n * elem);
    return g;
}

