# redis-loopback.sh - sourced by the redis ctest scripts (redis-tcp.sh,
# redis-named.sh): starts a redis-server of their own on a free TCP loopback
# port, without persistence, in a temporary folder, and stops it at exit.
# Sets port, pid (the server) and dir (the folder, removed at exit).
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
[[ -n $pid ]] || { echo "$(basename "$0"): no redis-server would start on a loopback port" >&2; exit 1; }
