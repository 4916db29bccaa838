#!/bin/sh
# Simulates partitioning and formatting one disk of one server, as an RPC to the node
# would: prints progress lines, takes a while, and is idempotent on the node (a disk that
# is already formatted is reported, not formatted again).
#
# Usage: format-disk.sh HOST DEVICE
# Environment:
#   FORMAT_SECONDS     how long the whole operation takes (default 2; decimals allowed)
#   FORMAT_STATE_DIR   where the simulated nodes keep their state (default /tmp/cluster-ops-nodes)
#   FORMAT_FAIL_HOSTS  comma-separated hosts whose disk fails (exit 3, "I/O error")
#
# Output, one line each:  PROGRESS <percent> <message>  ...  then  FORMATTED <fs-id>  or
# ALREADY <fs-id>. Exit 0 on success, non-zero with a message on stderr otherwise.
#
# Each format done adds a line to "$FORMAT_STATE_DIR/ledger", the nodes' shared ledger:
#   HOST DEVICE FS-ID STARTED ENDED
# STARTED and ENDED: when the format itself began (the disk's lock held) and ended, in
# seconds since the epoch with nanoseconds (date +%s.%N).
set -eu

host="$1"
device="$2"
seconds="${FORMAT_SECONDS:-2}"
state="${FORMAT_STATE_DIR:-/tmp/cluster-ops-nodes}"
step=$(awk -v s="$seconds" 'BEGIN { printf "%.3f", s / 4 }')

mkdir -p "$state"
disk="$state/$host$(echo "$device" | tr / _)"

# One operation at a time per disk, as on a real node: a re-delivered job waits for a
# run that is still going (its worker died) and then finds the disk formatted.
exec 9>"$disk.lock"
flock 9

if [ -f "$disk.formatted" ]; then
  echo "PROGRESS 100 $device on $host was already formatted"
  echo "ALREADY $(cat "$disk.formatted")"
  exit 0
fi

case ",${FORMAT_FAIL_HOSTS:-}," in
  *",$host,"*)
    echo "PROGRESS 5 opening $device on $host"
    sleep "$step"
    echo "$host: cannot open $device: Input/output error" >&2
    exit 3
    ;;
esac

started=$(date +%s.%N)
echo "PROGRESS 5 wiping the partition table of $device on $host"
sleep "$step"
echo "PROGRESS 30 creating a GPT partition on $device"
sleep "$step"
echo "PROGRESS 60 mkfs.ext4 ${device}1"
sleep "$step"
echo "PROGRESS 90 verifying ${device}1"
sleep "$step"
id="fs-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
# The node's record that this disk was formatted, and a ledger line per format done.
echo "$id" > "$disk.formatted.tmp"
mv "$disk.formatted.tmp" "$disk.formatted"
echo "$host $device $id $started $(date +%s.%N)" >> "$state/ledger"
echo "PROGRESS 100 formatted ${device}1 on $host"
echo "FORMATTED $id"
