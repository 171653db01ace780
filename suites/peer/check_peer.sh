#!/usr/bin/env bash
# check_peer.sh IPCBENCH - the ctest entry "peer": two network namespaces
# joined by a veth pair (10.x.y.1 and 10.x.y.2); `ipcbench agent` listens in
# one, `ipcbench run --peer` drives it from the other. Checks the rows come
# back with sane figures and results.json holds both hosts' environments;
# then kills the agent (SIGKILL) in the middle of a longer run and checks the
# driver ends by itself, exit 0, with every row present and the lost ones as
# errors naming the agent. The namespaces go away on any exit.
# Skips (exit 77) when not root, without `ip` (iproute2) or network namespaces.
set -uo pipefail

bin=$1
skip() {
  echo "check_peer.sh: SKIP: $*"
  exit 77
}
fail() {
  echo "check_peer.sh: FAIL: $*" >&2
  exit 1
}
[[ $(id -u) == 0 ]] || skip "not root (network namespaces need root)"
command -v ip >/dev/null || skip "no ip command (apt-get install iproute2)"
command -v python3 >/dev/null || skip "no python3 to read results.json (apt-get install python3)"

tag=ipcb$$
nsa=${tag}a nsb=${tag}b
net=10.$((200 + RANDOM % 50)).$((RANDOM % 250))
tmp=$(mktemp -d)
apid=
cleanup() {
  [[ -n $apid ]] && kill -9 "$apid" 2>/dev/null
  ip netns del "$nsa" 2>/dev/null
  ip netns del "$nsb" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$nsa" 2>"$tmp/err" || skip "ip netns add: $(cat "$tmp/err")"
ip netns add "$nsb" || fail "ip netns add $nsb"
# Inside a namespace through nsenter, not `ip netns exec`/`ip -n`: those also
# remount /sys, which fails where / is no mount point (a chroot). nsenter
# execs the command, so a background one's $! is the command itself.
command -v nsenter >/dev/null || skip "no nsenter (apt-get install util-linux)"
in_a=(nsenter "--net=/var/run/netns/$nsa")
in_b=(nsenter "--net=/var/run/netns/$nsb")
ip link add "${tag}x" type veth peer name "${tag}y" || skip "no veth support (ip link add type veth failed)"
ip link set "${tag}x" netns "$nsa" && ip link set "${tag}y" netns "$nsb" &&
  "${in_a[@]}" ip addr add "$net.1/24" dev "${tag}x" && "${in_b[@]}" ip addr add "$net.2/24" dev "${tag}y" &&
  "${in_a[@]}" ip link set "${tag}x" up && "${in_b[@]}" ip link set "${tag}y" up &&
  "${in_a[@]}" ip link set lo up && "${in_b[@]}" ip link set lo up || fail "setting up the veth pair"

start_agent() {
  "${in_b[@]}" "$bin" agent --listen "$net.2" >>"$tmp/agent.log" 2>&1 &
  apid=$!
  for _ in $(seq 100); do
    "${in_b[@]}" ss -ltn 2>/dev/null | grep -q "$net.2:45901" && return 0
    kill -0 "$apid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp/agent.log" >&2
  fail "the agent did not start listening on $net.2:45901"
}

# 1. A short run: every row measured, both environments recorded.
start_agent
rc=0
timeout 60 "${in_a[@]}" "$bin" run --peer "$net.2" --workload pingpong,stream --size 64 \
  --benchmark_min_time=0.1 --out "$tmp/r1" >"$tmp/run1.log" 2>&1 || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/run1.log" "$tmp/agent.log" >&2; fail "ipcbench run --peer exited $rc"; }
python3 - "$tmp/r1/latest/results.json" "$net.2" <<'PY' || { cat "$tmp/run1.log" >&2; fail "results of the short run"; }
import json, sys
d = json.load(open(sys.argv[1])); addr = sys.argv[2]
ctx, rows = d["context"], d["benchmarks"]
names = sorted(r["name"] for r in rows)
want = sorted(["pingpong/tcp/peer/%s/size:64" % addr, "stream/tcp/peer/%s/size:64" % addr])
assert names == want, "rows %s, expected %s" % (names, want)
for r in rows:
    assert not r.get("error_occurred"), "%s: %s" % (r["name"], r.get("error_message"))
    assert r.get("label", "").startswith("agent "), "%s: label %r" % (r["name"], r.get("label"))
    if r["name"].startswith("pingpong"):
        p50, p99 = r["rtt_p50_ns"], r["rtt_p99_ns"]
        assert 1000 <= p50 <= p99 < 1e9, "%s: rtt p50 %s p99 %s ns" % (r["name"], p50, p99)
    else:
        ips = r["items_per_second"]
        assert 1000 < ips < 1e9 and abs(r["bytes_per_second"] - 64 * ips) < 0.01 * r["bytes_per_second"], \
            "%s: %s msg/s, %s B/s" % (r["name"], ips, r["bytes_per_second"])
peer = ctx.get("peer")
assert isinstance(peer, dict), "no context \"peer\" object"
for k in ("hostname", "kernel", "cpu_model", "pus", "agent_cpu", "address"):
    assert peer.get(k), "context peer.%s missing" % k
    if k in ("hostname", "kernel", "cpu_model", "pus"):
        assert ctx.get(k), "context %s (the driver's) missing" % k
assert ctx.get("peer_address") == addr, "context peer_address %r" % ctx.get("peer_address")
print("check_peer.sh: short run: %s" % "; ".join(
    "%s %s" % (r["name"], "p50 %.1f us" % (r["rtt_p50_ns"] / 1e3) if "rtt_p50_ns" in r else
               "%.0f msg/s" % r["items_per_second"]) for r in rows))
PY
# The report takes a peer run: its rows stand at placement peer:<address>.
"$bin" report "$tmp/r1/latest" >"$tmp/report.log" 2>&1 || { cat "$tmp/report.log" >&2; fail "ipcbench report on the peer run"; }
grep -q "peer:$net.2" "$tmp/r1/latest/report.md" || fail "report.md does not place the rows at peer:$net.2"

# 2. The agent killed mid-run: the driver reports it on the row and goes on.
rc=0
t0=$SECONDS
timeout 40 "${in_a[@]}" "$bin" run --peer "$net.2" --workload pingpong,stream --size 64,4K \
  --benchmark_min_time=5 --out "$tmp/r2" >"$tmp/run2.log" 2>&1 &
dpid=$!
sleep 1.5
kill -9 "$apid"
wait "$apid" 2>/dev/null
apid=
wait "$dpid" || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/run2.log" >&2; fail "the driver exited $rc after the agent was killed (124: it hung)"; }
(( SECONDS - t0 < 30 )) || fail "the driver took $((SECONDS - t0)) s after the agent died"
python3 - "$tmp/r2/latest/results.json" <<'PY' || { cat "$tmp/run2.log" >&2; fail "results of the killed run"; }
import json, sys
rows = json.load(open(sys.argv[1]))["benchmarks"]
assert len(rows) == 4, "%d rows, expected 4 (every row, errors included)" % len(rows)
errs = [r for r in rows if r.get("error_occurred")]
assert errs, "no row reports the agent's death"
for r in errs:
    m = r.get("error_message", "")
    assert "agent" in m and ("closed" in m or "reset" in m or "reach" in m), "%s: %r" % (r["name"], m)
assert "cannot reach the agent" in errs[-1]["error_message"], "later rows: %r" % errs[-1]["error_message"]
print("check_peer.sh: agent killed: %d of %d rows are errors; first: %s" % (len(errs), len(rows), errs[0]["error_message"]))
PY
echo "check_peer.sh: ok"
