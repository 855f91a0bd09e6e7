/* distance.c - great-circle distance (haversine on a sphere of the mean Earth
 * radius). A sphere is off the ellipsoid by up to about 0.5%, far below the
 * precision of "city centre" coordinates, and it is what the paper's
 * distances (from Baidu Map city centres) can be compared with. */
#include "gravrd/spatial.h"

#include <math.h>

double gravrd_haversine_km(double lat1, double lng1, double lat2, double lng2)
{
    const double rad = 3.14159265358979323846 / 180.0;
    /* sin^2 of half-differences: symmetric in the two points bit for bit
     * (sin is odd, the square drops the sign, the product of cosines
     * commutes), so d(a, b) == d(b, a) exactly and clustering ties cannot
     * depend on argument order. */
    double s_lat = sin((lat2 - lat1) * rad / 2.0), s_lng = sin((lng2 - lng1) * rad / 2.0);
    double h = s_lat * s_lat + cos(lat1 * rad) * cos(lat2 * rad) * s_lng * s_lng;
    if (h > 1.0)
        h = 1.0; /* rounding near antipodes */
    return 2.0 * GRAVRD_EARTH_RADIUS_KM * asin(sqrt(h));
}
