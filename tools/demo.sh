#!/bin/sh
# demo.sh - `make demo`: simulate the default world (seed 1, 60 months,
# 1,148,400 flow rows) into out/data/, replicate the whole study of the
# reference paper on it with `gravrd replicate` (every table of
# studies/east-west-partnership.study, the figures and the report) into
# out/ with the design check of the default geography (gravrd design), and
# print the path of out/index.html. Uses every processor.
set -eu
cd "$(dirname "$0")/.."
GRAVRD=./build/gravrd
OUT="$(pwd)/out"
THREADS=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)
mkdir -p "$OUT"
echo "== gravrd simulate --out $OUT/data (the default world, seed 1)" >&2
$GRAVRD simulate --out "$OUT/data" --force >&2
# The design check first: the report's section "Can these intervals be
# trusted?" reads OUT/design.json and OUT/design.svg. DESIGN_WORLDS=N for
# a quicker, noisier check (default 200 worlds of 12 months, about 70 s on
# 2 cores).
WORLDS=${DESIGN_WORLDS:-200}
echo "== gravrd design --worlds $WORLDS --threads $THREADS --out $OUT/design.json --plot $OUT/design.svg" >&2
$GRAVRD design --worlds "$WORLDS" --threads "$THREADS" --format json --out "$OUT/design.json" --plot "$OUT/design.svg"
echo "== gravrd replicate --data $OUT/data --out $OUT --threads $THREADS" >&2
status=0
$GRAVRD replicate --data "$OUT/data" --out "$OUT" --threads "$THREADS" >/dev/null || status=$?
end=$(date +%s)
echo "== demo: $((end - start)) s (simulate + design + replicate); planted values in $OUT/data/truth.json" >&2
if [ -f "$OUT/index.html" ]; then
  echo "$OUT/index.html"
fi
exit $status
