/* args.h - small helpers shared by the subcommands' argument parsers. */
#ifndef GRAVRD_CLI_ARGS_H
#define GRAVRD_CLI_ARGS_H

/* If argv[*i] is `name` followed by a value, or `name=value`, stores the
 * value in *value, advances *i past it and returns 1; returns -1 when the
 * option is there but its value is missing; 0 when argv[*i] is another
 * argument. */
int arg_value(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses a whole decimal integer in [lo, hi]; returns 0 on success. */
int arg_int(const char *text, long lo, long hi, long *out);

/* Parses a finite double; returns 0 on success. */
int arg_double(const char *text, double *out);

/* Parses a positive, finite number of km given to option `name` of
 * `gravrd cmd`; on failure prints the one-line error
 * "gravrd CMD: NAME must be a positive number of km, not 'VALUE'" and
 * returns non-zero (the caller exits with 2). */
int arg_km(const char *cmd, const char *name, const char *value, double *out);

/* The same for a whole number in [1, hi]: "... must be a positive integer". */
int arg_count(const char *cmd, const char *name, const char *value, long hi, long *out);

#endif
