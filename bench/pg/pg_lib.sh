# Sourced by the bench/pg scripts: a throw-away PostgreSQL server for one bench run.
#   pg_start WORK   initdb in WORK/pg/data (fsync off) and start it on a Unix socket in WORK/pg,
#                   as `nobody` when run as root (PostgreSQL refuses root). WORK must exist.
#   pg_stop WORK    immediate stop; never fails.
# Sets pgbin (the newest installed PostgreSQL's bin directory) and pg_as (the command prefix
# that runs a PostgreSQL binary as the server's user).
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pg_as=()
if [ "$(id -u)" = 0 ]; then pg_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups); fi

pg_start() {
  chmod 755 "$1"
  mkdir "$1/pg"
  if [ "$(id -u)" = 0 ]; then chown nobody:nogroup "$1/pg"; fi
  "${pg_as[@]}" "$pgbin/initdb" -D "$1/pg/data" -U kagami -A trust -E UTF8 --no-sync >/dev/null
  "${pg_as[@]}" "$pgbin/pg_ctl" -D "$1/pg/data" -l "$1/pg/log" -w \
    -o "-k $1/pg -c listen_addresses='' -F" start >/dev/null
}

pg_stop() {
  "${pg_as[@]}" "$pgbin/pg_ctl" -D "$1/pg/data" -m immediate stop >/dev/null 2>&1 || true
}
