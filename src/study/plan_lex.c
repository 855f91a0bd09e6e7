/* plan_lex.c - the study file's lexer (format: docs/study-file.md).
 *
 * Two passes over the logical lines (continuations joined, comments
 * removed): the first collects the raw macros and outcomes (outcomes are
 * macros too: ${log_trade}); the second expands macros in every line,
 * splits sections, definitions and table lines, and checks each table key
 * against the table's kind (known key, argument, setting or content line).
 * What a value means is plan_build.c's business. Every block comes from
 * the plan's pool, so nothing here is freed on error paths. */
#include "study/plan_lex.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the key table ---- */

enum { K_S = 1 << GRAVRD_TABLE_SUMMARY, K_R = 1 << GRAVRD_TABLE_REGRESSION, K_B = 1 << GRAVRD_TABLE_BALANCE,
       K_M = 1 << GRAVRD_TABLE_MATCH, K_D = 1 << GRAVRD_TABLE_RD, K_E = 1 << GRAVRD_TABLE_MEDIATION,
       K_N = 1 << GRAVRD_TABLE_NUMBERS, K_ALL = 0x7f };

/* Where a key may appear: the kinds, whether it takes an argument (in
 * arg_kinds it must have one, elsewhere it must not), and whether it is a
 * content line or an attribute only a content line can have. */
typedef struct {
    const char *key;
    unsigned kinds;
    unsigned arg_kinds;
    int trailing_only;
    int content;
    int table_only;         /* a table setting, never an attribute of a line */
} key_spec;

static const key_spec table_keys[] = {
    {"kind", K_ALL, 0, 0, 0, 1},
    {"title", K_ALL, 0, 0, 0, 1},
    {"paper", K_ALL, 0, 0, 0, 1},
    {"note", K_ALL, 0, 0, 0, 1},
    {"needs", K_ALL, 0, 0, 0, 0},
    {"sample", K_S | K_R | K_M | K_D | K_E, 0, 0, 0, 0},
    {"subset", K_S | K_R | K_M | K_D | K_E | K_N, 0, 0, 0, 0},
    {"level", K_S | K_R, 0, 0, 0, 0},
    {"bandwidth", K_S | K_R | K_M | K_E, 0, 0, 0, 0},
    {"cluster", K_R | K_M | K_E, 0, 0, 0, 0},
    {"inference", K_R, 0, 0, 0, 0},
    {"vcov", K_R | K_M | K_B | K_E, 0, 0, 0, 0},
    {"rhs", K_R | K_M, 0, 0, 0, 0},
    {"fe", K_R | K_M | K_D, 0, 0, 0, 0},
    {"show", K_R | K_M, 0, 0, 0, 0},
    {"group", K_R | K_M | K_D, 0, 0, 0, 0},
    {"published", K_S | K_R | K_M | K_D | K_N, K_R | K_M | K_D, 0, 0, 0},
    {"published_range", K_D, K_D, 0, 0, 0},
    {"published_stat", K_R | K_M | K_E, K_R | K_M | K_E, 0, 0, 0},
    {"truth", K_R | K_M | K_D | K_E | K_N, K_R | K_M | K_D, 0, 0, 0},
    {"match", K_M, 0, 0, 0, 0},
    {"bandwidths", K_B | K_D, 0, 0, 0, 0},
    {"vars", K_B, 0, 0, 0, 0},
    {"radius", K_D, 0, 0, 0, 0},
    {"side", K_D, 0, 0, 0, 0},
    {"optimal", K_D, 0, 0, 0, 0},
    {"coefficient", K_E, 0, 0, 0, 0},
    {"base", K_E, 0, 0, 0, 0},
    {"name", K_ALL, 0, 1, 0, 0},
    {"label", K_ALL, 0, 1, 0, 0},
    {"ref", K_ALL, 0, 1, 0, 0},
    {"unit", K_N, 0, 1, 0, 0},
    {"panel", K_S | K_R | K_M | K_D, 0, 0, 1, 0},
    {"grid", K_R | K_M | K_D, 0, 0, 1, 0},
    {"column", K_R | K_M, K_R | K_M, 0, 1, 0},
    {"row", K_S, K_S, 0, 1, 0},
    {"test", K_E, K_E, 0, 1, 0},
    {"item", K_N, K_N, 0, 1, 0},
    {"total", K_N, K_N, 0, 1, 0},
};

static const key_spec *find_key(const char *key)
{
    for (size_t i = 0; i < sizeof table_keys / sizeof table_keys[0]; i++)
        if (!strcmp(table_keys[i].key, key))
            return &table_keys[i];
    return NULL;
}

static const char *const kind_names[] = {"summary", "regression", "balance", "match", "rd", "mediation", "numbers"};

/* ---- lexer state ---- */

typedef struct {
    const char *text;       /* the logical line (continuations joined, comment removed), trimmed */
    int line;               /* first physical line */
} logical_line;

typedef struct {
    plan_pool *pool;
    const char *source;
    gravrd_error *err;
    lex_plan *out;
    logical_line *lines;
    size_t n_lines;
    const gravrd_plan_macro *overrides;
    size_t n_overrides;
    /* raw macro / outcome values (before expansion) */
    lex_pair *raw;
    size_t n_raw;
} lexer;

static gravrd_status lerr(lexer *p, int line, gravrd_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static gravrd_status lerr(lexer *p, int line, gravrd_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gravrd_status st = plan_line_verror(p->err, p->source, line, code, fmt, ap);
    va_end(ap);
    return st;
}

static gravrd_status nomem(lexer *p) { return gravrd_error_set(p->err, GRAVRD_ERR_NOMEM, "out of memory"); }

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

/* A trimmed pool copy of s[0..n-1]. */
static char *pool_trimmed(lexer *p, const char *s, size_t n)
{
    char *c = plan_pool_strndup(p->pool, s, n);
    return c ? trim(c) : NULL;
}

/* Splits text into logical lines: '\' at the end joins the next line; '#'
 * at the start of a line or after a space or tab starts a comment (outside
 * quotes and backquotes). */
static gravrd_status split_lines(lexer *p, const char *text, size_t len)
{
    char *cur = NULL;
    size_t cur_len = 0;
    int cur_line = 0, line = 0;
    for (size_t i = 0; i < len || cur;) {
        if (i >= len) {    /* a continuation on the last line */
            char *t = trim(cur);
            logical_line *l = *t ? PLAN_PUSH(p->pool, p->lines, p->n_lines) : NULL;
            if (*t && (!l || !(l->text = plan_pool_strdup(p->pool, t)))) {
                free(cur);
                return nomem(p);
            }
            if (l)
                l->line = cur_line;
            free(cur);
            break;
        }
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        line++;
        size_t end = j;
        if (end > i && text[end - 1] == '\r')
            end--;
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
        i = j + 1;
        if (cont)
            continue;
        char *t = trim(cur);
        if (*t) {
            logical_line *l = PLAN_PUSH(p->pool, p->lines, p->n_lines);
            if (!l || !(l->text = plan_pool_strdup(p->pool, t))) {
                free(cur);
                return nomem(p);
            }
            l->line = cur_line;
        }
        free(cur);
        cur = NULL;
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

/* Splits on ';' outside quotes into trimmed pool strings. */
static gravrd_status split_semicolons(lexer *p, const char *s, char ***parts, size_t *n)
{
    *parts = NULL;
    *n = 0;
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
            char **slot = PLAN_PUSH(p->pool, *parts, *n);
            if (!slot || !(*slot = pool_trimmed(p, start, (size_t)(c - start))))
                return nomem(p);
            if (!*c)
                break;
            start = c + 1;
        }
    }
    return GRAVRD_OK;
}

/* Splits "key [arg] = value" (s is modified); *key, *arg, *value point into s. */
static int split_assign(char *s, char **key, char **arg, char **value)
{
    long eq = find_assign(s);
    if (eq < 0)
        return 0;
    s[eq] = '\0';
    char *left = trim(s);
    *value = trim(s + eq + 1);
    char *sp = left;
    while (*sp && !isspace((unsigned char)*sp))
        sp++;
    *arg = sp;
    if (*sp) {
        *sp = '\0';
        *arg = trim(sp + 1);
    }
    *key = left;
    return 1;
}

/* ---- macros ---- */

static const char *raw_lookup(lexer *p, const char *name)
{
    for (size_t i = 0; i < p->n_overrides; i++)
        if (!strcmp(p->overrides[i].name, name))
            return p->overrides[i].value;
    for (size_t i = 0; i < p->n_raw; i++)
        if (!strcmp(p->raw[i].key, name))
            return p->raw[i].value;
    return NULL;
}

/* Appends s[0..n-1] to the malloc'ed buffer *buf. */
static int buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = 2 * (*len + n + 1);
        char *g = realloc(*buf, c);
        if (!g)
            return 0;
        *buf = g;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 1;
}

/* Expands ${NAME} recursively into a malloc'ed *out. */
static gravrd_status expand(lexer *p, const char *s, int line, int depth, char **out)
{
    *out = NULL;
    if (depth > 16)
        return lerr(p, line, GRAVRD_ERR_INVALID, "macros nested too deeply (a macro that refers to itself?)");
    size_t cap = 0, len = 0;
    char *buf = NULL;
    if (!buf_put(&buf, &len, &cap, "", 0))
        return nomem(p);
    for (size_t i = 0; s[i];) {
        if (!(s[i] == '$' && s[i + 1] == '{')) {
            if (!buf_put(&buf, &len, &cap, s + i, 1)) {
                free(buf);
                return nomem(p);
            }
            i++;
            continue;
        }
        const char *close = strchr(s + i + 2, '}');
        if (!close) {
            free(buf);
            return lerr(p, line, GRAVRD_ERR_PARSE, "'${' without a closing '}'");
        }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(close - (s + i + 2)), s + i + 2);
        const char *raw = raw_lookup(p, trim(name));
        if (!raw) {
            free(buf);
            return lerr(p, line, GRAVRD_ERR_INVALID, "unknown macro '${%s}' (define it in [macros] or [outcomes])",
                        trim(name));
        }
        char *sub = NULL;
        gravrd_status st = expand(p, raw, line, depth + 1, &sub);
        if (!st && !buf_put(&buf, &len, &cap, sub, strlen(sub)))
            st = nomem(p);
        free(sub);
        if (st) {
            free(buf);
            return st;
        }
        i = (size_t)(close - s) + 1;
    }
    *out = buf;
    return GRAVRD_OK;
}

/* ---- sections and definitions ---- */

typedef enum { SEC_NONE, SEC_STUDY, SEC_MACROS, SEC_OUTCOMES, SEC_SAMPLES, SEC_LABELS, SEC_TABLE } section;

/* Parses "[name]" or "[table NAME]"; returns the section or -1 (error set). */
static int parse_header(lexer *p, const char *text, int line, const char **table_name)
{
    size_t n = strlen(text);
    *table_name = NULL;
    if (text[n - 1] != ']') {
        lerr(p, line, GRAVRD_ERR_PARSE, "a section header must end with ']': '%s'", text);
        return -1;
    }
    char *t = pool_trimmed(p, text + 1, n - 2);
    if (!t) {
        nomem(p);
        return -1;
    }
    static const char *const names[] = {"study", "macros", "outcomes", "samples", "labels"};
    for (int s = 0; s < 5; s++)
        if (!strcmp(t, names[s]))
            return SEC_STUDY + s;
    if (!strncmp(t, "table", 5) && (t[5] == ' ' || t[5] == '\t')) {
        char *name = trim(t + 5);
        int ok = *name != '\0';
        for (const char *c = name; *c; c++)
            ok &= isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.';
        if (!ok) {
            lerr(p, line, GRAVRD_ERR_INVALID,
                 "table name '%s': use letters, digits, '_', '-', '.' (it becomes a file name)", name);
            return -1;
        }
        *table_name = name;
        return SEC_TABLE;
    }
    if (!strcmp(t, "table"))
        lerr(p, line, GRAVRD_ERR_INVALID, "[table] needs a name: [table NAME]");
    else
        lerr(p, line, GRAVRD_ERR_INVALID,
             "unknown section '[%s]' (study, macros, outcomes, samples, labels, table NAME)", t);
    return -1;
}

/* "name = value ; attr = value ..." into a definition. */
static gravrd_status parse_def(lexer *p, const char *text, int line, int name_is_term, gravrd_plan_def **arr,
                               size_t *n)
{
    char **parts = NULL;
    size_t n_parts = 0;
    gravrd_status st = split_semicolons(p, text, &parts, &n_parts);
    if (st)
        return st;
    long eq = find_assign(parts[0]);
    if (eq < 0)
        return lerr(p, line, GRAVRD_ERR_PARSE, "expected 'name = value', got '%s'", text);
    parts[0][eq] = '\0';
    char *name = trim(parts[0]), *value = trim(parts[0] + eq + 1);
    if (!*name)
        return lerr(p, line, GRAVRD_ERR_PARSE, "a definition without a name");
    if (!name_is_term)
        for (const char *c = name; *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-'))
                return lerr(p, line, GRAVRD_ERR_INVALID, "'%s' is not a valid name (letters, digits, '_', '.', '-')",
                            name);
    if (gravrd_plan_find_def(*arr, *n, name))
        return lerr(p, line, GRAVRD_ERR_INVALID, "'%s' is defined twice", name);
    gravrd_plan_def *d = PLAN_PUSH(p->pool, *arr, *n);
    if (!d)
        return nomem(p);
    d->name = name;
    d->value = value;
    d->line = line;
    for (size_t i = 1; i < n_parts; i++) {
        long e = find_assign(parts[i]);
        if (e < 0)
            return lerr(p, line, GRAVRD_ERR_PARSE, "expected '; attribute = value', got '; %s'", parts[i]);
        parts[i][e] = '\0';
        char *k = trim(parts[i]), *v = trim(parts[i] + e + 1);
        if (!*k)
            return lerr(p, line, GRAVRD_ERR_PARSE, "an attribute without a name");
        gravrd_plan_attr *a = PLAN_PUSH(p->pool, d->attrs, d->n_attrs);
        if (!a)
            return nomem(p);
        a->key = k;
        a->value = v;
        if (!strcmp(k, "label"))
            d->label = v;
    }
    return GRAVRD_OK;
}

/* First pass: the raw macros and outcomes, before expansion. */
static gravrd_status collect_macros(lexer *p)
{
    int sec = SEC_NONE;
    for (size_t i = 0; i < p->n_lines; i++) {
        const char *t = p->lines[i].text;
        if (t[0] == '[') {
            const char *tn = NULL;
            gravrd_error saved = *p->err;
            int s = parse_header(p, t, p->lines[i].line, &tn);
            *p->err = saved;    /* header errors are reported by the second pass */
            sec = s < 0 ? SEC_NONE : s;
            continue;
        }
        if (sec != SEC_MACROS && sec != SEC_OUTCOMES)
            continue;
        char *copy = plan_pool_strdup(p->pool, t);
        if (!copy)
            return nomem(p);
        char quote = 0;    /* the value ends at the first ';' outside quotes */
        for (char *c = copy; *c; c++) {
            if (quote) {
                if (*c == quote)
                    quote = 0;
            } else if (*c == '"' || *c == '`') {
                quote = *c;
            } else if (*c == ';') {
                *c = '\0';
                break;
            }
        }
        long eq = find_assign(copy);
        if (eq < 0)
            continue;    /* reported by the second pass */
        copy[eq] = '\0';
        char *name = trim(copy), *value = trim(copy + eq + 1);
        for (size_t k = 0; k < p->n_raw; k++)
            if (!strcmp(p->raw[k].key, name))
                return lerr(p, p->lines[i].line, GRAVRD_ERR_INVALID,
                            "'%s' is defined twice (macros and outcomes share one name space; first at line %d)",
                            name, p->raw[k].line);
        lex_pair *r = PLAN_PUSH(p->pool, p->raw, p->n_raw);
        if (!r)
            return nomem(p);
        *r = (lex_pair){name, "", value, p->lines[i].line};
    }
    for (size_t o = 0; o < p->n_overrides; o++) {
        int found = 0;
        for (size_t k = 0; k < p->n_raw; k++)
            found |= !strcmp(p->raw[k].key, p->overrides[o].name);
        if (!found)
            return lerr(p, 0, GRAVRD_ERR_INVALID, "the study file defines no macro '%s' to override",
                        p->overrides[o].name);
    }
    return GRAVRD_OK;
}

/* ---- tables ---- */

/* Checks a key of a table line (or, attr, of a content line's attribute). */
static gravrd_status check_key(lexer *p, const lex_table *tb, const char *key, const char *arg, int line, int attr)
{
    const key_spec *ks = find_key(key);
    if (!ks || !(ks->kinds & (1u << tb->kind)) || (attr && ks->content))
        return lerr(p, line, GRAVRD_ERR_INVALID, "table %s: unknown %s '%s' for a %s table", tb->name,
                    attr ? "attribute" : "key", key, kind_names[tb->kind]);
    if (attr && ks->table_only)
        return lerr(p, line, GRAVRD_ERR_INVALID,
                    "table %s: '%s' is a setting of the whole table, not an attribute of a line", tb->name, key);
    if (!attr && ks->trailing_only)
        return lerr(p, line, GRAVRD_ERR_INVALID,
                    "table %s: '%s' belongs to one line: write it after the line as '; %s = ...'", tb->name, key, key);
    int need_arg = (ks->arg_kinds & (1u << tb->kind)) != 0;
    if (need_arg && !*arg)
        return lerr(p, line, GRAVRD_ERR_INVALID, "table %s: '%s' needs an argument ('%s %s = ...')", tb->name, key,
                    key, ks->content ? "LABEL" : "TERM");
    if (!need_arg && *arg)
        return lerr(p, line, GRAVRD_ERR_INVALID, "table %s: '%s' takes no argument before '=' (got '%s')", tb->name,
                    key, arg);
    return GRAVRD_OK;
}

/* A line of a table: only content lines take "; key = value" attributes
 * (a setting's value is everything after '=': a note may hold ';'). */
static gravrd_status table_line(lexer *p, lex_table *tb, int *has_kind, char *text, int line)
{
    size_t kl = 0;
    while (text[kl] && !isspace((unsigned char)text[kl]) && text[kl] != '=')
        kl++;
    char first[32];
    snprintf(first, sizeof first, "%.*s", (int)(kl < 31 ? kl : 31), text);
    const key_spec *fk = find_key(first);
    char **parts = &text;
    size_t n_parts = 1;
    gravrd_status st;
    if (fk && fk->content && (st = split_semicolons(p, text, &parts, &n_parts)))
        return st;
    char *key, *arg, *value;
    if (!split_assign(parts[0], &key, &arg, &value))
        return lerr(p, line, GRAVRD_ERR_PARSE, "table %s: expected 'key = value', got '%s'", tb->name, text);
    if (!strcmp(key, "kind")) {
        if (*has_kind)
            return lerr(p, line, GRAVRD_ERR_INVALID, "table %s: 'kind' must be the first line of the table", tb->name);
        for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
            if (!strcmp(value, kind_names[i])) {
                tb->kind = (gravrd_table_kind)i;
                *has_kind = 1;
                return GRAVRD_OK;
            }
        return lerr(p, line, GRAVRD_ERR_INVALID,
                    "table %s: unknown kind '%s' (summary, regression, balance, match, rd, mediation, numbers)",
                    tb->name, value);
    }
    if (!*has_kind)
        return lerr(p, line, GRAVRD_ERR_INVALID, "table %s: the first line of a table must be 'kind = ...'", tb->name);
    if ((st = check_key(p, tb, key, arg, line, 0)))
        return st;
    lex_line *l = PLAN_PUSH(p->pool, tb->lines, tb->n_lines);
    if (!l)
        return nomem(p);
    l->kv = (lex_pair){key, arg, value, line};
    l->content = fk && fk->content;
    for (size_t i = 1; i < n_parts; i++) {
        char *k, *a, *v;
        if (!split_assign(parts[i], &k, &a, &v))
            return lerr(p, line, GRAVRD_ERR_PARSE, "expected '; key = value', got '; %s'", parts[i]);
        if ((st = check_key(p, tb, k, a, line, 1)))
            return st;
        lex_pair *at = PLAN_PUSH(p->pool, l->attrs, l->n_attrs);
        if (!at)
            return nomem(p);
        *at = (lex_pair){k, a, v, line};
    }
    return GRAVRD_OK;
}

gravrd_status plan_lex(plan_pool *pool, const char *text, size_t len, const char *source,
                       const gravrd_plan_macro *overrides, size_t n_overrides, lex_plan *out, gravrd_error *err)
{
    memset(out, 0, sizeof *out);
    lexer p = {0};
    p.pool = pool;
    p.source = source;
    p.err = err;
    p.out = out;
    p.overrides = overrides;
    p.n_overrides = n_overrides;
    gravrd_status st;
    if ((st = split_lines(&p, text, len)) || (st = collect_macros(&p)))
        return st;
    int sec = SEC_NONE, has_kind = 0;
    lex_table *tb = NULL;
    for (size_t i = 0; i < p.n_lines; i++) {
        int line = p.lines[i].line;
        const char *raw = p.lines[i].text;
        if (raw[0] == '[') {
            if (tb && !has_kind)
                return lerr(&p, tb->line, GRAVRD_ERR_INVALID, "table %s is empty: its first line must be 'kind = ...'",
                            tb->name);
            const char *tname = NULL;
            int s = parse_header(&p, raw, line, &tname);
            if (s < 0)
                return err->code ? err->code : GRAVRD_ERR_INVALID;
            sec = s;
            tb = NULL;
            if (s == SEC_TABLE) {
                for (size_t t = 0; t < out->n_tables; t++)
                    if (!strcmp(out->tables[t].name, tname))
                        return lerr(&p, line, GRAVRD_ERR_INVALID, "table '%s' is defined twice", tname);
                if (!(tb = PLAN_PUSH(pool, out->tables, out->n_tables)))
                    return nomem(&p);
                tb->name = tname;
                tb->line = line;
                has_kind = 0;
            }
            continue;
        }
        if (sec == SEC_NONE)
            return lerr(&p, line, GRAVRD_ERR_PARSE, "a line before any section header ([study], [table NAME], ...)");
        char *x = NULL;
        if ((st = expand(&p, raw, line, 0, &x)))
            return st;
        char *text_x = plan_pool_strdup(pool, x);
        free(x);
        if (!text_x)
            return nomem(&p);
        switch (sec) {
        case SEC_STUDY: {
            char *k, *a, *v;
            long eq = find_assign(text_x);
            if (eq < 0)
                return lerr(&p, line, GRAVRD_ERR_PARSE, "[study]: expected 'key = value', got '%s'", text_x);
            split_assign(text_x, &k, &a, &v);
            if (*a)
                return lerr(&p, line, GRAVRD_ERR_INVALID, "[study]: unknown key '%s %s'", k, a);
            lex_pair *kv = PLAN_PUSH(pool, out->study, out->n_study);
            if (!kv)
                return nomem(&p);
            *kv = (lex_pair){k, "", v, line};
            break;
        }
        case SEC_MACROS:
            if ((st = parse_def(&p, text_x, line, 0, &out->macros, &out->n_macros)))
                return st;
            /* the plan records the value in force */
            for (size_t o = 0; o < p.n_overrides; o++)
                if (!strcmp(p.overrides[o].name, out->macros[out->n_macros - 1].name) &&
                    !(out->macros[out->n_macros - 1].value = plan_pool_strdup(pool, p.overrides[o].value)))
                    return nomem(&p);
            break;
        case SEC_OUTCOMES: st = parse_def(&p, text_x, line, 0, &out->outcomes, &out->n_outcomes); break;
        case SEC_SAMPLES: st = parse_def(&p, text_x, line, 0, &out->samples, &out->n_samples); break;
        case SEC_LABELS: st = parse_def(&p, text_x, line, 1, &out->labels, &out->n_labels); break;
        case SEC_TABLE: st = table_line(&p, tb, &has_kind, text_x, line); break;
        }
        if (st)
            return st;
    }
    if (tb && !has_kind)
        return lerr(&p, tb->line, GRAVRD_ERR_INVALID, "table %s is empty: its first line must be 'kind = ...'",
                    tb->name);
    if (out->n_tables == 0)
        return lerr(&p, 0, GRAVRD_ERR_INVALID, "no [table NAME] section");
    return GRAVRD_OK;
}
