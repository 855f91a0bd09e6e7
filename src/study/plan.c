/* plan.c - the study-file parser (format: docs/study-file.md).
 *
 * Two passes over the logical lines: the first collects the macros and the
 * outcomes (outcomes are macros too: ${log_trade}); the second parses every
 * line with macros expanded, checks keys against the table's kind, and
 * records each content line (panel, grid, column, row, test, item, total)
 * with a snapshot of the settings in effect, so that "a setting applies to
 * the lines after it" needs no further bookkeeping. Everything that does not
 * depend on data is checked here, with the file and line in the message. */
#include "gravrd/plan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/formula.h"
#include "study/plan_internal.h"

extern const unsigned char gravrd_embedded_default_study[];
extern const size_t gravrd_embedded_default_study_len;
extern const unsigned char gravrd_embedded_paper_tables_json[];
extern const size_t gravrd_embedded_paper_tables_json_len;

const char *gravrd_default_study_text(size_t *len)
{
    if (len)
        *len = gravrd_embedded_default_study_len;
    return (const char *)gravrd_embedded_default_study;
}

const char *gravrd_paper_tables_text(size_t *len)
{
    if (len)
        *len = gravrd_embedded_paper_tables_json_len;
    return (const char *)gravrd_embedded_paper_tables_json;
}

static const char *const kind_names[] = {"summary", "regression", "balance", "match", "rd", "mediation", "numbers"};

const char *gravrd_table_kind_name(gravrd_table_kind kind)
{
    return (unsigned)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "?";
}

/* ---- small string helpers ---- */

char *plan_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *plan_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *plan_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Trims spaces in place; returns the start. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Equal ignoring whitespace (for term names: "I(a+b)" == "I(a + b)"). */
int plan_same_term(const char *a, const char *b)
{
    for (;;) {
        while (isspace((unsigned char)*a))
            a++;
        while (isspace((unsigned char)*b))
            b++;
        if (*a != *b)
            return 0;
        if (!*a)
            return 1;
        a++;
        b++;
    }
}

/* A term pattern: exact (ignoring spaces), or a prefix when it ends in '*'. */
int plan_term_matches(const char *pattern, const char *term)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') {
        char *prefix = plan_strndup(pattern, n - 1);
        if (!prefix)
            return 0;
        /* compare without spaces */
        const char *p = prefix, *t = term;
        int ok = 1;
        for (;;) {
            while (isspace((unsigned char)*p))
                p++;
            while (isspace((unsigned char)*t))
                t++;
            if (!*p)
                break;
            if (*p != *t) {
                ok = 0;
                break;
            }
            p++;
            t++;
        }
        free(prefix);
        return ok;
    }
    return plan_same_term(pattern, term);
}

/* ---- the key table ---- */

enum { K_S = 1 << GRAVRD_TABLE_SUMMARY, K_R = 1 << GRAVRD_TABLE_REGRESSION, K_B = 1 << GRAVRD_TABLE_BALANCE,
       K_M = 1 << GRAVRD_TABLE_MATCH, K_D = 1 << GRAVRD_TABLE_RD, K_E = 1 << GRAVRD_TABLE_MEDIATION,
       K_N = 1 << GRAVRD_TABLE_NUMBERS, K_ALL = 0x7f };

/* arg: 0 none, 1 required, 2 optional (required for the kinds in arg_kinds) */
typedef struct {
    const char *key;
    unsigned kinds;
    int arg;
    unsigned arg_kinds;     /* kinds where the argument is required (arg == 2) */
    int trailing_only;      /* only as "; key = value" after a content line */
    int content;            /* a content line (verb) */
} key_spec;

static const key_spec table_keys[] = {
    {"kind", K_ALL, 0, 0, 0, 0},
    {"title", K_ALL, 0, 0, 0, 0},
    {"paper", K_ALL, 0, 0, 0, 0},
    {"note", K_ALL, 0, 0, 0, 0},
    {"needs", K_ALL, 0, 0, 0, 0},
    {"sample", K_S | K_R | K_M | K_D | K_E, 0, 0, 0, 0},
    {"subset", K_S | K_R | K_M | K_D | K_E | K_N, 0, 0, 0, 0},
    {"level", K_S | K_R, 0, 0, 0, 0},
    {"bandwidth", K_S | K_R | K_M | K_E, 0, 0, 0, 0},
    {"cluster", K_R | K_M | K_E, 0, 0, 0, 0},
    {"vcov", K_R | K_M | K_B | K_E, 0, 0, 0, 0},
    {"rhs", K_R | K_M, 0, 0, 0, 0},
    {"fe", K_R | K_M | K_D, 0, 0, 0, 0},
    {"show", K_R | K_M, 0, 0, 0, 0},
    {"group", K_R | K_M | K_D, 0, 0, 0, 0},
    {"published", K_S | K_R | K_M | K_D | K_N, 2, K_R | K_M | K_D, 0, 0},
    {"published_range", K_D | K_N, 2, K_D, 0, 0},
    {"published_stat", K_R | K_M | K_E, 1, 0, 0, 0},
    {"truth", K_R | K_M | K_D | K_E | K_N, 2, K_R | K_M | K_D, 0, 0},
    {"match", K_M, 0, 0, 0, 0},
    {"bandwidths", K_B | K_D, 0, 0, 0, 0},
    {"vars", K_B, 0, 0, 0, 0},
    {"radius", K_D, 0, 0, 0, 0},
    {"side", K_D, 0, 0, 0, 0},
    {"optimal", K_D, 0, 0, 0, 0},
    {"coefficient", K_E, 0, 0, 0, 0},
    {"base", K_E, 0, 0, 0, 0},
    {"name", K_ALL, 0, 0, 1, 0},
    {"label", K_ALL, 0, 0, 1, 0},
    {"ref", K_ALL, 0, 0, 1, 0},
    {"unit", K_N, 0, 0, 1, 0},
    {"panel", K_S | K_R | K_M | K_D, 0, 0, 0, 1},
    {"grid", K_R | K_M | K_D, 0, 0, 0, 1},
    {"column", K_R | K_M, 1, 0, 0, 1},
    {"row", K_S, 1, 0, 0, 1},
    {"test", K_E, 1, 0, 0, 1},
    {"item", K_N, 1, 0, 0, 1},
    {"total", K_N, 1, 0, 0, 1},
};

static const key_spec *find_key(const char *key)
{
    for (size_t i = 0; i < sizeof table_keys / sizeof table_keys[0]; i++)
        if (!strcmp(table_keys[i].key, key))
            return &table_keys[i];
    return NULL;
}

static const char *const study_keys[] = {"title", "reference", "published", "flows", "bandwidth", "cluster", "note"};

/* ---- parser state ---- */

typedef struct {
    char *text;     /* the logical line (continuations joined, comment removed), trimmed */
    int line;       /* first physical line */
} logical_line;

typedef struct {
    const char *source;
    gravrd_error *err;
    gravrd_plan *plan;
    logical_line *lines;
    size_t n_lines;
    const gravrd_plan_macro *overrides;
    size_t n_overrides;
    /* raw macro / outcome values (before expansion), by name */
    char **raw_names, **raw_values;
    int *raw_lines;
    size_t n_raw;
} parser;

static gravrd_status perr(parser *p, int line, gravrd_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static gravrd_status perr(parser *p, int line, gravrd_status code, const char *fmt, ...)
{
    char msg[GRAVRD_ERROR_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return gravrd_error_set(p->err, code, "%s:%d: %s", p->source, line, msg);
    return gravrd_error_set(p->err, code, "%s: %s", p->source, msg);
}

static gravrd_status nomem(parser *p) { return gravrd_error_set(p->err, GRAVRD_ERR_NOMEM, "out of memory"); }

/* Splits text into logical lines: '\' at the end joins the next line; '#'
 * at the start of a line or after a space or tab starts a comment (outside
 * quotes and backquotes). */
static gravrd_status split_lines(parser *p, const char *text, size_t len)
{
    size_t cap = 64;
    p->lines = malloc(cap * sizeof *p->lines);
    if (!p->lines)
        return nomem(p);
    char *cur = NULL;
    size_t cur_len = 0;
    int cur_line = 0, line = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        line++;
        size_t end = j;
        if (end > i && text[end - 1] == '\r')
            end--;
        /* strip the comment */
        char quote = 0;
        size_t k;
        for (k = i; k < end; k++) {
            char c = text[k];
            if (quote) {
                if (c == quote)
                    quote = 0;
            } else if (c == '"' || c == '`') {
                quote = c;
            } else if (c == '#' && (k == i || text[k - 1] == ' ' || text[k - 1] == '\t')) {
                break;
            }
        }
        size_t seg_end = k;
        while (seg_end > i && isspace((unsigned char)text[seg_end - 1]))
            seg_end--;
        int cont = seg_end > i && text[seg_end - 1] == '\\' && k == end;
        if (cont)
            seg_end--;
        if (!cur) {
            cur_line = line;
            cur_len = 0;
        }
        char *grown = realloc(cur, cur_len + (seg_end - i) + 2);
        if (!grown) {
            free(cur);
            return nomem(p);
        }
        cur = grown;
        if (cur_len > 0)
            cur[cur_len++] = ' ';
        memcpy(cur + cur_len, text + i, seg_end - i);
        cur_len += seg_end - i;
        cur[cur_len] = '\0';
        if (!cont) {
            char *t = trim(cur);
            if (*t) {
                if (p->n_lines == cap) {
                    logical_line *g = realloc(p->lines, 2 * cap * sizeof *g);
                    if (!g) {
                        free(cur);
                        return nomem(p);
                    }
                    p->lines = g;
                    cap *= 2;
                }
                char *copy = plan_strdup(t);
                if (!copy) {
                    free(cur);
                    return nomem(p);
                }
                p->lines[p->n_lines].text = copy;
                p->lines[p->n_lines].line = cur_line;
                p->n_lines++;
            }
            free(cur);
            cur = NULL;
        }
        i = j + 1;
    }
    if (cur) {
        char *t = trim(cur);
        if (*t) {
            if (p->n_lines == cap) {
                logical_line *g = realloc(p->lines, (cap + 1) * sizeof *g);
                if (!g) {
                    free(cur);
                    return nomem(p);
                }
                p->lines = g;
            }
            p->lines[p->n_lines].text = plan_strdup(t);
            p->lines[p->n_lines].line = cur_line;
            if (!p->lines[p->n_lines].text) {
                free(cur);
                return nomem(p);
            }
            p->n_lines++;
        }
        free(cur);
    }
    return GRAVRD_OK;
}

/* Position of the '=' separating key and value: the first '=' that is not
 * part of ==, <=, >=, != (outside quotes). -1 if none. */
static long find_assign(const char *s)
{
    char quote = 0;
    for (long i = 0; s[i]; i++) {
        char c = s[i];
        if (quote) {
            if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '"' || c == '`') {
            quote = c;
            continue;
        }
        if (c == '=' && s[i + 1] != '=' && !(i > 0 && strchr("=<>!", s[i - 1])))
            return i;
        if (c == '=' && s[i + 1] == '=')
            i++;
    }
    return -1;
}

/* Splits on ';' outside quotes into *parts (malloc'ed array of malloc'ed, trimmed strings). */
static gravrd_status split_semicolons(parser *p, const char *s, char ***parts, size_t *n)
{
    *parts = NULL;
    *n = 0;
    size_t cap = 0;
    char quote = 0;
    const char *start = s;
    for (const char *c = s;; c++) {
        if (*c && quote) {
            if (*c == quote)
                quote = 0;
            continue;
        }
        if (*c == '"' || *c == '`') {
            quote = *c;
            continue;
        }
        if (*c == ';' || !*c) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 4;
                char **g = realloc(*parts, cap * sizeof *g);
                if (!g)
                    return nomem(p);
                *parts = g;
            }
            char *piece = plan_strndup(start, (size_t)(c - start));
            if (!piece)
                return nomem(p);
            char *t = trim(piece);
            memmove(piece, t, strlen(t) + 1);
            (*parts)[(*n)++] = piece;
            if (!*c)
                break;
            start = c + 1;
        }
    }
    return GRAVRD_OK;
}

static void free_parts(char **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
}

/* ---- macros ---- */

static const char *raw_lookup(parser *p, const char *name)
{
    for (size_t i = 0; i < p->n_overrides; i++)
        if (!strcmp(p->overrides[i].name, name))
            return p->overrides[i].value;
    for (size_t i = 0; i < p->n_raw; i++)
        if (!strcmp(p->raw_names[i], name))
            return p->raw_values[i];
    return NULL;
}

/* Expands ${NAME} recursively; *out malloc'ed. */
static gravrd_status expand(parser *p, const char *s, int line, int depth, char **out)
{
    *out = NULL;
    if (depth > 16)
        return perr(p, line, GRAVRD_ERR_INVALID, "macros nested too deeply (a macro that refers to itself?)");
    size_t cap = strlen(s) + 64, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return nomem(p);
    for (size_t i = 0; s[i];) {
        if (s[i] == '$' && s[i + 1] == '{') {
            const char *close = strchr(s + i + 2, '}');
            if (!close) {
                free(buf);
                return perr(p, line, GRAVRD_ERR_PARSE, "'${' without a closing '}'");
            }
            char *name = plan_strndup(s + i + 2, (size_t)(close - (s + i + 2)));
            if (!name) {
                free(buf);
                return nomem(p);
            }
            const char *raw = raw_lookup(p, trim(name));
            if (!raw) {
                gravrd_status st = perr(p, line, GRAVRD_ERR_INVALID,
                                        "unknown macro '${%s}' (define it in [macros] or [outcomes])", trim(name));
                free(name);
                free(buf);
                return st;
            }
            free(name);
            char *sub = NULL;
            gravrd_status st = expand(p, raw, line, depth + 1, &sub);
            if (st) {
                free(buf);
                return st;
            }
            size_t sl = strlen(sub);
            if (len + sl + 1 > cap) {
                cap = 2 * (len + sl + 1);
                char *g = realloc(buf, cap);
                if (!g) {
                    free(sub);
                    free(buf);
                    return nomem(p);
                }
                buf = g;
            }
            memcpy(buf + len, sub, sl);
            len += sl;
            free(sub);
            i = (size_t)(close - s) + 1;
        } else {
            if (len + 2 > cap) {
                cap *= 2;
                char *g = realloc(buf, cap);
                if (!g) {
                    free(buf);
                    return nomem(p);
                }
                buf = g;
            }
            buf[len++] = s[i++];
        }
    }
    buf[len] = '\0';
    *out = buf;
    return GRAVRD_OK;
}

/* ---- growing arrays ---- */

static gravrd_status kv_push(parser *p, gravrd_plan_kv **arr, size_t *n, const char *key, const char *arg,
                             const char *value, int line)
{
    gravrd_plan_kv *g = realloc(*arr, (*n + 1) * sizeof *g);
    if (!g)
        return nomem(p);
    *arr = g;
    gravrd_plan_kv *kv = &g[*n];
    kv->key = plan_strdup(key);
    kv->arg = plan_strdup(arg ? arg : "");
    kv->value = plan_strdup(value ? value : "");
    kv->line = line;
    if (!kv->key || !kv->arg || !kv->value) {
        free(kv->key);
        free(kv->arg);
        free(kv->value);
        return nomem(p);
    }
    (*n)++;
    return GRAVRD_OK;
}

static void kvs_free(gravrd_plan_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].arg);
        free(kv[i].value);
    }
    free(kv);
}

static void defs_free(gravrd_plan_def *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(d[i].name);
        free(d[i].value);
        kvs_free(d[i].attrs, d[i].n_attrs);
    }
    free(d);
}

void gravrd_plan_free(gravrd_plan *plan)
{
    if (!plan)
        return;
    free(plan->source);
    free(plan->dir);
    kvs_free(plan->study, plan->n_study);
    defs_free(plan->macros, plan->n_macros);
    defs_free(plan->outcomes, plan->n_outcomes);
    defs_free(plan->samples, plan->n_samples);
    defs_free(plan->labels, plan->n_labels);
    for (size_t t = 0; t < plan->n_tables; t++) {
        gravrd_plan_table *tb = &plan->tables[t];
        free(tb->name);
        kvs_free(tb->settings, tb->n_settings);
        for (size_t e = 0; e < tb->n_entries; e++) {
            free(tb->entries[e].verb);
            free(tb->entries[e].arg);
            free(tb->entries[e].value);
            kvs_free(tb->entries[e].settings, tb->entries[e].n_settings);
        }
        free(tb->entries);
    }
    free(plan->tables);
    free(plan);
}

const char *gravrd_plan_get(const gravrd_plan_kv *kv, size_t n, const char *key, const char *arg, int *line)
{
    for (size_t i = n; i-- > 0;) {
        if (strcmp(kv[i].key, key))
            continue;
        if (arg && !plan_term_matches(kv[i].arg, arg))
            continue;
        if (line)
            *line = kv[i].line;
        return kv[i].value;
    }
    return NULL;
}

const gravrd_plan_table *gravrd_plan_find_table(const gravrd_plan *plan, const char *name)
{
    for (size_t t = 0; t < plan->n_tables; t++)
        if (!strcmp(plan->tables[t].name, name))
            return &plan->tables[t];
    return NULL;
}

const gravrd_plan_def *gravrd_plan_find_def(const gravrd_plan_def *defs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name))
            return &defs[i];
    return NULL;
}

/* ---- definitions: name = value ; attr = value ... ---- */

static gravrd_status parse_def(parser *p, const char *text, int line, int name_is_term, gravrd_plan_def **arr,
                               size_t *n)
{
    char **parts = NULL;
    size_t n_parts = 0;
    gravrd_status st = split_semicolons(p, text, &parts, &n_parts);
    if (st)
        return st;
    long eq = find_assign(parts[0]);
    if (eq < 0) {
        free_parts(parts, n_parts);
        return perr(p, line, GRAVRD_ERR_PARSE, "expected 'name = value', got '%s'", text);
    }
    parts[0][eq] = '\0';
    char *name = trim(parts[0]), *value = trim(parts[0] + eq + 1);
    if (!*name) {
        free_parts(parts, n_parts);
        return perr(p, line, GRAVRD_ERR_PARSE, "a definition without a name");
    }
    if (!name_is_term) {
        for (const char *c = name; *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-')) {
                st = perr(p, line, GRAVRD_ERR_INVALID,
                          "'%s' is not a valid name (letters, digits, '_', '.', '-')", name);
                free_parts(parts, n_parts);
                return st;
            }
    }
    if (gravrd_plan_find_def(*arr, *n, name)) {
        st = perr(p, line, GRAVRD_ERR_INVALID, "'%s' is defined twice", name);
        free_parts(parts, n_parts);
        return st;
    }
    gravrd_plan_def *g = realloc(*arr, (*n + 1) * sizeof *g);
    if (!g) {
        free_parts(parts, n_parts);
        return nomem(p);
    }
    *arr = g;
    gravrd_plan_def *d = &g[*n];
    memset(d, 0, sizeof *d);
    d->name = plan_strdup(name);
    d->value = plan_strdup(value);
    d->line = line;
    (*n)++;
    if (!d->name || !d->value) {
        free_parts(parts, n_parts);
        return nomem(p);
    }
    for (size_t i = 1; i < n_parts && !st; i++) {
        long e = find_assign(parts[i]);
        if (e < 0) {
            st = perr(p, line, GRAVRD_ERR_PARSE, "expected '; attribute = value', got '; %s'", parts[i]);
            break;
        }
        parts[i][e] = '\0';
        char *k = trim(parts[i]), *v = trim(parts[i] + e + 1);
        if (!*k)
            st = perr(p, line, GRAVRD_ERR_PARSE, "an attribute without a name");
        else
            st = kv_push(p, &d->attrs, &d->n_attrs, k, "", v, line);
    }
    free_parts(parts, n_parts);
    return st;
}

/* ---- checks of values ---- */

static gravrd_status check_formula(parser *p, const char *text, int line, const char *what)
{
    gravrd_formula *f = NULL;
    gravrd_error e = {0};
    if (gravrd_formula_parse(text, &f, &e))
        return perr(p, line, GRAVRD_ERR_PARSE, "%s: %s", what, e.message);
    gravrd_formula_free(f);
    return GRAVRD_OK;
}

static gravrd_status check_expr(parser *p, const char *text, int line, const char *what)
{
    gravrd_expr *x = NULL;
    gravrd_error e = {0};
    if (gravrd_expr_parse(text, &x, &e))
        return perr(p, line, GRAVRD_ERR_PARSE, "%s: %s", what, e.message);
    gravrd_expr_free(x);
    return GRAVRD_OK;
}

static gravrd_status check_positive(parser *p, const char *value, int line, const char *key)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == value || *end || errno || !(v > 0) || !isfinite(v))
        return perr(p, line, GRAVRD_ERR_INVALID, "%s must be a positive number of km, not '%s'", key, value);
    return GRAVRD_OK;
}

/* Comma-separated list into malloc'ed trimmed items. */
gravrd_status plan_split_list(const char *text, char sep, char ***items, size_t *n, gravrd_error *err)
{
    *items = NULL;
    *n = 0;
    const char *start = text;
    for (const char *c = text;; c++) {
        if (*c == sep || !*c) {
            char *piece = plan_strndup(start, (size_t)(c - start));
            if (!piece)
                goto oom;
            char *t = trim(piece);
            memmove(piece, t, strlen(t) + 1);
            if (*piece) {
                char **g = realloc(*items, (*n + 1) * sizeof *g);
                if (!g) {
                    free(piece);
                    goto oom;
                }
                *items = g;
                (*items)[(*n)++] = piece;
            } else {
                free(piece);
            }
            if (!*c)
                break;
            start = c + 1;
        }
    }
    return GRAVRD_OK;
oom:
    plan_strings_free(*items, *n);
    *items = NULL;
    *n = 0;
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
}

void plan_strings_free(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* Checks the {placeholders} of a template. */
static gravrd_status check_template(parser *p, const char *value, int line)
{
    for (const char *c = value; (c = strchr(c, '{'));) {
        const char *close = strchr(c, '}');
        if (!close)
            return perr(p, line, GRAVRD_ERR_PARSE, "'{' without a closing '}' in '%s'", value);
        size_t len = (size_t)(close - c - 1);
        char name[128];
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, c + 1, len);
        name[len] = '\0';
        int ok = !strcmp(name, "outcome") || !strcmp(name, "sample") || !strcmp(name, "column") ||
                 !strcmp(name, "coef") || !strncmp(name, "outcome.", 8) || !strncmp(name, "sample.", 7) ||
                 !strncmp(name, "column.", 7);
        if (!ok)
            return perr(p, line, GRAVRD_ERR_INVALID,
                        "unknown placeholder '{%s}' (use {outcome}, {sample}, {column}, {coef}, {outcome.ATTR}, "
                        "{sample.ATTR} or {column.ATTR})",
                        name);
        c = close + 1;
    }
    return GRAVRD_OK;
}

/* Checks one setting's value (in a table of kind `kind`). */
static gravrd_status check_setting(parser *p, gravrd_table_kind kind, const char *key, const char *value, int line)
{
    if (!strcmp(key, "sample")) {
        if (!gravrd_plan_find_def(p->plan->samples, p->plan->n_samples, value))
            return perr(p, line, GRAVRD_ERR_INVALID, "unknown sample '%s' (define it in [samples])", value);
    } else if (!strcmp(key, "subset")) {
        if (*value)
            return check_expr(p, value, line, "subset");
    } else if (!strcmp(key, "level")) {
        int ok = !strcmp(value, "flows") || !strcmp(value, "pairs") ||
                 (kind == GRAVRD_TABLE_SUMMARY && !strcmp(value, "directed_pairs"));
        if (!ok)
            return perr(p, line, GRAVRD_ERR_INVALID, "level must be flows, pairs%s, not '%s'",
                        kind == GRAVRD_TABLE_SUMMARY ? " or directed_pairs" : "", value);
    } else if (!strcmp(key, "bandwidth") || !strcmp(key, "match") || !strcmp(key, "radius")) {
        return check_positive(p, value, line, key);
    } else if (!strcmp(key, "vcov")) {
        if (strcmp(value, "iid") && strcmp(value, "hetero"))
            return perr(p, line, GRAVRD_ERR_INVALID, "vcov must be iid or hetero, not '%s'", value);
    } else if (!strcmp(key, "cluster") || !strcmp(key, "fe")) {
        if (*value) {
            gravrd_fe_term *t = NULL;
            int n = 0;
            gravrd_error e = {0};
            if (gravrd_fe_list_parse(value, &t, &n, &e))
                return perr(p, line, GRAVRD_ERR_PARSE, "%s: %s", key, e.message);
            gravrd_fe_terms_free(t, n);
        }
    } else if (!strcmp(key, "rhs")) {
        char *f = plan_format("y ~ %s", value);
        if (!f)
            return nomem(p);
        gravrd_status st = check_formula(p, f, line, "rhs");
        free(f);
        return st;
    } else if (!strcmp(key, "base")) {
        return check_formula(p, value, line, "base");
    } else if (!strcmp(key, "bandwidths")) {
        char **items;
        size_t n;
        gravrd_status st = plan_split_list(value, ',', &items, &n, p->err);
        if (st)
            return st;
        if (n == 0)
            st = perr(p, line, GRAVRD_ERR_INVALID, "bandwidths: give at least one bandwidth in km");
        for (size_t i = 0; i < n && !st; i++) {
            if (kind == GRAVRD_TABLE_BALANCE && !strcmp(items[i], "none"))
                continue;
            st = check_positive(p, items[i], line, "each of bandwidths");
        }
        plan_strings_free(items, n);
        return st;
    } else if (!strcmp(key, "side")) {
        if (strcmp(value, "exporter") && strcmp(value, "importer") && strcmp(value, "both"))
            return perr(p, line, GRAVRD_ERR_INVALID, "side must be exporter, importer or both, not '%s'", value);
    } else if (!strcmp(key, "optimal")) {
        if (strcmp(value, "yes") && strcmp(value, "no"))
            return perr(p, line, GRAVRD_ERR_INVALID, "optimal must be yes or no, not '%s'", value);
    } else if (!strcmp(key, "published") || !strcmp(key, "published_range") || !strcmp(key, "published_stat")) {
        return check_template(p, value, line);
    } else if (!strcmp(key, "truth")) {
        gravrd_status st = check_template(p, value, line);
        if (st)
            return st;
        /* a truth is an expression over truth.json paths once placeholders are filled */
        if (!strchr(value, '{'))
            return check_expr(p, value, line, "truth");
    } else if (!strcmp(key, "published_stat")) {
        /* arg checked by the caller */
    } else if (!strcmp(key, "needs")) {
        if (!*value)
            return perr(p, line, GRAVRD_ERR_INVALID, "needs: name at least one file");
    }
    return GRAVRD_OK;
}

static const char *const stat_names[] = {"adj_r2", "r2", "f", "nobs", "base", "mediated"};

/* ---- tables ---- */

typedef struct {
    gravrd_plan_kv *cur;      /* settings in effect */
    size_t n_cur;
} table_state;

/* Appends a content entry with the current settings plus its attributes. */
static gravrd_status add_entry(parser *p, gravrd_plan_table *tb, table_state *ts, const char *verb, const char *arg,
                               const char *value, int line, char **attrs, size_t n_attrs)
{
    gravrd_plan_entry *g = realloc(tb->entries, (tb->n_entries + 1) * sizeof *g);
    if (!g)
        return nomem(p);
    tb->entries = g;
    gravrd_plan_entry *e = &g[tb->n_entries];
    memset(e, 0, sizeof *e);
    e->verb = plan_strdup(verb);
    e->arg = plan_strdup(arg);
    e->value = plan_strdup(value);
    e->line = line;
    tb->n_entries++;
    if (!e->verb || !e->arg || !e->value)
        return nomem(p);
    gravrd_status st = GRAVRD_OK;
    for (size_t i = 0; i < ts->n_cur && !st; i++)
        st = kv_push(p, &e->settings, &e->n_settings, ts->cur[i].key, ts->cur[i].arg, ts->cur[i].value,
                     ts->cur[i].line);
    for (size_t i = 0; i < n_attrs && !st; i++) {
        long eq = find_assign(attrs[i]);
        if (eq < 0)
            return perr(p, line, GRAVRD_ERR_PARSE, "expected '; key = value', got '; %s'", attrs[i]);
        attrs[i][eq] = '\0';
        char *left = trim(attrs[i]), *v = trim(attrs[i] + eq + 1);
        char *sp = left;
        while (*sp && !isspace((unsigned char)*sp))
            sp++;
        char *a = sp;
        if (*sp) {
            *sp = '\0';
            a = trim(sp + 1);
        }
        const key_spec *ks = find_key(left);
        if (!ks || ks->content || !(ks->kinds & (1u << tb->kind)))
            return perr(p, line, GRAVRD_ERR_INVALID, "table %s: unknown attribute '%s' for a %s table", tb->name, left,
                        gravrd_table_kind_name(tb->kind));
        if (!strcmp(left, "kind"))
            return perr(p, line, GRAVRD_ERR_INVALID, "table %s: 'kind' cannot be an attribute of a line", tb->name);
        int need_arg = ks->arg == 1 || (ks->arg == 2 && (ks->arg_kinds & (1u << tb->kind)));
        if (need_arg && !*a)
            return perr(p, line, GRAVRD_ERR_INVALID, "table %s: '%s' needs an argument ('%s TERM = ...')", tb->name,
                        left, left);
        if (!need_arg && ks->arg != 2 && *a)
            return perr(p, line, GRAVRD_ERR_INVALID, "table %s: '%s' takes no argument", tb->name, left);
        if ((st = check_setting(p, tb->kind, left, v, line)))
            return st;
        st = kv_push(p, &e->settings, &e->n_settings, left, a, v, line);
    }
    return st;
}

/* Expands "a, b x c, d" into outcome and sample names. */
static gravrd_status parse_grid(parser *p, const char *value, int line, char ***outs, size_t *n_outs,
                                char ***samples, size_t *n_samples, int sample_optional)
{
    *outs = *samples = NULL;
    *n_outs = *n_samples = 0;
    const char *x = NULL;
    for (const char *c = value; *c; c++)
        if (*c == 'x' && (c == value || isspace((unsigned char)c[-1])) && (isspace((unsigned char)c[1]))) {
            x = c;
            break;
        }
    gravrd_status st;
    if (!x) {
        if (!sample_optional)
            return perr(p, line, GRAVRD_ERR_PARSE, "grid: expected 'OUTCOME, ... x SAMPLE, ...', got '%s'", value);
        st = plan_split_list(value, ',', outs, n_outs, p->err);
    } else {
        char *left = plan_strndup(value, (size_t)(x - value));
        if (!left)
            return nomem(p);
        st = plan_split_list(left, ',', outs, n_outs, p->err);
        free(left);
        if (!st)
            st = plan_split_list(x + 1, ',', samples, n_samples, p->err);
    }
    if (st)
        return st;
    if (*n_outs == 0)
        return perr(p, line, GRAVRD_ERR_PARSE, "grid: no outcome before 'x'");
    if (x && *n_samples == 0)
        return perr(p, line, GRAVRD_ERR_PARSE, "grid: no sample after 'x'");
    for (size_t i = 0; i < *n_outs; i++)
        if (!gravrd_plan_find_def(p->plan->outcomes, p->plan->n_outcomes, (*outs)[i]))
            return perr(p, line, GRAVRD_ERR_INVALID, "grid: unknown outcome '%s' (define it in [outcomes])",
                        (*outs)[i]);
    for (size_t i = 0; i < *n_samples; i++)
        if (!gravrd_plan_find_def(p->plan->samples, p->plan->n_samples, (*samples)[i]))
            return perr(p, line, GRAVRD_ERR_INVALID, "grid: unknown sample '%s' (define it in [samples])",
                        (*samples)[i]);
    return GRAVRD_OK;
}

/* The name of a column from a name template ({outcome}, {sample}). */
char *plan_grid_name(const char *tmpl, const char *outcome, const char *sample)
{
    size_t cap = strlen(tmpl) + strlen(outcome) + strlen(sample) * 2 + 16, len = 0;
    char *s = malloc(cap + strlen(outcome) * 4);
    if (!s)
        return NULL;
    cap += strlen(outcome) * 4;
    for (const char *c = tmpl; *c;) {
        const char *put = NULL;
        size_t skip = 1;
        if (!strncmp(c, "{outcome}", 9)) {
            put = outcome;
            skip = 9;
        } else if (!strncmp(c, "{sample}", 8)) {
            put = sample;
            skip = 8;
        }
        if (put) {
            size_t pl = strlen(put);
            if (len + pl + 1 > cap) {
                cap = 2 * (len + pl + 1);
                char *g = realloc(s, cap);
                if (!g) {
                    free(s);
                    return NULL;
                }
                s = g;
            }
            memcpy(s + len, put, pl);
            len += pl;
            c += skip;
        } else {
            if (len + 2 > cap) {
                cap *= 2;
                char *g = realloc(s, cap);
                if (!g) {
                    free(s);
                    return NULL;
                }
                s = g;
            }
            s[len++] = *c++;
        }
    }
    s[len] = '\0';
    return s;
}

/* Column names of a table so far (for duplicate checks). */
typedef struct {
    char **names;
    size_t n;
} name_set;

static gravrd_status name_add(parser *p, name_set *ns, char *name, int line, const char *table)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->names[i], name)) {
            gravrd_status st = perr(p, line, GRAVRD_ERR_INVALID,
                                    "table %s: two columns are named '%s' (give one a '; name = ...')", table, name);
            free(name);
            return st;
        }
    char **g = realloc(ns->names, (ns->n + 1) * sizeof *g);
    if (!g) {
        free(name);
        return nomem(p);
    }
    ns->names = g;
    ns->names[ns->n++] = name;
    return GRAVRD_OK;
}

/* References in a numbers item: backquoted TABLE/COLUMN/TERM[/se|t|p]
 * must name an earlier table; other names must be totals defined before. */
static gravrd_status check_item(parser *p, const gravrd_plan_table *tb, size_t table_index, const char *value,
                                int line)
{
    gravrd_expr *x = NULL;
    gravrd_error e = {0};
    if (gravrd_expr_parse(value, &x, &e))
        return perr(p, line, GRAVRD_ERR_PARSE, "item: %s", e.message);
    char **vars = NULL;
    size_t n = 0;
    gravrd_status st = gravrd_expr_variables(x, &vars, &n, p->err);
    gravrd_expr_free(x);
    for (size_t i = 0; i < n && !st; i++) {
        const char *slash = strchr(vars[i], '/');
        if (slash) {
            char *tname = plan_strndup(vars[i], (size_t)(slash - vars[i]));
            if (!tname) {
                st = nomem(p);
                break;
            }
            int found = 0;
            for (size_t t = 0; t < table_index; t++)
                found |= !strcmp(p->plan->tables[t].name, tname);
            if (!found)
                st = perr(p, line, GRAVRD_ERR_INVALID,
                          "item refers to table '%s', which is not a table defined before table %s", tname, tb->name);
            else if (!strchr(slash + 1, '/'))
                st = perr(p, line, GRAVRD_ERR_INVALID,
                          "item reference '%s': expected TABLE/COLUMN/COEFFICIENT[/se]", vars[i]);
            free(tname);
        } else {
            int found = 0;
            for (size_t k = 0; k < tb->n_entries; k++)
                found |= !strcmp(tb->entries[k].verb, "total") && !strcmp(tb->entries[k].arg, vars[i]);
            if (!found)
                st = perr(p, line, GRAVRD_ERR_INVALID,
                          "item uses '%s', which is neither a 'total' defined before it nor a `TABLE/COLUMN/TERM` "
                          "reference",
                          vars[i]);
        }
    }
    gravrd_strings_free(vars, n);
    return st;
}

static gravrd_status parse_table_line(parser *p, gravrd_plan_table *tb, size_t table_index, table_state *ts,
                                      name_set *names, const char *text, int line)
{
    char **parts = NULL;
    size_t n_parts = 0;
    /* only content lines take "; key = value" attributes: a setting's value
     * is everything after '=' (a note may hold ';') */
    size_t kl = 0;
    while (text[kl] && !isspace((unsigned char)text[kl]) && text[kl] != '=')
        kl++;
    char first[32];
    snprintf(first, sizeof first, "%.*s", (int)(kl < 31 ? kl : 31), text);
    const key_spec *fk = find_key(first);
    gravrd_status st;
    if (fk && fk->content) {
        st = split_semicolons(p, text, &parts, &n_parts);
    } else {
        parts = malloc(sizeof *parts);
        if (parts && (parts[0] = plan_strdup(text)))
            n_parts = 1;
        st = n_parts ? GRAVRD_OK : nomem(p);
    }
    if (st) {
        free_parts(parts, n_parts);
        return st;
    }
    long eq = find_assign(parts[0]);
    if (eq < 0) {
        st = perr(p, line, GRAVRD_ERR_PARSE, "table %s: expected 'key = value', got '%s'", tb->name, text);
        goto done;
    }
    parts[0][eq] = '\0';
    char *left = trim(parts[0]), *value = trim(parts[0] + eq + 1);
    char *sp = left;
    while (*sp && !isspace((unsigned char)*sp))
        sp++;
    char *arg = sp;
    if (*sp) {
        *sp = '\0';
        arg = trim(sp + 1);
    }
    const char *key = left;
    if (!strcmp(key, "kind")) {
        if (tb->n_settings > 0 || tb->n_entries > 0) {
            st = perr(p, line, GRAVRD_ERR_INVALID, "table %s: 'kind' must be the first line of the table", tb->name);
            goto done;
        }
        int k = -1;
        for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
            if (!strcmp(value, kind_names[i]))
                k = (int)i;
        if (k < 0) {
            st = perr(p, line, GRAVRD_ERR_INVALID,
                      "table %s: unknown kind '%s' (summary, regression, balance, match, rd, mediation, numbers)",
                      tb->name, value);
            goto done;
        }
        tb->kind = (gravrd_table_kind)k;
        st = kv_push(p, &tb->settings, &tb->n_settings, "kind", "", value, line);
        goto done;
    }
    if (tb->n_settings == 0) {
        st = perr(p, line, GRAVRD_ERR_INVALID, "table %s: the first line of a table must be 'kind = ...'", tb->name);
        goto done;
    }
    const key_spec *ks = find_key(key);
    if (!ks || !(ks->kinds & (1u << tb->kind))) {
        st = perr(p, line, GRAVRD_ERR_INVALID, "table %s: unknown key '%s' for a %s table", tb->name, key,
                  gravrd_table_kind_name(tb->kind));
        goto done;
    }
    if (ks->trailing_only) {
        st = perr(p, line, GRAVRD_ERR_INVALID,
                  "table %s: '%s' belongs to one line: write it after the line as '; %s = ...'", tb->name, key, key);
        goto done;
    }
    int need_arg = ks->arg == 1 || (ks->arg == 2 && (ks->arg_kinds & (1u << tb->kind)));
    if (need_arg && !*arg) {
        st = perr(p, line, GRAVRD_ERR_INVALID, "table %s: '%s' needs an argument ('%s %s = ...')", tb->name, key, key,
                  ks->content ? "LABEL" : "NAME");
        goto done;
    }
    if (!need_arg && ks->arg != 2 && *arg) {
        st = perr(p, line, GRAVRD_ERR_INVALID, "table %s: '%s' takes no argument before '=' (got '%s')", tb->name,
                  key, arg);
        goto done;
    }
    if (!ks->content) {
        if (!strcmp(key, "published_stat")) {
            int ok = 0;
            for (size_t i = 0; i < sizeof stat_names / sizeof stat_names[0]; i++)
                ok |= !strcmp(arg, stat_names[i]);
            if (!ok) {
                st = perr(p, line, GRAVRD_ERR_INVALID,
                          "table %s: published_stat: unknown statistic '%s' (adj_r2, r2, f, nobs; base, mediated)",
                          tb->name, arg);
                goto done;
            }
        }
        if ((st = check_setting(p, tb->kind, key, value, line)))
            goto done;
        if ((st = kv_push(p, &tb->settings, &tb->n_settings, key, arg, value, line)))
            goto done;
        st = kv_push(p, &ts->cur, &ts->n_cur, key, arg, value, line);
        goto done;
    }
    /* content lines */
    if (!strcmp(key, "panel")) {
        if (!*value) {
            st = perr(p, line, GRAVRD_ERR_INVALID, "table %s: panel needs a name ('panel = A | Title')", tb->name);
            goto done;
        }
        st = add_entry(p, tb, ts, key, arg, value, line, parts + 1, n_parts - 1);
        goto done;
    }
    if ((st = add_entry(p, tb, ts, key, arg, value, line, parts + 1, n_parts - 1)))
        goto done;
    gravrd_plan_entry *e = &tb->entries[tb->n_entries - 1];
    const char *sample = gravrd_plan_get(e->settings, e->n_settings, "sample", NULL, NULL);
    if (!strcmp(key, "grid")) {
        char **outs, **samples;
        size_t n_outs, n_samples;
        st = parse_grid(p, value, line, &outs, &n_outs, &samples, &n_samples, 1);
        if (!st && tb->kind != GRAVRD_TABLE_RD) {
            const char *rhs = gravrd_plan_get(e->settings, e->n_settings, "rhs", NULL, NULL);
            if (!rhs)
                st = perr(p, line, GRAVRD_ERR_INVALID, "table %s: grid needs 'rhs = ...' set before it", tb->name);
        }
        const char *tmpl = gravrd_plan_get(e->settings, e->n_settings, "name", NULL, NULL);
        for (size_t o = 0; o < n_outs && !st; o++) {
            size_t ns = n_samples ? n_samples : 1;
            for (size_t s = 0; s < ns && !st; s++) {
                const char *sname = n_samples ? samples[s] : (sample ? sample : "all");
                char *nm = plan_grid_name(tmpl ? tmpl : "{outcome}.{sample}", outs[o], sname);
                if (!nm)
                    st = nomem(p);
                else
                    st = name_add(p, names, nm, line, tb->name);
            }
        }
        plan_strings_free(outs, n_outs);
        plan_strings_free(samples, n_samples);
    } else if (!strcmp(key, "column") || !strcmp(key, "test")) {
        st = check_formula(p, value, line, key);
        if (!st) {
            /* name is a trailing attribute only, so any name here is this line's */
            const char *given = gravrd_plan_get(e->settings, e->n_settings, "name", NULL, NULL);
            char *name = plan_strdup(given ? given : arg);
            st = name ? name_add(p, names, name, line, tb->name) : nomem(p);
        }
    } else if (!strcmp(key, "row")) {
        st = check_expr(p, arg, line, "row");
    } else if (!strcmp(key, "total")) {
        st = check_expr(p, value, line, "total");
    } else if (!strcmp(key, "item")) {
        st = check_item(p, tb, table_index, value, line);
    }
done:
    free_parts(parts, n_parts);
    return st;
}

/* Checks after a table's last line. */
static gravrd_status finish_table(parser *p, gravrd_plan_table *tb)
{
    if (tb->n_settings == 0)
        return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s is empty: its first line must be 'kind = ...'",
                    tb->name);
    size_t content = 0;
    for (size_t e = 0; e < tb->n_entries; e++)
        content += strcmp(tb->entries[e].verb, "panel") != 0;
    switch (tb->kind) {
    case GRAVRD_TABLE_BALANCE:
        if (!gravrd_plan_get(tb->settings, tb->n_settings, "bandwidths", NULL, NULL))
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s: a balance table needs 'bandwidths = ...'",
                        tb->name);
        break;
    case GRAVRD_TABLE_RD:
        if (!gravrd_plan_get(tb->settings, tb->n_settings, "bandwidths", NULL, NULL))
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s: an rd table needs 'bandwidths = ...'", tb->name);
        if (!content)
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'grid' line", tb->name);
        break;
    case GRAVRD_TABLE_MATCH:
        if (!gravrd_plan_get(tb->settings, tb->n_settings, "match", NULL, NULL))
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s: a match table needs 'match = KM'", tb->name);
        /* fall through */
    case GRAVRD_TABLE_REGRESSION:
        if (!content)
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'grid' or 'column' line", tb->name);
        break;
    case GRAVRD_TABLE_MEDIATION:
        if (!gravrd_plan_get(tb->settings, tb->n_settings, "base", NULL, NULL))
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s: a mediation table needs 'base = FORMULA'",
                        tb->name);
        if (!gravrd_plan_get(tb->settings, tb->n_settings, "coefficient", NULL, NULL))
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s: a mediation table needs 'coefficient = TERM'",
                        tb->name);
        if (!content)
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'test' line", tb->name);
        break;
    case GRAVRD_TABLE_SUMMARY:
        if (!content)
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'row' line", tb->name);
        break;
    case GRAVRD_TABLE_NUMBERS: {
        int items = 0;
        for (size_t e = 0; e < tb->n_entries; e++)
            items += !strcmp(tb->entries[e].verb, "item");
        if (!items)
            return perr(p, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'item' line", tb->name);
        break;
    }
    }
    return GRAVRD_OK;
}

typedef enum { SEC_NONE, SEC_STUDY, SEC_MACROS, SEC_OUTCOMES, SEC_SAMPLES, SEC_LABELS, SEC_TABLE } section;

/* Parses "[name]" or "[table NAME]"; returns the section or -1 (error set). */
static int parse_header(parser *p, const char *text, int line, char **table_name)
{
    size_t n = strlen(text);
    *table_name = NULL;
    if (text[n - 1] != ']') {
        perr(p, line, GRAVRD_ERR_PARSE, "a section header must end with ']': '%s'", text);
        return -1;
    }
    char *inner = plan_strndup(text + 1, n - 2);
    if (!inner) {
        nomem(p);
        return -1;
    }
    char *t = trim(inner);
    int sec = -1;
    if (!strcmp(t, "study"))
        sec = SEC_STUDY;
    else if (!strcmp(t, "macros"))
        sec = SEC_MACROS;
    else if (!strcmp(t, "outcomes"))
        sec = SEC_OUTCOMES;
    else if (!strcmp(t, "samples"))
        sec = SEC_SAMPLES;
    else if (!strcmp(t, "labels"))
        sec = SEC_LABELS;
    else if (!strncmp(t, "table", 5) && (t[5] == ' ' || t[5] == '\t')) {
        char *name = trim(t + 5);
        int ok = *name != '\0';
        for (const char *c = name; *c; c++)
            ok &= isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.';
        if (!ok) {
            perr(p, line, GRAVRD_ERR_INVALID,
                 "table name '%s': use letters, digits, '_', '-', '.' (it becomes a file name)", name);
        } else {
            *table_name = plan_strdup(name);
            sec = *table_name ? SEC_TABLE : -1;
            if (!*table_name)
                nomem(p);
        }
    } else if (!strcmp(t, "table")) {
        perr(p, line, GRAVRD_ERR_INVALID, "[table] needs a name: [table NAME]");
    } else {
        perr(p, line, GRAVRD_ERR_INVALID,
             "unknown section '[%s]' (study, macros, outcomes, samples, labels, table NAME)", t);
    }
    free(inner);
    return sec;
}

/* First pass: raw macros and outcomes. */
static gravrd_status collect_macros(parser *p)
{
    int sec = SEC_NONE;
    for (size_t i = 0; i < p->n_lines; i++) {
        const char *t = p->lines[i].text;
        if (t[0] == '[') {
            char *tn = NULL;
            gravrd_error saved = *p->err;
            int s = parse_header(p, t, p->lines[i].line, &tn);
            free(tn);
            *p->err = saved;    /* header errors are reported by the second pass */
            sec = s < 0 ? SEC_NONE : s;
            continue;
        }
        if (sec != SEC_MACROS && sec != SEC_OUTCOMES)
            continue;
        char *copy = plan_strdup(t);
        if (!copy)
            return nomem(p);
        char *semi = copy;
        /* the value ends at the first ';' outside quotes */
        char quote = 0;
        for (; *semi; semi++) {
            if (quote) {
                if (*semi == quote)
                    quote = 0;
            } else if (*semi == '"' || *semi == '`') {
                quote = *semi;
            } else if (*semi == ';') {
                *semi = '\0';
                break;
            }
        }
        long eq = find_assign(copy);
        if (eq < 0) {
            free(copy);
            continue;    /* reported by the second pass */
        }
        copy[eq] = '\0';
        char *name = trim(copy), *value = trim(copy + eq + 1);
        for (size_t k = 0; k < p->n_raw; k++)
            if (!strcmp(p->raw_names[k], name)) {
                gravrd_status st = perr(p, p->lines[i].line, GRAVRD_ERR_INVALID,
                                        "'%s' is defined twice (macros and outcomes share one name space; first at "
                                        "line %d)",
                                        name, p->raw_lines[k]);
                free(copy);
                return st;
            }
        char **gn = realloc(p->raw_names, (p->n_raw + 1) * sizeof *gn);
        if (gn)
            p->raw_names = gn;
        char **gv = realloc(p->raw_values, (p->n_raw + 1) * sizeof *gv);
        if (gv)
            p->raw_values = gv;
        int *gl = realloc(p->raw_lines, (p->n_raw + 1) * sizeof *gl);
        if (gl)
            p->raw_lines = gl;
        if (!gn || !gv || !gl) {
            free(copy);
            return nomem(p);
        }
        p->raw_names[p->n_raw] = plan_strdup(name);
        p->raw_values[p->n_raw] = plan_strdup(value);
        p->raw_lines[p->n_raw] = p->lines[i].line;
        p->n_raw++;
        free(copy);
        if (!p->raw_names[p->n_raw - 1] || !p->raw_values[p->n_raw - 1])
            return nomem(p);
    }
    for (size_t o = 0; o < p->n_overrides; o++) {
        int found = 0;
        for (size_t k = 0; k < p->n_raw; k++)
            found |= !strcmp(p->raw_names[k], p->overrides[o].name);
        if (!found)
            return perr(p, 0, GRAVRD_ERR_INVALID, "the study file defines no macro '%s' to override",
                        p->overrides[o].name);
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_plan_parse(const char *text, size_t len, const char *source, const gravrd_plan_macro *overrides,
                                size_t n_overrides, gravrd_plan **out, gravrd_error *err)
{
    *out = NULL;
    parser p = {0};
    p.source = source ? source : "study";
    p.err = err;
    p.overrides = overrides;
    p.n_overrides = n_overrides;
    gravrd_status st = GRAVRD_OK;
    p.plan = calloc(1, sizeof *p.plan);
    if (!p.plan)
        return nomem(&p);
    p.plan->source = plan_strdup(p.source);
    const char *slash = strrchr(p.source, '/');
    p.plan->dir = slash ? plan_strndup(p.source, (size_t)(slash - p.source)) : plan_strdup(".");
    if (!p.plan->source || !p.plan->dir) {
        st = nomem(&p);
        goto done;
    }
    if ((st = split_lines(&p, text, len)) || (st = collect_macros(&p)))
        goto done;

    int sec = SEC_NONE;
    gravrd_plan_table *tb = NULL;
    table_state ts = {0};
    name_set names = {0};
    for (size_t i = 0; i < p.n_lines && !st; i++) {
        int line = p.lines[i].line;
        const char *raw = p.lines[i].text;
        if (raw[0] == '[') {
            if (tb && (st = finish_table(&p, tb)))
                break;
            char *tname = NULL;
            int s = parse_header(&p, raw, line, &tname);
            if (s < 0) {
                st = err ? err->code : GRAVRD_ERR_INVALID;
                if (!st)
                    st = GRAVRD_ERR_INVALID;
                break;
            }
            kvs_free(ts.cur, ts.n_cur);
            ts.cur = NULL;
            ts.n_cur = 0;
            plan_strings_free(names.names, names.n);
            names.names = NULL;
            names.n = 0;
            tb = NULL;
            sec = s;
            if (s == SEC_TABLE) {
                if (gravrd_plan_find_table(p.plan, tname)) {
                    st = perr(&p, line, GRAVRD_ERR_INVALID, "table '%s' is defined twice", tname);
                    free(tname);
                    break;
                }
                gravrd_plan_table *g = realloc(p.plan->tables, (p.plan->n_tables + 1) * sizeof *g);
                if (!g) {
                    free(tname);
                    st = nomem(&p);
                    break;
                }
                p.plan->tables = g;
                tb = &g[p.plan->n_tables++];
                memset(tb, 0, sizeof *tb);
                tb->name = tname;
                tb->line = line;
            }
            continue;
        }
        if (sec == SEC_NONE) {
            st = perr(&p, line, GRAVRD_ERR_PARSE, "a line before any section header ([study], [table NAME], ...)");
            break;
        }
        char *text_x = NULL;
        if ((st = expand(&p, raw, line, 0, &text_x)))
            break;
        switch (sec) {
        case SEC_STUDY: {
            long eq = find_assign(text_x);
            if (eq < 0) {
                st = perr(&p, line, GRAVRD_ERR_PARSE, "[study]: expected 'key = value', got '%s'", text_x);
                break;
            }
            text_x[eq] = '\0';
            char *k = trim(text_x), *v = trim(text_x + eq + 1);
            int ok = 0;
            for (size_t s = 0; s < sizeof study_keys / sizeof study_keys[0]; s++)
                ok |= !strcmp(k, study_keys[s]);
            if (!ok)
                st = perr(&p, line, GRAVRD_ERR_INVALID,
                          "[study]: unknown key '%s' (title, reference, published, flows, bandwidth, cluster, note)",
                          k);
            else if (!strcmp(k, "bandwidth"))
                st = check_positive(&p, v, line, "bandwidth");
            else if (!strcmp(k, "cluster") && *v)
                st = check_setting(&p, GRAVRD_TABLE_REGRESSION, "cluster", v, line);
            if (!st)
                st = kv_push(&p, &p.plan->study, &p.plan->n_study, k, "", v, line);
            break;
        }
        case SEC_MACROS:
            st = parse_def(&p, text_x, line, 0, &p.plan->macros, &p.plan->n_macros);
            if (!st) {
                /* the plan records the value in force */
                gravrd_plan_def *d = &p.plan->macros[p.plan->n_macros - 1];
                for (size_t o = 0; o < p.n_overrides; o++)
                    if (!strcmp(p.overrides[o].name, d->name)) {
                        char *v = plan_strdup(p.overrides[o].value);
                        if (!v) {
                            st = nomem(&p);
                            break;
                        }
                        free(d->value);
                        d->value = v;
                    }
            }
            break;
        case SEC_OUTCOMES:
            st = parse_def(&p, text_x, line, 0, &p.plan->outcomes, &p.plan->n_outcomes);
            if (!st) {
                gravrd_plan_def *d = &p.plan->outcomes[p.plan->n_outcomes - 1];
                if (!*d->value)
                    st = perr(&p, line, GRAVRD_ERR_INVALID, "outcome '%s' has no expression", d->name);
                else
                    st = check_expr(&p, d->value, line, "outcome");
            }
            break;
        case SEC_SAMPLES:
            st = parse_def(&p, text_x, line, 0, &p.plan->samples, &p.plan->n_samples);
            if (!st) {
                gravrd_plan_def *d = &p.plan->samples[p.plan->n_samples - 1];
                if (*d->value)
                    st = check_expr(&p, d->value, line, "sample");
            }
            break;
        case SEC_LABELS: st = parse_def(&p, text_x, line, 1, &p.plan->labels, &p.plan->n_labels); break;
        case SEC_TABLE:
            st = parse_table_line(&p, tb, p.plan->n_tables - 1, &ts, &names, text_x, line);
            break;
        }
        free(text_x);
    }
    if (!st && tb)
        st = finish_table(&p, tb);
    if (!st && p.plan->n_tables == 0)
        st = perr(&p, 0, GRAVRD_ERR_INVALID, "no [table NAME] section");
    kvs_free(ts.cur, ts.n_cur);
    plan_strings_free(names.names, names.n);
done:
    for (size_t i = 0; i < p.n_lines; i++)
        free(p.lines[i].text);
    free(p.lines);
    plan_strings_free(p.raw_names, p.n_raw);
    plan_strings_free(p.raw_values, p.n_raw);
    free(p.raw_lines);
    if (st) {
        gravrd_plan_free(p.plan);
        return st;
    }
    *out = p.plan;
    return GRAVRD_OK;
}

gravrd_status gravrd_plan_load(const char *path, const gravrd_plan_macro *overrides, size_t n_overrides,
                               gravrd_plan **out, gravrd_error *err)
{
    *out = NULL;
    if (!path) {
        size_t len;
        const char *text = gravrd_default_study_text(&len);
        gravrd_status st =
            gravrd_plan_parse(text, len, "east-west-partnership.study", overrides, n_overrides, out, err);
        if (!st) {
            free((*out)->dir);
            (*out)->dir = plan_strdup("");
            if (!(*out)->dir) {
                gravrd_plan_free(*out);
                *out = NULL;
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            }
        }
        return st;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open the study file (%s)", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                fclose(f);
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            }
            buf = g;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: error reading the study file", path);
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return gravrd_error_set(err, GRAVRD_ERR_PARSE, "%s: not a text file", path);
    }
    gravrd_status st = gravrd_plan_parse(buf, len, path, overrides, n_overrides, out, err);
    free(buf);
    return st;
}
