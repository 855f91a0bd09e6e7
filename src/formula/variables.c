/* variables.c - the column names an expression reads (gravrd_expr_variables),
 * so callers can check them against the frame and drop rows with missing
 * values in exactly the columns a model uses. Function names are not
 * columns and are not listed. */
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

static gravrd_status collect(const gravrd_expr *e, char ***names, size_t *n, gravrd_error *err)
{
    if (!e) return GRAVRD_OK;
    if (e->kind == GRAVRD_EXPR_VAR && e->name) {
        for (size_t i = 0; i < *n; i++)
            if (!strcmp((*names)[i], e->name)) return GRAVRD_OK;
        /* Lists are short (a formula's variables), so growing one slot at a
         * time is simpler than tracking a capacity the caller does not have. */
        char **nn = realloc(*names, (*n + 1) * sizeof *nn);
        if (!nn) return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory listing variables");
        *names = nn;
        if (!(nn[*n] = strdup(e->name)))
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory listing variables");
        (*n)++;
        return GRAVRD_OK;
    }
    for (int i = 0; i < e->n_args; i++) {
        gravrd_status st = collect(e->args[i], names, n, err);
        if (st != GRAVRD_OK) return st;
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_expr_variables(const gravrd_expr *e, char ***names, size_t *n, gravrd_error *err)
{
    if (!names || !n) return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_expr_variables: NULL output");
    /* On failure the list keeps what was appended so far, all valid and owned
     * by the caller, so one cleanup path serves both outcomes. */
    return collect(e, names, n, err);
}
