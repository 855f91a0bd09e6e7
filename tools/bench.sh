#!/bin/sh
# bench.sh - `make bench` (docs/benchmarks.md): every measured target of
# issue 6, each printed beside its target with a met / not met verdict.
#
#   1. the per-regression timings: build/gravrd_bench (its table, unchanged;
#      arguments of this script are passed to it);
#   2. the whole `gravrd replicate` on the default world, reading included:
#      the world (seed 1, 60 months, 1,148,400 flow rows) is simulated once
#      into BUILD/bench-world/data (again when build/gravrd is newer than it),
#      then replicated BENCH_RUNS times (default 3) with the default threads
#      (every processor) and BENCH_RUNS times with --threads 1, each run in its own process under
#      gravrd_runstat (wall, user and system CPU, peak RSS); target: best run
#      under 5 s with every processor;
#   3. the wild cluster bootstrap (issue 12): 9,999 WCR replications of the
#      main spatial RD clustered by segment pair, time beyond the fit, one
#      thread; target: under 1 s;
#      and randomization inference: 999 placebo partnerships of the same
#      model clustered by pair, one thread; target: under 5 s;
#      and the design check: 200 worlds of 12 months, every inference
#      method, 2 threads; target: under 2 minutes;
#   4. memory: peak resident memory of the process fitting the paper's main
#      spatial-RD regression on the default world over the bytes of the
#      columns it reads (gravrd_scale_bench --scale 1 --raw, the definition
#      of docs/scale.md); target: at most 3.
#
# Usage: tools/bench.sh [gravrd_bench options]   (BUILD=dir, default build)
# Exit status: gravrd_bench's if it failed, else 1 if a replicate run or the
# memory run failed, else 0 (a target not met is reported, not an error).
set -u
cd "$(dirname "$0")/.."
build=${BUILD:-build}
runs=${BENCH_RUNS:-3}
procs=$(nproc 2>/dev/null || echo 2)
status=0

"$build/gravrd_bench" "$@" || status=$?

world=$build/bench-world
data=$world/data
stamp=$data/.complete
echo
echo "== issue 6: whole replicate (2) and memory (4) (tools/bench.sh)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime) ($procs processors)"
if [ -f "$stamp" ] && ! [ "$build/gravrd" -nt "$stamp" ]; then
    echo "world: $data (default world, reused)"
else
    rm -f "$stamp"
    mkdir -p "$data"
    if "$build/gravrd" simulate --out "$data" --force >"$world/simulate.log" 2>&1; then
        date >"$stamp"
        echo "world: $data (default world, simulated now)"
    else
        cat "$world/simulate.log" >&2
        echo "gravrd simulate failed: no replicate timings" >&2
        [ $status -ne 0 ] || status=1
    fi
fi

# replicate LABEL [ARG...]: BENCH_RUNS runs of gravrd replicate; prints the
# walls of every run, then best, median, the median run's CPU and the peak
# RSS over the runs. Sets rep_best to the best wall ("" on failure).
replicate() {
    label=$1
    shift
    stats=$world/runs-$(echo "$label" | tr -cs 'a-z0-9\n' -).txt
    : >"$stats"
    rep_best=
    i=0
    while [ $i -lt "$runs" ]; do
        i=$((i + 1))
        rm -rf "$world/out"
        if ! "$build/gravrd_runstat" -o "$stats" "$build/gravrd" replicate --data "$data" \
            --out "$world/out" --quiet "$@" >"$world/replicate.log" 2>&1; then
            cat "$world/replicate.log" >&2
            echo "replicate $label: run $i failed" >&2
            return 1
        fi
    done
    # One line per run: wall_s=.. user_s=.. sys_s=.. maxrss_kb=.. status=..
    summary=$(sed 's/[a-z_]*=//g' "$stats" | sort -n -k1,1 | awk '
        { w[NR] = $1; u[NR] = $2; s[NR] = $3; if ($4 > rss) rss = $4 }
        END {
            m = int((NR + 1) / 2)
            med = (NR % 2) ? w[m] : (w[m] + w[m + 1]) / 2
            printf "%.2f %.2f %.1f %.1f %.2f\n", w[1], med, u[m], s[m], rss / 1048576
        }')
    walls=$(awk -F'[= ]' '{ printf "%s%.2f", (NR > 1 ? " " : ""), $2 }' "$stats")
    set -- $summary
    rep_best=$1
    printf '%-26s runs (%s): %s s\n' "replicate, $label" "$runs" "$walls"
    printf '%-26s best %s s, median %s s; median run: user %s s, sys %s s; peak RSS %s GB\n' \
        "" "$1" "$2" "$3" "$4" "$5"
}

if [ -f "$stamp" ]; then
    if replicate "all $procs threads"; then
        verdict=$(awk -v b="$rep_best" 'BEGIN { print (b < 5) ? "met" : "not met" }')
        printf '%-26s target (issue 6): whole replicate < 5 s wall (best): %s s -> %s\n' "" "$rep_best" "$verdict"
    else
        [ $status -ne 0 ] || status=1
    fi
    if replicate "1 thread" --threads 1; then
        printf '%-26s (no target; one thread for comparison)\n' ""
    else
        [ $status -ne 0 ] || status=1
    fi
fi

# Issue 12: the wild cluster bootstrap of the main spatial RD on the default
# world (log1p(trade), the study's flow), clustered by segment pair, 9,999
# WCR replications of partner on one thread; the fit's own "seconds" (the
# JSON of gravrd reg) with and without the bootstrap, best of BENCH_RUNS.
if [ -f "$stamp" ]; then
    rd='log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp'
    boot_fit() {
        best=
        i=0
        while [ $i -lt "$runs" ]; do
            i=$((i + 1))
            out=$("$build/gravrd" reg "$data/flows.csv" "$rd" --study "$data" --cluster 'seg_exp^seg_imp' \
                --threads 1 --format json "$@") || return 1
            s=$(printf '%s' "$out" | sed 's/.*"seconds":\([0-9.e+-]*\).*/\1/')
            best=$(awk -v a="$best" -v b="$s" 'BEGIN { print (a == "" || b < a) ? b : a }')
        done
        printf '%s\n' "$best"
        [ -z "$*" ] || printf '%s' "$out" | sed 's/.*"name":"partner"[^}]*"bootstrap":\({[^}]*}\).*/\1/' >"$world/boot.json"
    }
    if fit=$(boot_fit) && with=$(boot_fit --boot wild --boot-param partner); then
        awk -v f="$fit" -v w="$with" -v j="$(cat "$world/boot.json")" 'BEGIN {
            b = w - f
            printf "%-26s fit %.3f s, fit + bootstrap %.3f s: bootstrap %.3f s\n", "wild bootstrap, main RD", f, w, b
            printf "%-26s %s\n", "", j
            printf "%-26s target (issue 12): 9,999 replications < 1 s beyond the fit, 1 thread: %.3f s -> %s\n",
                "", b, (b < 1) ? "met" : "not met"
        }'
    else
        echo "wild bootstrap run failed" >&2
        [ $status -ne 0 ] || status=1
    fi
    # Randomization inference: 999 placebo partnerships, clustered by pair.
    ri_best=
    i=0
    while [ $i -lt "$runs" ]; do
        i=$((i + 1))
        out=$("$build/gravrd" reg "$data/flows.csv" "$rd" --study "$data" --cluster pair --threads 1 --format json \
            --ri partner --ri-reps 999) || { ri_best=; break; }
        s=$(printf '%s' "$out" | sed 's/.*"seconds":\([0-9.e+-]*\).*/\1/')
        ri_best=$(awk -v a="$ri_best" -v b="$s" 'BEGIN { print (a == "" || b < a) ? b : a }')
    done
    if [ -n "$ri_best" ]; then
        awk -v f="$fit" -v w="$ri_best" 'BEGIN {
            printf "%-26s fit + 999 reassignments %.3f s, 1 thread\n", "randomization inference", w
            printf "%-26s target (issue 12): 999 reassignments of the main spatial RD < 5 s: %.3f s -> %s\n",
                "", w, (w < 5) ? "met" : "not met"
        }'
    else
        echo "randomization inference run failed" >&2
        [ $status -ne 0 ] || status=1
    fi
fi

# Issue 12: the design check, 200 worlds of 12 months on 2 threads (once:
# it takes about a minute; BENCH_DESIGN_WORLDS=0 skips it).
design_worlds=${BENCH_DESIGN_WORLDS:-200}
if [ "$design_worlds" -gt 0 ]; then
    if out=$("$build/gravrd" design --worlds "$design_worlds" --threads 2 --format json); then
        printf '%s' "$out" | awk -v w="$design_worlds" '{
            n = split($0, a, "\"seconds\": "); split(a[n], b, "}"); s = b[1] + 0
            printf "%-26s %d worlds of 12 months, every method, 2 threads: %.1f s\n", "design check", w, s
            if (w == 200)
                printf "%-26s target (issue 12): 200 worlds < 120 s on 2 cores: %.1f s -> %s\n", "", s,
                    (s < 120) ? "met" : "not met"
        }'
    else
        echo "design check run failed" >&2
        [ $status -ne 0 ] || status=1
    fi
fi

# Memory: the main regression in a process of its own.
if mem=$("$build/gravrd_scale_bench" --scale 1 --threads "$procs" --raw); then
    echo "$mem" | awk '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        r = v["peak_over_columns"]
        printf "%-26s peak RSS %.0f MB / columns %.0f MB (%d columns x %d rows) = %.2fx\n",
            "memory, main RD reg.", v["peak_rss_kb"] / 1024, v["column_bytes"] / 1048576,
            v["columns"], v["rows"], r
        printf "%-26s target (issue 6): peak / columns <= 3x: %.2fx -> %s\n", "", r, (r <= 3) ? "met" : "not met"
    }'
else
    echo "gravrd_scale_bench failed: no memory figure" >&2
    [ $status -ne 0 ] || status=1
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
exit $status
