/* rep_run.h - the state of one `gravrd replicate` run and the shared steps
 * the table runners (run_*.c) call: data (rep_data.c: flows, study frames
 * per bandwidth, the regression cache, needs and variable checks) and
 * tables (rep_table.c: progress, template filling, published values and
 * truths, labels, result bookkeeping). These never call the runners or the
 * driver (replicate.c). Internal to libgravrd. */
#ifndef GRAVRD_REP_RUN_H
#define GRAVRD_REP_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/plan.h"
#include "gravrd/study.h"
#include "study/plan_internal.h"
#include "study/published.h"

#define NOMEM(err) gravrd_error_set((err), GRAVRD_ERR_NOMEM, "out of memory")

typedef struct {
    double bandwidth;
    gravrd_study *study;
} rep_study_cache;

typedef struct {
    double bandwidth;
    gravrd_frame *frame;
    gravrd_reg_cache *reg_cache; /* inputs of the models fitted on frame (NULL until used) */
} rep_frame_cache;

typedef struct {
    const gravrd_plan *plan;
    const gravrd_replicate_options *opt;
    const char *data_dir;
    const char *flows_name;      /* [study] flows */
    double default_bandwidth;    /* [study] bandwidth */
    gravrd_frame *flows;         /* read on first use */
    int flows_failed;
    char flows_error[GRAVRD_ERROR_MSG_LEN];
    char **flows_columns;        /* header names of flows (borrowed) */
    size_t n_flows_columns;
    rep_study_cache *studies;
    size_t n_studies;
    rep_frame_cache *frames;     /* study frames of the flows, one per bandwidth, grown on demand */
    size_t n_frames;
    rep_sources *sources;        /* published tables and truth.json */
    /* progress */
    double t0;
    size_t models_done, models_total;
    size_t table_index, n_tables_run;
    const char *table_name;
    gravrd_replication *rep;
} rep_run;

/* The line being reported, for {placeholders}. */
typedef struct {
    const gravrd_plan_def *outcome;     /* may be NULL */
    const gravrd_plan_def *sample;      /* may be NULL */
    const char *sample_name;            /* "all" when no sample */
    const gravrd_plan_attr *attrs;      /* the line's own: {column.ATTR} */
    size_t n_attrs;
    const char *column_name;            /* {column} */
    const char *coef;                   /* {coef} */
} rep_ctx;

/* ---- rep_data.c ---- */
gravrd_status rep_get_study(rep_run *r, double bandwidth, gravrd_study **out, gravrd_error *err);
gravrd_status rep_get_flows(rep_run *r, const gravrd_frame **out, gravrd_error *err);
/* The study frame of the flows at this bandwidth holding at least these
 * variables (and exp_city, imp_city): one frame per bandwidth, shared by
 * all tables and grown with the variables asked for, so each derived
 * column is built once. Borrowed: valid until rep_release_frame(s). Call
 * only outside parallel regions. */
gravrd_status rep_flow_frame(rep_run *r, double bandwidth, char *const *names, size_t n_names,
                             const gravrd_frame **out, gravrd_error *err);
/* The regression cache of a frame rep_flow_frame returned, made on first
 * use; NULL for any other frame (or when out of memory: fits then run
 * uncached). Call only outside parallel regions; the cache itself may be
 * shared by concurrent gravrd_reg calls. Freed with the frame. */
gravrd_reg_cache *rep_reg_cache(rep_run *r, const gravrd_frame *frame);
/* Frees the cached frame at index i (its cache too). */
void rep_release_frame(rep_run *r, size_t i);
/* Frees every cached frame, the other bandwidths' first (their caches borrow from the default's). */
void rep_release_frames(rep_run *r);
/* Frees the studies, flows and frames. */
void rep_data_free(rep_run *r);
int rep_file_exists(const rep_run *r, const char *name);
/* Checks the files a line needs (its `needs`, the flows when needs_flows,
 * cities.csv and partnerships.csv): the message names file and table. */
gravrd_status rep_check_needs(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_need *needs, size_t n_needs,
                              int needs_flows, gravrd_error *err);
/* 1 if name is a flows column or a derived variable of the study (extra: more names, NULL-terminated). */
int rep_known_variable(rep_run *r, const gravrd_study *study, const char *name, const char *const *extra);
/* Checks the variables of a formula (with ro's subset/cluster) or of an expression. */
gravrd_status rep_check_formula_vars(rep_run *r, const gravrd_study *study, const gravrd_plan_table *tb, int line,
                                     const char *formula, const gravrd_reg_options *ro, const char *const *extra,
                                     gravrd_error *err);
gravrd_status rep_check_expr_vars(rep_run *r, const gravrd_study *study, const gravrd_plan_table *tb, int line,
                                  const char *expr, const char *const *extra, gravrd_error *err);
/* Evaluates an expression on f's rows into out_N (the study's functions available). */
gravrd_status rep_eval_on(const gravrd_frame *f, const gravrd_study *study, const char *text, double *out_N,
                          gravrd_error *err);
/* Adds the variables of an expression to names (malloc'ed). */
gravrd_status rep_expr_names(const char *text, char ***names, size_t *n, gravrd_error *err);
/* Adds the names in more that names lacks. */
gravrd_status rep_add_names(char ***names, size_t *n, char **more, size_t n_more);

/* ---- rep_table.c ---- */
double rep_now(void);
void rep_progress(rep_run *r, const char *what);
void rep_model_done(rep_run *r, size_t n);
/* How the run's threads are split over n_jobs independent fits: the number
 * of fits run at once (at least 1, at most n_jobs), and in *inner the threads
 * each fit gets (all of them when the fits run one at a time). */
int rep_split_threads(const rep_run *r, size_t n_jobs, int *inner);
/* Fills {placeholders}; NULL (and *missing set) when an attribute is not defined. */
char *rep_fill(const char *tmpl, const rep_ctx *ctx, int *missing);
/* A template filled, then looked up in the published tables (NaN when none). */
void rep_pub_pair(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *est, double *se);
void rep_pub_range(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *lo, double *hi);
double rep_pub_number(rep_run *r, const char *tmpl, const rep_ctx *ctx);
int rep_pub_row(rep_run *r, const char *tmpl, const rep_ctx *ctx, double out[8]);
void rep_pub_item(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *value, double *lo, double *hi);
/* A truth expression over truth.json paths (and optional extra scalars); NaN when unknown. */
typedef int (*rep_scalar_fn)(void *user, const char *name, double *value);
double rep_truth(rep_run *r, const char *tmpl, const rep_ctx *ctx, rep_scalar_fn extra, void *user);
/* Evaluates an expression whose variables are resolved by fn. */
gravrd_status rep_eval_scalar(const char *text, rep_scalar_fn fn, void *user, double *value, gravrd_error *err);
/* Row label of a term or FE ([labels], else the term itself). */
const char *rep_label(const gravrd_plan *plan, const char *term);
/* Table bookkeeping. */
gravrd_status rep_add_note(gravrd_rep_table *t, const char *note);
gravrd_status rep_add_error(gravrd_rep_table *t, const char *msg);
/* Copies the table's panels into out. */
gravrd_status rep_add_panels(gravrd_rep_table *out, const gravrd_plan_table *tb);
/* Prefixes "FILE:LINE: " to a message, malloc'ed. */
char *rep_line_message(const rep_run *r, int line, const char *msg);
void rep_column_free(gravrd_rep_column *c);
void rep_table_free(gravrd_rep_table *t);

#endif
