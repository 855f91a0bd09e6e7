/* opts.h - the one table-driven command-line parser of the gravrd subcommands:
 * each command declares its options and positional arguments once, in static
 * tables; opt_parse checks argv against them, stores the values in the
 * command's argument struct and prints the help and the one-line errors. */
#ifndef GRAVRD_CLI_OPTS_H
#define GRAVRD_CLI_OPTS_H

#include <stddef.h>

/* What an option takes, and so the type of the field it is stored in. */
typedef enum {
    OPT_KIND_FLAG,    /* --name, no value: int field set to 1 */
    OPT_KIND_STRING,  /* --name TEXT: const char * field (points into argv) */
    OPT_KIND_INT,     /* whole number in [int_lo, int_hi]: int field */
    OPT_KIND_COUNT,   /* whole number in [1, int_hi], "a positive integer": int field */
    OPT_KIND_NUMBER,  /* finite number between lo and hi, each bound open or closed: double field */
    OPT_KIND_KM,      /* positive finite number of km: double field */
    OPT_KIND_CHOICE,  /* one name of the choices list: int field gets that choice's value */
    OPT_KIND_LIST,    /* repeatable --name TEXT: opt_list field, in the order given */
    OPT_KIND_SECTION  /* not an option: a heading line in the help (help is the text) */
} opt_kind;

/* Which bounds of an OPT_KIND_NUMBER range are excluded. */
typedef enum { OPT_CLOSED = 0, OPT_LO_OPEN = 1, OPT_HI_OPEN = 2, OPT_OPEN = 3 } opt_bounds;

/* One accepted value of a choice option. Aliases are accepted but not listed
 * in the help or in errors. A list ends with a NULL name. */
typedef struct {
    const char *name;
    int value;
    int alias;
} opt_choice;

/* The most values a repeatable option takes. */
#define OPT_LIST_MAX 31

/* The values of a repeatable option, in command-line order. */
typedef struct {
    const char *items[OPT_LIST_MAX];
    size_t n;
} opt_list;

/* One option of a command (a row of its table). */
typedef struct {
    const char *name;        /* long name without the leading "--" */
    opt_kind kind;
    const char *metavar;     /* the value in the help ("EXPR"); NULL for a choice: a|b|c */
    size_t offset;           /* of the field in the command's argument struct */
    long int_lo, int_hi;     /* OPT_KIND_INT, OPT_KIND_COUNT (int_hi only); within int */
    double lo, hi;           /* OPT_KIND_NUMBER; hi may be INFINITY */
    opt_bounds bounds;       /* OPT_KIND_NUMBER */
    const opt_choice *choices; /* OPT_KIND_CHOICE */
    const char *def;         /* the default shown in the help, or NULL */
    const char *hint;        /* added in parentheses to a bad-value error, or NULL */
    const char *help;        /* one paragraph; the help wraps it */
    int required;            /* the command needs it */
} opt_option;

/* One positional argument, stored in a const char * field. */
typedef struct {
    const char *name;  /* "DATA" */
    size_t offset;
    int required;
    const char *help;
} opt_positional;

/* A command's whole declaration: everything its help shows and opt_parse
 * accepts. about and epilog are printed verbatim (they hold examples and
 * exit codes that must keep their line breaks). */
typedef struct {
    const char *name;  /* "reg": messages start "gravrd reg: " */
    const char *synopsis; /* after "usage: gravrd NAME ", or NULL: from the tables */
    const char *about; /* after the usage line, or NULL */
    const opt_positional *positionals;
    size_t n_positionals;
    const opt_option *options;
    size_t n_options;
    const char *epilog;       /* after the options, or NULL */
    const char *extra_hint;   /* in parentheses after "unexpected argument 'X'", or NULL */
} opt_command;

/* _Generic makes a table row whose kind does not match its field's type a
 * compile error, so offsetof cannot silently point at the wrong type. */
#define OPT_AT(st, field, type) _Generic(((st *)0)->field, type: offsetof(st, field))
#define OPT_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Row starters: {OPT_STRING("subset", "EXPR", reg_args, subset), .help = "..."}. */
#define OPT_FLAG(nm, st, field) .name = nm, .kind = OPT_KIND_FLAG, .offset = OPT_AT(st, field, int)
#define OPT_STRING(nm, meta, st, field) \
    .name = nm, .kind = OPT_KIND_STRING, .metavar = meta, .offset = OPT_AT(st, field, const char *)
#define OPT_INT(nm, meta, st, field, lo_, hi_) \
    .name = nm, .kind = OPT_KIND_INT, .metavar = meta, .offset = OPT_AT(st, field, int), .int_lo = lo_, .int_hi = hi_
#define OPT_COUNT(nm, meta, st, field, hi_) \
    .name = nm, .kind = OPT_KIND_COUNT, .metavar = meta, .offset = OPT_AT(st, field, int), .int_lo = 1, .int_hi = hi_
#define OPT_NUMBER(nm, meta, st, field, lo_, hi_, bounds_)                                                        \
    .name = nm, .kind = OPT_KIND_NUMBER, .metavar = meta, .offset = OPT_AT(st, field, double), .lo = lo_, .hi = hi_, \
    .bounds = bounds_
#define OPT_KM(nm, st, field) .name = nm, .kind = OPT_KIND_KM, .metavar = "KM", .offset = OPT_AT(st, field, double)
#define OPT_CHOICE(nm, st, field, list) \
    .name = nm, .kind = OPT_KIND_CHOICE, .offset = OPT_AT(st, field, int), .choices = list
#define OPT_LIST(nm, meta, st, field) \
    .name = nm, .kind = OPT_KIND_LIST, .metavar = meta, .offset = OPT_AT(st, field, opt_list)
#define OPT_SECTION(text) .kind = OPT_KIND_SECTION, .help = text

/* opt_parse's result when the command should go on and run. */
#define OPT_RUN (-1)

/* Parses argv[1..argc-1] (argv[0] is the command name) into args, the
 * command's argument struct, which the caller has filled with its defaults.
 * Returns OPT_RUN, or the exit code when the command must stop: 0 after
 * printing the help to stdout (--help, -h), 2 after printing a one-line
 * error to stderr. */
int opt_parse(const opt_command *cmd, int argc, char **argv, void *args);

/* Prints "gravrd NAME: MESSAGE" and a newline to stderr and returns 2: the
 * same shape for the commands' own checks across options. */
int opt_error(const opt_command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
