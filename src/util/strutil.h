/* strutil.h - small string helpers shared inside libgravrd (not public). */
#ifndef GRAVRD_UTIL_STRUTIL_H
#define GRAVRD_UTIL_STRUTIL_H

/* A malloc'ed copy of s; NULL when s is NULL or memory runs out. */
char *gravrd_strdup(const char *s);

#endif
