#!/bin/sh
# calibration.sh - is the simulated world as precise as the paper's?
# (issue 12 part 1; docs/simulator.md#calibration shows its table.)
#
# For seeds 1..N (default 20) of the default 60-month world it prints, per
# seed: the east-to-west / west-to-east ratios of mean and median trade,
# each direction's P25, P50 and P75 of trade as multiples of Table 1's, the
# pair-clustered SEs of partner in Tables 2 and 3 (log trade, both
# directions, e2w, w2e) as multiples of the paper's, the adjusted R2 minus
# the paper's, the zero cells, and the number of targets missed:
#   ratio of means in [5, 11], of medians in [6, 13]; quantiles within a
#   factor 1.5; SEs within 0.7-1.4 x; adjusted R2 within 0.03.
# Exit status 1 when a seed misses a target.
#
#   sh tools/calibration.sh [--seeds 20] [--first-seed 1] [--months 60] [--threads 2]
#                           [--format text|md] [--no-effects 1] [--NAME VALUE ...]
#
# --NAME VALUE sets a simulator parameter (gravrd simulate --help) to see
# how the figures move. About 2 s a seed on 2 cores.
set -eu
cd "$(dirname "$0")/.."
BIN=${GRAVRD_CALIBRATION:-build/gravrd_calibration}
[ -x "$BIN" ] || { echo "calibration.sh: build $BIN first (make build)" >&2; exit 2; }
exec "$BIN" "$@"
