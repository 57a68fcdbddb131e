#!/usr/bin/env bash
# Writes a synthetic tlbsim-format trace of N requests to OUT: 4 KiB
# requests every 10 us (100k requests/s) alternating between queues 0 and
# 1, two reads for every write. Used to measure that replay memory stays
# flat however long the trace (traces/README.md, "Memory").
#
# usage: traces/gen-trace.sh N OUT
set -euo pipefail
n=${1:?usage: gen-trace.sh N OUT}
out=${2:?usage: gen-trace.sh N OUT}
awk -v n="$n" 'BEGIN {
  print "time_ns,guest,queue,op,offset,size"
  for (i = 0; i < n; i++)
    printf "%.0f,0,%d,%s,%.0f,4096\n", i * 10000, i % 2, (i % 3 == 2 ? "W" : "R"), (i % 262144) * 4096
}' > "$out"
