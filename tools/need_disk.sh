#!/usr/bin/env bash
# usage: tools/need_disk.sh MB WHAT -- stops a first install with one clear line when the disk under the
# project (and the caches, same disk on a usual machine) has less than MB megabytes free, instead of
# failing deep inside pip or npm (npm's own words for a full disk are a pointer to its log file)
set -euo pipefail
need_mb=$1
what=$2
free_mb=$(df -Pm . | awk 'NR == 2 { print $4 }')
if [ "$free_mb" -lt "$need_mb" ]; then
  echo "gridmint: $what needs about $need_mb MB free on this disk; $free_mb MB are free (df -h .)" >&2
  exit 1
fi
