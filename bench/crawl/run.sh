#!/usr/bin/env bash
# Crawl throughput over loopback, side by side in one run: wget --recursive,
# Scrapy (fetch only) and `kagami crawl` (fetch + WARC + fingerprint + match
# every image against a registered store), all crawling the same site served
# by tests/crawler/fixture_site.py --bench (python3 ThreadingHTTPServer).
# Usage: bench/crawl/run.sh [CHAPTERS] [IMAGES_PER_CHAPTER] [CONCURRENCY]
# Needs a built tree (scripts/build --target kagami kagami-synth).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${KAGAMI_BUILD_DIR:-$root/build}"
chapters="${1:-20}"; per="${2:-20}"; conc="${3:-4}"
kagami="$build/app/kagami"
synth="$(find "$build/synth" -maxdepth 2 -type f -name 'kagami-synth*' -perm -u+x | head -1)"
work="$(mktemp -d /tmp/kagami-crawl-bench.XXXXXX)"
trap 'kill $server 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

for c in $(seq 1 "$chapters"); do
  "$synth" pages --out "$work/content/img/c$c" --count "$per" --seed $((c * 1000)) \
    --width 900 --height 1300 --format jpg >/dev/null
done
"$synth" pages --out "$work/reg" --count 10 --seed 1000 --width 900 --height 1300 --format png >/dev/null
"$kagami" --data "$work/data" register --work bench-work --title "Bench work" "$work/reg" >/dev/null 2>&1

python3 "$root/tests/crawler/fixture_site.py" --bench --content "$work/content" \
  --port-file "$work/port" --log "$work/access.log" --chapters "$chapters" &
server=$!
for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.1; done
port="$(cat "$work/port")"
seed="http://127.0.0.1:$port/"
mb="$(du -sb "$work/content/img" | awk '{printf "%.1f", $1/1e6}')"
echo "site: $chapters chapters x $per images ($mb MB of JPEG), concurrency $conc, $(nproc) cores"

now() { date +%s.%N; }
report() {  # name seconds pages media bytes
  awk -v n="$1" -v s="$2" -v p="$3" -v m="$4" -v b="$5" 'BEGIN {
    printf "%-28s %7.2f s  %6.1f pages/s  %7.1f media/s  %7.1f MB/s\n", n, s, p/s, m/s, b/1e6/s }'
}

t0=$(now)
(cd "$work" && wget --recursive --level=inf --no-parent -e robots=on --quiet \
   --directory-prefix=wget-out "$seed") || true
t1=$(now)
wpages=$(find "$work/wget-out" -name '*.html' -o -name 'index.html' | sort -u | wc -l)
wmedia=$(find "$work/wget-out" -name '*.jpg' | wc -l)
wbytes=$(du -sb "$work/wget-out" | awk '{print $1}')
report "wget --recursive (1 conn)" "$(echo "$t1 - $t0" | bc)" "$wpages" "$wmedia" "$wbytes"

out="$(/usr/bin/python3 "$root/bench/crawl/scrapy_fetch.py" "$seed" "$conc")"  # Debian python3-scrapy
report "scrapy fetch-only (c=$conc)" "$(echo "$out" | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["seconds"])')" \
  "$(echo "$out" | python3 -c 'import json,sys;print(json.load(sys.stdin)["pages"])')" \
  "$(echo "$out" | python3 -c 'import json,sys;print(json.load(sys.stdin)["media"])')" \
  "$(echo "$out" | python3 -c 'import json,sys;print(json.load(sys.stdin)["bytes"])')"

for mode in fetch-only never auto; do
rm -rf "$work/data/crawl" "$work/data/findings.sqlite"* "$work/data/evidence"
if [ "$mode" = fetch-only ]; then extra=(--fetch-only); else extra=(--local "$mode"); fi
t0=$(now)
"$kagami" --data "$work/data" crawl --seed "$seed" --allow-address 127.0.0.1 --min-delay 0 \
  --per-host "$conc" --max-pages 100000 --max-depth 100 "${extra[@]}" \
  >"$work/kagami.out" 2>"$work/kagami.err"
t1=$(now)
line="$(grep 'kagami crawl: job' "$work/kagami.err")"
kp=$(echo "$line" | sed -E 's/.*: ([0-9]+) pages, ([0-9]+) media, ([0-9]+) bytes, ([0-9]+) new findings.*/\1/')
km=$(echo "$line" | sed -E 's/.*: ([0-9]+) pages, ([0-9]+) media, ([0-9]+) bytes, ([0-9]+) new findings.*/\2/')
kb=$(echo "$line" | sed -E 's/.*: ([0-9]+) pages, ([0-9]+) media, ([0-9]+) bytes, ([0-9]+) new findings.*/\3/')
kf=$(echo "$line" | sed -E 's/.*: ([0-9]+) pages, ([0-9]+) media, ([0-9]+) bytes, ([0-9]+) new findings.*/\4/')
report "kagami c=$conc $mode" "$(echo "$t1 - $t0" | bc)" "$kp" "$km" "$kb"
[ "$mode" = fetch-only ] || echo "  kagami findings: $kf (expected 10: the registered pages are the first 10 images of chapter 1)"
done
uptime
