#!/usr/bin/env bash
# redis-tcp.sh CONFORMANCE - a slice of the battery against a redis-server on
# TCP loopback, reached as redis://127.0.0.1:PORT/2 through $IPCQ_REDIS_ENDPOINT:
# the endpoint parser, the TCP dial and SELECT, which the private server
# (a unix socket, database 0) never uses. The server is ours and stopped at exit.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for try in 1 2 3 4 5 6 7 8; do
  port=$((20000 + RANDOM % 40000))
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/log" --daemonize no &
  pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break 2
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  pid=
done
[[ -n $pid ]] || { echo "redis-tcp.sh: no redis-server would start on a loopback port" >&2; exit 1; }
export IPCQ_REDIS_ENDPOINT=redis://127.0.0.1:$port/2
for t in round_trip mpmc_4x4 timed_get toobig signals_get_no_data_loss eof_ shared_; do
  "$bin" --mechanism redis --test "$t"
done
# The tests must have gone through this server, not a private one.
conns=$(redis-cli -p "$port" info stats | tr -d '\r' | sed -n 's/^total_connections_received://p')
keys=$(redis-cli -p "$port" -n 2 dbsize)
echo "redis-tcp.sh: $conns connections to 127.0.0.1:$port; keys left in db 2 (queues open when a test ended): $keys"
if (( conns < 20 )); then
  echo "redis-tcp.sh: the battery hardly used redis://127.0.0.1:$port/2; is IPCQ_REDIS_ENDPOINT ignored?" >&2
  exit 1
fi
