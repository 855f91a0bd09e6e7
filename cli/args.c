/* args.c - option parsing helpers (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int arg_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

int arg_int(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int arg_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int arg_km(const char *cmd, const char *name, const char *value, double *out)
{
    double v;
    if (arg_double(value, &v) || !(v > 0)) {
        fprintf(stderr, "gravrd %s: %s must be a positive number of km, not '%s'\n", cmd, name, value);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_count(const char *cmd, const char *name, const char *value, long hi, long *out)
{
    if (arg_int(value, 1, hi, out)) {
        fprintf(stderr, "gravrd %s: %s must be a positive integer, not '%s'\n", cmd, name, value);
        return -1;
    }
    return 0;
}
