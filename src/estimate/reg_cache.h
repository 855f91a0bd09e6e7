/* reg_cache.h - the input cache's internal interface (reg_cache.c): the
 * shared inputs of gravrd_reg, pointers valid until the cache is freed and
 * read-only. Used by model_data.c, sample_rows.c, collapse.c and reg.c;
 * reg_cache.c calls only column_codes.c below it. Internal to libgravrd. */
#ifndef GRAVRD_REG_CACHE_H
#define GRAVRD_REG_CACHE_H

#include <stdint.h>

#include "gravrd/estimate.h"

int reg_cache_usable(const gravrd_reg_cache *c, const gravrd_frame *frame);
gravrd_status reg_cache_expr(gravrd_reg_cache *c, const gravrd_expr *expr, const gravrd_eval_env *env,
                             const double **out_N, gravrd_error *err);
gravrd_status reg_cache_term(gravrd_reg_cache *c, const gravrd_term *term, const gravrd_eval_env *env,
                             const double **out_N, gravrd_error *err);
/* Codes of a '^'-combination (one column when n_vars == 1), as
 * model_group_codes gives them. */
gravrd_status reg_cache_codes(gravrd_reg_cache *c, char *const *vars, int n_vars, const char *what,
                              const int32_t **codes_N, int32_t *n_groups, gravrd_error *err);
/* A --split column's codes and labels, as gravrd_column_group_codes. */
gravrd_status reg_cache_split(gravrd_reg_cache *c, const char *name, const int32_t **codes_N, int32_t *n_groups,
                              char *const **labels, gravrd_error *err);
/* Derived data keyed by the identity of its inputs (n_key words: pointers
 * that live as long as the cache, flags, counts). find: the blob, or NULL
 * after claiming the key - the caller must then either add the blob or
 * abandon the key (on error); meanwhile other workers asking for the key
 * wait. add: hands blob (freed by blob_free with the cache) to the cache
 * and returns the blob to use - an equal key added meanwhile wins and blob
 * is freed - or NULL when out of memory (blob freed). Blobs are read-only
 * once added. */
void *reg_cache_blob_find(gravrd_reg_cache *c, const uintptr_t *key, int n_key);
void *reg_cache_blob_add(gravrd_reg_cache *c, const uintptr_t *key, int n_key, void *blob, void (*blob_free)(void *));
void reg_cache_blob_abandon(gravrd_reg_cache *c, const uintptr_t *key, int n_key);
/* A cached 0/1 fact about inputs: compute(ctx) gives it (-1: out of
 * memory) the first time the key is asked for. */
gravrd_status reg_cache_flag(gravrd_reg_cache *c, const uintptr_t *key, int n_key, int (*compute)(const void *ctx),
                             const void *ctx, int *value, gravrd_error *err);

#endif
