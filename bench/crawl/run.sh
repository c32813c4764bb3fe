#!/usr/bin/env bash
# Crawl throughput, side by side in one run: wget --recursive, Scrapy (fetch
# only) and `kagami crawl` (fetch-only; `--local never`: PDQ matching of every
# image; default `--local auto`), all crawling the same site, in two modes:
#   1. loopback without latency: a static copy served by nginx (Debian
#      nginx-light; SERVER=python for tests/crawler/fixture_site.py --bench);
#   2. with LATENCY_MS injected before every response (fixture_site.py --bench
#      --latency-ms), so the crawl is network-bound as on the internet.
# Politeness is the same for Scrapy and Kagami (CONCURRENCY connections per
# host, no delay, robots.txt obeyed); wget is sequential by design.
# Usage: bench/crawl/run.sh [CHAPTERS] [IMAGES_PER_CHAPTER] [CONCURRENCY] [LATENCY_MS]
#   MODES="nolatency latency" (default both); KAGAMI_MODES="fetch-only never auto".
# Needs a built tree (scripts/build --target kagami kagami-synth).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${KAGAMI_BUILD_DIR:-$root/build}"
chapters="${1:-20}"; per="${2:-20}"; conc="${3:-4}"; latency="${4:-100}"
modes="${MODES:-nolatency latency}"; kagami_modes="${KAGAMI_MODES:-fetch-only never auto}"
kagami="$build/app/kagami"
synth="$(find "$build/synth" -maxdepth 2 -type f -name 'kagami-synth*' -perm -u+x | head -1)"
work="$(mktemp -d /tmp/kagami-crawl-bench.XXXXXX)"
server=""
stop_server() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
trap 'stop_server || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

for c in $(seq 1 "$chapters"); do
  "$synth" pages --out "$work/content/img/c$c" --count "$per" --seed $((c * 1000)) \
    --width 900 --height 1300 --format jpg >/dev/null
done
"$synth" pages --out "$work/reg" --count 10 --seed 1000 --width 900 --height 1300 --format png >/dev/null
"$kagami" --data "$work/data" register --work bench-work --title "Bench work" "$work/reg" >/dev/null 2>&1

# The site: a static copy served by nginx (SERVER=nginx, the default when
# installed: Debian's nginx-light) or the python fixture (SERVER=python,
# single process: its GIL caps every crawler at roughly 200 media/s).
start_server() {  # mode
server_kind="${SERVER:-$(command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && echo nginx || echo python)}"
delay=0
if [ "$1" = latency ]; then server_kind=python; delay="$latency"; fi
rm -f "$work/port"
if [ "$server_kind" = nginx ]; then
  python3 - "$work" "$chapters" <<'PY'
import os, sys
work, n = sys.argv[1], int(sys.argv[2])
site = os.path.join(work, "site")
os.makedirs(site, exist_ok=True)
os.symlink(os.path.join(work, "content", "img"), os.path.join(site, "img"))
page = lambda t, b: "<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title></head><body>%s</body></html>" % (t, b)
open(os.path.join(site, "robots.txt"), "w").write("User-agent: *\nDisallow: /private/\n")
open(os.path.join(site, "index.html"), "w").write(page("Reader", "<ul>%s</ul>" % "".join(
    '<li><a href="/chapter-%d.html">Chapter %d</a></li>' % (i, i) for i in range(1, n + 1))))
for c in range(1, n + 1):
    files = sorted(os.listdir(os.path.join(work, "content", "img", "c%d" % c)))
    body = "".join('<img src="/img/c%d/%s">' % (c, f) for f in files)
    if c < n:
        body += '<a href="/chapter-%d.html">next</a>' % (c + 1)
    open(os.path.join(site, "chapter-%d.html" % c), "w").write(page("Chapter %d" % c, body))
PY
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mkdir -p "$work/nginx-tmp"
  cat >"$work/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 2;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 512; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $work/nginx-tmp;
  types { text/html html; image/jpeg jpg; text/plain txt; }
  server { listen 127.0.0.1:$port; root $work/site; index index.html; disable_symlinks off; }
}
CONF
  /usr/sbin/nginx -c "$work/nginx.conf" -p "$work" &
  server=$!
  for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
else
  python3 "$root/tests/crawler/fixture_site.py" --bench --content "$work/content" \
    --port-file "$work/port" --log "$work/access.log" --chapters "$chapters" --latency-ms "$delay" &
  server=$!
  for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.1; done
  port="$(cat "$work/port")"
fi
seed="http://127.0.0.1:$port/"
}
mb="$(du -sb "$work/content/img" | awk '{printf "%.1f", $1/1e6}')"

now() { date +%s.%N; }
report() {  # name seconds pages media bytes
  awk -v n="$1" -v s="$2" -v p="$3" -v m="$4" -v b="$5" 'BEGIN {
    printf "%-28s %7.2f s  %6.1f pages/s  %7.1f media/s  %7.1f MB/s\n", n, s, p/s, m/s, b/1e6/s }'
}

for mode in $modes; do
start_server "$mode"
echo
echo "== $mode: $chapters chapters x $per images ($mb MB of JPEG), served by $server_kind," \
  "latency ${delay} ms per response, per-host concurrency $conc (wget 1), $(nproc) cores"
uptime
rm -rf "$work/wget-out"
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

for kmode in $kagami_modes; do
rm -rf "$work/data/crawl" "$work/data/findings.sqlite"* "$work/data/evidence"
if [ "$kmode" = fetch-only ]; then extra=(--fetch-only); else extra=(--local "$kmode"); fi
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
report "kagami c=$conc $kmode" "$(echo "$t1 - $t0" | bc)" "$kp" "$km" "$kb"
[ "$kmode" = fetch-only ] || echo "  kagami findings: $kf (expected 10: the registered pages are the first 10 images of chapter 1)"
done
uptime
stop_server || true
done
