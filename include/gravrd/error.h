/* gravrd/error.h - status codes and the error record every libgravrd call fills.
 *
 * The library never prints and never exits: a failing call returns a non-zero
 * gravrd_status and writes a message a user can act on (file, row, column,
 * value) into the caller's gravrd_error. */
#ifndef GRAVRD_ERROR_H
#define GRAVRD_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GRAVRD_OK = 0,
    GRAVRD_ERR_IO,          /* file missing, unreadable, unwritable */
    GRAVRD_ERR_PARSE,       /* malformed CSV, formula syntax error */
    GRAVRD_ERR_INVALID,     /* bad argument or option value, unknown variable */
    GRAVRD_ERR_DATA,        /* data problem: non-numeric value, missing value under strict, ... */
    GRAVRD_ERR_EMPTY,       /* empty sample after filters */
    GRAVRD_ERR_COLLINEAR,   /* all regressors collinear with the fixed effects */
    GRAVRD_ERR_CONVERGENCE, /* an iterative solver did not converge */
    GRAVRD_ERR_NOMEM,
    GRAVRD_ERR_NUMERIC      /* singular matrix or non-finite result */
} gravrd_status;

#define GRAVRD_ERROR_MSG_LEN 1024

typedef struct {
    gravrd_status code;
    char message[GRAVRD_ERROR_MSG_LEN];
} gravrd_error;

/* Sets err (if not NULL) and returns code, so callers can write
 * `return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open", path);` */
gravrd_status gravrd_error_set(gravrd_error *err, gravrd_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clears err to GRAVRD_OK with an empty message. */
void gravrd_error_clear(gravrd_error *err);

/* A short English name for a status ("I/O error", "parse error", ...). */
const char *gravrd_status_name(gravrd_status code);

#ifdef __cplusplus
}
#endif
#endif
