/* replicate_internal.h - the state of one `gravrd replicate` run, shared by
 * replicate.c (driver, data, templates, summary and numbers tables) and
 * replicate_models.c (regression, match, balance, rd and mediation tables).
 * Internal to libgravrd. */
#ifndef GRAVRD_REPLICATE_INTERNAL_H
#define GRAVRD_REPLICATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/plan.h"
#include "gravrd/study.h"
#include "study/plan_internal.h"
#include "util/json.h"

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
    char *data_dir;
    char *flows_name;            /* [study] flows (default flows.csv) */
    double default_bandwidth;    /* [study] bandwidth (default 100) */
    const char *default_cluster; /* [study] cluster (NULL = none) */
    gravrd_frame *flows;         /* read on first use */
    int flows_failed;
    char flows_error[GRAVRD_ERROR_MSG_LEN];
    char **flows_columns;        /* header names of flows */
    size_t n_flows_columns;
    rep_study_cache *studies;
    size_t n_studies;
    rep_frame_cache *frames;     /* study frames of the flows, one per bandwidth, grown on demand */
    size_t n_frames;
    json_value *paper, *truth;
    /* progress */
    double t0;
    size_t models_done, models_total;
    size_t table_index, n_tables_run;
    const char *table_name;
    gravrd_replication *rep;
} rep_run;

/* the current content line's context for {placeholders} */
typedef struct {
    const gravrd_plan_def *outcome;     /* may be NULL */
    const gravrd_plan_def *sample;      /* may be NULL */
    const char *sample_name;            /* "all" when no sample */
    const gravrd_plan_entry *entry;     /* the line: {column}, {column.X} */
    const char *column_name;
    const char *coef;                   /* {coef} */
} rep_ctx;

/* ---- replicate.c ---- */
void rep_progress(rep_run *r, const char *what);
void rep_model_done(rep_run *r, size_t n);
gravrd_status rep_get_study(rep_run *r, double bandwidth, gravrd_study **out, gravrd_error *err);
gravrd_status rep_get_flows(rep_run *r, const gravrd_frame **out, gravrd_error *err);
/* The study frame of the flows at this bandwidth holding at least these
 * variables (and exp_city, imp_city): one frame per bandwidth, shared by
 * all tables and grown with the variables asked for, so each derived
 * column is built once. Borrowed: valid until rep_release_frames. Call
 * only outside parallel regions. */
gravrd_status rep_flow_frame(rep_run *r, double bandwidth, char *const *names, size_t n_names,
                             const gravrd_frame **out, gravrd_error *err);
/* The regression cache of a frame rep_flow_frame returned, made on first
 * use; NULL for any other frame (or when out of memory: fits then run
 * uncached). Call only outside parallel regions; the cache itself may be
 * shared by concurrent gravrd_reg calls. Freed with the frame. */
gravrd_reg_cache *rep_reg_cache(rep_run *r, const gravrd_frame *frame);
/* Frees the cached frames except the one at the study's bandwidth. */
void rep_release_frames(rep_run *r, int all);
int rep_file_exists(const rep_run *r, const char *name);
/* Checks the files a line needs ("needs" settings, flows when
 * needs_flows, cities.csv and partnerships.csv): message naming file and table. */
gravrd_status rep_check_needs(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_kv *kv, size_t n_kv,
                              int needs_flows, gravrd_error *err);
/* 1 if name is a flows column or a derived variable of the study (extra: more names, NULL-terminated). */
int rep_known_variable(rep_run *r, const gravrd_study *study, const char *name, const char *const *extra);
/* Checks the variables of a formula (with opt's subset/cluster) or of an expression. */
gravrd_status rep_check_formula_vars(rep_run *r, const gravrd_study *study, const gravrd_plan_table *tb, int line,
                                     const char *formula, const gravrd_reg_options *ro, const char *const *extra,
                                     gravrd_error *err);
gravrd_status rep_check_expr_vars(rep_run *r, const gravrd_study *study, const gravrd_plan_table *tb, int line,
                                  const char *expr, const char *const *extra, gravrd_error *err);
/* Fills {placeholders}; NULL (and *missing set) when an attribute is not defined. */
char *rep_fill(const char *tmpl, const rep_ctx *ctx, int *missing);
/* A JSON value at a dotted path, or NULL. */
const json_value *rep_json_path(const json_value *root, const char *path);
/* Published coefficient [est, se] (or a number) for a template; NaN when none. */
void rep_published_pair(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *est, double *se);
void rep_published_range(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *lo, double *hi);
double rep_published_number(rep_run *r, const char *tmpl, const rep_ctx *ctx);
/* A truth expression over truth.json paths (and optional extra scalars); NaN when unknown. */
typedef int (*rep_scalar_fn)(void *user, const char *name, double *value);
double rep_truth(rep_run *r, const char *tmpl, const rep_ctx *ctx, rep_scalar_fn extra, void *user);
/* Evaluates an expression whose variables are resolved by fn. */
gravrd_status rep_eval_scalar(const char *text, rep_scalar_fn fn, void *user, double *value, gravrd_error *err);
/* Row label of a term or FE ([labels], else the term itself). */
const char *rep_label(const gravrd_plan *plan, const char *term);
/* The sample subset combined with the subset setting; malloc'ed or NULL when none. */
char *rep_subset(const gravrd_plan *plan, const gravrd_plan_kv *kv, size_t n, const gravrd_plan_def **sample_def,
                 const char **sample_name);
/* the bandwidth of a line: bandwidth setting, else the study's */
double rep_bandwidth(const rep_run *r, const gravrd_plan_kv *kv, size_t n);
/* Table bookkeeping. */
gravrd_status rep_add_note(gravrd_rep_table *t, const char *note);
gravrd_status rep_add_error(gravrd_rep_table *t, const char *msg);
/* Adds a panel from "NAME | Title"; *name points into the table. */
gravrd_status rep_add_panel(gravrd_rep_table *out, const char *value, const char **name);
/* Prefixes "FILE:LINE: " to a message, malloc'ed. */
char *rep_line_message(const rep_run *r, int line, const char *msg);

/* ---- replicate_models.c ---- */
gravrd_status rep_run_regression(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
gravrd_status rep_run_balance(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
gravrd_status rep_run_rd(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
gravrd_status rep_run_mediation(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
/* Models a table will fit (for the progress line). */
size_t rep_count_models(const rep_run *r, const gravrd_plan_table *tb);

void rep_column_free(gravrd_rep_column *c);

#endif
