#!/usr/bin/env bash
# Instruction counts of whole `tlbsim run default` runs under callgrind, so
# a speed regression is visible whatever the machine's noise.
#
#   benches/instructions.sh [BINARY ...]
#
# Each BINARY (default: target/release/tlbsim) runs, under
# `valgrind --tool=callgrind`:
#   default               tlbsim run default                      (both policies)
#   global                tlbsim run default --policies global
#   percpu                tlbsim run default --policies percpu
#   model=M               tlbsim run default --set background.model=M, for each
#                         M in $MODELS (default "exact curve") that BINARY accepts
# each with --jobs 1 --set stop.ios=$STOP_IOS (default 20000, the default's
# own size; about 1 minute per run under valgrind on the 2-vCPU development VM)
# and no --out (the printed table only). It prints one Markdown row per run:
# the total Ir (instructions executed) per binary, and the ratio to the first.
# The callgrind files stay in $KEEP (default: a temporary directory, removed);
# with KEEP set, each binary's `default` run is annotated by callgrind_annotate
# into $KEEP/annotate-<n>.txt (inclusive Ir) and annotate-self-<n>.txt (self
# Ir), and the top 15 functions of the workspace's crates of each into
# $KEEP/top-<n>.txt and $KEEP/self-<n>.txt, and the top 25 inclusive rows by
# source file into $KEEP/rows-<n>.txt (<n>: the binary's position).
set -euo pipefail
cd "$(dirname "$0")/.."

STOP_IOS=${STOP_IOS:-20000}
MODELS=${MODELS:-"exact curve"}
if [ $# -eq 0 ]; then set -- target/release/tlbsim; fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
for b in "$@"; do
  [ -x "$b" ] || { echo "$b: not an executable" >&2; exit 1; }
done
if [ -n "${KEEP:-}" ]; then
  out=$KEEP
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

common=(--jobs 1 --set "stop.ios=$STOP_IOS")
runs=(default global percpu)
for m in $MODELS; do runs+=("model=$m"); done

args_of() {
  case $1 in
    default) echo "" ;;
    global) echo "--policies global" ;;
    percpu) echo "--policies percpu" ;;
    model=*) echo "--set background.model=${1#model=}" ;;
  esac
}

# Total Ir of one callgrind output file (its `totals:` or `summary:` line).
total_ir() {
  awk '/^(totals|summary):/ {print $2; exit}' "$1"
}

# Rows of a callgrind_annotate listing by function name of the workspace's
# crates: Ir (max or sum over the function's rows), its share, the name.
by_function() {
  grep -E '^ *[0-9,]+ \(' "$1" | awk -v how="$2" '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1; next }
    {
      ir = $1; gsub(",", "", ir); ir += 0
      line = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", line); sub(/ \[[^]]*\]$/, "", line); sub(/ \([0-9,]+x\)$/, "", line)
      fn = substr(line, index(line, ":") + 1)
      if (fn !~ /^[^ ]*(machine|mmu|sim_core|hypervisor|tlbsim|reports|scenarios|workloads|cpu_model)::/ &&
          fn !~ /^<(machine|mmu|sim_core|hypervisor|tlbsim|reports|scenarios|workloads|cpu_model)::/) next
      if (how == "sum") v[fn] += ir; else if (ir > v[fn]) v[fn] = ir
    }
    END { for (fn in v) printf "%15.0f %6.2f%%  %s\n", v[fn], 100 * v[fn] / total, fn }' | sort -rn
}

header="| run | arguments (all: run default ${common[*]}) |"
rule="|---|---|"
i=0
for b in "$@"; do
  header+=" Ir, $b |"
  rule+="---|"
  if [ $i -gt 0 ]; then header+=" ratio |"; rule+="---|"; fi
  i=$((i + 1))
done
echo "$header"
echo "$rule"
for r in "${runs[@]}"; do
  # shellcheck disable=SC2207
  extra=($(args_of "$r"))
  row="| $r | \`${extra[*]:-}\` |"
  first=""
  i=0
  for b in "$@"; do
    # A binary without the option (an older build) says so and is skipped.
    if ! "$b" run default "${common[@]}" --set stop.ios=10 --set stop.warmup_ios=1 \
        ${extra[@]+"${extra[@]}"} >/dev/null 2>&1; then
      row+=" (not accepted) |"
      if [ $i -gt 0 ]; then row+=" |"; fi
      i=$((i + 1))
      continue
    fi
    f=$out/callgrind.$i.$r.out
    valgrind --tool=callgrind --callgrind-out-file="$f" \
      "$b" run default "${common[@]}" ${extra[@]+"${extra[@]}"} >/dev/null 2>"$out/valgrind.$i.$r.log"
    ir=$(total_ir "$f")
    row+=" $(echo "$ir" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta') |"
    if [ $i -eq 0 ]; then
      first=$ir
    elif [ -n "$first" ]; then
      row+=" $(awk -v a="$ir" -v b="$first" 'BEGIN {printf "%.3f", a / b}') |"
    else
      row+=" |"
    fi
    if [ "$r" = default ] && [ -n "${KEEP:-}" ]; then
      callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$f" >"$out/annotate-$i.txt" 2>/dev/null
      callgrind_annotate --auto=no --threshold=100 "$f" >"$out/annotate-self-$i.txt" 2>/dev/null
      # The workspace's functions only (not std's, rayon's or libc's
      # wrappers). Inlined code splits a function's rows by source file:
      # inclusive, each function's largest row (a lower bound); self, the
      # sum of its rows (exact).
      by_function "$out/annotate-$i.txt" max | head -15 >"$out/top-$i.txt" || true
      by_function "$out/annotate-self-$i.txt" sum | head -15 >"$out/self-$i.txt" || true
      # Raw rows (file:function) of the workspace's sources: code inlined
      # into one function shows under the file it came from (the no-I/O
      # twin, machine/src/sim/twin.rs, under run_observed).
      grep -E '^ *[0-9,]+ \( *[0-9.]+%\) +(/[^ ]*/)?(machine|mmu|sim-core|hypervisor|src|reports|scenarios|workloads|cpu-model|sweeps)/src/' \
        "$out/annotate-$i.txt" | head -25 >"$out/rows-$i.txt" || true
    fi
    i=$((i + 1))
  done
  echo "$row"
done
