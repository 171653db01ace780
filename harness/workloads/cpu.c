/*
 * cpu.c - a pool of workers running pure-CPU tasks of a calibrated grain:
 * how tasks per second grow with workers, processes against threads.
 *
 * A task hashes a 512-byte buffer for grain x (iterations per microsecond)
 * iterations; the iterations per microsecond are measured once per run
 * (ipcb_cpu_calibrate) on this machine. Grain 0 is an empty task: what the
 * pool itself costs to dispatch one task and run its callback.
 *
 * The benchmark thread owns the pool: it submits tasks with
 * ipcq_pool_apply_async, each with a callback that checks the task's hash
 * against the value computed before the run for that seed (a wrong hash
 * fails the row). tasks_per_second is the callbacks run over the wall time
 * from the first submission to the last callback (the queue drained);
 * task_us is the mean time a worker took to hash one task (the grain as it
 * came out: it drifts from the calibration when the machine is busy).
 * The pool's capacity keeps about 20 ms of work queued (at least 2 tasks
 * per worker, at most 1024 tasks), so the drain at the end stays short.
 * speedup (over one worker, same mechanism, mode, placement and grain) is
 * added by the runner once every row has run.
 */
#include "peer.h"
#include "poolwl.h"
#include "stats.h"
#include "wlutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSEEDS 4 /* tasks cycle through these; each one's hash is known beforehand */

static uint64_t cpu_buf[64]; /* filled by ipcb_cpu_calibrate before any pool forks */
static double iters_per_us = -1;

static uint64_t cpu_hash(uint64_t seed, uint32_t iters)
{
	uint64_t h = seed ^ 0x9e3779b97f4a7c15ull;
	for (uint32_t i = 0; i < iters; i++) {
		h ^= cpu_buf[i & 63];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

double ipcb_cpu_calibrate(void)
{
	if (iters_per_us > 0)
		return iters_per_us;
	uint64_t x = 0x243f6a8885a308d3ull;
	for (int i = 0; i < 64; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		cpu_buf[i] = x;
	}
	/* Grow a run to >= 5 ms, then keep the fastest of 15 (the least disturbed: on a shared
	 * machine or a VM with steal time, a slow run is someone else's). */
	uint32_t n = 1000;
	volatile uint64_t sink = 0;
	for (;;) {
		uint64_t t0 = ipcb_now_ns();
		sink ^= cpu_hash(n, n);
		uint64_t dt = ipcb_now_ns() - t0;
		if (dt >= 5000000 || n >= (1u << 30))
			break;
		n *= 2;
	}
	double best = 0;
	for (int k = 0; k < 15; k++) {
		uint64_t t0 = ipcb_now_ns();
		sink ^= cpu_hash((uint64_t)k, n);
		double r = (double)n / ((double)(ipcb_now_ns() - t0) / 1e3);
		if (r > best)
			best = r;
	}
	(void)sink;
	iters_per_us = best;
	return best;
}

struct cpu_arg {
	uint64_t seed;
	uint32_t iters;
	uint32_t idx;
};

struct cpu_out {
	uint64_t hash;
	uint32_t idx;
	uint32_t iters;
	uint64_t ns; /* the hashing as the worker timed it (0 for empty tasks) */
};

static void cpu_task(const void *arg, size_t len, void *out, size_t *out_len)
{
	struct cpu_arg a;
	if (len != sizeof a || *out_len < sizeof(struct cpu_out)) {
		*out_len = 0;
		return;
	}
	memcpy(&a, arg, sizeof a);
	uint64_t t0 = a.iters ? ipcb_now_ns() : 0;
	struct cpu_out o = { cpu_hash(a.seed, a.iters), a.idx, a.iters, 0 };
	if (a.iters)
		o.ns = ipcb_now_ns() - t0;
	memcpy(out, &o, sizeof o);
	*out_len = sizeof o;
}

struct cpu_run {
	uint64_t want[NSEEDS];
	uint32_t iters;
	uint64_t done, bad;
	double task_ns; /* sum of what workers timed */
	char why[200];
};

static void cpu_done(void *ctx, int status, const void *out, size_t len)
{
	struct cpu_run *r = ctx;
	struct cpu_out o;
	r->done++;
	if (status != IPCQ_OK || len != sizeof o) {
		if (!r->bad++)
			snprintf(r->why, sizeof r->why, "a task ended %s with %zu result bytes", ipcq_strstatus(status), len);
		return;
	}
	memcpy(&o, out, sizeof o);
	r->task_ns += (double)o.ns;
	if (o.idx >= NSEEDS || o.iters != r->iters || o.hash != r->want[o.idx]) {
		if (!r->bad++)
			snprintf(r->why, sizeof r->why, "task with seed %u returned hash %016llx over %u iterations, expected %016llx over %u",
			         o.idx, (unsigned long long)o.hash, o.iters,
			         o.idx < NSEEDS ? (unsigned long long)r->want[o.idx] : 0ull, r->iters);
	}
}

static void cpu_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[400], cpus[64];
	struct ipcb_pin pin = { 0 };
	ipcq_pool *p = NULL;
	bool healthy = false;
	double ipu = ipcb_cpu_calibrate();
	struct ipcb_pool_setup *s = ipcb_shared_alloc(sizeof *s, err, sizeof err);
	struct cpu_run *r = calloc(1, sizeof *r);
	if (!s || !r) {
		ipcb_fail(st, "cpu: %s", s ? "out of memory" : err);
		goto out;
	}
	double it = (double)c->grain_us * ipu;
	if (it > 4e9) {
		ipcb_fail(st, "cpu: grain %u us needs %.0f hash iterations, more than a task counts", c->grain_us, it);
		goto out;
	}
	r->iters = (uint32_t)(it + 0.5);
	/* Google Benchmark calls a row several times: the expected hashes are kept for the last grain. */
	static uint64_t want[NSEEDS];
	static int64_t want_iters = -1;
	if (want_iters != (int64_t)r->iters) {
		for (int k = 0; k < NSEEDS; k++)
			want[k] = cpu_hash((uint64_t)k * 0x100000001b3ull + 1, r->iters);
		want_iters = r->iters;
	}
	memcpy(r->want, want, sizeof want);

	unsigned cap = c->grain_us ? 20000u / c->grain_us : 1024u;
	if (cap < 2 * c->workers)
		cap = 2 * c->workers;
	if (cap > 1024)
		cap = 1024;
	ipcq_pool_config cfg = ipcb_pool_config(c, cap, 64, 64);
	/* Workers inherit the owner's CPU set at fork or pthread_create: let them start anywhere. */
	int st_open = ipcq_pool_open(&cfg, &p);
	if (st_open != IPCQ_OK) {
		ipcb_fail(st, "cpu: ipcq_pool_open: %s", ipcb_status_text(st_open, NULL, err, sizeof err));
		p = NULL;
		goto out;
	}
	ipcb_pool_cpus(c, s, c->workers, cpus, sizeof cpus);
	if (ipcb_pool_setup_run(p, s, c->workers, err, sizeof err) != 0) {
		ipcb_fail(st, "cpu: %s", err);
		goto out;
	}
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "cpu: %s", err);
		goto out;
	}

	/* About 1 ms of work per batch of iterations, so Google Benchmark's loop costs nothing. */
	int64_t batch = c->grain_us >= 1000 ? 1 : c->grain_us ? 1000 / c->grain_us : 256;
	struct cpu_arg a = { 0, r->iters, 0 };
	uint64_t submitted = 0;
	int rc = IPCQ_OK;
	uint64_t t0 = ipcb_now_ns();
	while (ipcb_gb_keep_running_batch(st, batch)) {
		for (int64_t k = 0; k < batch; k++) {
			a.idx = (uint32_t)(submitted % NSEEDS);
			a.seed = (uint64_t)a.idx * 0x100000001b3ull + 1;
			if ((rc = ipcq_pool_apply_async(p, cpu_task, &a, sizeof a, cpu_done, r)) != IPCQ_OK)
				break;
			submitted++;
		}
		if (rc != IPCQ_OK || r->bad)
			break;
	}
	uint64_t t1;
	if (!ipcb_pool_finish(st, p, "cpu", rc, submitted, &r->done, &r->bad, r->why, &t1))
		goto out;
	healthy = true;
	double secs = (double)(t1 - t0) / 1e9;
	ipcb_gb_counter(st, "tasks_per_second", (double)r->done / secs, IPCB_GB_COUNTER_DEFAULT);
	ipcb_gb_counter(st, "ns_per_task", secs * 1e9 / (double)r->done, IPCB_GB_COUNTER_DEFAULT);
	if (r->iters) /* the grain as it came out: calibration on a busy machine is off by the load */
		ipcb_gb_counter(st, "task_us", r->task_ns / (double)r->done / 1e3, IPCB_GB_COUNTER_DEFAULT);
	char label[160];
	snprintf(label, sizeof label, "%s; %u hash iterations per task (%.0f/us)", cpus, r->iters, ipu);
	ipcb_gb_set_label(st, label);
out:
	ipcb_unpin_self(&pin);
	ipcb_pool_end(p, healthy);
	free(r);
	ipcb_shared_free(s, sizeof *s);
}

const struct ipcb_workload ipcb_workload_cpu = {
	.name = "cpu",
	.summary = "pool of workers hashing a buffer, calibrated grain (0 = empty tasks: dispatch cost) x workers "
	           "(tasks_per_second, speedup over one worker)",
	.run = cpu_run,
	.opts = { .real_time = true },
};
