#!/usr/bin/env bash
# redis-tcp.sh CONFORMANCE - a slice of the battery against a redis-server on
# TCP loopback, reached as redis://127.0.0.1:PORT/2 through $IPCQ_REDIS_ENDPOINT:
# the endpoint parser, the TCP dial and SELECT, which the private server
# (a unix socket, database 0) never uses. The server is ours and stopped at exit.
set -euo pipefail
bin=$1
source "$(dirname "$0")/redis-loopback.sh" # sets port, pid, dir; stops the server at exit
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
