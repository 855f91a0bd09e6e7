/* json.c - recursive-descent JSON reader (see json.h). */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text, *p;
    gravrd_error *err;
    int depth;
} json_parser;

static gravrd_status parse_error(json_parser *ps, const char *what)
{
    int line = 1, col = 1;
    for (const char *c = ps->text; c < ps->p; c++) {
        if (*c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return gravrd_error_set(ps->err, GRAVRD_ERR_PARSE, "JSON line %d, column %d: %s", line, col, what);
}

static void skip_space(json_parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static gravrd_status parse_value(json_parser *ps, json_value **out);

static void put_utf8(char **w, unsigned cp)
{
    if (cp < 0x80) {
        *(*w)++ = (char)cp;
    } else if (cp < 0x800) {
        *(*w)++ = (char)(0xC0 | (cp >> 6));
        *(*w)++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *(*w)++ = (char)(0xE0 | (cp >> 12));
        *(*w)++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *(*w)++ = (char)(0x80 | (cp & 0x3F));
    }
}

static gravrd_status parse_string(json_parser *ps, char **out)
{
    const char *start = ++ps->p; /* after the quote */
    size_t cap = 0;
    for (const char *c = start; *c && *c != '"'; c++) {
        cap++;
        if (*c == '\\' && c[1])
            c++;
    }
    char *s = malloc(cap * 3 + 1), *w = s;
    if (!s)
        return gravrd_error_set(ps->err, GRAVRD_ERR_NOMEM, "out of memory reading JSON");
    while (*ps->p && *ps->p != '"') {
        char c = *ps->p++;
        if (c != '\\') {
            *w++ = c;
            continue;
        }
        c = *ps->p++;
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                char h = *ps->p++;
                cp <<= 4;
                if (h >= '0' && h <= '9')
                    cp |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f')
                    cp |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F')
                    cp |= (unsigned)(h - 'A' + 10);
                else {
                    free(s);
                    return parse_error(ps, "bad \\u escape");
                }
            }
            put_utf8(&w, cp);
            break;
        }
        default: free(s); return parse_error(ps, "bad escape in string");
        }
    }
    if (*ps->p != '"') {
        free(s);
        return parse_error(ps, "unterminated string");
    }
    ps->p++;
    *w = '\0';
    *out = s;
    return GRAVRD_OK;
}

static gravrd_status push_item(json_parser *ps, json_value *v, char *key, json_value *item)
{
    json_value **items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (!items)
        goto nomem;
    v->items = items;
    if (v->type == JSON_OBJECT) {
        char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
        if (!keys)
            goto nomem;
        v->keys = keys;
        v->keys[v->n] = key;
    }
    v->items[v->n++] = item;
    return GRAVRD_OK;
nomem:
    free(key);
    json_free(item);
    return gravrd_error_set(ps->err, GRAVRD_ERR_NOMEM, "out of memory reading JSON");
}

static gravrd_status parse_container(json_parser *ps, json_value *v, char close)
{
    ps->p++;
    skip_space(ps);
    if (*ps->p == close) {
        ps->p++;
        return GRAVRD_OK;
    }
    for (;;) {
        char *key = NULL;
        gravrd_status st;
        skip_space(ps);
        if (v->type == JSON_OBJECT) {
            if (*ps->p != '"')
                return parse_error(ps, "expected a string key");
            if ((st = parse_string(ps, &key)))
                return st;
            skip_space(ps);
            if (*ps->p != ':') {
                free(key);
                return parse_error(ps, "expected ':'");
            }
            ps->p++;
        }
        json_value *item = NULL;
        if ((st = parse_value(ps, &item))) {
            free(key);
            return st;
        }
        if ((st = push_item(ps, v, key, item)))
            return st;
        skip_space(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return GRAVRD_OK;
        }
        return parse_error(ps, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static gravrd_status parse_value(json_parser *ps, json_value **out)
{
    skip_space(ps);
    if (++ps->depth > 200)
        return parse_error(ps, "nesting too deep");
    json_value *v = calloc(1, sizeof *v);
    if (!v)
        return gravrd_error_set(ps->err, GRAVRD_ERR_NOMEM, "out of memory reading JSON");
    gravrd_status st = GRAVRD_OK;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        st = parse_container(ps, v, c == '{' ? '}' : ']');
    } else if (c == '"') {
        v->type = JSON_STRING;
        st = parse_string(ps, &v->string);
    } else if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
        v->type = JSON_BOOL;
        v->number = c == 't';
        ps->p += c == 't' ? 4 : 5;
    } else if (!strncmp(ps->p, "null", 4)) {
        v->type = JSON_NULL;
        v->number = NAN;
        ps->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        v->type = JSON_NUMBER;
        v->number = strtod(ps->p, &end);
        ps->p = end;
    } else {
        st = parse_error(ps, "unexpected character");
    }
    ps->depth--;
    if (st) {
        json_free(v);
        return st;
    }
    *out = v;
    return GRAVRD_OK;
}

gravrd_status json_parse(const char *text, json_value **out, gravrd_error *err)
{
    json_parser ps = {text, text, err, 0};
    *out = NULL;
    gravrd_status st = parse_value(&ps, out);
    if (st)
        return st;
    skip_space(&ps);
    if (*ps.p) {
        json_free(*out);
        *out = NULL;
        return parse_error(&ps, "trailing characters after the JSON value");
    }
    return GRAVRD_OK;
}

gravrd_status json_parse_file(const char *path, json_value **out, gravrd_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory", path);
    buf[len] = '\0';
    gravrd_status st = json_parse(buf, out, err);
    free(buf);
    if (st && err) {
        char msg[GRAVRD_ERROR_MSG_LEN];
        memcpy(msg, err->message, sizeof msg);
        msg[sizeof msg - 1 - (sizeof msg > 200 ? 200 : 0)] = '\0'; /* leave room for the path */
        gravrd_error_set(err, st, "%.200s: %s", path, msg);
    }
    return st;
}

void json_free(json_value *v)
{
    if (!v)
        return;
    for (size_t j = 0; j < v->n; j++) {
        if (v->keys)
            free(v->keys[j]);
        json_free(v->items[j]);
    }
    free(v->keys);
    free(v->items);
    free(v->string);
    free(v);
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t j = 0; j < obj->n; j++)
        if (!strcmp(obj->keys[j], key))
            return obj->items[j];
    return NULL;
}

double json_get_number(const json_value *obj, const char *key)
{
    const json_value *v = json_get(obj, key);
    return v && v->type == JSON_NUMBER ? v->number : NAN;
}

const char *json_get_string(const json_value *obj, const char *key)
{
    const json_value *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->string : NULL;
}
