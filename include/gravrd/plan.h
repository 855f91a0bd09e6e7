/* gravrd/plan.h - study files and `gravrd replicate`.
 *
 * A study file describes a whole empirical study as data: samples, outcomes,
 * macros, row labels and one section per table (summary statistics,
 * regressions, balance, spatial matching, local linear RD, mediation tests,
 * derived numbers), each with its formulas, fixed effects, clustering,
 * bandwidths and the mapping of its numbers to published values and to the
 * planted truths of a simulated folder. The format is documented in
 * docs/study-file.md; studies/east-west-partnership.study describes the
 * reference paper and is compiled into the library (the default study).
 *
 * gravrd_plan_parse checks everything that does not depend on data (syntax,
 * keys, kinds, formulas, names of samples, outcomes and tables) and names
 * the file and line of a problem. gravrd_replicate runs a plan on a study
 * folder: it reads flows.csv once, builds each table's frame with only the
 * variables the table uses, checks variables against the data (a table with
 * an unknown variable fails naming the study line; others still run), runs
 * every model, and returns (and, with out_dir, writes) every table. */
#ifndef GRAVRD_PLAN_H
#define GRAVRD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the study file ---- */

typedef enum {
    GRAVRD_TABLE_SUMMARY = 0,
    GRAVRD_TABLE_REGRESSION,
    GRAVRD_TABLE_BALANCE,
    GRAVRD_TABLE_MATCH,
    GRAVRD_TABLE_RD,
    GRAVRD_TABLE_MEDIATION,
    GRAVRD_TABLE_NUMBERS
} gravrd_table_kind;

/* "summary", "regression", ... */
const char *gravrd_table_kind_name(gravrd_table_kind kind);

/* One "key [arg] = value" of the file (macros expanded in value). */
typedef struct {
    char *key;
    char *arg;                 /* "" when none */
    char *value;
    int line;
} gravrd_plan_kv;

/* A definition in [macros], [outcomes], [samples] or [labels]:
 * "name = value ; attr = value ; ...". */
typedef struct {
    char *name;
    char *value;
    gravrd_plan_kv *attrs;
    size_t n_attrs;
    int line;
} gravrd_plan_def;

/* A content line of a table: panel, grid, column, row, test, item, total. */
typedef struct {
    char *verb;
    char *arg;                 /* label / name before '=' ("" when none) */
    char *value;               /* after '=' */
    int line;
    /* the settings in effect at this line, in file order, followed by the
     * line's own trailing "; key = value" attributes: the last match wins */
    gravrd_plan_kv *settings;
    size_t n_settings;
} gravrd_plan_entry;

typedef struct {
    char *name;
    int line;                  /* of the [table NAME] header */
    gravrd_table_kind kind;
    gravrd_plan_kv *settings;  /* every setting line of the table, in order */
    size_t n_settings;
    gravrd_plan_entry *entries;
    size_t n_entries;
} gravrd_plan_table;

typedef struct {
    char *source;              /* file name used in messages */
    char *dir;                 /* its folder ("" for the embedded study) */
    gravrd_plan_kv *study;     /* [study] */
    size_t n_study;
    gravrd_plan_def *macros, *outcomes, *samples, *labels;
    size_t n_macros, n_outcomes, n_samples, n_labels;
    gravrd_plan_table *tables;
    size_t n_tables;
} gravrd_plan;

/* A macro set from outside the file (`--flow log` sets flow = log). It
 * replaces the file's definition; an override of a macro the file does not
 * define is an error. */
typedef struct {
    const char *name;
    const char *value;
} gravrd_plan_macro;

/* Parses study-file text. source names the file in messages
 * ("east-west-partnership.study:57: table table5: unknown key 'rsh'").
 * Errors: GRAVRD_ERR_PARSE for syntax, GRAVRD_ERR_INVALID for unknown
 * sections, keys, kinds, samples, outcomes, tables and bad values. */
gravrd_status gravrd_plan_parse(const char *text, size_t len, const char *source, const gravrd_plan_macro *overrides,
                                size_t n_overrides, gravrd_plan **out, gravrd_error *err);
/* Reads and parses a file; path NULL = the embedded default study. */
gravrd_status gravrd_plan_load(const char *path, const gravrd_plan_macro *overrides, size_t n_overrides,
                               gravrd_plan **out, gravrd_error *err);
void gravrd_plan_free(gravrd_plan *plan);

/* The value of the last setting with this key (and arg, when arg is not
 * NULL; an arg ending in '*' in the file matches as a prefix) or NULL;
 * *line (may be NULL) receives its line. */
const char *gravrd_plan_get(const gravrd_plan_kv *kv, size_t n, const char *key, const char *arg, int *line);
const gravrd_plan_table *gravrd_plan_find_table(const gravrd_plan *plan, const char *name);
const gravrd_plan_def *gravrd_plan_find_def(const gravrd_plan_def *defs, size_t n, const char *name);

/* Embedded copies (NUL-terminated): the default study file and
 * data/paper_tables.json (the paper's published numbers). */
const char *gravrd_default_study_text(size_t *len);
const char *gravrd_paper_tables_text(size_t *len);

/* ---- results ---- */

typedef struct {
    char *label;               /* row label as printed */
    char *key;                 /* our coefficient name (term) */
    double estimate, se, t, p, ci_lo, ci_hi;   /* NaN when not estimated */
    double pub_estimate, pub_se;               /* NaN when not published */
    double pub_lo, pub_hi;                     /* a published range, NaN when none */
    double truth;                              /* NaN when none */
    /* local linear RD rows (kind rd) */
    int is_rd;
    double bandwidth_km, estimate_bc, se_robust, ci_lo_robust, ci_hi_robust;
    size_t n_left, n_right, n_clusters;
} gravrd_rep_coef;

typedef struct {
    char *label, *name, *panel, *group;
    char *outcome, *outcome_key, *sample, *sample_label, *formula, *subset, *vcov;
    int line;                  /* study-file line of the column */
    size_t nobs, n_clusters;
    double r2, adj_r2, within_r2, wald_f, wald_p;
    double bandwidth_km;       /* segments' bandwidth, NaN when no segment variable */
    double match_km;           /* spatial matching distance, NaN when none */
    char **fe, **fe_labels;
    int n_fe;
    char **controls, **control_labels;   /* terms printed as a "Yes" row */
    int n_controls;
    double pub_adj_r2, pub_f, pub_nobs;  /* NaN when not published */
    char *solver;              /* "collapse" or "general" (gravrd_reg_result.collapsed); NULL when not a regression */
    int iterations;            /* demeaning iterations (0 when collapsed on a closed form) */
    char *error;               /* NULL when estimated */
    gravrd_rep_coef *coefs;
    int n_coefs;
} gravrd_rep_column;

typedef struct {
    char *panel, *variable, *label, *sample, *sample_label, *level;
    int line;
    size_t n;
    double mean, sd, min, p25, p50, p75, max;
    int has_published;
    double published[8];       /* n, mean, sd, min, p25, p50, p75, max (NaN = not given) */
    char *error;
} gravrd_rep_row;

typedef struct {
    char *label, *coefficient, *base, *mediated;
    int line;
    double base_estimate, mediated_estimate, difference, se, t, p;
    size_t nobs;
    int32_t n_clusters;
    int bootstrap_reps;        /* successful bootstrap replications */
    double bootstrap_se, bootstrap_p;
    double truth;
    double pub_base, pub_mediated;  /* published partner coefficients, NaN when none */
    char *error;
} gravrd_rep_test;

typedef struct {
    char *name, *label, *unit, *formula;
    int line;
    double value;
    double published, pub_lo, pub_hi;  /* a number, or a [lo, hi] range; NaN when none */
    double truth;
    char *error;
} gravrd_rep_item;

typedef struct {
    char *name, *title;
} gravrd_rep_panel;

typedef enum { GRAVRD_REP_OK = 0, GRAVRD_REP_PARTIAL, GRAVRD_REP_FAILED } gravrd_rep_status;

typedef struct {
    char *name, *title, *paper;
    gravrd_table_kind kind;
    gravrd_rep_status status;
    char *error;               /* first error, NULL when ok */
    char **notes, **errors;
    size_t n_notes, n_errors;
    gravrd_rep_panel *panels;
    size_t n_panels;
    gravrd_rep_column *columns;
    size_t n_columns;
    gravrd_rep_row *rows;
    size_t n_rows;
    gravrd_rep_test *tests;
    size_t n_tests;
    gravrd_rep_item *items;
    size_t n_items;
    size_t models;
    double seconds;
    int has_truth;
} gravrd_rep_table;

typedef struct {
    char *study, *study_title, *data_dir, *flow;
    int has_truth, bootstrap;
    double seconds;
    size_t models;
    size_t n_failed;           /* tables not fully ok */
    char *report_error;        /* figures or index.html could not be written (NULL = fine or not asked) */
    gravrd_rep_table *tables;
    size_t n_tables;
} gravrd_replication;

/* Progress, reported through a callback (the library never prints). */
typedef struct {
    const char *table;         /* current table name (NULL before the first) */
    size_t table_index, n_tables;   /* 1-based index */
    size_t models_done, models_total;
    double seconds;            /* since the start */
    const char *what;          /* "table", "reading flows", "model", "bootstrap", "report", "done" */
} gravrd_progress;
typedef void (*gravrd_progress_fn)(void *user, const gravrd_progress *p);

typedef struct {
    const char *data_dir;      /* the study folder (required) */
    const char *out_dir;       /* write each table there when done (NULL = no files) */
    int threads;               /* for gravrd_reg (0 = 1) */
    int bootstrap;             /* pairs cluster bootstrap replications for mediation tests (0 = none) */
    uint64_t seed;             /* bootstrap seed (0 = 20240523) */
    const char *const *only;   /* run only these tables (and tables they reference); NULL = all */
    size_t n_only;
    gravrd_progress_fn progress;
    void *progress_user;
    int report;                /* with out_dir: also the figures (gravrd_report_figures) and
                                * OUT/index.html (gravrd_report_html) at the end */
} gravrd_replicate_options;

void gravrd_replicate_options_init(gravrd_replicate_options *opt);

/* Runs the plan. Fails (non-OK) only for problems that stop everything: a
 * data folder that does not exist, an --only name that is not a table, an
 * out_dir that cannot be created. A table that fails (missing file,
 * unknown variable, empty sample, estimation error) is reported in its
 * gravrd_rep_table (status, error) and the others still run;
 * (*out)->n_failed counts them. With out_dir, the files of every table and
 * replication.json are written (docs/study-file.md, "Table JSON"). */
gravrd_status gravrd_replicate(const gravrd_plan *plan, const gravrd_replicate_options *opt,
                               gravrd_replication **out, gravrd_error *err);
void gravrd_replication_free(gravrd_replication *rep);

/* Writes one table as OUT/NAME.{md,tex,csv,json}, and the index. */
gravrd_status gravrd_rep_table_write(const gravrd_rep_table *t, const char *out_dir, gravrd_error *err);
gravrd_status gravrd_replication_write_index(const gravrd_replication *rep, const char *out_dir, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
