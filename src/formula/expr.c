/* expr.c - allocation, deep copy and release of expression trees.
 *
 * Every node owns its name and its children; a tree is released with one
 * gravrd_expr_free. Explicit parentheses are CALL nodes named "(" (as R's
 * `(` function), see FML_PAREN_CALL. */
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

gravrd_expr *fml_node_new(gravrd_expr_kind kind, int pos)
{
    gravrd_expr *e = calloc(1, sizeof *e);
    if (e) {
        e->kind = kind;
        e->pos = pos;
    }
    return e;
}

int fml_is_paren(const gravrd_expr *e)
{
    return e && e->kind == GRAVRD_EXPR_CALL && e->n_args == 1 && e->name && !strcmp(e->name, FML_PAREN_CALL);
}

const gravrd_expr *fml_unparen(const gravrd_expr *e)
{
    while (fml_is_paren(e)) e = e->args[0];
    return e;
}

void gravrd_expr_free(gravrd_expr *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_args; i++) gravrd_expr_free(e->args[i]);
    free(e->args);
    free(e->name);
    free(e);
}

gravrd_expr *gravrd_expr_clone(const gravrd_expr *e)
{
    if (!e) return NULL;
    gravrd_expr *c = fml_node_new(e->kind, e->pos);
    if (!c) return NULL;
    c->op = e->op;
    c->number = e->number;
    if (e->name && !(c->name = strdup(e->name))) goto fail;
    if (e->n_args > 0) {
        c->args = calloc((size_t)e->n_args, sizeof *c->args);
        if (!c->args) goto fail;
        /* n_args grows with each copied child so a failure part-way frees
         * exactly what was copied. */
        for (int i = 0; i < e->n_args; i++) {
            c->args[i] = gravrd_expr_clone(e->args[i]);
            if (!c->args[i]) goto fail;
            c->n_args = i + 1;
        }
    }
    return c;
fail:
    gravrd_expr_free(c);
    return NULL;
}
