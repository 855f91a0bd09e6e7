/* lexer.c - splits formula / expression text into tokens.
 *
 * The whole text is tokenised up front: the parsers then look ahead freely
 * (e.g. a name followed by '(' is a call) and every token keeps its offset for
 * error messages. Lexical rules follow R where it matters to users: names of
 * letters, digits, '.' and '_' (not starting with a digit, bytes >= 0x80
 * accepted so UTF-8 column names work), `back quoted` names, numbers such as
 * 1, 1.5, .5, 1e-3, strings in "..." or '...', and TRUE/FALSE/Inf/NaN/NA as
 * numeric constants. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

typedef struct {
    fml_token *toks;
    int n, cap;
} tok_vec;

static int push(tok_vec *v, fml_token t)
{
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 16;
        fml_token *nt = realloc(v->toks, (size_t)cap * sizeof *nt);
        if (!nt) return 0;
        v->toks = nt;
        v->cap = cap;
    }
    v->toks[v->n++] = t;
    return 1;
}

void fml_tokens_free(fml_token *toks, int n)
{
    if (!toks) return;
    for (int i = 0; i < n; i++) free(toks[i].text);
    free(toks);
}

static int is_name_start(unsigned char c) { return isalpha(c) || c == '.' || c == '_' || c >= 0x80; }
static int is_name_char(unsigned char c) { return isalnum(c) || c == '.' || c == '_' || c >= 0x80; }

/* R's reserved words. The constants among them become numbers; the others
 * cannot be names unless back quoted (as in R). */
static const char *const reserved_words[] = {
    "if", "else", "repeat", "while", "function", "for", "next", "break", "in", "NULL",
    "NA_integer_", "NA_real_", "NA_character_", "NA_complex_", NULL
};

static int constant_value(const char *s, double *v)
{
    if (!strcmp(s, "TRUE")) { *v = 1.0; return 1; }
    if (!strcmp(s, "FALSE")) { *v = 0.0; return 1; }
    if (!strcmp(s, "Inf")) { *v = INFINITY; return 1; }
    if (!strcmp(s, "NaN") || !strcmp(s, "NA")) { *v = NAN; return 1; }
    return 0;
}

static char *dup_range(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

gravrd_status fml_lex(const char *src, fml_token **out, int *n_out, gravrd_error *err)
{
    *out = NULL;
    *n_out = 0;
    size_t slen = strlen(src);
    if (slen > FML_MAX_TEXT)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "expression is too long (%zu characters)", slen);
    const int len = (int)slen;
    tok_vec v = {0};
    gravrd_status st = GRAVRD_OK;
    int i = 0, last_end = 0;

    for (;;) {
        while (i < len && isspace((unsigned char)src[i])) i++;
        fml_token t = {0};
        t.pos = i;
        if (i >= len) {
            /* End of text: point just past the last token, so a caret under
             * "log(x +" lands right after the '+' even with trailing spaces. */
            t.kind = TK_END;
            t.pos = t.end = last_end;
            if (!push(&v, t)) goto nomem;
            break;
        }
        unsigned char c = (unsigned char)src[i];
        unsigned char c1 = i + 1 < len ? (unsigned char)src[i + 1] : 0;

        if (isdigit(c) || (c == '.' && isdigit(c1))) {
            int j = i;
            while (j < len && isdigit((unsigned char)src[j])) j++;
            if (j < len && src[j] == '.') {
                j++;
                while (j < len && isdigit((unsigned char)src[j])) j++;
            }
            if (j < len && (src[j] == 'e' || src[j] == 'E')) {
                int k = j + 1;
                if (k < len && (src[k] == '+' || src[k] == '-')) k++;
                if (k >= len || !isdigit((unsigned char)src[k])) {
                    st = fml_syntax_error(src, i, err, "malformed number '%.*s'", k - i, src + i);
                    goto fail;
                }
                while (k < len && isdigit((unsigned char)src[k])) k++;
                j = k;
            }
            char *lexeme = dup_range(src + i, (size_t)(j - i));
            if (!lexeme) goto nomem;
            /* strtod follows LC_NUMERIC; libgravrd never calls setlocale, and
             * the lexeme only holds digits, '.', 'e' and a sign. */
            t.num = strtod(lexeme, NULL);
            free(lexeme);
            t.kind = TK_NUM;
            t.end = j;
        } else if (is_name_start(c)) {
            int j = i + 1;
            while (j < len && is_name_char((unsigned char)src[j])) j++;
            char *name = dup_range(src + i, (size_t)(j - i));
            if (!name) goto nomem;
            t.end = j;
            if (constant_value(name, &t.num)) {
                free(name);
                t.kind = TK_NUM;
            } else {
                for (const char *const *w = reserved_words; *w; w++) {
                    if (!strcmp(name, *w)) {
                        st = fml_syntax_error(src, i, err,
                                              "'%s' is a reserved word; write `%s` for a column of that name",
                                              name, name);
                        free(name);
                        goto fail;
                    }
                }
                t.kind = TK_NAME;
                t.text = name;
            }
        } else if (c == '`') {
            int j = i + 1;
            while (j < len && src[j] != '`') j++;
            if (j >= len) {
                st = fml_syntax_error(src, i, err, "unterminated back quote");
                goto fail;
            }
            if (j == i + 1) {
                st = fml_syntax_error(src, i, err, "empty back-quoted name");
                goto fail;
            }
            t.text = dup_range(src + i + 1, (size_t)(j - i - 1));
            if (!t.text) goto nomem;
            t.kind = TK_NAME;
            t.quoted = 1;
            t.end = j + 1;
        } else if (c == '"' || c == '\'') {
            /* Decoded in place into a buffer no longer than the source. */
            char *buf = malloc((size_t)(len - i) + 1);
            if (!buf) goto nomem;
            int j = i + 1, k = 0;
            while (j < len && (unsigned char)src[j] != c) {
                if (src[j] == '\\' && j + 1 < len) {
                    char e = src[j + 1];
                    switch (e) {
                    case 'n': buf[k++] = '\n'; break;
                    case 't': buf[k++] = '\t'; break;
                    case 'r': buf[k++] = '\r'; break;
                    default: buf[k++] = e; break; /* \\ \" \' and anything else: literal */
                    }
                    j += 2;
                } else {
                    buf[k++] = src[j++];
                }
            }
            if (j >= len) {
                free(buf);
                st = fml_syntax_error(src, i, err, "unterminated string");
                goto fail;
            }
            buf[k] = '\0';
            t.kind = TK_STR;
            t.text = buf;
            t.end = j + 1;
        } else {
            t.end = i + 1;
            switch (c) {
            case '(': t.kind = TK_LPAREN; break;
            case ')': t.kind = TK_RPAREN; break;
            case ',': t.kind = TK_COMMA; break;
            case '+': t.kind = TK_PLUS; break;
            case '-': t.kind = TK_MINUS; break;
            case '/': t.kind = TK_SLASH; break;
            case '^': t.kind = TK_CARET; break;
            case ':': t.kind = TK_COLON; break;
            case '~': t.kind = TK_TILDE; break;
            case '*':
                /* R reads ** as ^ */
                if (c1 == '*') { t.kind = TK_CARET; t.end = i + 2; }
                else t.kind = TK_STAR;
                break;
            case '=':
                if (c1 == '=') { t.kind = TK_EQ; t.end = i + 2; break; }
                st = fml_syntax_error(src, i, err, "unexpected '='; use '==' to compare");
                goto fail;
            case '!':
                if (c1 == '=') { t.kind = TK_NE; t.end = i + 2; }
                else t.kind = TK_NOT;
                break;
            case '<':
                if (c1 == '=') { t.kind = TK_LE; t.end = i + 2; }
                else t.kind = TK_LT;
                break;
            case '>':
                if (c1 == '=') { t.kind = TK_GE; t.end = i + 2; }
                else t.kind = TK_GT;
                break;
            case '&':
                if (c1 == '&') {
                    st = fml_syntax_error(src, i, err, "'&&' is not supported; use '&' (element by element)");
                    goto fail;
                }
                t.kind = TK_AND;
                break;
            case '|':
                if (c1 == '|') {
                    st = fml_syntax_error(src, i, err, "'||' is not supported; use '|' (element by element)");
                    goto fail;
                }
                t.kind = TK_OR;
                break;
            default:
                if (isprint(c))
                    st = fml_syntax_error(src, i, err, "unknown character '%c'", c);
                else
                    st = fml_syntax_error(src, i, err, "unknown character (byte 0x%02x)", c);
                goto fail;
            }
        }
        if (!push(&v, t)) {
            free(t.text);
            goto nomem;
        }
        i = t.end;
        last_end = t.end;
    }
    *out = v.toks;
    *n_out = v.n;
    return GRAVRD_OK;

nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while reading an expression");
fail:
    fml_tokens_free(v.toks, v.n);
    return st;
}
