/*
 * poolwl.h - what the pool workloads (cpu, io) share: where the owner and
 * the workers run, a start-up barrier that pins each worker and learns its
 * pid, and the memory a process occupies.
 *
 * Placement of a pool: the owner (the benchmark thread, which submits tasks
 * and runs the callbacks) on the placement's CPU A; worker i on CPU B, A, B,
 * A, ... (same-pu: every worker on A; os: nothing pinned). The pool API has
 * no affinity knob, so the workers pin themselves: right after the pool
 * opens, the owner submits one setup task per worker, each of which waits
 * until all have arrived - so each lands on a different worker - then pins
 * its worker and records its pid. A worker the pool replaces after a death
 * is not pinned again (the benchmark fails on a death anyway).
 */
#ifndef IPCB_POOLWL_H
#define IPCB_POOLWL_H

#include "suite.h"
#include "workload.h"

#include <stdatomic.h>
#include <sys/types.h>

/* In MAP_SHARED memory (ipcb_shared_alloc), so process workers see it. */
struct ipcb_pool_setup {
	atomic_uint arrived;
	atomic_uint failed;      /* setup tasks that could not pin or timed out */
	unsigned n;
	int cpu[IPCB_MAX_WORKERS];   /* -1: leave unpinned */
	pid_t pid[IPCB_MAX_WORKERS]; /* each worker's pid (all equal in THREAD mode) */
	pid_t tid[IPCB_MAX_WORKERS]; /* and thread id */
};

/* Fills s->cpu[0..n) for case c and writes the CPUs as "1,0" (or "unpinned") to desc. */
void ipcb_pool_cpus(const struct ipcb_case *c, struct ipcb_pool_setup *s, unsigned n, char *desc, size_t desclen);

/* Runs the setup tasks on pool p (n workers): every worker pinned to s->cpu[i]
 * and its pid in s->pid[i]. 0, or -1 with err. */
int ipcb_pool_setup_run(ipcq_pool *p, struct ipcb_pool_setup *s, unsigned n, char *err, size_t errlen);

/* Rss and Pss of process pid ("self" when pid is 0) in bytes, from
 * /proc/<pid>/smaps_rollup. 0, or -1 when it cannot be read. */
int ipcb_proc_mem(pid_t pid, double *rss, double *pss);

/* The pool config a case asks for (mechanism, mode, workers). */
ipcq_pool_config ipcb_pool_config(const struct ipcb_case *c, unsigned capacity, size_t max_arg, size_t max_out);

/* The end of a pool workload's measured loop, rc being its last apply_async
 * status: waits for the outstanding callbacks, then checks that every one of
 * the submitted tasks came back right (done, bad and why are the callbacks'
 * tally, read after the wait). true, or false after failing st; *t1 gets the
 * time the last callback had run. wl names the workload in messages. */
bool ipcb_pool_finish(ipcb_gb_state *st, ipcq_pool *p, const char *wl, int rc, uint64_t submitted,
                      const uint64_t *done, const uint64_t *bad, const char *why, uint64_t *t1);

/* Ends pool p: close + join when healthy, else terminate + join. NULL allowed. */
void ipcb_pool_end(ipcq_pool *p, bool healthy);

#endif
