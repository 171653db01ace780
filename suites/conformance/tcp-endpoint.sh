#!/usr/bin/env bash
# tcp-endpoint.sh CONFORMANCE - a slice of the battery on tcp endpoints other
# than the default tcp://127.0.0.1:0, given through $IPCQ_TCP_ENDPOINT: a host
# name, IPv6 loopback (where this host has it) and a fixed port opened again and
# again (SO_REUSEADDR past TIME_WAIT). A malformed endpoint must fail the open,
# which shows the variable is read at all.
set -euo pipefail
bin=$1
run() {
  IPCQ_TCP_ENDPOINT=$1 "$bin" --mechanism tcp --test "$2"
}
if IPCQ_TCP_ENDPOINT=tcp://127.0.0.1 "$bin" --mechanism tcp --test round_trip >/dev/null 2>&1; then
  echo "tcp-endpoint.sh: tcp://127.0.0.1 (no port) was accepted; is IPCQ_TCP_ENDPOINT ignored?" >&2
  exit 1
fi
# A host name, where localhost resolves (a bare chroot may have no /etc/hosts).
if getent ahosts localhost >/dev/null 2>&1; then
  for t in round_trip fifo_order mpmc_4x4 eof_after_drain_child put_dead_consumer_broken_sigign; do
    run tcp://localhost:0 "$t"
  done
else
  echo "tcp-endpoint.sh: localhost does not resolve here (no /etc/hosts entry); a host-name endpoint was not tried"
fi
# The fixed port: below the ephemeral range, which the tests running beside
# this one draw from (a port picked inside it was taken once: EADDRINUSE),
# and another one if something holds it anyway.
low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
(( low > 11000 )) || low=32768
for try in 1 2 3 4 5; do
  port=$((10000 + RANDOM % (low - 10000)))
  if out=$(run "tcp://127.0.0.1:$port" round_trip 2>&1); then
    break
  fi
  if [[ $out != *"Address already in use"* || $try == 5 ]]; then
    echo "$out"
    exit 1
  fi
done
for t in fifo_order fork_with_pending_items; do
  run "tcp://127.0.0.1:$port" "$t"
done
if [[ -r /proc/net/if_inet6 ]] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
  for t in round_trip mpmc_4x4; do
    run 'tcp://[::1]:0' "$t"
  done
else
  echo "tcp-endpoint.sh: no IPv6 loopback here; tcp://[::1]:0 not tried"
fi
