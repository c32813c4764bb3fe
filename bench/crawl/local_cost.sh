#!/usr/bin/env bash
# CPU of `kagami crawl` over reader pages of images that match nothing (and, optionally, one
# chapter of copies that do), by local-feature policy, in one interleaved run:
#   never      --local never (PDQ only: the floor)
#   sample1    --local-sample 1 (every image described: the crawl before page evidence)
#   default    the defaults (--local-sample 12 across each page's images)
# The site is tests/crawler/fixture_site.py --bench: chapter pages of <img> tags, the images of
# UNRELATED_DIR split into chapters of PER_CHAPTER, then COPIES_DIR's images as the last chapter.
# Each crawl starts from a copy of DATA_DIR (a registered store). Prints median CPU (user+sys)
# and wall per policy, the ratio to `never`, and the findings and unchecked images of each.
# Usage: bench/crawl/local_cost.sh KAGAMI DATA_DIR UNRELATED_DIR [COPIES_DIR] [PER_CHAPTER=10] [REPS=3]
#   e.g. bench/crawl/local_cost.sh build/app/kagami /tmp/cal0/data-kagami1 \
#          /tmp/cal0/q_unrelated /tmp/cal0/q_crop10_per_side 10 3
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kagami="$(realpath "$1")"; data="$2"; unrelated="$3"; copies="${4:-}"; per="${5:-10}"; reps="${6:-3}"
work="$(mktemp -d /tmp/kagami-crawl-cost.XXXXXX)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
python3 - "$unrelated" "$copies" "$per" "$work/content/img" <<'PY'
import os, shutil, sys
unrelated, copies, per, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
imgs = sorted(f for f in os.listdir(unrelated) if f.lower().endswith((".jpg", ".jpeg", ".png")))
chapters = [imgs[i:i + per] for i in range(0, len(imgs), per)]
for c, files in enumerate(chapters, 1):
    os.makedirs(f"{out}/c{c}")
    for f in files:
        shutil.copy(os.path.join(unrelated, f), f"{out}/c{c}/{f}")
n = len(chapters)
if copies:
    n += 1
    os.makedirs(f"{out}/c{n}")
    for f in sorted(os.listdir(copies)):
        shutil.copy(os.path.join(copies, f), f"{out}/c{n}/{f}")
print(n, file=open(os.path.join(out, "..", "chapters"), "w"))
PY
chapters="$(cat "$work/content/chapters")"
python3 "$root/tests/crawler/fixture_site.py" --bench --content "$work/content" \
  --port-file "$work/port" --log "$work/access.log" --chapters "$chapters" &
server=$!
for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.1; done
seed="http://127.0.0.1:$(cat "$work/port")/"
echo "site: $chapters chapters, $(find "$work/content/img" -type f | wc -l) images; seed $seed; $(nproc) cores"
for r in $(seq 1 "$reps"); do
  for policy in never sample1 default; do
    d="$work/data-$policy-$r"
    cp -r "$data" "$d"
    rm -f "$d/writer.lock"
    args=()
    [ "$policy" = never ] && args=(--local never)
    [ "$policy" = sample1 ] && args=(--local-sample 1)
    /usr/bin/time -f "$policy %e %U %S" -a -o "$work/times" \
      "$kagami" --data "$d" --threads 1 crawl --seed "$seed" --allow-address 127.0.0.1 \
      --min-delay 0 --per-host 4 --format jsonl "${args[@]}" >"$work/out-$policy-$r" 2>"$work/err-$policy-$r"
    findings=$(grep -c '"work"' "$work/out-$policy-$r" || true)
    unchecked=$(grep -o '[0-9]* images not checked' "$work/err-$policy-$r" | cut -d' ' -f1 || true)
    echo "$policy $r: findings ${findings:-0}, unchecked ${unchecked:-0}"
    rm -rf "$d"
  done
done
python3 - "$work/times" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 4:
        runs[f[0]].append((float(f[1]), float(f[2]) + float(f[3])))
med = lambda p, i: statistics.median(x[i] for x in runs[p])
for p in ("never", "sample1", "default"):
    print(f"{p:8s} wall {med(p, 0):6.2f} s  cpu {med(p, 1):6.2f} s  cpu / never {med(p, 1) / med('never', 1):.2f}x"
          f"  (median of {len(runs[p])})")
PY
