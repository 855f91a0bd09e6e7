/* embedded.h - the real geography (data/cities.csv, data/partnerships.csv)
 * compiled into libgravrd at build time by cmake/embed.cmake, so the
 * default world needs no file at run time. */
#ifndef GRAVRD_SIM_EMBEDDED_H
#define GRAVRD_SIM_EMBEDDED_H

#include <stddef.h>

extern const unsigned char gravrd_embedded_cities_csv[];
extern const size_t gravrd_embedded_cities_csv_len;
extern const unsigned char gravrd_embedded_partnerships_csv[];
extern const size_t gravrd_embedded_partnerships_csv_len;

#endif
