#!/bin/bash
# One tlbsim sweep split over a Slurm job array: task I of N runs shard I/N
# (`--shard auto` reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT) into
# $OUT/shard-I. Once the array is done, join the shards:
#   jobid=$(sbatch --parsable experiments/slurm-array.sh)
#   sbatch --dependency=afterok:$jobid --wrap "tlbsim merge $OUT/shard-* --out $OUT/merged"
# Environment (sbatch exports the submitter's by default):
#   SWEEP   bundled experiment or sweep file (default: scaling)
#   OUT     output folder, on storage every node sees (default: shards)
#   TLBSIM  the tlbsim binary (default: tlbsim on PATH)
# Arguments after the script name go to `tlbsim sweep` (e.g. --set stop.ios=200).
# Change --array to the number of shards wanted; the shards need not be
# 1-based (--array=0-15 works) but must be contiguous.
#SBATCH --array=1-4
#SBATCH --cpus-per-task=1
#SBATCH --job-name=tlbsim-sweep
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
out=${OUT:-shards}
exec "${TLBSIM:-tlbsim}" sweep "${SWEEP:-scaling}" --shard auto \
  --jobs "${SLURM_CPUS_PER_TASK:-1}" --out "$out/shard-$SLURM_ARRAY_TASK_ID" "$@"
