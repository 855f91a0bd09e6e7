#!/bin/sh
# demo.sh - the main job on the embedded default (run by `make demo`):
# simulate the default world into out/data/, then estimate the gravity
# regressions of the paper's Table 2 (four outcomes; both directions pooled,
# east-to-west, west-to-east) with exporter-city x month and importer-city x
# month fixed effects, clustered by directed city pair.
set -eu
cd "$(dirname "$0")/.."
GRAVRD=./build/gravrd
OUT=out
mkdir -p "$OUT"
echo "== gravrd simulate: the default world (seed 1) into $OUT/data"
$GRAVRD simulate --out "$OUT/data" --force
FORMULA='c(log1p(trade), log1p(deals), seller_cr, buyer_cr) ~ partner + log(distance_km) | exp_city^month + imp_city^month'
echo
echo "== Table 2 (gravity), both directions"
$GRAVRD reg "$OUT/data/flows.csv" "$FORMULA" --cluster 'exp_city^imp_city' --format md
echo
echo "== Table 2 (gravity), by direction"
$GRAVRD reg "$OUT/data/flows.csv" "$FORMULA" --cluster 'exp_city^imp_city' --split direction --format md
echo
echo "Planted values: $OUT/data/truth.json. Published values: ../shared/data/reference/paper_tables.json (table2_gravity)."
