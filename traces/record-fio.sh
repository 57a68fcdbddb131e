#!/usr/bin/env bash
# Records a real I/O trace on this machine with fio (Debian package `fio`):
# a random 70/30 read/write mix of 4 to 64 KiB requests against a scratch
# file, logged by `fio --write_iolog` as a version 3 iolog (timestamps in
# microseconds since the job started). Replay it with
#   trace_format = "fio"   (see traces/README.md).
#
# usage: traces/record-fio.sh [OUT.iolog] [NUMBER_OF_IOS]
#   default: traces/fio-randrw.iolog, 5000 I/Os
set -euo pipefail
out=${1:-"$(dirname "$0")/fio-randrw.iolog"}
ios=${2:-5000}
command -v fio >/dev/null || { echo "fio is not installed (apt-get install -y fio)" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The scratch file's name is what the log records; keep it short and stable.
mkdir -p "$scratch/fio"
fio --name=randrw --directory="$scratch/fio" --filename=data --size=64M --io_size=1G \
    --rw=randrw --rwmixread=70 --bsrange=4k-64k --blockalign=4k \
    --ioengine=psync --number_ios="$ios" --randrepeat=1 --randseed=1 \
    --write_iolog="$scratch/trace.iolog" --output="$scratch/fio.out"
# Make the recorded file name independent of the scratch directory.
sed "s#$scratch/fio/##" "$scratch/trace.iolog" > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out: $(grep -cE ' (read|write) ' "$out") read/write records ($(fio --version))"
