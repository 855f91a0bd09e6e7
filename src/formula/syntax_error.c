/* syntax_error.c - "syntax error at position N: ..." messages with the text
 * echoed and a caret under the offending spot, e.g.
 *
 *   syntax error at position 7: expected ')'
 *     log(x + 
 *            ^
 *
 * Positions are 0-based byte offsets, like gravrd_expr.pos. The caret column
 * counts characters rather than bytes so it lines up under UTF-8 text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formula/formula_internal.h"

/* Texts longer than this are shown as a window around the position, so the
 * caret line stays readable and the message fits GRAVRD_ERROR_MSG_LEN. */
#define ECHO_WIDTH 120
#define ECHO_BEFORE 60

static int is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

gravrd_status fml_syntax_error(const char *src, int pos, gravrd_error *err, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);

    int len = (int)strnlen(src, FML_MAX_TEXT + 1);
    if (pos < 0) pos = 0;
    if (pos > len) pos = len;

    int start = 0, stop = len;
    if (len > ECHO_WIDTH) {
        start = pos > ECHO_BEFORE ? pos - ECHO_BEFORE : 0;
        while (start > 0 && is_continuation((unsigned char)src[start])) start--;
        stop = start + ECHO_WIDTH;
        if (stop > len) stop = len;
        while (stop < len && is_continuation((unsigned char)src[stop])) stop++;
    }

    char line[ECHO_WIDTH * 2 + 16];
    size_t k = 0;
    int col = 0;
    if (start > 0) {
        memcpy(line, "...", 3);
        k = 3;
        col = 3;
    }
    for (int i = start; i < stop && k < sizeof line - 4; i++) {
        unsigned char c = (unsigned char)src[i];
        /* Line breaks and tabs would misplace the caret: show them as spaces. */
        line[k++] = (c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f') ? ' ' : (char)c;
        if (i < pos && !is_continuation(c)) col++;
    }
    if (stop < len && k + 3 < sizeof line) {
        memcpy(line + k, "...", 3);
        k += 3;
    }
    line[k] = '\0';

    return gravrd_error_set(err, GRAVRD_ERR_PARSE, "syntax error at position %d: %s\n  %s\n  %*s^", pos, what,
                            line, col, "");
}

void fml_token_describe(const fml_parser *p, const fml_token *t, char *buf, size_t size)
{
    if (t->kind == TK_END) {
        snprintf(buf, size, "end of text");
        return;
    }
    int n = t->end - t->pos;
    if (n > 40) {
        snprintf(buf, size, "'%.37s...'", p->src + t->pos);
        return;
    }
    snprintf(buf, size, "'%.*s'", n, p->src + t->pos);
}
