/* xmlcheck.c - see xmlcheck.h. */
#include "xmlcheck.h"

#include <stdio.h>
#include <string.h>

static int xfail(xml_check *x, const char *what)
{
    if (!x->error[0])
        snprintf(x->error, sizeof x->error, "%s at offset %zu", what, x->pos);
    return 0;
}

static int name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static void skip_ws(xml_check *x)
{
    while (x->s[x->pos] == ' ' || x->s[x->pos] == '\n' || x->s[x->pos] == '\t' || x->s[x->pos] == '\r')
        x->pos++;
}

static int read_name(xml_check *x, char *out, size_t cap)
{
    size_t start = x->pos;
    if (!name_start(x->s[x->pos]))
        return xfail(x, "expected a name");
    while (name_char(x->s[x->pos]))
        x->pos++;
    size_t len = x->pos - start;
    if (len >= cap)
        return xfail(x, "name too long");
    memcpy(out, x->s + start, len);
    out[len] = 0;
    return 1;
}

/* An entity or character reference starting at '&'. */
static int read_reference(xml_check *x)
{
    static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (!strncmp(x->s + x->pos, named[i], strlen(named[i]))) {
            x->pos += strlen(named[i]);
            return 1;
        }
    if (x->s[x->pos + 1] == '#') {
        size_t p = x->pos + 2;
        int hex = x->s[p] == 'x';
        if (hex)
            p++;
        size_t digits = 0;
        while ((x->s[p] >= '0' && x->s[p] <= '9') ||
               (hex && ((x->s[p] >= 'a' && x->s[p] <= 'f') || (x->s[p] >= 'A' && x->s[p] <= 'F')))) {
            p++;
            digits++;
        }
        if (digits && x->s[p] == ';') {
            x->pos = p + 1;
            return 1;
        }
    }
    return xfail(x, "bad reference");
}

static int read_char_data(xml_check *x)
{
    while (x->s[x->pos] && x->s[x->pos] != '<') {
        unsigned char c = (unsigned char)x->s[x->pos];
        if (c == '&') {
            if (!read_reference(x))
                return 0;
            continue;
        }
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
            return xfail(x, "control character in text");
        if (c == '>' && x->pos >= 2 && !strncmp(x->s + x->pos - 2, "]]", 2))
            return xfail(x, "]]> in text");
        x->pos++;
    }
    return 1;
}

static int skip_comment(xml_check *x)
{
    const char *end = strstr(x->s + x->pos + 4, "-->");
    if (!end)
        return xfail(x, "unterminated comment");
    x->pos = (size_t)(end - x->s) + 3;
    return 1;
}

static void count_name(xml_check *x, const char *name)
{
    for (int i = 0; i < x->n_names; i++)
        if (!strcmp(x->names[i], name)) {
            x->counts[i]++;
            return;
        }
    if (x->n_names < 64) {
        snprintf(x->names[x->n_names], sizeof x->names[0], "%s", name);
        x->counts[x->n_names++] = 1;
    }
}

static int read_element(xml_check *x, int depth)
{
    char name[32], attrs[32][32];
    int n_attrs = 0;
    if (depth > 64)
        return xfail(x, "too deep");
    x->pos++; /* '<' */
    if (!read_name(x, name, sizeof name))
        return 0;
    if (depth == 0)
        snprintf(x->root, sizeof x->root, "%s", name);
    x->n_elements++;
    count_name(x, name);
    for (;;) {
        size_t before = x->pos;
        skip_ws(x);
        char c = x->s[x->pos];
        if (c == '/' && x->s[x->pos + 1] == '>') {
            x->pos += 2;
            return 1;
        }
        if (c == '>') {
            x->pos++;
            break;
        }
        if (x->pos == before)
            return xfail(x, "attributes must be separated by white space");
        char an[32];
        if (!read_name(x, an, sizeof an))
            return 0;
        for (int i = 0; i < n_attrs; i++)
            if (!strcmp(attrs[i], an))
                return xfail(x, "duplicate attribute");
        if (n_attrs < 32)
            snprintf(attrs[n_attrs++], sizeof attrs[0], "%s", an);
        skip_ws(x);
        if (x->s[x->pos] != '=')
            return xfail(x, "expected '='");
        x->pos++;
        skip_ws(x);
        char q = x->s[x->pos];
        if (q != '"' && q != '\'')
            return xfail(x, "attribute value not quoted");
        x->pos++;
        while (x->s[x->pos] && x->s[x->pos] != q) {
            if (x->s[x->pos] == '<')
                return xfail(x, "'<' in attribute value");
            if (x->s[x->pos] == '&') {
                if (!read_reference(x))
                    return 0;
            } else
                x->pos++;
        }
        if (!x->s[x->pos])
            return xfail(x, "unterminated attribute value");
        x->pos++;
    }
    /* content */
    for (;;) {
        if (!read_char_data(x))
            return 0;
        if (!x->s[x->pos])
            return xfail(x, "unclosed element");
        if (!strncmp(x->s + x->pos, "<!--", 4)) {
            if (!skip_comment(x))
                return 0;
        } else if (x->s[x->pos + 1] == '/') {
            char close[32];
            x->pos += 2;
            if (!read_name(x, close, sizeof close))
                return 0;
            if (strcmp(close, name))
                return xfail(x, "mismatched end tag");
            skip_ws(x);
            if (x->s[x->pos] != '>')
                return xfail(x, "expected '>'");
            x->pos++;
            return 1;
        } else if (!read_element(x, depth + 1))
            return 0;
    }
}

int xml_well_formed(const char *text, xml_check *x)
{
    memset(x, 0, sizeof *x);
    x->s = text;
    if (!strncmp(text, "<?xml", 5)) {
        const char *end = strstr(text, "?>");
        if (!end)
            return xfail(x, "unterminated prolog");
        x->pos = (size_t)(end - text) + 2;
    }
    int roots = 0;
    for (;;) {
        skip_ws(x);
        if (!x->s[x->pos])
            break;
        if (!strncmp(x->s + x->pos, "<!--", 4)) {
            if (!skip_comment(x))
                return 0;
            continue;
        }
        if (x->s[x->pos] != '<')
            return xfail(x, "text outside the root element");
        if (roots++)
            return xfail(x, "more than one root element");
        if (!read_element(x, 0))
            return 0;
    }
    return roots == 1 ? 1 : xfail(x, "no root element");
}

int xml_count(const xml_check *x, const char *name)
{
    for (int i = 0; i < x->n_names; i++)
        if (!strcmp(x->names[i], name))
            return x->counts[i];
    return 0;
}
