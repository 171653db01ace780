/*
 * shared.c - shared values across processes or threads: two endpoints,
 * pinned to the placement's two CPUs, add 1 to one shared key as fast as
 * they can (ipcq_shared_add, Manager-style counters), for mechanisms with
 * IPCQ_CAP_SHARED.
 *
 * Counters: ops_per_second is both endpoints' adds over the measured wall
 * time; the key must end up holding exactly that many. atomic_ops_per_second
 * is the baseline on the same CPUs: the same two endpoints doing a plain
 * atomic_fetch_add on one int64 in MAP_SHARED memory for ATOMIC_PHASE_NS
 * after the measured loop (a fixed phase of its own, checked the same way),
 * so each row reads as a fraction of what the hardware does without a lock.
 */
#include "peer.h"
#include "stats.h"
#include "wlutil.h"

#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATOMIC_PHASE_NS 100000000LL
#define END_TIMEOUT_NS 5000000000LL
#define KEY "ipcb:shared"

enum { PH_WAIT, PH_SHARED, PH_BETWEEN, PH_ATOMIC, PH_END };

struct shared_run {
	ipcq_shared *s;                    /* opened before the peer starts: inherited */
	alignas(64) atomic_int phase;
	atomic_int peer_done;              /* phases the peer has counted */
	long long peer_ops[2];             /* its adds in each phase */
	alignas(64) atomic_llong counter;  /* the plain atomic */
	struct ipcb_report report;
};

static int shared_peer(void *arg)
{
	struct shared_run *r = arg;
	while (atomic_load(&r->phase) == PH_WAIT)
		sched_yield();
	long long n = 0;
	while (atomic_load_explicit(&r->phase, memory_order_relaxed) == PH_SHARED) {
		int st = ipcq_shared_add(r->s, KEY, 1, NULL);
		if (st != IPCQ_OK) {
			ipcb_report_fail(&r->report, "shared: peer: ipcq_shared_add -> %s: %s", ipcq_strstatus(st),
			                 ipcq_errmsg(r->s));
			return 1;
		}
		n++;
	}
	r->peer_ops[0] = n;
	atomic_store(&r->peer_done, 1);
	while (atomic_load(&r->phase) < PH_ATOMIC)
		sched_yield();
	n = 0;
	while (atomic_load_explicit(&r->phase, memory_order_relaxed) == PH_ATOMIC) {
		atomic_fetch_add_explicit(&r->counter, 1, memory_order_relaxed);
		n++;
	}
	r->peer_ops[1] = n;
	atomic_store(&r->peer_done, 2);
	return 0;
}

/* Waits (5 s at most) for the peer to count phase `done`; false if it ended instead. */
static bool wait_peer(struct shared_run *r, struct ipcb_peer *peer, int done)
{
	uint64_t end = ipcb_now_ns() + END_TIMEOUT_NS;
	char why[128];
	while (atomic_load(&r->peer_done) < done) {
		/* Ended: it may have counted just before returning, so look once more. */
		if (ipcb_now_ns() > end || ipcb_peer_ended(peer, why, sizeof why))
			return atomic_load(&r->peer_done) >= done;
		sched_yield();
	}
	return true;
}

static void shared_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300], why[200];
	struct ipcb_pin pin = { 0 };
	struct ipcb_peer peer;
	bool started = false;
	if (!(ipcq_mech_caps(c->mech) & IPCQ_CAP_SHARED)) {
		ipcb_fail(st, "shared: %s has no shared values (no IPCQ_CAP_SHARED)", ipcq_mech_name(c->mech));
		return;
	}
	struct shared_run *r = ipcb_shared_alloc(sizeof *r, err, sizeof err);
	if (!r) {
		ipcb_fail(st, "shared: %s", err);
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
	if (ipcb_peer_start(&peer, c->mode == IPCB_MODE_THREAD, c->topo, c->cpu_b, ipcq_mech_name(c->mech),
	                    shared_peer, r, &r->report, err, sizeof err) != 0) {
		ipcb_fail(st, "shared: starting the peer: %s", err);
		goto out;
	}
	started = true;

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
	if (!wait_peer(r, &peer, 1)) {
		ipcb_fail(st, "shared: the peer did not finish its adds: %s",
		          ipcb_report_failed(&r->report) ? r->report.msg : "it ended or hung");
		goto out;
	}
	int64_t total = -1;
	size_t len = 0;
	rc = ipcq_shared_get(r->s, KEY, &total, sizeof total, &len);
	if (rc != IPCQ_OK || total != mine + r->peer_ops[0]) {
		ipcb_fail(st, "shared: the key holds %lld (%s) after %lld + %lld adds", (long long)total,
		          ipcq_strstatus(rc), mine, r->peer_ops[0]);
		goto out;
	}

	long long amine = 0;
	atomic_store(&r->phase, PH_ATOMIC);
	uint64_t t2 = ipcb_now_ns(), t3;
	do {
		for (int i = 0; i < 1024; i++)
			atomic_fetch_add_explicit(&r->counter, 1, memory_order_relaxed);
		amine += 1024;
	} while ((t3 = ipcb_now_ns()) - t2 < ATOMIC_PHASE_NS);
	atomic_store(&r->phase, PH_END);
	if (!wait_peer(r, &peer, 2) || atomic_load(&r->counter) != amine + r->peer_ops[1]) {
		ipcb_fail(st, "shared: the plain atomic phase went wrong (counter %lld after %lld + %lld adds)",
		          (long long)atomic_load(&r->counter), amine, r->peer_ops[1]);
		goto out;
	}

	ipcb_gb_counter(st, "ops_per_second", (double)(mine + r->peer_ops[0]) / ((double)(t1 - t0) / 1e9),
	                IPCB_GB_COUNTER_DEFAULT);
	/* How much of each phase the peer did: near 0 or 100% means the two rarely ran at once. */
	char label[64];
	snprintf(label, sizeof label, "peer share %.0f%% / atomic %.0f%%",
	         100.0 * (double)r->peer_ops[0] / (double)(mine + r->peer_ops[0] + 1),
	         100.0 * (double)r->peer_ops[1] / (double)(amine + r->peer_ops[1] + 1));
	ipcb_gb_set_label(st, label);
	ipcb_gb_counter(st, "atomic_ops_per_second", (double)(amine + r->peer_ops[1]) / ((double)(t3 - t2) / 1e9),
	                IPCB_GB_COUNTER_DEFAULT);
out:
	atomic_store(&r->phase, PH_END);
	if (started && ipcb_peer_wait(&peer, END_TIMEOUT_NS, why, sizeof why) != 0) {
		ipcb_peer_kill(&peer);
		ipcb_fail(st, "shared: the peer: %s", ipcb_report_failed(&r->report) ? r->report.msg : why);
	}
	ipcb_unpin_self(&pin);
	ipcq_shared_close(r->s);
	ipcb_shared_free(r, sizeof *r);
}

const struct ipcb_workload ipcb_workload_shared = {
	.name = "shared",
	.summary = "two endpoints adding to one shared value (ipcq_shared_add), against a plain atomic add "
	           "on the same CPUs",
	.run = shared_run,
	.opts = { .real_time = true },
};
