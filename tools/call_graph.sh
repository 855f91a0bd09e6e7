#!/bin/sh
# call_graph.sh - who calls whom in the library, measured with nm on the
# object files of a build (issue 11): prints the folder edges, then every
# pair of source files that call each other, every loop between folders of
# src/, and every src/ file over MAX_LINES lines (default 1200).
#
#   sh tools/call_graph.sh [BUILD]        (default: build)
#
# An edge A -> B means an object of A has an undefined symbol (nm -u) that
# an object of B defines (nm -g --defined-only): a call, or a use of a
# global. Static functions, and static inline functions of headers, are
# not symbols and so are not edges. Objects are those of BUILD/CMakeFiles/
# gravrd.dir/src/ and gravrd_cli.dir/cli/ whose source file still exists
# (an object left behind by a moved file is skipped); symbols defined
# outside them (libc, LAPACK, the embedded data) are not edges.
# Exit status: 0 when there is no file pair, no folder loop and no long
# file; 1 when there is; 2 when the build has no objects.
set -u
build=${1:-build}
max_lines=${MAX_LINES:-1200}
src=
if [ -f "$build/CMakeCache.txt" ]; then
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
fi
[ -n "$src" ] || src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The objects whose source still exists, then one line per symbol:
# "D file symbol" (defined) or "U file symbol" (two nm runs in all: nm
# costs more to start than to read an object).
: >"$tmp/objs"
n=0
for dir in "$build/CMakeFiles/gravrd.dir/src" "$build/CMakeFiles/gravrd_cli.dir/cli"; do
    [ -d "$dir" ] || continue
    top=$(basename "$dir")
    for obj in $(find "$dir" -name '*.c.o' | sort); do
        file=$top/${obj#"$dir"/}
        file=${file%.o}
        [ -f "$src/$file" ] || continue
        n=$((n + 1))
        echo "$obj $file" >>"$tmp/objs"
    done
done
: >"$tmp/syms"
if [ "$n" != 0 ]; then
    # nm -A prefixes each line with "OBJECT:"; the object names the file.
    objs=$(cut -d' ' -f1 "$tmp/objs")
    # shellcheck disable=SC2086 # object paths hold no spaces (CMake names)
    { nm -A -g --defined-only $objs | sed 's/^/D /'; nm -A -u $objs | sed 's/^/U /'; } | awk '
        NR == FNR { file[$1] = $2; next }
        {
            k = index($2, ":"); obj = substr($2, 1, k - 1)
            if (!(obj in file)) next
            if ($1 == "D" && NF >= 4) print "D", file[obj], $4
            else if ($1 == "U" && NF >= 3) print "U", file[obj], $NF
        }' "$tmp/objs" - >"$tmp/syms"
fi
if [ "$n" = 0 ]; then
    echo "call_graph: no object files under $build/CMakeFiles/gravrd.dir/src (build first)" >&2
    exit 2
fi

# The folder of a file is its first two path parts (src/hdfe), cli for cli/.
status=0
awk -v nobj="$n" -v build="$build" '
function folder(f,   p) { split(f, p, "/"); return p[1] == "src" ? p[2] : p[1] }
$1 == "D" { if (!($3 in def)) def[$3] = $2; next }
$1 == "U" { use[++nu] = $2 SUBSEP $3 }
END {
    for (i = 1; i <= nu; i++) {
        split(use[i], u, SUBSEP)
        if (!(u[2] in def) || def[u[2]] == u[1]) continue
        a = u[1]; b = def[u[2]]
        if ((a, b) in fe) fe[a, b] = fe[a, b] ", " u[2]; else fe[a, b] = u[2]
        fa = folder(a); fb = folder(b)
        if (fa == fb) continue
        if (!((fa, fb) in de)) { de[fa, fb] = 1; nd[fa]++; out[fa] = out[fa] " " fb; folders[fa]; folders[fb] }
        w = a " -> " b
        if ((fa, fb, w) in seen) continue
        seen[fa, fb, w]
        if ((fa, fb) in wit) wit[fa, fb] = wit[fa, fb] "; " w; else wit[fa, fb] = w
    }
    printf "call_graph: %d objects of %s\n", nobj, build
    # Folder edges, one line per calling folder, callees sorted.
    print "folder edges:"
    nf = 0
    for (f in folders) fl[++nf] = f
    for (i = 2; i <= nf; i++) for (j = i; j > 1 && fl[j - 1] > fl[j]; j--) { t = fl[j]; fl[j] = fl[j - 1]; fl[j - 1] = t }
    for (i = 1; i <= nf; i++) {
        line = ""
        for (j = 1; j <= nf; j++) if ((fl[i], fl[j]) in de) line = line (line == "" ? "" : ", ") fl[j]
        if (line != "") printf "  %s -> %s\n", fl[i], line
    }
    # File pairs that call each other.
    bad = 0
    print "file pairs that call each other:"
    np = 0
    for (k in fe) {
        split(k, p, SUBSEP)
        if (p[1] < p[2] && ((p[2], p[1]) in fe)) pl[++np] = p[1] " <-> " p[2] "\n    " p[1] " uses " fe[p[1], p[2]] "\n    " p[2] " uses " fe[p[2], p[1]]
    }
    for (i = 2; i <= np; i++) for (j = i; j > 1 && pl[j - 1] > pl[j]; j--) { t = pl[j]; pl[j] = pl[j - 1]; pl[j - 1] = t }
    for (i = 1; i <= np; i++) print "  " pl[i]
    if (np == 0) print "  none"
    bad += np
    # Folder loops: the strongly connected components of the folder graph
    # (transitive closure; a dozen folders).
    for (i = 1; i <= nf; i++) for (j = 1; j <= nf; j++) if ((fl[i], fl[j]) in de) r[i, j] = 1
    for (k = 1; k <= nf; k++) for (i = 1; i <= nf; i++) if ((i, k) in r) for (j = 1; j <= nf; j++) if ((k, j) in r) r[i, j] = 1
    print "folder loops:"
    nl = 0
    for (i = 1; i <= nf; i++) {
        if (i in done || !((i, i) in r)) continue
        comp = fl[i]; members[1] = i; nm_ = 1
        for (j = i + 1; j <= nf; j++) if (((i, j) in r) && ((j, i) in r)) { comp = comp " <-> " fl[j]; done[j]; members[++nm_] = j }
        nl++
        print "  " comp
        for (a = 1; a <= nm_; a++) for (b = 1; b <= nm_; b++) {
            x = fl[members[a]]; y = fl[members[b]]
            if (!((x, y) in wit)) continue
            print "    " x " -> " y ":"
            n2 = split(wit[x, y], ws, "; ")
            for (m = 1; m <= n2; m++) print "      " ws[m]
        }
    }
    if (nl == 0) print "  none"
    bad += nl
    exit bad > 0
}' "$tmp/syms" || status=1

echo "src files over $max_lines lines:"
long=$(find "$src/src" -name '*.[ch]' -exec wc -l {} + | awk -v m="$max_lines" -v s="$src/" '
    $2 != "total" && $1 > m { f = $2; sub("^" s, "", f); printf "  %s %d\n", f, $1 }' | sort)
if [ -n "$long" ]; then
    echo "$long"
    status=1
else
    echo "  none"
fi
exit $status
