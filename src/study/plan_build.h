/* plan_build.h - turns a lexed study file (plan_lex.h) into the typed
 * specification of gravrd/plan.h, parsing and checking every value once.
 * Internal to libgravrd. */
#ifndef GRAVRD_PLAN_BUILD_H
#define GRAVRD_PLAN_BUILD_H

#include "study/plan_lex.h"

/* Fills plan's study, definitions and tables from lx (blocks from pool;
 * plan->source names the file in messages). */
gravrd_status plan_build(plan_pool *pool, const lex_plan *lx, gravrd_plan *plan, gravrd_error *err);

#endif
