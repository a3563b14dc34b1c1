#!/usr/bin/env bash
# Make this checkout fit a device call of the `run` tool, and put it back afterwards.
#
#   bash scripts/gpu_carry.sh prepare [BEFORE_COMMIT]   # then run(..., carry=[".gpu"])
#   bash scripts/gpu_carry.sh restore
#
# A device call copies the tracked files and the untracked ones git does not ignore, plus
# the `carry` paths, 64 MiB in all; the tracked tree is larger (the paper nets' stored
# states). `prepare`:
#   - leaves the largest tracked model files out of the index until the tree fits
#     (`git rm --cached`, listed in .git/info/exclude), and writes their list to
#     .gpu/removed.txt;
#   - copies the reference catalog (QUAKE_CATALOG, or ../shared/data/...) into .gpu/;
#   - with BEFORE_COMMIT, writes that commit's quake/ and bench/ into .gpu/before (the
#     "before" of `PART=bench BEFORE=.gpu/before bash scripts/gpu_speed.sh`);
#   - prints the environment the device command needs.
# `restore` puts the files back into the index, removes the exclude lines and .gpu/.
# Nothing is committed by either; do not commit between the two.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
LIMIT=$((60 * 1024 * 1024)) # under the tool's 64 MiB, with room for the catalog's copy
MARK="# scripts/gpu_carry.sh"
exclude=.git/info/exclude

tracked_bytes() { git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

prepare() {
  if [ -f .gpu/removed.txt ]; then
    echo "gpu_carry: already prepared (.gpu/removed.txt); run restore first" >&2
    exit 1
  fi
  catalog=${QUAKE_CATALOG:-../shared/data/japan_usgs_1990_2019.csv}
  [ -f "$catalog" ] || { echo "gpu_carry: no catalog at $catalog (set QUAKE_CATALOG)" >&2; exit 1; }
  mkdir -p .gpu
  cp "$catalog" .gpu/
  if [ -n "${1:-}" ]; then
    mkdir -p .gpu/before
    git archive "$1" quake bench | tar -x -C .gpu/before
  fi
  : >.gpu/removed.txt
  extra=$(du -sb .gpu | cut -f1)
  # the largest tracked files under models/, largest first, until the rest fits
  while [ $(($(tracked_bytes) + extra)) -gt "$LIMIT" ]; do
    big=$(git ls-files -z models | xargs -0 stat -c '%s %n' | sort -rn | head -1 | cut -d' ' -f2-)
    [ -n "$big" ] || { echo "gpu_carry: the tree does not fit even without models/" >&2; exit 1; }
    git rm -q --cached -- "$big"
    echo "$big" >>.gpu/removed.txt
  done
  { echo "$MARK"; sed 's|^|/|' .gpu/removed.txt; echo "$MARK end"; } >>"$exclude"
  echo "left out of this call ($(wc -l <.gpu/removed.txt) files):"
  sed 's/^/  /' .gpu/removed.txt
  echo "tracked now: $(($(tracked_bytes) / 1048576)) MiB, .gpu: $(($(du -sb .gpu | cut -f1) / 1048576)) MiB"
  echo "device command: QUAKE_CATALOG=\$PWD/.gpu/$(basename "$catalog") PART=all OUT=\$OUT bash scripts/gpu_speed.sh"
  echo "with carry [\".gpu\"]; afterwards: bash scripts/gpu_carry.sh restore"
}

restore() {
  if [ -f .gpu/removed.txt ]; then
    while IFS= read -r path; do
      [ -n "$path" ] && git reset -q -- "$path"
    done <.gpu/removed.txt
  fi
  if grep -qF "$MARK" "$exclude" 2>/dev/null; then
    awk -v m="$MARK" '$0 == m {skip = 1; next} $0 == m " end" {skip = 0; next} !skip' \
      "$exclude" >"$exclude.tmp" && mv "$exclude.tmp" "$exclude"
  fi
  rm -rf .gpu
  git status --short
}

case "${1:-}" in
  prepare) prepare "${2:-}" ;;
  restore) restore ;;
  *) echo "usage: bash scripts/gpu_carry.sh prepare [BEFORE_COMMIT] | restore" >&2; exit 2 ;;
esac
