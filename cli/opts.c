/* opts.c - the table-driven option parser of the subcommands (see opts.h).
 *
 * A small hand parser rather than glibc's getopt_long: getopt_long keeps its
 * state in globals (optind, optarg), accepts abbreviations (--tol for a
 * --tolerance), permutes argv, prints its own messages in its own shape and
 * knows nothing of ranges, choices or repeats, all of which would need a
 * second pass over its results anyway. Here one loop does it all from the
 * table, with exact names only. */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest table opt_parse takes (simulate's, with every simulator
 * parameter, is the biggest); it tracks repeats in a fixed array. */
#define OPT_MAX_OPTIONS 128

/* Help lines wrap before this column. */
#define OPT_HELP_WIDTH 79

static void opt_usage(const opt_command *cmd, FILE *out);

int opt_error(const opt_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gravrd %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* Whole decimal number in [lo, hi], nothing after it. */
static int parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Finite number, nothing after it. */
static int parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Whether v lies in the option's range, with its open or closed bounds. */
static int number_in_range(const opt_option *o, double v)
{
    int lo_ok = o->bounds & OPT_LO_OPEN ? v > o->lo : v >= o->lo;
    int hi_ok = o->bounds & OPT_HI_OPEN ? v < o->hi : v <= o->hi;
    return lo_ok && hi_ok;
}

/* Writes the listed (non-alias) names of a choice list, joined by sep; with
 * last_sep (" or ") before the last one when given. */
static void choice_names(const opt_option *o, char *buf, size_t cap, const char *sep, const char *last_sep)
{
    size_t n = 0, k = 0, len = 0;
    for (const opt_choice *c = o->choices; c->name; c++)
        n += !c->alias;
    buf[0] = '\0';
    for (const opt_choice *c = o->choices; c->name && len < cap; c++) {
        if (c->alias)
            continue;
        const char *s = k == 0 ? "" : (last_sep && k == n - 1) ? last_sep : sep;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", s, c->name);
        k++;
    }
}

/* What a valid value of the option is, as the tail of "--X must be ...". */
static void describe_value(const opt_option *o, char *buf, size_t cap)
{
    switch (o->kind) {
    case OPT_KIND_INT:
        snprintf(buf, cap, "an integer in %ld..%ld", o->int_lo, o->int_hi);
        break;
    case OPT_KIND_COUNT:
        snprintf(buf, cap, "a positive integer");
        break;
    case OPT_KIND_NUMBER:
        if (isinf(o->hi))
            snprintf(buf, cap, "a number %s %g", o->bounds & OPT_LO_OPEN ? ">" : ">=", o->lo);
        else
            snprintf(buf, cap, "a number in %c%g, %g%c", o->bounds & OPT_LO_OPEN ? '(' : '[', o->lo, o->hi,
                     o->bounds & OPT_HI_OPEN ? ')' : ']');
        break;
    case OPT_KIND_KM:
        snprintf(buf, cap, "a positive number of km");
        break;
    case OPT_KIND_CHOICE: {
        size_t n = 0;
        for (const opt_choice *c = o->choices; c->name; c++)
            n += !c->alias;
        /* one choice reads "a"; two, "a or b"; more, "one of a, b, c" */
        if (n <= 2)
            choice_names(o, buf, cap, ", ", " or ");
        else {
            size_t len = (size_t)snprintf(buf, cap, "one of ");
            if (len < cap)
                choice_names(o, buf + len, cap - len, ", ", NULL);
        }
        break;
    }
    default:
        snprintf(buf, cap, "a value");
    }
}

/* Checks value against the option and stores it in its field; on a bad
 * value prints the error and returns 2, else 0. */
static int store_value(const opt_command *cmd, const opt_option *o, const char *value, void *args)
{
    char *field = (char *)args + o->offset;
    long l;
    double d;
    switch (o->kind) {
    case OPT_KIND_STRING:
        *(const char **)field = value;
        return 0;
    case OPT_KIND_LIST: {
        opt_list *list = (opt_list *)field;
        if (list->n >= OPT_LIST_MAX)
            return opt_error(cmd, "--%s given more than %d times", o->name, OPT_LIST_MAX);
        list->items[list->n++] = value;
        return 0;
    }
    case OPT_KIND_INT:
    case OPT_KIND_COUNT:
        if (!parse_long(value, o->int_lo, o->int_hi, &l)) {
            *(int *)field = (int)l;
            return 0;
        }
        break;
    case OPT_KIND_NUMBER:
        if (!parse_double(value, &d) && number_in_range(o, d)) {
            *(double *)field = d;
            return 0;
        }
        break;
    case OPT_KIND_KM:
        if (!parse_double(value, &d) && d > 0) {
            *(double *)field = d;
            return 0;
        }
        break;
    case OPT_KIND_CHOICE:
        for (const opt_choice *c = o->choices; c->name; c++)
            if (!strcmp(c->name, value)) {
                *(int *)field = c->value;
                return 0;
            }
        break;
    default:
        break;
    }
    char what[256];
    describe_value(o, what, sizeof what);
    if (o->hint)
        return opt_error(cmd, "--%s must be %s (%s), not '%s'", o->name, what, o->hint, value);
    return opt_error(cmd, "--%s must be %s, not '%s'", o->name, what, value);
}

/* The option named by the len bytes at name, or NULL. */
static const opt_option *find_option(const opt_command *cmd, const char *name, size_t len, size_t *index)
{
    for (size_t k = 0; k < cmd->n_options; k++) {
        const opt_option *o = &cmd->options[k];
        if (o->kind != OPT_KIND_SECTION && strlen(o->name) == len && !strncmp(o->name, name, len)) {
            *index = k;
            return o;
        }
    }
    return NULL;
}

/* An argument that is an option, not a value: "--x". A value starting with
 * "--" is given as --opt=VALUE, so that a forgotten value is reported as
 * missing rather than the next option being taken for it. */
static int looks_like_option(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-' && arg[2] != '\0';
}

/* The "(see gravrd NAME --help)" reminder of the errors about what is
 * missing or unexpected. */
static void see_help(const opt_command *cmd, char *buf, size_t cap)
{
    snprintf(buf, cap, "see gravrd %s --help", cmd->name);
}

int opt_parse(const opt_command *cmd, int argc, char **argv, void *args)
{
    unsigned char seen[OPT_MAX_OPTIONS] = {0};
    size_t n_positional = 0;
    char see[64];
    see_help(cmd, see, sizeof see);
    if (cmd->n_options > OPT_MAX_OPTIONS)
        return opt_error(cmd, "internal error: more than %d options", OPT_MAX_OPTIONS);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            opt_usage(cmd, stdout);
            return 0;
        }
        if (!looks_like_option(arg)) {
            if (n_positional >= cmd->n_positionals)
                return opt_error(cmd, "unexpected argument '%s' (%s)", arg,
                                 cmd->extra_hint ? cmd->extra_hint : see);
            const opt_positional *p = &cmd->positionals[n_positional++];
            *(const char **)((char *)args + p->offset) = arg;
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name), k;
        const opt_option *o = find_option(cmd, name, len, &k);
        if (!o)
            return opt_error(cmd, "unknown option '--%.*s' (%s)", (int)(len < 100 ? len : 100), name, see);
        if (seen[k] && o->kind != OPT_KIND_LIST)
            return opt_error(cmd, "--%s given twice", o->name);
        seen[k] = 1;
        if (o->kind == OPT_KIND_FLAG) {
            if (eq)
                return opt_error(cmd, "--%s takes no value", o->name);
            *(int *)((char *)args + o->offset) = 1;
            continue;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc && !looks_like_option(argv[i + 1]))
            value = argv[++i];
        else
            return opt_error(cmd, "--%s needs a value", o->name);
        if (store_value(cmd, o, value, args))
            return 2;
    }
    for (size_t p = n_positional; p < cmd->n_positionals; p++)
        if (cmd->positionals[p].required)
            return opt_error(cmd, "%s is required (%s)", cmd->positionals[p].name, see);
    for (size_t k = 0; k < cmd->n_options; k++) {
        const opt_option *o = &cmd->options[k];
        if (o->required && !seen[k])
            return opt_error(cmd, "--%s %s is required (%s)", o->name, o->metavar ? o->metavar : "", see);
    }
    return OPT_RUN;
}

/* The left column of an option's help line: "--name META". */
static void option_label(const opt_option *o, char *buf, size_t cap)
{
    if (o->kind == OPT_KIND_FLAG)
        snprintf(buf, cap, "--%s", o->name);
    else if (o->kind == OPT_KIND_CHOICE && !o->metavar) {
        size_t len = (size_t)snprintf(buf, cap, "--%s ", o->name);
        if (len < cap)
            choice_names(o, buf + len, cap - len, "|", NULL);
    } else
        snprintf(buf, cap, "--%s %s", o->name, o->metavar);
}

/* Writes text word by word from column col, wrapping at OPT_HELP_WIDTH to
 * column indent, and ends the line. */
static void print_wrapped(FILE *out, const char *text, int col, int indent)
{
    int need_space = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p && *p != ' ')
            p++;
        int len = (int)(p - word);
        if (!len)
            break;
        if (need_space && col + 1 + len > OPT_HELP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (need_space) {
            fputc(' ', out);
            col++;
        }
        fwrite(word, 1, (size_t)len, out);
        col += len;
        need_space = 1;
    }
    fputc('\n', out);
}

/* One help entry: the label padded to column, then the wrapped help. */
static void print_entry(FILE *out, const char *label, const char *help, int column)
{
    int col = fprintf(out, "  %s", label);
    if (col + 2 > column)
        col += fprintf(out, "  ");
    else
        col += fprintf(out, "%*s", column - col, "");
    print_wrapped(out, help, col, column);
}

/* Writes the command's help, generated from its tables. */
static void opt_usage(const opt_command *cmd, FILE *out)
{
    char label[256], help[1024];
    fprintf(out, "usage: gravrd %s", cmd->name);
    if (cmd->synopsis)
        fprintf(out, " %s\n\n", cmd->synopsis);
    for (size_t p = 0; p < cmd->n_positionals && !cmd->synopsis; p++)
        fprintf(out, cmd->positionals[p].required ? " %s" : " [%s]", cmd->positionals[p].name);
    for (size_t k = 0; k < cmd->n_options && !cmd->synopsis; k++)
        if (cmd->options[k].required) {
            option_label(&cmd->options[k], label, sizeof label);
            fprintf(out, " %s", label);
        }
    if (!cmd->synopsis)
        fputs(" [options]\n\n", out);
    if (cmd->about)
        fprintf(out, "%s\n", cmd->about);
    /* the help column: past the longest label, within bounds so that one
     * long label does not squeeze every help text */
    int column = 20;
    for (size_t k = 0; k < cmd->n_options; k++)
        if (cmd->options[k].kind != OPT_KIND_SECTION) {
            option_label(&cmd->options[k], label, sizeof label);
            int w = (int)strlen(label) + 4;
            if (w > column && w <= 26)
                column = w;
        }
    for (size_t p = 0; p < cmd->n_positionals; p++)
        print_entry(out, cmd->positionals[p].name, cmd->positionals[p].help, column);
    fputs("options:\n", out);
    for (size_t k = 0; k < cmd->n_options; k++) {
        const opt_option *o = &cmd->options[k];
        if (o->kind == OPT_KIND_SECTION) {
            fprintf(out, "  %s\n", o->help);
            continue;
        }
        option_label(o, label, sizeof label);
        size_t len = (size_t)snprintf(help, sizeof help, "%s", o->help ? o->help : "");
        if (o->def && len < sizeof help)
            len += (size_t)snprintf(help + len, sizeof help - len, " (default %s)", o->def);
        if (o->required && len < sizeof help)
            len += (size_t)snprintf(help + len, sizeof help - len, " (required)");
        if (o->kind == OPT_KIND_LIST && len < sizeof help)
            snprintf(help + len, sizeof help - len, " (may be repeated)");
        print_entry(out, label, help, column);
    }
    print_entry(out, "-h, --help", "print this help and exit", column);
    if (cmd->epilog)
        fprintf(out, "\n%s", cmd->epilog);
}
