/* error.c - filling gravrd_error records (see include/gravrd/error.h). */
#include "gravrd/error.h"

#include <stdarg.h>
#include <stdio.h>

gravrd_status gravrd_error_set(gravrd_error *err, gravrd_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void gravrd_error_clear(gravrd_error *err)
{
    if (err) {
        err->code = GRAVRD_OK;
        err->message[0] = '\0';
    }
}

const char *gravrd_status_name(gravrd_status code)
{
    switch (code) {
    case GRAVRD_OK: return "ok";
    case GRAVRD_ERR_IO: return "I/O error";
    case GRAVRD_ERR_PARSE: return "parse error";
    case GRAVRD_ERR_INVALID: return "invalid input";
    case GRAVRD_ERR_DATA: return "data error";
    case GRAVRD_ERR_EMPTY: return "empty sample";
    case GRAVRD_ERR_COLLINEAR: return "collinearity";
    case GRAVRD_ERR_CONVERGENCE: return "no convergence";
    case GRAVRD_ERR_NOMEM: return "out of memory";
    case GRAVRD_ERR_NUMERIC: return "numerical error";
    }
    return "unknown error";
}
