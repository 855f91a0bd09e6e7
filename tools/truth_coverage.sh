#!/bin/sh
# truth_coverage.sh - does the study's reported 95% interval cover the
# counterfactual truth (issue 12 part 1b; docs/simulator.md#truths)?
#
# For seeds 1..N of the default world it simulates the world and the same
# world without the partnership (gravrd simulate --no-effects), replicates
# the shipped study with --counterfactual, and prints, per table: the number
# of estimates with a truth, the mean error (estimate - truth) over
# estimates and seeds, its Monte Carlo standard error (the sd of the
# table's per-seed mean error over sqrt(seeds)), |mean| / MC SE, and the
# share of intervals that cover the truth, twice: the clustered interval
# (the paper's) and the interval of the study's `inference` method (where a
# table has one; else the clustered); then the pooled coverages and
# the tables whose mean error exceeds 2 MC SE.
#
#   sh tools/truth_coverage.sh [--seeds 20] [--months 60] [--threads 2] [--detail] [--keep DIR]
#
# --detail also prints each estimate's row (table, column, term, mean error,
# coverage). Work files go to a temporary folder (removed) or to --keep DIR.
set -eu
cd "$(dirname "$0")/.."
GRAVRD=${GRAVRD:-build/gravrd}
seeds=20 months=60 threads=2 detail=0 keep=
while [ $# -gt 0 ]; do
    case $1 in
        --seeds) seeds=$2; shift 2 ;;
        --months) months=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --detail) detail=1; shift ;;
        --keep) keep=$2; shift 2 ;;
        *) echo "truth_coverage.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$GRAVRD" ] || { echo "truth_coverage.sh: build $GRAVRD first (make)" >&2; exit 2; }
if [ -n "$keep" ]; then
    work=$keep
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
s=1
while [ "$s" -le "$seeds" ]; do
    "$GRAVRD" simulate --seed "$s" --months "$months" --out "$work/w$s" --force >/dev/null
    "$GRAVRD" simulate --seed "$s" --months "$months" --no-effects --out "$work/w0_$s" --force >/dev/null
    "$GRAVRD" replicate --data "$work/w$s" --counterfactual "$work/w0_$s" --out "$work/out$s" \
        --threads "$threads" --no-report --quiet >/dev/null
    rm -rf "$work/w0_$s"
    [ -n "$keep" ] || rm -rf "$work/w$s"
    echo "seed $s done" >&2
    s=$((s + 1))
done
python3 - "$work" "$seeds" "$detail" "$months" <<'EOF'
import glob, json, math, os, sys
work, seeds, detail, months = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
per_table = {}   # table -> seed -> list of (key, error, covered)
for s in range(1, seeds + 1):
    for f in sorted(glob.glob(os.path.join(work, "out%d" % s, "*.json"))):
        name = os.path.basename(f)[:-5]
        if name in ("replication", "figures"):
            continue
        d = json.load(open(f))
        rows = []
        for col in d.get("columns") or []:
            for c in col.get("coefficients") or []:
                if c.get("truth") is None or c.get("estimate") is None or c.get("truth_in_ci") is None:
                    continue
                inf = c.get("inference") or {}
                ci = inf.get("ci")
                alt = ci[0] <= c["truth"] <= ci[1] if ci and None not in ci else bool(c["truth_in_ci"])
                rows.append(("%s/%s" % (col.get("name"), c.get("key")), c["estimate"] - c["truth"],
                             bool(c["truth_in_ci"]), alt))
        if rows:
            per_table.setdefault(name, {})[s] = rows
print("| table | estimates | mean error | MC SE | mean/SE | coverage (cluster) | coverage (inference) |")
print("|---|---|---|---|---|---|---|")
n_all = cov_all = alt_all = 0
flagged = []
for name in per_table:
    by_seed = per_table[name]
    means = [sum(e for _, e, _, _ in r) / len(r) for r in by_seed.values()]
    m = sum(means) / len(means)
    sd = math.sqrt(sum((x - m) ** 2 for x in means) / (len(means) - 1)) if len(means) > 1 else float("nan")
    se = sd / math.sqrt(len(means))
    n = sum(len(r) for r in by_seed.values())
    cov = sum(c for r in by_seed.values() for _, _, c, _ in r)
    alt = sum(a for r in by_seed.values() for _, _, _, a in r)
    n_all += n
    cov_all += cov
    alt_all += alt
    ratio = abs(m) / se if se > 0 else float("inf")
    if ratio > 2:
        flagged.append(name)
    print("| %s | %d | %.4f | %.4f | %.1f | %.3f | %.3f |" % (name, n // len(by_seed), m, se, ratio, cov / n, alt / n))
    if detail:
        keys = [k for k, _, _, _ in next(iter(by_seed.values()))]
        for i, k in enumerate(keys):
            errs = [r[i][1] for r in by_seed.values() if len(r) > i and r[i][0] == k]
            covs = [r[i][2] for r in by_seed.values() if len(r) > i and r[i][0] == k]
            alts = [r[i][3] for r in by_seed.values() if len(r) > i and r[i][0] == k]
            print("|   %s | | %.4f | | | %.3f | %.3f |" % (k, sum(errs) / len(errs), sum(covs) / len(covs),
                                                       sum(alts) / len(alts)))
print()
print("pooled over %d seeds (%s months), %d intervals: the study's clustered intervals (the paper's) cover the "
      "counterfactual truth for %.3f, its inference intervals (the `inference` method where a table has one, "
      "else the clustered) for %.3f (target 0.93-0.97)"
      % (seeds, months, n_all, cov_all / n_all if n_all else float("nan"), alt_all / n_all if n_all else float("nan")))
print("tables with |mean error| > 2 MC SE: %s" % (", ".join(flagged) if flagged else "none"))
EOF
