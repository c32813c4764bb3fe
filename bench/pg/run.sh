#!/usr/bin/env bash
# Crawl throughput of `kagami crawl --worker` with 1, 2 and 4 worker processes
# sharing one PostgreSQL store, against the loopback fixture
# (tests/pg/pg_fixture_site.py) with an injected per-response latency, so the
# crawl is network-bound as on the internet. SITES sites (siteK.test, each with
# its image host), per-host limit PER_HOST shared by all workers, each worker
# at most CONN exchanges in flight. Every image is fingerprinted and matched
# against the work registered into each run's PostgreSQL catalog (--store).
# Starts its own PostgreSQL server (initdb in a temp dir, Unix socket; as
# `nobody` when run as root). One run, side by side.
# Usage: bench/pg/run.sh [SITES] [LATENCY_MS] [CONN] [PER_HOST] [COMMENTS]
#   LOCAL=auto|never|always: the workers' --local (default auto, the default);
#   WORKERS="1 2 4": the worker counts to run, one after the other.
# "ideal" is requests x latency / (workers x CONN): the network bound.
# Needs a built tree (scripts/build --target kagami kagami-synth).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${KAGAMI_BUILD_DIR:-$root/build}"
sites="${1:-8}"; latency="${2:-400}"; conn="${3:-4}"; per_host="${4:-4}"; comments="${5:-20}"
chapters=4
local_stage="${LOCAL:-auto}"; worker_counts="${WORKERS:-1 2 4}"
kagami="$build/app/kagami"
synth="$(find "$build/synth" -maxdepth 2 -type f -name 'kagami-synth*' -perm -u+x | head -1)"
work="$(mktemp -d /tmp/kagami-pg-bench.XXXXXX)"
source "$root/bench/pg/pg_lib.sh"
cleanup() {
  kill "${server:-}" 2>/dev/null || true
  pg_stop "$work"
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
pg_start "$work"

for c in $(seq 1 "$chapters"); do
  "$synth" pages --out "$work/content/img/c$c" --count 2 --seed $((c * 1000)) \
    --width 800 --height 1150 --format jpg >/dev/null
done
"$synth" pages --out "$work/reg" --count 2 --seed 1000 --width 800 --height 1150 --format png >/dev/null

python3 "$root/tests/pg/pg_fixture_site.py" --content "$work/content" --port-file "$work/port" \
  --log "$work/access.log" --chapters "$chapters" --comments "$comments" --latency-ms "$latency" &
server=$!
for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.1; done
port="$(cat "$work/port")"

job="$work/job.toml"
{
  echo 'name = "bench"'
  printf 'seeds = ['; for k in $(seq 1 "$sites"); do printf '"http://site%d.test:%s/", ' "$k" "$port"; done; echo ']'
  echo 'allow_addresses = ["127.0.0.1"]'
  printf 'resolve = ['
  for k in $(seq 1 "$sites"); do printf '"site%d.test:%s:127.0.0.1", "img%d.test:%s:127.0.0.1", ' "$k" "$port" "$k" "$port"; done
  echo ']'
  printf '[limits]\nmax_depth = 6\nmax_pages = 100000\nmax_connections = %s\n' "$conn"
  printf '[politeness]\nmin_delay_s = 0\nper_host_connections = %s\n' "$per_host"
} >"$job"

pages_per_site=$((1 + chapters + chapters * comments))
echo "site: $sites sites x ($pages_per_site pages + $((chapters * 2)) images), latency ${latency} ms," \
  "per worker $conn in flight, per host $per_host (all workers), --local $local_stage, $(nproc) cores"
uptime
base=""
for n in $worker_counts; do
  db="bench$n"
  psql -q -h "$work/pg" -U kagami -d postgres -c "CREATE DATABASE $db" >/dev/null
  store="host=$work/pg user=kagami dbname=$db"
  # The work goes into this store's catalog (from a registering node's data directory): the
  # workers match from PostgreSQL, their data directory holding only index caches.
  "$kagami" --data "$work/regnode" --store "$store" register --work bench-work --title "Bench work" \
    "$work/reg" >/dev/null 2>&1
  rm -rf "$work/data/crawl" "$work/data/evidence"
  : >"$work/access.log"
  t0=$(date +%s.%N)
  pids=()
  for i in $(seq 1 "$n"); do
    "$kagami" --data "$work/data" crawl "$job" --worker --store "$store" --run bench --local "$local_stage" \
      >"$work/w$i.out" 2>"$work/w$i.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  reqs=$(wc -l <"$work/access.log")
  finds=$("$kagami" --data "$work/data" --store "$store" findings --format jsonl | wc -l)
  secs=$(echo "$t1 - $t0" | bc)
  rate=$(echo "scale=2; $reqs / $secs" | bc)
  [ -z "$base" ] && base=$rate
  ideal=$(echo "scale=2; $reqs * $latency / 1000 / ($n * $conn)" | bc)
  # Start-up (process start to the first request) and tail (last response to the last exit).
  first=$(awk 'NR == 1 || $1 < m { m = $1 } END { print m }' "$work/access.log")
  last=$(awk '$2 > m { m = $2 } END { print m }' "$work/access.log")
  printf '%d worker(s): %6.2f s (ideal %6.2f)  %4d requests  %6.1f req/s  speed-up %.2fx  findings %d  start-up %.2f s  tail %.2f s\n' \
    "$n" "$secs" "$ideal" "$reqs" "$rate" "$(echo "scale=3; $rate / $base" | bc)" "$finds" \
    "$(echo "$first - $t0" | bc)" "$(echo "$t1 - $last" | bc)"
done
uptime
