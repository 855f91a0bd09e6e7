/* plan.c - the study file's entry points: gravrd_plan_parse and _load
 * (lexing by plan_lex.c, then the typed specification by plan_build.c),
 * gravrd_plan_free, and the embedded default study and published tables. */
#include "gravrd/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study/plan_build.h"
#include "study/plan_internal.h"

extern const unsigned char gravrd_embedded_default_study[];
extern const size_t gravrd_embedded_default_study_len;
extern const unsigned char gravrd_embedded_paper_tables_json[];
extern const size_t gravrd_embedded_paper_tables_json_len;

const char *gravrd_default_study_text(size_t *len)
{
    if (len)
        *len = gravrd_embedded_default_study_len;
    return (const char *)gravrd_embedded_default_study;
}

const char *gravrd_paper_tables_text(size_t *len)
{
    if (len)
        *len = gravrd_embedded_paper_tables_json_len;
    return (const char *)gravrd_embedded_paper_tables_json;
}

/* ---- the plan ---- */

gravrd_status gravrd_plan_parse(const char *text, size_t len, const char *source, const gravrd_plan_macro *overrides,
                                size_t n_overrides, gravrd_plan **out, gravrd_error *err)
{
    *out = NULL;
    plan_pool *pool = plan_pool_new();
    gravrd_plan *plan = pool ? plan_pool_alloc(pool, sizeof *plan) : NULL;
    if (!plan) {
        plan_pool_free(pool);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    plan->pool = pool;
    const char *src = source ? source : "study";
    const char *slash = strrchr(src, '/');
    plan->source = plan_pool_strdup(pool, src);
    plan->dir = slash ? plan_pool_strndup(pool, src, (size_t)(slash - src)) : plan_pool_strdup(pool, ".");
    lex_plan lx;
    gravrd_status st = !plan->source || !plan->dir ? gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory")
                                                  : plan_lex(pool, text, len, plan->source, overrides, n_overrides,
                                                             &lx, err);
    if (!st)
        st = plan_build(pool, &lx, plan, err);
    if (st) {
        plan_pool_free(pool);
        return st;
    }
    *out = plan;
    return GRAVRD_OK;
}

void gravrd_plan_free(gravrd_plan *plan)
{
    if (plan)
        plan_pool_free(plan->pool);    /* the plan itself is in its pool */
}

gravrd_status gravrd_plan_load(const char *path, const gravrd_plan_macro *overrides, size_t n_overrides,
                               gravrd_plan **out, gravrd_error *err)
{
    *out = NULL;
    if (!path) {
        size_t len;
        const char *text = gravrd_default_study_text(&len);
        gravrd_status st =
            gravrd_plan_parse(text, len, "east-west-partnership.study", overrides, n_overrides, out, err);
        if (!st) {
            (*out)->dir = (char *)"";    /* embedded: paths are not relative to a folder */
        }
        return st;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open the study file (%s)", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                fclose(f);
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            }
            buf = g;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: error reading the study file", path);
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return gravrd_error_set(err, GRAVRD_ERR_PARSE, "%s: not a text file", path);
    }
    gravrd_status st = gravrd_plan_parse(buf, len, path, overrides, n_overrides, out, err);
    free(buf);
    return st;
}
