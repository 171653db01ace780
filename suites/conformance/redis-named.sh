#!/usr/bin/env bash
# redis-named.sh CONFORMANCE - the named-queue tests (named_*) against a
# redis-server of our own on TCP loopback, reached as redis://127.0.0.1:PORT/3
# through $IPCQ_REDIS_ENDPOINT: a named queue needs a server every process
# using the name can reach (the private server is one process tree's alone),
# so in conformance.redis these tests are inactive. Leases last
# IPCQ_REDIS_LEASE_MS = 400 ms here, so death is seen within about that.
# Afterwards the keys of every named queue must be gone: deleted by the last
# close, or expired (10 leases) where the last holders were killed.
set -euo pipefail
bin=$1
source "$(dirname "$0")/redis-loopback.sh" # sets port, pid, dir; stops the server at exit
export IPCQ_REDIS_ENDPOINT=redis://127.0.0.1:$port/3 IPCQ_REDIS_LEASE_MS=400
"$bin" --mechanism redis --test named_ | tee "$dir/out"
# Inactive here would mean a named queue did not open: the tests must have run.
if grep -q 'is inactive' "$dir/out"; then
  echo "redis-named.sh: named tests were inactive against redis://127.0.0.1:$port/3" >&2
  exit 1
fi
for _ in $(seq 100); do
  keys=$(redis-cli -p "$port" -n 3 dbsize)
  (( keys == 0 )) && break
  sleep 0.1
done
if (( keys != 0 )); then
  echo "redis-named.sh: $keys keys of named queues outlived their holders by 10 s:" >&2
  redis-cli -p "$port" -n 3 --scan | head -20 >&2
  exit 1
fi
echo "redis-named.sh: every named queue's keys are gone from 127.0.0.1:$port/3"
