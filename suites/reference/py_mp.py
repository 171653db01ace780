#!/usr/bin/env python3
"""py_mp.py - Python multiprocessing reference figures for ipcbench.

Measures what a Python programmer would use instead of ipcbench's mechanisms,
on the CPUs and at the message sizes ipcbench gives it, and prints one JSON
object on stdout. `ipcbench run` folds it into the results as the reference
rows py-mp-queue, py-mp-pipe and py-mp-pool (workload "pyref" in a suite).

    py_mp.py --kind queue|pipe --workload pingpong|stream --size N --cpus A,B --min-time S
    py_mp.py --kind pool --workers W --cpus A,B --min-time S

pingpong: round trips of one message of N bytes between this process (CPU A)
  and a child (CPU B): multiprocessing.Queue (one each way) or a duplex Pipe.
  Prints {"round_trips", "seconds", "rtt_ns": {p50, p90, p99, p999, max, mean}}.
stream: a child (CPU A) sends N-byte messages to this process (CPU B) through
  a Queue(maxsize=1024) or a one-way Pipe. Prints {"messages", "seconds"}.
pool: Pool(W).apply_async of an empty task with a callback, from this process
  on CPU A; worker i on B when i is even, A when odd (as ipcbench's pools).
  Prints {"tasks", "seconds"}.

Every message carries its sequence number in its first 8 bytes and the
receiver checks it and the length: wrong bytes fail loudly (exit 1), as they
do for ipcbench's own rows. CPU -1 means unpinned. Needs only the standard
library (Python 3.7+).
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def stamp(size, seq):
    """A message of size bytes whose first 8 bytes hold seq (fewer if size < 8)."""
    head = seq.to_bytes(8, "little")
    return head[:size] + bytes(max(0, size - 8))


def check(msg, size, seq):
    if len(msg) != size or msg[:8] != seq.to_bytes(8, "little")[:size]:
        sys.exit("py_mp: message %d is wrong (%d bytes, wanted %d with its sequence number)" % (seq, len(msg), size))


# --- pingpong -------------------------------------------------------------

def echo_queue(cpu, inq, outq):
    pin(cpu)
    while True:
        m = inq.get()
        if m is None:
            return
        outq.put(m)


def echo_pipe(cpu, conn, size):
    pin(cpu)
    while True:
        m = conn.recv_bytes()
        if len(m) != size:  # the stop message is one byte longer than any other
            return
        conn.send_bytes(m)


def pingpong(kind, size, cpus, min_time):
    pin(cpus[0])
    if kind == "queue":
        there, back = mp.Queue(), mp.Queue()
        child = mp.Process(target=echo_queue, args=(cpus[1], there, back))
        send, recv = there.put, back.get
    else:
        a, b = mp.Pipe(duplex=True)
        child = mp.Process(target=echo_pipe, args=(cpus[1], b, size))
        send, recv = a.send_bytes, a.recv_bytes
    child.start()
    clock = time.perf_counter_ns
    seq = 0
    rtts = []
    # warm-up: start-up, first wake-ups and imports stay out of the figures
    warm_end = clock() + 200_000_000
    while clock() < warm_end:
        send(stamp(size, seq))
        check(recv(), size, seq)
        seq += 1
    start = clock()
    end = start + int(min_time * 1e9)
    while True:
        msg = stamp(size, seq)
        t0 = clock()
        send(msg)
        got = recv()
        t1 = clock()
        check(got, size, seq)
        rtts.append(t1 - t0)
        seq += 1
        if t1 >= end:
            break
    seconds = (clock() - start) / 1e9
    if kind == "queue":
        send(None)
    else:
        send(bytes(size + 1))
    child.join()
    rtts.sort()
    n = len(rtts)

    def pct(p):
        return rtts[min(n - 1, int(p * n))]

    return {"round_trips": n, "seconds": seconds,
            "rtt_ns": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "p999": pct(0.999),
                       "max": rtts[-1], "mean": sum(rtts) / n}}


# --- stream ---------------------------------------------------------------

def produce(kind, cpu, out, size, count):
    pin(cpu)
    put = out.put if kind == "queue" else out.send_bytes
    for seq in range(count):
        put(stamp(size, seq))


def stream_once(kind, size, cpus, count):
    """Seconds for count messages, from the consumer's first get to its last."""
    if kind == "queue":
        q = mp.Queue(maxsize=1024)
        child = mp.Process(target=produce, args=(kind, cpus[0], q, size, count))
        get = q.get
    else:
        r, w = mp.Pipe(duplex=False)
        child = mp.Process(target=produce, args=(kind, cpus[0], w, size, count))
        get = r.recv_bytes
    child.start()
    check(get(), size, 0)
    t0 = time.perf_counter_ns()
    for seq in range(1, count):
        check(get(), size, seq)
    seconds = (time.perf_counter_ns() - t0) / 1e9
    child.join()
    return seconds


def stream(kind, size, cpus, min_time):
    pin(cpus[1])
    count = 1000
    while True:
        seconds = stream_once(kind, size, cpus, count)
        if seconds >= min_time or count >= 1 << 26:
            return {"messages": count - 1, "seconds": seconds}
        # grow towards min_time from what this batch took (never less than 2x)
        count = max(count * 2, int(count * min_time * 1.2 / max(seconds, 1e-6)))


# --- pool -----------------------------------------------------------------

def empty_task():
    return None


def pin_worker(cpus, counter):
    with counter.get_lock():
        i = counter.value
        counter.value += 1
    pin(cpus[1] if i % 2 == 0 else cpus[0])


def pool(workers, cpus, min_time):
    pin(cpus[0])
    counter = mp.Value("i", 0)
    with mp.Pool(workers, initializer=pin_worker, initargs=(cpus, counter)) as p:
        done = [0]

        def cb(_):
            done[0] += 1

        def run(n):
            done[0] = 0
            t0 = time.perf_counter_ns()
            results = [p.apply_async(empty_task, callback=cb) for _ in range(n)]
            for r in results:
                r.get()
            seconds = (time.perf_counter_ns() - t0) / 1e9
            if done[0] != n:
                sys.exit("py_mp: %d of %d callbacks ran" % (done[0], n))
            return seconds

        run(1000)  # warm-up: workers started and pinned
        n = 1000
        while True:
            seconds = run(n)
            if seconds >= min_time or n >= 1 << 24:
                return {"tasks": n, "seconds": seconds}
            n = max(n * 2, int(n * min_time * 1.2 / max(seconds, 1e-6)))


def main():
    ap = argparse.ArgumentParser(description="Python multiprocessing reference figures for ipcbench")
    ap.add_argument("--kind", choices=["queue", "pipe", "pool"], required=True)
    ap.add_argument("--workload", choices=["pingpong", "stream"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cpus", default="-1,-1", help="A,B as taskset numbers; -1 = unpinned")
    ap.add_argument("--min-time", type=float, default=0.5)
    a = ap.parse_args()
    cpus = [int(x) for x in a.cpus.split(",")]
    if len(cpus) != 2:
        ap.error("--cpus wants two CPUs: A,B")
    if a.size < 0 or a.workers < 1 or a.min_time <= 0:
        ap.error("--size must be >= 0, --workers >= 1, --min-time > 0")
    mp.set_start_method("fork")
    if a.kind == "pool":
        out = pool(a.workers, cpus, a.min_time)
    elif a.workload == "pingpong":
        out = pingpong(a.kind, a.size, cpus, a.min_time)
    elif a.workload == "stream":
        out = stream(a.kind, a.size, cpus, a.min_time)
    else:
        ap.error("--kind queue|pipe needs --workload pingpong|stream")
    out["python"] = sys.version.split()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
