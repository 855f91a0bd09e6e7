#!/bin/sh
# replicate_digest.sh - checks that `gravrd replicate` on the default world
# (seed 1) writes the same files, byte for byte apart from timings, as the
# digest stored in tests/replicate_digest.txt (one SHA-256 per output file).
# A refactoring must leave every output unchanged; a change that means to
# change numbers regenerates the digest with --update and says so in its
# commit.
#
#   sh tools/replicate_digest.sh [--update] [GRAVRD] [WORKDIR]
#
# GRAVRD defaults to build/gravrd; WORKDIR (default: a fresh temporary
# folder, removed afterwards) receives data/ and out/. Timings are the only
# run-dependent content: "seconds" in the JSON files, and "Run time" and
# "N models in X s" in index.html; they are replaced by T before hashing.
# Exit 0 when every file matches, 1 (listing the files) when not.
set -eu
cd "$(dirname "$0")/.."
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
GRAVRD=${1:-build/gravrd}
DIGEST=tests/replicate_digest.txt
if [ -n "${2:-}" ]; then work=$2; keep=1; else work=$(mktemp -d); keep=0; fi
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$work"; fi; }
trap cleanup EXIT
rm -rf "$work/data" "$work/out" "$work/norm"
"$GRAVRD" simulate --out "$work/data" >/dev/null 2>&1
"$GRAVRD" replicate --data "$work/data" --out "$work/out" --threads 2 >/dev/null 2>"$work/replicate.err" || {
  echo "replicate_digest: gravrd replicate failed:" >&2; tail -5 "$work/replicate.err" >&2; exit 1; }
mkdir -p "$work/norm"
for f in "$work"/out/*; do
  name=$(basename "$f")
  sed -E -e 's/"seconds": ?[-0-9.eE+]+/"seconds":T/g' \
         -e 's/(Run time<\/th><td>)[0-9.]+ s/\1T/' \
         -e 's/models in [0-9.]+ s/models in T/' \
         -e "s|$work/data|DATA|g" "$f" >"$work/norm/$name"
done
(cd "$work/norm" && sha256sum -- *) >"$work/digest.txt"
if [ "$update" = 1 ]; then
  cp "$work/digest.txt" "$DIGEST"
  echo "replicate_digest: wrote $DIGEST ($(wc -l <"$DIGEST") files)"
  exit 0
fi
if diff "$DIGEST" "$work/digest.txt" >"$work/diff.txt"; then
  echo "replicate_digest: all $(wc -l <"$DIGEST") files identical to $DIGEST"
  exit 0
fi
echo "replicate_digest: outputs differ from $DIGEST (< stored, > this build):" >&2
cat "$work/diff.txt" >&2
exit 1
