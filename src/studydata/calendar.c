/* calendar.c - the month of the Chinese New Year (Spring Festival), for the
 * spring_festival_month dummy. A table, not an algorithm: the lunisolar
 * calendar is fixed by astronomical observation, and a table for the
 * years of any study (2010-2030) is easy to check against its source
 * (Hong Kong Observatory, Gregorian-Lunar Calendar Conversion Table; see
 * docs/study-frame.md, which lists the dates). */
#include "gravrd/study.h"

int gravrd_spring_festival_month(int year)
{
    /* First day of the first lunar month: 2010-02-14, 2011-02-03,
     * 2012-01-23, 2013-02-10, 2014-01-31, 2015-02-19, 2016-02-08,
     * 2017-01-28, 2018-02-16, 2019-02-05, 2020-01-25, 2021-02-12,
     * 2022-02-01, 2023-01-22, 2024-02-10, 2025-01-29, 2026-02-17,
     * 2027-02-06, 2028-01-26, 2029-02-13, 2030-02-03. */
    static const unsigned char month[] = {2, 2, 1, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 1, 2, 2, 1, 2, 2};
    if (year < 2010 || year > 2030)
        return 0;
    return month[year - 2010];
}
