/* xmlcheck.h - a minimal XML 1.0 well-formedness checker for the tests of
 * SVG output: prolog (<?xml ...?>), comments, elements with quoted and
 * unique attributes, character data, the five predefined entities and
 * numeric character references, exactly one root element. Counts elements
 * by name and records the root name. */
#ifndef GRAVRD_TEST_XMLCHECK_H
#define GRAVRD_TEST_XMLCHECK_H

#include <stddef.h>

typedef struct {
    const char *s;
    size_t pos;
    char root[32];
    int n_elements;
    char names[64][32];
    int counts[64];
    int n_names;
    char error[160];
} xml_check;

/* 1 if text is well-formed; otherwise 0 with x->error set. */
int xml_well_formed(const char *text, xml_check *x);
/* Number of elements with that name. */
int xml_count(const xml_check *x, const char *name);

#endif
