#!/usr/bin/env bash
# The layer rule (docs/design.md, "Layers"): a file of src/<layer>/ may use
# what the layers below it define, never what a layer above defines.
# Checked on the built objects, so that calls through public functions
# count as much as the private ones: for each object, every undefined
# symbol that another library object defines must come from its own layer
# or a lower one.
#   scripts/check-layers.sh [BUILD]      (default: build)
set -euo pipefail
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
objdir="$BUILD/CMakeFiles/corio_obj.dir/src"
[ -d "$objdir" ] || { echo "check-layers: no objects in $objdir (build first)"; exit 1; }
rank() {
  case $1 in
    base) echo 0 ;; core) echo 1 ;; backend) echo 2 ;; sync) echo 3 ;; flow) echo 4 ;;
    io) echo 5 ;; os) echo 6 ;; debug) echo 7 ;; top) echo 8 ;; *) echo "unknown layer $1" >&2; exit 1 ;;
  esac
}
layer_of() { # object path -> layer name
  local rel=${1#"$objdir"/}
  case $rel in */*) echo "${rel%%/*}" ;; *) echo top ;; esac
}
declare -A def_layer
# Only objects of sources that exist (a build dir may keep stale ones of moved files).
objs=$(cd "$objdir" && find . -name '*.o' | sed 's|^\./||' | sort | while read -r o; do
  if [ -f "$root/src/${o%.o}" ]; then echo "$objdir/$o"; fi; done)
for o in $objs; do
  l=$(layer_of "$o")
  while read -r sym; do def_layer[$sym]=$l; done < <(nm --defined-only -g "$o" | awk '$2 ~ /[TDBR]/ {print $3}')
done
# The registration tables (src/subsystems.c) are the one sanctioned way
# down-up: the core reads them, it calls nothing by name.
allowed=" corio__subsystems corio__nsubsystems corio__future_kinds "
bad=0
for o in $objs; do
  l=$(layer_of "$o"); r=$(rank "$l")
  while read -r sym; do
    dl=${def_layer[$sym]:-}
    [ -n "$dl" ] || continue
    case $allowed in *" $sym "*) continue ;; esac
    if [ "$(rank "$dl")" -gt "$r" ]; then
      echo "layer violation: ${o#"$objdir"/} ($l) uses $sym, defined in layer $dl"
      bad=1
    fi
  done < <(nm -u "$o" | awk '{print $2}')
done
[ $bad -eq 0 ] && echo "check-layers: every object uses only its own layer and those below"
exit $bad
