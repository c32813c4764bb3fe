#!/usr/bin/env bash
# Registration throughput on one PostgreSQL store from 1 and 2 `kagami register`
# processes at once (each its own data directory, as two machines), beside the
# embedded SQLite store from 1 process as the peer. The same PAGES generated
# pages (synth, PNG) each time, split in two works for the 2-process run.
# Starts its own PostgreSQL server (initdb in a temp dir, Unix socket; as
# `nobody` when run as root). THREADS fingerprinting threads per process.
# Usage: bench/pg/register.sh [PAGES] [THREADS] [--no-local]
# Needs a built tree (scripts/build --target kagami kagami-synth).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${KAGAMI_BUILD_DIR:-$root/build}"
pages="${1:-120}"; threads="${2:-1}"; extra=()
[ "${3:-}" = "--no-local" ] && extra=(--no-local)
kagami="$build/app/kagami"
synth="$(find "$build/synth" -maxdepth 2 -type f -name 'kagami-synth*' -perm -u+x | head -1)"
work="$(mktemp -d /tmp/kagami-pg-regbench.XXXXXX)"
source "$root/bench/pg/pg_lib.sh"
cleanup() {
  pg_stop "$work"
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
pg_start "$work"

half=$((pages / 2))
"$synth" pages --out "$work/a" --count "$half" --seed 100000 --width 1000 --height 1440 \
  --format png >/dev/null
"$synth" pages --out "$work/b" --count $((pages - half)) --seed 200000 --width 1000 --height 1440 \
  --format png >/dev/null

# One timed run: `run LABEL STORE_ARGS_A -- STORE_ARGS_B` (B empty: one process for both halves).
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$@"; }
echo "pages: $pages (1000x1440 PNG), $threads fingerprinting thread(s) per process," \
  "${extra[*]:-with local features}, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "| store | processes | seconds | pages/s | speed-up over 1 process on the same store |"
echo "|---|---:|---:|---:|---:|"

t0=$(date +%s.%N)
"$kagami" --data "$work/lite" --threads "$threads" register --work a --title A "${extra[@]}" \
  "$work/a" "$work/b" >"$work/lite.out" 2>&1
t1=$(date +%s.%N)
s=$(elapsed "$t0" "$t1")
echo "| SQLite (embedded) | 1 | $s | $(python3 -c "print(f'{$pages/$s:.1f}')") | - |"

psql -q -h "$work/pg" -U kagami -d postgres -c "CREATE DATABASE one" -c "CREATE DATABASE two" \
  >/dev/null
"$kagami" --store "host=$work/pg user=kagami dbname=one" --data "$work/init1" store init >/dev/null
"$kagami" --store "host=$work/pg user=kagami dbname=two" --data "$work/init2" store init >/dev/null

t0=$(date +%s.%N)
"$kagami" --data "$work/n1" --store "host=$work/pg user=kagami dbname=one" --threads "$threads" \
  register --work a --title A "${extra[@]}" "$work/a" "$work/b" >"$work/one.out" 2>&1
t1=$(date +%s.%N)
s1=$(elapsed "$t0" "$t1")
echo "| PostgreSQL | 1 | $s1 | $(python3 -c "print(f'{$pages/$s1:.1f}')") | 1.00x |"

t0=$(date +%s.%N)
"$kagami" --data "$work/m1" --store "host=$work/pg user=kagami dbname=two" --threads "$threads" \
  register --work a --title A "${extra[@]}" "$work/a" >"$work/two-a.out" 2>&1 &
pa=$!
"$kagami" --data "$work/m2" --store "host=$work/pg user=kagami dbname=two" --threads "$threads" \
  register --work b --title B "${extra[@]}" "$work/b" >"$work/two-b.out" 2>&1 &
pb=$!
wait "$pa"; wait "$pb"
t1=$(date +%s.%N)
s2=$(elapsed "$t0" "$t1")
echo "| PostgreSQL | 2 | $s2 | $(python3 -c "print(f'{$pages/$s2:.1f}')") |" \
  "$(python3 -c "print(f'{$s1/$s2:.2f}x')") |"

# The three catalogs hold the same pages.
n_lite=$(grep -o '[0-9]* pages added' "$work/lite.out" | cut -d' ' -f1)
n_one=$(psql -tA -h "$work/pg" -U kagami -d one -c "SELECT count(*) FROM units")
n_two=$(psql -tA -h "$work/pg" -U kagami -d two -c "SELECT count(*) FROM units")
echo "pages registered: SQLite $n_lite, PostgreSQL 1 process $n_one, 2 processes $n_two"
