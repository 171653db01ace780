/*
 * shared.c - shared values across processes or threads: N endpoints (2
 * unless the suite line says workers=) add 1 to one shared key as fast as
 * they can (ipcq_shared_add, Manager-style counters), for mechanisms with
 * IPCQ_CAP_SHARED. The benchmark thread is endpoint 0 on the placement's
 * CPU A; the other endpoints are child processes or threads on B, A, B, ...
 * (same-pu: all on A; os: unpinned), as in the pool workloads.
 *
 * Counters: ops_per_second is every endpoint's adds over the measured wall
 * time; the key must end up holding exactly that many. Two baselines follow
 * on the same CPUs, each a fixed phase of BASELINE_PHASE_NS after the
 * measured loop, checked the same way (the count must match the adds):
 * atomic_ops_per_second, a plain atomic_fetch_add on one int64 in MAP_SHARED
 * memory (what the hardware does without a lock), and lock_ops_per_second,
 * a robust process-shared pthread mutex in MAP_SHARED memory around a plain
 * increment (a hand-rolled lock, the kind shmmgr holds, without its table
 * and key lookup). Each row reads as a fraction of both.
 *
 * Two endpoints by default because the placement names a relation between
 * two CPUs; more endpoints than CPUs measure how a lock copes with its
 * holder being preempted, which is worth a row of its own (workers=4).
 */
#include "peer.h"
#include "stats.h"
#include "wlutil.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASELINE_PHASE_NS 100000000LL
#define END_TIMEOUT_NS 5000000000LL
#define KEY "ipcb:shared"
#define MAX_ENDPOINTS 64

enum { PH_WAIT, PH_SHARED, PH_BETWEEN, PH_ATOMIC, PH_BETWEEN2, PH_LOCK, PH_END };

struct shared_run {
	ipcq_shared *s;                    /* opened before the peers start: inherited */
	alignas(64) atomic_int phase;
	atomic_int done[3];                /* peers that have counted phase k */
	long long peer_ops[MAX_ENDPOINTS][3]; /* each peer's adds in each phase */
	alignas(64) atomic_llong counter;  /* the plain atomic */
	alignas(64) pthread_mutex_t lock;  /* robust, process-shared */
	long long locked;                  /* incremented under lock */
	atomic_int next_peer;              /* hands each peer its index */
	struct ipcb_report report;
};

/* One increment under the shared lock; 0, or the error number of the lock call that failed. */
static int lock_add(struct shared_run *r)
{
	int e = pthread_mutex_lock(&r->lock);
	if (e == EOWNERDEAD) /* an endpoint died holding it: the count is still whole */
		e = pthread_mutex_consistent(&r->lock);
	if (e)
		return e;
	r->locked++;
	return pthread_mutex_unlock(&r->lock);
}

static int init_lock(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int e = pthread_mutexattr_init(&a);
	if (!e)
		e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!e)
		e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!e)
		e = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return e;
}

static int shared_peer(void *arg)
{
	struct shared_run *r = arg;
	int me = atomic_fetch_add(&r->next_peer, 1);
	while (atomic_load(&r->phase) == PH_WAIT)
		sched_yield();
	long long n = 0;
	while (atomic_load_explicit(&r->phase, memory_order_relaxed) == PH_SHARED) {
		int st = ipcq_shared_add(r->s, KEY, 1, NULL);
		if (st != IPCQ_OK) {
			ipcb_report_fail(&r->report, "shared: peer %d: ipcq_shared_add -> %s: %s", me + 1, ipcq_strstatus(st),
			                 ipcq_errmsg(r->s));
			return 1;
		}
		n++;
	}
	r->peer_ops[me][0] = n;
	atomic_fetch_add(&r->done[0], 1);
	while (atomic_load(&r->phase) < PH_ATOMIC)
		sched_yield();
	n = 0;
	while (atomic_load_explicit(&r->phase, memory_order_relaxed) == PH_ATOMIC) {
		atomic_fetch_add_explicit(&r->counter, 1, memory_order_relaxed);
		n++;
	}
	r->peer_ops[me][1] = n;
	atomic_fetch_add(&r->done[1], 1);
	while (atomic_load(&r->phase) < PH_LOCK)
		sched_yield();
	n = 0;
	while (atomic_load_explicit(&r->phase, memory_order_relaxed) == PH_LOCK) {
		int e = lock_add(r);
		if (e) {
			ipcb_report_fail(&r->report, "shared: peer %d: the shared mutex: %s", me + 1, strerror(e));
			return 1;
		}
		n++;
	}
	r->peer_ops[me][2] = n;
	atomic_fetch_add(&r->done[2], 1);
	return 0;
}

/* Waits (5 s at most) for every peer to count phase k; false if one failed, or all ended
 * without counting (a peer ends normally right after counting its last phase). */
static bool wait_peers(struct shared_run *r, struct ipcb_peer *peers, int npeers, int k)
{
	uint64_t end = ipcb_now_ns() + END_TIMEOUT_NS;
	char why[128];
	while (atomic_load(&r->done[k]) < npeers) {
		bool all_ended = true;
		for (int i = 0; i < npeers && all_ended; i++)
			all_ended = ipcb_peer_ended(&peers[i], why, sizeof why);
		/* Ended: they may have counted just before returning, so look once more. */
		if (ipcb_now_ns() > end || all_ended || ipcb_report_failed(&r->report))
			return atomic_load(&r->done[k]) >= npeers;
		sched_yield();
	}
	return true;
}

static long long peer_sum(const struct shared_run *r, int npeers, int k)
{
	long long n = 0;
	for (int i = 0; i < npeers; i++)
		n += r->peer_ops[i][k];
	return n;
}

static void shared_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300], why[200];
	struct ipcb_pin pin = { 0 };
	struct ipcb_peer peers[MAX_ENDPOINTS - 1];
	int started = 0, npeers = (c->workers ? (int)c->workers : 2) - 1;
	if (!(ipcq_mech_caps(c->mech) & IPCQ_CAP_SHARED)) {
		ipcb_fail(st, "shared: %s has no shared values (no IPCQ_CAP_SHARED)", ipcq_mech_name(c->mech));
		return;
	}
	if (npeers + 1 > MAX_ENDPOINTS) {
		ipcb_fail(st, "shared: %d endpoints is more than %d", npeers + 1, MAX_ENDPOINTS);
		return;
	}
	struct shared_run *r = ipcb_shared_alloc(sizeof *r, err, sizeof err);
	if (!r) {
		ipcb_fail(st, "shared: %s", err);
		return;
	}
	int e = init_lock(&r->lock);
	if (e) {
		ipcb_fail(st, "shared: a process-shared robust mutex: %s", strerror(e));
		ipcb_shared_free(r, sizeof *r);
		return;
	}
	ipcq_config cfg = { .capacity = 16, .max_msg = 64 };
	int rc = ipcq_shared_open(c->mech, &cfg, &r->s);
	if (rc != IPCQ_OK) {
		ipcb_fail(st, "shared: ipcq_shared_open: %s", ipcb_status_text(rc, NULL, err, sizeof err));
		goto out;
	}
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "shared: %s", err);
		goto out;
	}
	for (; started < npeers; started++) {
		int cpu = c->cpu_a < 0 ? -1 : c->place == IPCB_PLACE_SAME_PU || started % 2 ? c->cpu_a : c->cpu_b;
		if (ipcb_peer_start(&peers[started], c->mode == IPCB_MODE_THREAD, c->topo, cpu, ipcq_mech_name(c->mech),
		                    shared_peer, r, &r->report, err, sizeof err) != 0) {
			ipcb_fail(st, "shared: starting endpoint %d: %s", started + 2, err);
			goto out;
		}
	}

	long long mine = 0;
	atomic_store(&r->phase, PH_SHARED);
	uint64_t t0 = ipcb_now_ns();
	while (ipcb_gb_keep_running_batch(st, 64)) {
		for (int i = 0; i < 64; i++)
			if ((rc = ipcq_shared_add(r->s, KEY, 1, NULL)) != IPCQ_OK)
				break;
		if (rc != IPCQ_OK)
			break;
		mine += 64;
	}
	uint64_t t1 = ipcb_now_ns();
	atomic_store(&r->phase, PH_BETWEEN);
	if (rc != IPCQ_OK) {
		ipcb_fail(st, "shared: ipcq_shared_add: %s", ipcb_status_text(rc, r->s, err, sizeof err));
		goto out;
	}
	if (!wait_peers(r, peers, npeers, 0)) {
		ipcb_fail(st, "shared: an endpoint did not finish its adds: %s",
		          ipcb_report_failed(&r->report) ? r->report.msg : "it ended or hung");
		goto out;
	}
	long long theirs = peer_sum(r, npeers, 0);
	int64_t total = -1;
	size_t len = 0;
	rc = ipcq_shared_get(r->s, KEY, &total, sizeof total, &len);
	if (rc != IPCQ_OK || total != mine + theirs) {
		ipcb_fail(st, "shared: the key holds %lld (%s) after %lld + %lld adds", (long long)total,
		          ipcq_strstatus(rc), mine, theirs);
		goto out;
	}

	long long amine = 0;
	atomic_store(&r->phase, PH_ATOMIC);
	uint64_t t2 = ipcb_now_ns(), t3;
	do {
		for (int i = 0; i < 1024; i++)
			atomic_fetch_add_explicit(&r->counter, 1, memory_order_relaxed);
		amine += 1024;
	} while ((t3 = ipcb_now_ns()) - t2 < BASELINE_PHASE_NS);
	atomic_store(&r->phase, PH_BETWEEN2);
	if (!wait_peers(r, peers, npeers, 1) || atomic_load(&r->counter) != amine + peer_sum(r, npeers, 1)) {
		ipcb_fail(st, "shared: the plain atomic phase went wrong (counter %lld after %lld + %lld adds)%s%s",
		          (long long)atomic_load(&r->counter), amine, peer_sum(r, npeers, 1),
		          ipcb_report_failed(&r->report) ? ": " : "", ipcb_report_failed(&r->report) ? r->report.msg : "");
		goto out;
	}

	long long lmine = 0;
	atomic_store(&r->phase, PH_LOCK);
	uint64_t t4 = ipcb_now_ns(), t5;
	do {
		for (int i = 0; i < 256; i++)
			if ((e = lock_add(r)) != 0) {
				ipcb_fail(st, "shared: the shared mutex: %s", strerror(e));
				goto out;
			}
		lmine += 256;
	} while ((t5 = ipcb_now_ns()) - t4 < BASELINE_PHASE_NS);
	atomic_store(&r->phase, PH_END);
	if (!wait_peers(r, peers, npeers, 2) || r->locked != lmine + peer_sum(r, npeers, 2)) {
		ipcb_fail(st, "shared: the lock phase went wrong (count %lld after %lld + %lld increments)%s%s", r->locked,
		          lmine, peer_sum(r, npeers, 2), ipcb_report_failed(&r->report) ? ": " : "",
		          ipcb_report_failed(&r->report) ? r->report.msg : "");
		goto out;
	}

	ipcb_gb_counter(st, "ops_per_second", (double)(mine + theirs) / ((double)(t1 - t0) / 1e9),
	                IPCB_GB_COUNTER_DEFAULT);
	/* How much of each phase the other endpoints did: near 0 or 100% means they rarely ran at once. */
	char label[96];
	snprintf(label, sizeof label, "%d endpoints; others' share %.0f%% / atomic %.0f%% / lock %.0f%%", npeers + 1,
	         100.0 * (double)theirs / (double)(mine + theirs + 1),
	         100.0 * (double)peer_sum(r, npeers, 1) / (double)(amine + peer_sum(r, npeers, 1) + 1),
	         100.0 * (double)peer_sum(r, npeers, 2) / (double)(lmine + peer_sum(r, npeers, 2) + 1));
	ipcb_gb_set_label(st, label);
	ipcb_gb_counter(st, "atomic_ops_per_second",
	                (double)(amine + peer_sum(r, npeers, 1)) / ((double)(t3 - t2) / 1e9), IPCB_GB_COUNTER_DEFAULT);
	ipcb_gb_counter(st, "lock_ops_per_second",
	                (double)(lmine + peer_sum(r, npeers, 2)) / ((double)(t5 - t4) / 1e9), IPCB_GB_COUNTER_DEFAULT);
out:
	atomic_store(&r->phase, PH_END);
	for (int i = 0; i < started; i++)
		if (ipcb_peer_wait(&peers[i], END_TIMEOUT_NS, why, sizeof why) != 0) {
			ipcb_peer_kill(&peers[i]);
			ipcb_fail(st, "shared: endpoint %d: %s", i + 2, ipcb_report_failed(&r->report) ? r->report.msg : why);
		}
	ipcb_unpin_self(&pin);
	ipcq_shared_close(r->s);
	pthread_mutex_destroy(&r->lock);
	ipcb_shared_free(r, sizeof *r);
}

const struct ipcb_workload ipcb_workload_shared = {
	.name = "shared",
	.summary = "N endpoints (default 2) adding to one shared value (ipcq_shared_add), against a plain atomic "
	           "add and a process-shared mutex in shared memory on the same CPUs (ops_per_second)",
	.run = shared_run,
	.opts = { .real_time = true },
};
