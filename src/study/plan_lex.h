/* plan_lex.h - the study file's lexer: logical lines, comments,
 * continuations, ${macros}, sections, definitions, and each table's lines
 * as key [arg] = value with their trailing attributes, checked against the
 * keys a table kind takes. Values are not interpreted (plan_build.c does
 * that). Internal to libgravrd. */
#ifndef GRAVRD_PLAN_LEX_H
#define GRAVRD_PLAN_LEX_H

#include "study/plan_internal.h"

/* "key [arg] = value" (macros expanded), arg "" when none. */
typedef struct {
    const char *key, *arg, *value;
    int line;
} lex_pair;

/* A line of a table: a setting, or a content line with its attributes. */
typedef struct {
    lex_pair kv;
    int content;               /* panel, grid, column, row, test, item, total */
    lex_pair *attrs;           /* a content line's trailing "; key [arg] = value" */
    size_t n_attrs;
} lex_line;

typedef struct {
    const char *name;
    int line;                  /* of the [table NAME] header */
    gravrd_table_kind kind;
    lex_line *lines;           /* after the kind line, in file order */
    size_t n_lines;
} lex_table;

typedef struct {
    lex_pair *study;           /* [study] lines */
    size_t n_study;
    gravrd_plan_def *macros, *outcomes, *samples, *labels;
    size_t n_macros, n_outcomes, n_samples, n_labels;
    lex_table *tables;
    size_t n_tables;
} lex_plan;

/* Lexes text into *out (every block from pool). Errors name source and line. */
gravrd_status plan_lex(plan_pool *pool, const char *text, size_t len, const char *source,
                       const gravrd_plan_macro *overrides, size_t n_overrides, lex_plan *out, gravrd_error *err);

#endif
