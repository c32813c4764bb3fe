#!/usr/bin/env bash
# CPU and wall time of `kagami scan --local never|auto` of one folder, two builds side by side:
# runs interleaved (never A, never B, auto A, auto B, repeated), each build on its own copy of
# the store, and prints the medians and the default / never ratio per build.
# Usage: bench/e2e/scan_cost.sh KAGAMI_A KAGAMI_B DATA_DIR FOLDER [REPS=5]
#   e.g. bench/e2e/scan_cost.sh /work/before/app/kagami build/app/kagami \
#          /tmp/kg-cost/data-kagami1 /tmp/kg-cost/q_unrelated 7
# DATA_B=DIR gives build B its own store (one registered by it, where the two builds' stores
# differ in format); B scans a copy of DATA_DIR otherwise.
set -euo pipefail
a="$1"; b="$2"; data="$3"; folder="$4"; reps="${5:-5}"; data_b="${DATA_B:-$data}"
work="$(mktemp -d /tmp/kagami-scan-cost.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp -r "$data" "$work/data-A"
cp -r "$data_b" "$work/data-B"
rm -f "$work/data-A/writer.lock" "$work/data-B/writer.lock"
for r in $(seq 1 "$reps"); do
  for mode in never auto; do
    for k in A B; do
      bin="$a"; [ "$k" = B ] && bin="$b"
      /usr/bin/time -f "$k $mode %e %U %S" -a -o "$work/times" \
        "$bin" --data "$work/data-$k" --threads 1 scan --local "$mode" "$folder" >/dev/null 2>&1
    done
  done
done
python3 - "$work/times" "$a" "$b" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 5:
        runs[(f[0], f[1])].append((float(f[2]), float(f[3]) + float(f[4])))
for k, name in (("A", sys.argv[2]), ("B", sys.argv[3])):
    med = lambda mode, i: statistics.median(x[i] for x in runs[(k, mode)])
    print(f"{name}: never wall {med('never', 0):.2f} s cpu {med('never', 1):.2f} s | "
          f"auto wall {med('auto', 0):.2f} s cpu {med('auto', 1):.2f} s | default / never: "
          f"wall {med('auto', 0) / med('never', 0):.2f}x, cpu {med('auto', 1) / med('never', 1):.2f}x "
          f"(medians of {len(runs[(k, 'never')])})")
PY
