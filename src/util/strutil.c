/* strutil.c - see strutil.h. */
#include "util/strutil.h"

#include <stdlib.h>
#include <string.h>

char *gravrd_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}
