#!/usr/bin/env bash
# `make run`: migrate, seed demo data, start a private Redis when REDIS_URL is unset, then the
# ASGI server (daphne), RQ workers and the RQ cron scheduler. Ctrl-C stops everything it started.
#
#   SERVERS=N  N daphne processes on ports PORT+1..PORT+N behind nginx on PORT (Debian's nginx
#              package; cookie-sticky long-polling, WebSocket upgrade: scripts/nginx.conf.template).
#              SERVERS=1 (the default) serves daphne on PORT directly.
#   WORKERS=M  M RQ workers. Workers and servers are supervised: one that exits is started again
#              (workers ride out a Redis outage themselves, jobs/worker.py; anything else a
#              process can die of still needs this; production uses systemd for it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"
HOST="${HOST:-127.0.0.1}"
WORKERS="${WORKERS:-1}"
SERVERS="${SERVERS:-1}"
mkdir -p var/log

pids=()        # the app's processes (servers, workers, cron, nginx): stopped first
redis_pids=()  # the private Redis: stopped last, so the others can say goodbye to it

# descendants PID...: every process below PID (children first is not needed: we signal them all)
descendants() {
  local pid child
  for pid in "$@"; do
    for child in $(pgrep -P "$pid" 2>/dev/null); do
      echo "$child"
      descendants "$child"
    done
  done
}

# stop_all GRACE PID...: SIGTERM PID and everything below it, wait up to GRACE seconds for them
# to exit, then SIGKILL what is left. Never waits forever: a process that ignores SIGTERM (RQ's
# cron scheduler sleeps up to 60 s before it looks at its stop flag) cannot hold make run up.
stop_all() {
  local grace="$1"; shift
  [ $# -gt 0 ] || return 0
  local procs deadline p alive
  procs="$* $(descendants "$@")"
  # shellcheck disable=SC2086
  kill $procs 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while [ "$SECONDS" -le "$deadline" ]; do
    alive=""
    for p in $procs; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
    [ -z "$alive" ] && return 0
    sleep 0.1
  done
  echo "make run: still running after ${grace}s, killing:$alive" >&2
  # shellcheck disable=SC2086
  kill -KILL $alive $(descendants $alive) 2>/dev/null || true
}

cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  stop_all 10 "${pids[@]}"
  stop_all 10 "${redis_pids[@]}"
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# supervise LOGFILE CMD...: run CMD in the background, start it again whenever it exits.
supervise() {
  local logfile="$1"; shift
  (
    child=""
    trap '[ -n "$child" ] && kill "$child" 2>/dev/null; wait 2>/dev/null; exit 0' TERM INT
    while true; do
      "$@" >> "$logfile" 2>&1 &
      child=$!
      wait "$child" || true
      echo "$(date -u +%FT%TZ) $1 exited; starting it again in 1s" >> "$logfile"
      sleep 1
    done
  ) &
  pids+=($!)
}

# render_nginx PREFIX LISTEN BACKEND...: scripts/nginx.conf.template with its @NAME@ placeholders filled
render_nginx() {
  local prefix="$1" listen="$2"; shift 2
  local upstreams names addrs i=0 b o
  upstreams="    upstream realtime_all {"$'\n'
  for b in "$@"; do upstreams+="        server $b max_fails=0;"$'\n'; done
  upstreams+="    }"
  for b in "$@"; do
    upstreams+=$'\n'"    upstream realtime_$i {"$'\n'"        server $b max_fails=0;"$'\n'
    for o in "$@"; do [ "$o" != "$b" ] && upstreams+="        server $o backup;"$'\n'; done
    upstreams+="    }"
    names+="        realtime_$i realtime_$i;"$'\n'
    # a regex matching the last address of $upstream_addr ("A, B" after a failover)
    addrs+="        \"~(^|[ ,])${b//./\\.}\$\" realtime_$i;"$'\n'
    i=$((i + 1))
  done
  UPSTREAMS="$upstreams" NAMES="${names%$'\n'}" ADDRS="${addrs%$'\n'}" PREFIX="$prefix" LISTEN="$listen" \
    python - scripts/nginx.conf.template <<'PY'
import os, sys
text = open(sys.argv[1]).read()
for key, var in (("@UPSTREAMS@", "UPSTREAMS"), ("@SERVER_NAMES@", "NAMES"), ("@SERVER_ADDRS@", "ADDRS"),
                 ("@PREFIX@", "PREFIX"), ("@LISTEN@", "LISTEN")):
    text = text.replace(key, os.environ[var])
sys.stdout.write(text)
PY
}

die() { echo "make run: $*" >&2; exit 1; }

# port_free PORT: nothing listens on HOST:PORT (else a server already there would answer for us)
port_free() {
  python - "$1" "${2:-127.0.0.1}" <<'PY'
import socket, sys
with socket.socket() as s:
    # as daphne and nginx bind: a port left in TIME_WAIT by the last run's connections is free
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((sys.argv[2], int(sys.argv[1])))
    except OSError:
        sys.exit(1)
PY
}

port_free "$PORT" "$HOST" || die "cannot listen on $HOST:$PORT (already in use?): stop what is there or set PORT/HOST"
if [ "$SERVERS" -gt 1 ]; then
  for i in $(seq "$SERVERS"); do
    port_free $((PORT + i)) || die "port $((PORT + i)) is already in use: stop what is there or set PORT"
  done
fi

if [ -z "${REDIS_URL:-}" ]; then
  REDIS_PORT="${REDIS_PORT:-6390}"
  # tools.embedded_redis refuses a port that is taken and waits for a PONG from its own server.
  # Empty the log first: the background job truncates it only once it has forked, and a URL left
  # by the last run would read as "started" (and then vanish) meanwhile.
  : > var/log/redis.out
  ready="redis://127.0.0.1:${REDIS_PORT}/"
  python -m tools.embedded_redis --port "$REDIS_PORT" --dir var/redis > var/log/redis.out 2>&1 &
  redis_pid=$!
  redis_pids+=("$redis_pid")
  for _ in $(seq 150); do
    grep -qF "$ready" var/log/redis.out 2>/dev/null && break
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -qF "$ready" var/log/redis.out 2>/dev/null || ! kill -0 "$redis_pid" 2>/dev/null; then
    cat var/log/redis.out >&2
    die "the private Redis on port $REDIS_PORT did not start (see above; set REDIS_PORT or REDIS_URL)"
  fi
  export REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"
  echo "private Redis at $REDIS_URL (data in var/redis)"
fi
if [ "${CLUSTER:-0}" = "1" ] && [ -z "${REALTIME_REDIS_URL:-}" ]; then
  # The realtime data on a private Redis Cluster (3 masters, 3 replicas, Redis 7; docs/scaling.md);
  # RQ and the Channels layer stay on REDIS_URL above. Stopped with the rest on Ctrl-C.
  : > var/log/redis-cluster.out
  python -m tools.redis_cluster var/redis-cluster --masters 3 --replicas 1 > var/log/redis-cluster.out 2>&1 &
  cluster_pid=$!
  redis_pids+=("$cluster_pid")
  for _ in $(seq 300); do
    grep -q "^redis://" var/log/redis-cluster.out 2>/dev/null && break
    kill -0 "$cluster_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "^redis://" var/log/redis-cluster.out 2>/dev/null || {
    cat var/log/redis-cluster.out >&2
    die "the private Redis Cluster did not start (see above; it needs redis-server and redis-cli 7)"
  }
  export REALTIME_REDIS_URL="$(grep -m1 "^redis://" var/log/redis-cluster.out)"
  export REALTIME_REDIS_CLUSTER=1
  echo "private Redis Cluster at $REALTIME_REDIS_URL (3 masters, 3 replicas; data in var/redis-cluster)"
fi
export SOCKETIO_ALLOWED_ORIGINS="${SOCKETIO_ALLOWED_ORIGINS:-http://localhost:$PORT,http://127.0.0.1:$PORT}"

# What this run chose, for manage.py in a second terminal (project/runenv.py reads it; the real
# environment wins there). The secret itself is never written.
{
  echo "# written by \`make run\` at $(date -u +%FT%TZ): the settings it chose, read by manage.py"
  echo "DEBUG=$DEBUG"
  echo "REDIS_URL=$REDIS_URL"
  [ -n "${REALTIME_REDIS_URL:-}" ] && echo "REALTIME_REDIS_URL=$REALTIME_REDIS_URL"
  [ -n "${REALTIME_REDIS_CLUSTER:-}" ] && echo "REALTIME_REDIS_CLUSTER=$REALTIME_REDIS_CLUSTER"
  [ -n "${DATABASE_URL:-}" ] && echo "DATABASE_URL=$DATABASE_URL"
  echo "SOCKETIO_ALLOWED_ORIGINS=$SOCKETIO_ALLOWED_ORIGINS"
  if [ -n "${SECRET_KEY:-}" ]; then
    echo "# SECRET_KEY: from make run's environment (not written here: set it in this shell too)"
  else
    echo "# SECRET_KEY: the development default (DEBUG=1)"
  fi
} > "${RUN_ENV_FILE:-var/run.env}"
chmod 600 "${RUN_ENV_FILE:-var/run.env}"

python manage.py migrate --noinput -v0
python manage.py collectstatic --noinput -v0
python manage.py seed_demo

for i in $(seq "$WORKERS"); do
  # no --name: a restarted worker must not reuse the name of the one that died (RQ refuses it)
  supervise var/log/worker.log python manage.py rqworker default --with-scheduler
done
python manage.py runcron project.cron >> var/log/cron.log 2>&1 &
pids+=($!)

if [ "$SERVERS" -le 1 ]; then
  supervise var/log/server.log daphne -b "$HOST" -p "$PORT" project.asgi:application
else
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
  [ -x "$NGINX" ] || { echo "SERVERS=$SERVERS needs nginx (apt-get install nginx-light)" >&2; exit 1; }
  backends=()
  for i in $(seq "$SERVERS"); do
    backend_port=$((PORT + i))
    supervise "var/log/server-$i.log" daphne -b 127.0.0.1 -p "$backend_port" project.asgi:application
    backends+=("127.0.0.1:$backend_port")
  done
  prefix="$PWD/var/nginx"
  mkdir -p "$prefix"/tmp/{body,proxy,fastcgi,uwsgi,scgi}
  chmod 777 "$prefix"/tmp/*  # nginx's workers run as nobody when started by root
  render_nginx "$prefix" "$HOST:$PORT" "${backends[@]}" > "$prefix/nginx.conf"
  "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g 'daemon off;' &
  pids+=($!)
  echo "nginx on $HOST:$PORT in front of ${backends[*]}"
fi

HEALTHZ_TIMEOUT="${HEALTHZ_TIMEOUT:-60}"
healthy=""
deadline=$((SECONDS + HEALTHZ_TIMEOUT))
while [ "$SECONDS" -lt "$deadline" ]; do
  # --max-time: a server that accepts the connection but never answers must not hold us up
  if curl -fs --max-time 2 "http://$HOST:$PORT/healthz" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.2
done
if [ -z "$healthy" ]; then
  tail -n 30 var/log/server*.log >&2 2>/dev/null || true
  die "http://$HOST:$PORT/healthz did not answer within ${HEALTHZ_TIMEOUT}s (server logs above, all in var/log/)"
fi
if [ -n "${redis_pid:-}" ] && ! kill -0 "$redis_pid" 2>/dev/null; then
  die "the private Redis exited (var/log/redis.out, var/redis/redis.log)"
fi
echo
echo "Serving on http://$HOST:$PORT/  (runs: /runs/, admin: /admin/, Socket.IO: /socket.io/ and /ws/socket.io/)"
echo "$SERVERS server process(es), $WORKERS worker(s). Logs in var/log/. Press Ctrl-C to stop."
wait -n "${pids[@]}" "${redis_pids[@]}" || true
