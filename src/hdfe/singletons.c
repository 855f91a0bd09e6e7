/* singletons.c - iterative removal of singleton observations.
 *
 * An observation alone in its level of some fixed effect is perfectly fitted
 * by that FE and carries no information about the slopes, yet it inflates
 * the degrees of freedom. Dropping it can create new singletons in another
 * FE, so we repeat until a full pass drops nothing (reghdfe's rule; fixest
 * keeps singletons by default). */
#include "gravrd/hdfe.h"

#include <stdlib.h>

static gravrd_status drop_singletons(int n_fe, size_t n_obs, const int32_t *const *codes_QN, int32_t max_level,
                                     uint8_t *keep_N, size_t *n_dropped, gravrd_error *err);

gravrd_status gravrd_fe_drop_singletons(int n_fe, size_t n_obs, const int32_t *const *codes_QN,
                                        uint8_t *keep_N, size_t *n_dropped, gravrd_error *err)
{
    *n_dropped = 0;
    if (n_fe <= 0)
        return GRAVRD_OK;
    int32_t max_level = 0;
    for (int q = 0; q < n_fe; q++)
        for (size_t i = 0; i < n_obs; i++)
            if (keep_N[i] && codes_QN[q][i] > max_level)
                max_level = codes_QN[q][i];
    return drop_singletons(n_fe, n_obs, codes_QN, max_level, keep_N, n_dropped, err);
}

gravrd_status gravrd_fe_drop_singletons_levels(int n_fe, size_t n_obs, const int32_t *const *codes_QN,
                                               const int32_t *n_levels_Q, uint8_t *keep_N, size_t *n_dropped,
                                               gravrd_error *err)
{
    *n_dropped = 0;
    if (n_fe <= 0)
        return GRAVRD_OK;
    int32_t max_level = 0;
    for (int q = 0; q < n_fe; q++)
        if (n_levels_Q[q] - 1 > max_level)
            max_level = n_levels_Q[q] - 1;
    return drop_singletons(n_fe, n_obs, codes_QN, max_level, keep_N, n_dropped, err);
}

static gravrd_status drop_singletons(int n_fe, size_t n_obs, const int32_t *const *codes_QN, int32_t max_level,
                                     uint8_t *keep_N, size_t *n_dropped, gravrd_error *err)
{
    uint8_t *count_L = malloc((size_t)max_level + 1);
    if (!count_L)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while looking for singletons");
    size_t dropped = 0;
    int passes_without_change = 0;
    /* Cycle over the FE until n_fe consecutive FE passes drop nothing. */
    for (int q = 0; passes_without_change < n_fe; q = (q + 1) % n_fe) {
        const int32_t *code_N = codes_QN[q];
        for (int32_t g = 0; g <= max_level; g++)
            count_L[g] = 0;
        for (size_t i = 0; i < n_obs; i++)
            if (keep_N[i] && count_L[code_N[i]] < 2)
                count_L[code_N[i]]++;
        int changed = 0, any = 0;
        /* Levels are few next to rows: look for a singleton level before
         * sweeping the rows (the usual case on panels: none). */
        for (int32_t g = 0; g <= max_level && !any; g++)
            any = count_L[g] == 1;
        for (size_t i = 0; any && i < n_obs; i++)
            if (keep_N[i] && count_L[code_N[i]] == 1) {
                keep_N[i] = 0;
                dropped++;
                changed = 1;
            }
        passes_without_change = changed ? 1 : passes_without_change + 1;
        if (n_fe == 1)
            break;
    }
    free(count_L);
    *n_dropped = dropped;
    return GRAVRD_OK;
}
