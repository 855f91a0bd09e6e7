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
 * gravrd_plan_parse turns the file into a typed specification: the
 * [study] section (gravrd_plan_study), the definitions (gravrd_plan_def),
 * and per table the specs of its kind, each holding everything its line
 * needs already parsed and checked, with its study-file line: the columns
 * of regression and match tables (gravrd_plan_column: outcome and sample
 * definitions, combined subset, level, bandwidth, cluster, vcov, formula,
 * show patterns, matching distance, published and truth templates per term
 * pattern, published statistics), rd columns (gravrd_plan_rd_column:
 * bandwidths, radius, side, optimal), summary rows (gravrd_plan_row),
 * mediation tests (gravrd_plan_test), totals and items with their parsed
 * references to other tables (gravrd_plan_number) and the balance
 * settings (gravrd_plan_balance). Closed value sets are enums, numbers
 * doubles, lists arrays; templates, formulas and expressions stay text
 * (checked), and the free attributes of definitions and lines serve only
 * to fill {outcome.ATTR}, {sample.ATTR} and {column.ATTR}. Every error
 * that does not depend on data is found here and names the file and line.
 *
 * gravrd_replicate runs a plan on a study folder: it reads flows.csv once,
 * builds each table's frame with only the variables the table uses, checks
 * variables against the data (a table with an unknown variable fails
 * naming the study line; others still run), runs every model, and returns
 * (and, with out_dir, writes) every table. */
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

/* The rows a model or statistic runs on (`level`). */
typedef enum {
    GRAVRD_PLAN_LEVEL_FLOWS = 0,       /* the flows joined with the study variables */
    GRAVRD_PLAN_LEVEL_PAIRS,           /* one row per east-west pair */
    GRAVRD_PLAN_LEVEL_DIRECTED_PAIRS   /* summaries: averaged over each directed pair's months */
} gravrd_plan_level;

/* "flows", "pairs", "directed_pairs" */
const char *gravrd_plan_level_name(gravrd_plan_level level);

/* `vcov` when a model is not clustered. */
typedef enum {
    GRAVRD_PLAN_VCOV_DEFAULT = 0,      /* not set: the estimator's default */
    GRAVRD_PLAN_VCOV_IID,
    GRAVRD_PLAN_VCOV_HETERO
} gravrd_plan_vcov;

/* `side` of a local linear RD: whose neighbours are the controls. */
typedef enum {
    GRAVRD_PLAN_SIDE_EXPORTER = 0,
    GRAVRD_PLAN_SIDE_IMPORTER,
    GRAVRD_PLAN_SIDE_BOTH
} gravrd_plan_side;

/* `published_stat STAT`: the published statistics a template can name. */
typedef enum {
    GRAVRD_PLAN_STAT_ADJ_R2 = 0,
    GRAVRD_PLAN_STAT_R2,
    GRAVRD_PLAN_STAT_F,
    GRAVRD_PLAN_STAT_NOBS,
    GRAVRD_PLAN_STAT_BASE,             /* mediation: the coefficient without the mediator */
    GRAVRD_PLAN_STAT_MEDIATED,         /* mediation: with it */
    GRAVRD_PLAN_N_STATS
} gravrd_plan_stat;

/* A free attribute ("; ref = covid", "; label = ..."): used only to fill
 * {outcome.ATTR}, {sample.ATTR} and {column.ATTR} in templates. */
typedef struct {
    const char *key;
    const char *value;
} gravrd_plan_attr;

/* A definition in [macros], [outcomes], [samples] or [labels]:
 * "name = value ; attr = value ; ...". value is the expression of an
 * outcome or sample (macros expanded; "" = every row), the text of a macro,
 * the printed label of a [labels] term. */
typedef struct {
    const char *name;
    const char *value;
    const char *label;         /* the "label" attribute, NULL when none */
    gravrd_plan_attr *attrs;
    size_t n_attrs;
    int line;
} gravrd_plan_def;

/* A template setting with its term pattern: "published partner:* = T"
 * (pattern "partner:*"), "truth = T" (pattern ""). */
typedef struct {
    const char *pattern;
    const char *tmpl;
    int line;
} gravrd_plan_template;

/* A file a line needs in the data folder (`needs`), with the setting's line. */
typedef struct {
    const char *file;
    int line;
} gravrd_plan_need;

/* What every content line carries: where it is, the files it needs, and
 * its own trailing attributes for {column.ATTR}. */
typedef struct {
    int line;
    gravrd_plan_need *needs;
    size_t n_needs;
    gravrd_plan_attr *attrs;
    size_t n_attrs;
} gravrd_plan_origin;

/* The sample of a line: its definition (NULL = every row; name "all") and
 * the row filter, the sample's expression ANDed with `subset` (NULL = none). */
typedef struct {
    const gravrd_plan_def *def;
    const char *name;
    const char *subset;
} gravrd_plan_sample;

typedef struct {
    const char *name, *title;  /* "panel = NAME | TITLE" (title = name when no '|') */
} gravrd_plan_panel;

/* One column of a regression or match table (a grid cell or a `column`). */
typedef struct {
    gravrd_plan_origin at;
    const char *label, *name, *group;
    const char *panel;                 /* NULL when before any panel */
    const gravrd_plan_def *outcome;    /* NULL when the formula's outcome is not in [outcomes] */
    const char *outcome_expr;          /* the outcome as written */
    gravrd_plan_sample sample;
    const char *formula;               /* OUTCOME ~ RHS | FE (validated) */
    const char *rhsfe;                 /* what follows '~' */
    gravrd_plan_level level;           /* flows or pairs */
    double bandwidth;                  /* km: the line's, else [study]'s */
    double match_km;                   /* match tables; NaN otherwise */
    const char *cluster;               /* NULL = not clustered */
    int inference;                     /* `inference =`: a gravrd_inference (gravrd/inference.h) whose
                                          p-value and interval are shown beside the cluster's; -1 = none */
    gravrd_plan_vcov vcov;
    const char *const *show;           /* term patterns printed as rows; NULL = all */
    size_t n_show;
    gravrd_plan_template *published, *truth;   /* per term pattern; the last match wins */
    size_t n_published, n_truth;
    const char *published_stat[GRAVRD_PLAN_N_STATS];   /* NULL when not given */
} gravrd_plan_column;

/* One column of an rd table: a grid cell, one RD per bandwidth. */
typedef struct {
    gravrd_plan_origin at;
    const char *label, *name, *group, *panel;
    const gravrd_plan_def *outcome;
    const char *outcome_expr;
    gravrd_plan_sample sample;
    const char *fe;                    /* residualise on these ("" = nothing) */
    const char *model;                 /* OUTCOME ~ 1 | FE: the variables the RD reads */
    double bandwidth;                  /* the segments' ([study]'s) */
    const double *bandwidths;
    size_t n_bandwidths;
    double radius;                     /* neighbours up to this (default: the largest bandwidth) */
    gravrd_plan_side side;
    int optimal;                       /* add the MSE-optimal bandwidth */
    const char *published, *published_range, *truth;   /* templates for the term "rd"; NULL = none */
} gravrd_plan_rd_column;

typedef struct {
    gravrd_plan_origin at;
    const char *expr, *label, *panel;
    gravrd_plan_level level;
    gravrd_plan_sample sample;
    double bandwidth;
    const char *published;             /* template; NULL = none */
} gravrd_plan_row;

typedef struct {
    gravrd_plan_origin at;
    const char *label, *name;
    const char *formula;               /* the model with the mediator */
    const char *base;                  /* the model without it */
    const char *coefficient;           /* a term of both */
    gravrd_plan_sample sample;
    double bandwidth;
    const char *cluster;               /* NULL = not clustered */
    const char *truth;
    const char *published_base, *published_mediated;
} gravrd_plan_test;

/* A `TABLE/COLUMN/TERM[/se|/t|/p]` reference of an item. */
typedef enum {
    GRAVRD_PLAN_REF_ESTIMATE = 0,
    GRAVRD_PLAN_REF_SE,
    GRAVRD_PLAN_REF_T,
    GRAVRD_PLAN_REF_P
} gravrd_plan_ref_stat;
typedef struct {
    const char *text;                  /* the variable as written in the expression */
    size_t table;                      /* index of an earlier table */
    const char *column, *term;
    gravrd_plan_ref_stat stat;
} gravrd_plan_ref;

/* A numbers line in file order: a `total` (is_total) or an `item`. */
typedef struct {
    gravrd_plan_origin at;
    int is_total;
    const char *name, *expr;
    const char *subset;                /* totals: NULL = every row */
    double bandwidth;
    const char *label, *unit;          /* items */
    const char *published, *truth;     /* items: templates, NULL = none */
    gravrd_plan_ref *refs;             /* items: the references to other tables */
    size_t n_refs;
} gravrd_plan_number;

typedef struct {
    gravrd_plan_need *needs;
    size_t n_needs;
    double bandwidth;                  /* [study]'s: the pairs' segments */
    double *bandwidths;                /* one column per bandwidth, after the "none" column */
    size_t n_bandwidths;
    int without_fe;                    /* "none" given: a column without segment FE first */
    const char *const *vars;           /* further regressors (validated expressions) */
    size_t n_vars;
    gravrd_plan_vcov vcov;
} gravrd_plan_balance;

/* A table of the study file, typed by kind: the lines of its kind are
 * filled, the others are empty. */
typedef struct {
    const char *name;
    int line;                  /* of the [table NAME] header */
    gravrd_table_kind kind;
    const char *title;         /* the name when not given */
    const char *paper;         /* "" when not given */
    const char *const *notes;
    size_t n_notes;
    gravrd_plan_panel *panels; /* in file order */
    size_t n_panels;
    gravrd_plan_row *rows;                  /* summary */
    size_t n_rows;
    gravrd_plan_column *columns;            /* regression, match */
    size_t n_columns;
    gravrd_plan_rd_column *rd_columns;      /* rd */
    size_t n_rd_columns;
    gravrd_plan_test *tests;                /* mediation */
    size_t n_tests;
    gravrd_plan_number *numbers;            /* numbers: totals and items */
    size_t n_numbers;
    gravrd_plan_balance balance;            /* balance */
} gravrd_plan_table;

typedef enum {
    GRAVRD_PLAN_PUBLISHED_NONE = 0,
    GRAVRD_PLAN_PUBLISHED_EMBEDDED,    /* data/paper_tables.json, compiled in */
    GRAVRD_PLAN_PUBLISHED_FILE         /* a JSON file relative to the study file */
} gravrd_plan_published;

/* [study] */
typedef struct {
    const char *title, *reference;     /* "" when not given */
    gravrd_plan_published published;
    const char *published_file;        /* GRAVRD_PLAN_PUBLISHED_FILE: as written */
    const char *flows;                 /* the flows file (default flows.csv) */
    double bandwidth;                  /* default segment bandwidth (default 100) */
    const char *cluster;               /* default cluster, NULL = none */
    int inference;                     /* default `inference` of regression tables
                                        * (a gravrd_inference), -1 = none */
    const char *const *notes;
    size_t n_notes;
    const char *flow;                  /* the ${flow} macro in force ("" when none) */
    const char *headline;              /* `headline = TABLE/COLUMN/TERM`: the estimate the report
                                          leads with; NULL = none */
} gravrd_plan_study;

struct plan_pool;

typedef struct {
    char *source;              /* file name used in messages */
    char *dir;                 /* its folder ("" for the embedded study) */
    gravrd_plan_study study;
    gravrd_plan_def *macros, *outcomes, *samples, *labels;
    size_t n_macros, n_outcomes, n_samples, n_labels;
    gravrd_plan_table *tables;
    size_t n_tables;
    struct plan_pool *pool;    /* owns every string and array above */
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
    /* The column's `inference` method (-1: none): its standard error (NaN
     * for wild and ri), two-sided p-value of 0 and 95% interval. */
    int alt_method;
    double alt_se, alt_p, alt_lo, alt_hi;
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
    char *headline;            /* [study] headline, TABLE/COLUMN/TERM; NULL = none */
    char *counterfactual;      /* the counterfactual folder the truths come from; NULL = truth.json's */
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
    const char *counterfactual_dir; /* the same world without the partnership (gravrd simulate
                                * --no-effects, same seed); NULL = none. The plan is run on it
                                * first, and every truth becomes our estimate minus its
                                * estimate there (docs/simulator.md#truths) */
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
