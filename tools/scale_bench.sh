#!/bin/sh
# scale_bench.sh - the table of docs/scale.md: the main regression on worlds
# of K times as many cities per province, one process per K so each row's
# peak memory is its own. K = 10 needs about 18 GB and a few minutes; run it
# alone on the machine. Usage: tools/scale_bench.sh [BUILD_DIR] [K ...]
set -e
build=${1:-build}
[ $# -gt 0 ] && shift
ks=${*:-1 2 3 5 7 10}
header=--header
for k in $ks; do
    "$build/gravrd_scale_bench" --scale "$k" --threads 2 $header
    header=
done
