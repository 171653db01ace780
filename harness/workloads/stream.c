/*
 * stream.c - throughput from N producers to M consumers over one queue.
 *
 * Producers (pinned to CPU A) and consumers (pinned to CPU B) are child
 * processes or threads; the benchmark thread only conducts. One iteration
 * is one batch: the conductor gives every producer a quota through its own
 * "go" pipe, and the consumer that takes the last of the producers' final
 * messages of the batch writes to the "done" pipe, so a batch's time
 * includes its whole drain. (With several consumers another one may still
 * be checking one earlier message then: one message against ~10 ms.) The quota is
 * sized during warm-up so that a batch lasts ~10 ms, which keeps the two
 * wake-ups per batch under ~1% of it, and grows while batches run far
 * shorter than that (the rate is counted batch by batch).
 *
 * Every message is checked (payload.h); each consumer also checks that the
 * messages of each producer arrive in order, and at the end the counts and
 * sums of sequence numbers seen per producer must equal what was sent: a
 * lost or duplicated message fails the benchmark.
 *
 * A consumer's bookkeeping stays on its own cache lines, with no locked
 * instruction per message: a locked add waits for the consumer's pending
 * stores, which on a fast ring are the very line transfers being measured
 * (one shared counter held shmring's 64 B stream to half its speed).
 *
 * api=zerocopy (rows <mechanism>-zc, mechanisms with IPCQ_CAP_ZEROCOPY):
 * producers write each message whole (body and stamp) into the slot between
 * ipcq_reserve and ipcq_commit, as an application building it in place
 * would, and consumers check it in place between ipcq_peek and
 * ipcq_consume: the same bytes written and read per message as the copy
 * variant, without put's and get's copies.
 *
 * api=many (rows <mechanism>-many, every mechanism): producers stamp MANY
 * messages and queue them with one ipcq_put_many, consumers take up to MANY
 * with one ipcq_get_many and check each as above - what an application that
 * moves messages in bursts would do.
 *
 * Sections: producer and consumer bodies; the conductor (batch, stop_all,
 * check_totals); stream_run.
 */
#include "payload.h"
#include "peer.h"
#include "stats.h"
#include "wlutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STOP_SEQ UINT64_MAX
#define PROD_SHIFT 48
#define SLICE_NS 100000000LL
#define STALL_NS 10000000000LL  /* a batch with no progress this long is a hang */
#define END_TIMEOUT_NS 5000000000LL
#define STOP_TIMEOUT_NS 1000000000LL
/*
 * api=many: messages a call, a common burst (DPDK's, recvmmsg's usual
 * vlen). 64 B across processes, 8 / 32 / 128 alternated: shmring 68-75 /
 * 72-78 / 71-77 M msg/s, shmmgr 2.7 / 8.5 / 24-28 M (one lock hold a call).
 */
#define MANY 32

/* What one consumer has seen, written by it alone. */
struct tally {
	alignas(64) atomic_uint_fast64_t got; /* messages so far; the conductor watches it for progress */
	uint64_t count[IPCB_MAX_PEERS];       /* per producer */
	uint64_t sum[IPCB_MAX_PEERS];         /* of sequence numbers, per producer */
};

struct ctl {
	struct ipcb_report report;
	atomic_int stop;
	atomic_int abort;               /* thread mode: give up waiting */
	uint64_t quota;                 /* set before "go" */
	atomic_uint_fast64_t last;      /* sequence number of every producer's final message of the batch */
	atomic_uint finals;             /* final messages of this batch taken so far */
	atomic_uint stopped;            /* consumers that took their stop message */
	struct tally tally[IPCB_MAX_PEERS]; /* per consumer */
};

struct sx;
struct endpoint {
	struct sx *x;
	unsigned id;
};

struct sx {
	const struct ipcb_case *c;
	bool thread;
	bool zc;   /* api=zerocopy */
	bool many; /* api=many */
	ipcq *q;
	struct ctl *ctl; /* shared memory */
	int go[IPCB_MAX_PEERS][2];
	int done[2];
	struct endpoint ep_prod[IPCB_MAX_PEERS], ep_cons[IPCB_MAX_PEERS];
	struct ipcb_peer prod[IPCB_MAX_PEERS], cons[IPCB_MAX_PEERS];
	uint64_t given; /* messages each producer was told to send so far */
};

static int64_t slice(const struct sx *x)
{
	return x->thread ? SLICE_NS : IPCQ_FOREVER;
}

/* api=zerocopy: message seq, written whole in the slot (see the top of the file). */
static int put_in_place(struct sx *x, size_t size, uint64_t seq)
{
	void *w;
	int st;
	while ((st = ipcq_reserve(x->q, size, &w, slice(x))) == IPCQ_FULL && !atomic_load(&x->ctl->abort))
		;
	if (st != IPCQ_OK)
		return st;
	ipcb_payload_init(w, size);
	ipcb_payload_stamp(w, size, seq);
	return ipcq_commit(x->q, w, size);
}

/*
 * api=many: messages n.. of producer id, cnt <= MANY of them, stamped in
 * v's buffers and queued with ipcq_put_many; *sent says how many went.
 */
static int put_many(struct sx *x, unsigned id, ipcq_msgv *v, size_t cnt, uint64_t n, size_t *sent)
{
	for (size_t i = 0; i < cnt; i++)
		ipcb_payload_stamp(v[i].buf, v[i].len, ((uint64_t)id << PROD_SHIFT) | (n + i));
	*sent = 0;
	for (;;) {
		size_t d;
		int st = ipcq_put_many(x->q, v + *sent, cnt - *sent, &d, slice(x));
		*sent += d;
		if (st != IPCQ_FULL || atomic_load(&x->ctl->abort))
			return st;
	}
}

static int producer_main(void *arg)
{
	struct endpoint *e = arg;
	struct sx *x = e->x;
	size_t size = x->c->size, nbuf = x->many ? MANY : 1;
	char t[300];
	ipcq_msgv v[MANY];
	if (!x->thread)
		ipcq_release(x->q, IPCQ_CONSUMER);
	unsigned char *buf = malloc(size * nbuf);
	if (!buf) {
		ipcb_report_fail(&x->ctl->report, "producer %u: malloc(%zu) failed", e->id, size * nbuf);
		return 1;
	}
	for (size_t i = 0; i < nbuf; i++) {
		ipcb_payload_init(buf + i * size, size);
		v[i] = (ipcq_msgv){ .buf = buf + i * size, .len = size };
	}
	uint64_t n = 0;
	int rc = 1;
	for (;;) {
		char b;
		ssize_t r = read(x->go[e->id][0], &b, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1 || atomic_load(&x->ctl->stop)) {
			rc = 0;
			break;
		}
		uint64_t quota = x->ctl->quota;
		for (uint64_t k = 0; k < quota;) {
			uint64_t seq = ((uint64_t)e->id << PROD_SHIFT) | n;
			size_t sent = 1;
			int st;
			if (x->many) {
				st = put_many(x, e->id, v, quota - k < MANY ? (size_t)(quota - k) : MANY, n, &sent);
				if (st != IPCQ_OK)
					n += sent; /* the message that failed */
			} else if (x->zc) {
				st = put_in_place(x, size, seq);
			} else {
				ipcb_payload_stamp(buf, size, seq);
				while ((st = ipcq_put(x->q, buf, size, slice(x))) == IPCQ_FULL &&
				       !atomic_load(&x->ctl->abort))
					;
			}
			if (st != IPCQ_OK) {
				ipcb_report_fail(&x->ctl->report, "producer %u: %s of message %llu: %s", e->id,
				                 x->many ? "ipcq_put_many" : x->zc ? "ipcq_reserve/commit" : "ipcq_put",
				                 (unsigned long long)n, ipcb_status_text(st, x->q, t, sizeof t));
				goto out;
			}
			k += sent;
			n += sent;
		}
	}
out:
	free(buf);
	return rc;
}

/* api=many: what one ipcq_get_many brought, v[at..n) not yet looked at. */
struct inbox {
	ipcq_msgv v[MANY];
	size_t n, at;
};

/* The consumer's next message, at *msg: in buf (copy), in place (zerocopy) or in the inbox (many). */
static int next_message(struct sx *x, struct inbox *in, void *buf, const void **msg, size_t *len)
{
	atomic_int *abort = &x->ctl->abort;
	int st = IPCQ_OK;
	if (x->zc) {
		while ((st = ipcq_peek(x->q, msg, len, slice(x))) == IPCQ_EMPTY && !atomic_load(abort))
			;
	} else if (!x->many) {
		*msg = buf;
		while ((st = ipcq_get(x->q, buf, x->c->size, len, slice(x))) == IPCQ_EMPTY && !atomic_load(abort))
			;
	} else {
		if (in->at == in->n) {
			in->at = in->n = 0;
			while ((st = ipcq_get_many(x->q, in->v, MANY, &in->n, slice(x))) == IPCQ_EMPTY && !atomic_load(abort))
				;
			if (st != IPCQ_OK)
				return st;
		}
		*msg = in->v[in->at].buf;
		*len = in->v[in->at++].len;
	}
	return st;
}

static int consumer_main(void *arg)
{
	struct endpoint *e = arg;
	struct sx *x = e->x;
	struct ctl *ctl = x->ctl;
	size_t size = x->c->size;
	unsigned np = x->c->producers;
	uint64_t last[IPCB_MAX_PEERS];
	bool seen[IPCB_MAX_PEERS] = { false };
	char t[300];
	if (!x->thread)
		ipcq_release(x->q, IPCQ_PRODUCER);
	uint64_t delay = ipcb_test_delay_ns(x->c->mech); /* IPCB_TEST_DELAY, tests only */
	size_t nbuf = x->many ? MANY : 1;
	unsigned char *buf = malloc(size * nbuf);
	if (!buf) {
		ipcb_report_fail(&ctl->report, "consumer %u: malloc(%zu) failed", e->id, size * nbuf);
		return 1;
	}
	struct inbox in = { .n = 0 };
	for (size_t i = 0; i < nbuf; i++)
		in.v[i] = (ipcq_msgv){ .buf = buf + i * size, .cap = size };
	int rc = 1;
	for (uint64_t got = 0;; got++) {
		size_t len = 0;
		const void *msg;
		int st = next_message(x, &in, buf, &msg, &len);
		if (st != IPCQ_OK) {
			ipcb_report_fail(&ctl->report, "consumer %u: %s after %llu messages: %s", e->id,
			                 x->zc ? "ipcq_peek" : x->many ? "ipcq_get_many" : "ipcq_get", (unsigned long long)got,
			                 ipcb_status_text(st, x->q, t, sizeof t));
			break;
		}
		if (delay)
			ipcb_busy_wait_ns(delay);
		if (len != size) {
			ipcb_report_fail(&ctl->report, "consumer %u: message %llu is %zu bytes, sent %zu", e->id,
			                 (unsigned long long)got, len, size);
			break;
		}
		uint64_t seq = ipcb_payload_seq(msg);
		if (seq == STOP_SEQ) {
			rc = 0;
			if (x->zc)
				ipcq_consume(x->q, msg);
			atomic_fetch_add(&ctl->stopped, 1);
			break;
		}
		unsigned p = (unsigned)(seq >> PROD_SHIFT);
		uint64_t n = seq & ((1ull << PROD_SHIFT) - 1);
		if (p >= np) {
			ipcb_report_fail(&ctl->report, "consumer %u: message %llu names producer %u of %u (bytes 0..7 wrong)",
			                 e->id, (unsigned long long)got, p, np);
			break;
		}
		long off = ipcb_payload_check(msg, len, seq);
		if (off >= 0) {
			ipcb_report_fail(&ctl->report,
			                 "consumer %u: message %llu of producer %u has a wrong byte at offset %ld", e->id,
			                 (unsigned long long)n, p, off);
			break;
		}
		if (seen[p] && n <= last[p]) {
			ipcb_report_fail(&ctl->report,
			                 "consumer %u: producer %u's message %llu came after its message %llu (order broken)",
			                 e->id, p, (unsigned long long)n, (unsigned long long)last[p]);
			break;
		}
		if (x->zc && (st = ipcq_consume(x->q, msg)) != IPCQ_OK) {
			ipcb_report_fail(&ctl->report, "consumer %u: ipcq_consume of message %llu: %s", e->id,
			                 (unsigned long long)got, ipcb_status_text(st, x->q, t, sizeof t));
			break;
		}
		seen[p] = true;
		last[p] = n;
		struct tally *ty = &ctl->tally[e->id];
		ty->count[p]++;
		ty->sum[p] += n;
		atomic_store_explicit(&ty->got, got + 1, memory_order_relaxed);
		if (n == atomic_load_explicit(&ctl->last, memory_order_relaxed) &&
		    atomic_fetch_add(&ctl->finals, 1) + 1 == np) {
			ssize_t w;
			do
				w = write(x->done[1], "d", 1);
			while (w < 0 && errno == EINTR);
		}
	}
	free(buf);
	return rc;
}

/* The first peer that has ended, described; false if all run. */
static bool any_ended(struct sx *x, char *why, size_t len)
{
	char how[128];
	for (unsigned i = 0; i < x->c->producers; i++)
		if (ipcb_peer_ended(&x->prod[i], how, sizeof how)) {
			snprintf(why, len, "producer %u ended: %s", i, how);
			return true;
		}
	for (unsigned i = 0; i < x->c->consumers; i++)
		if (ipcb_peer_ended(&x->cons[i], how, sizeof how)) {
			snprintf(why, len, "consumer %u ended: %s", i, how);
			return true;
		}
	return false;
}

/* Messages taken so far by all consumers. */
static uint64_t received(struct sx *x)
{
	uint64_t n = 0;
	for (unsigned k = 0; k < x->c->consumers; k++)
		n += atomic_load_explicit(&x->ctl->tally[k].got, memory_order_relaxed);
	return n;
}

/* One batch of quota messages per producer; *ns gets its time. */
static int batch(struct sx *x, uint64_t quota, uint64_t *ns, char *err, size_t errlen)
{
	struct ctl *ctl = x->ctl;
	unsigned np = x->c->producers;
	atomic_store(&ctl->finals, 0);
	atomic_store(&ctl->last, x->given + quota - 1);
	ctl->quota = quota;
	uint64_t start = received(x);
	uint64_t t0 = ipcb_now_ns();
	for (unsigned i = 0; i < np; i++)
		if (write(x->go[i][1], "g", 1) != 1) {
			snprintf(err, errlen, "write(go pipe of producer %u): %s", i, strerror(errno));
			return -1;
		}
	x->given += quota;
	uint64_t last_seen = 0, last_change = t0;
	for (;;) {
		struct pollfd pfd = { .fd = x->done[0], .events = POLLIN };
		int r = poll(&pfd, 1, (int)(SLICE_NS / 1000000));
		if (r > 0) {
			char b;
			if (read(x->done[0], &b, 1) == 1)
				break;
		}
		char why[200];
		if (ipcb_report_failed(&ctl->report)) {
			snprintf(err, errlen, "%s", ctl->report.msg);
			return -1;
		}
		if (any_ended(x, why, sizeof why)) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		uint64_t now = ipcb_now_ns(), got = received(x) - start;
		if (got != last_seen) {
			last_seen = got;
			last_change = now;
		} else if (now - last_change > (uint64_t)STALL_NS) {
			snprintf(err, errlen, "no progress for %.0f s: %llu of %llu messages of the batch arrived",
			         STALL_NS / 1e9, (unsigned long long)got, (unsigned long long)(quota * np));
			return -1;
		}
	}
	*ns = ipcb_now_ns() - t0;
	return 0;
}

/* Stops every endpoint; returns 0, or -1 (err) / -2 (a thread is stuck: leak). */
static int stop_all(struct sx *x, bool failed, char *err, size_t errlen)
{
	struct ctl *ctl = x->ctl;
	const struct ipcb_case *c = x->c;
	char why[200];
	int rc = 0;
	if (failed && !x->thread) {
		for (unsigned i = 0; i < c->producers; i++)
			ipcb_peer_kill(&x->prod[i]);
		for (unsigned i = 0; i < c->consumers; i++)
			ipcb_peer_kill(&x->cons[i]);
		return 0;
	}
	if (failed)
		atomic_store(&ctl->abort, 1);
	atomic_store(&ctl->stop, 1);
	for (unsigned i = 0; i < c->producers; i++)
		if (x->prod[i].running && write(x->go[i][1], "s", 1) != 1)
			rc = -1;
	for (unsigned i = 0; i < c->producers; i++) {
		int r = ipcb_peer_wait(&x->prod[i], END_TIMEOUT_NS, why, sizeof why);
		if (r != 0 && rc == 0) {
			snprintf(err, errlen, "producer %u at the end: %s", i, why);
			rc = -1;
		}
		if (r < 0 && !ipcb_peer_kill(&x->prod[i]))
			rc = -2;
	}
	void *stop = malloc(c->size);
	if (stop) {
		ipcb_payload_init(stop, c->size);
		ipcb_payload_stamp(stop, c->size, STOP_SEQ);
		/*
		 * api=many: one stop at a time, taken before the next goes - one
		 * get_many could take two, and a consumer ends at its first.
		 */
		for (unsigned i = 0, sent = 0; i < c->consumers; i++) {
			if (!x->cons[i].running || ipcq_put(x->q, stop, c->size, STOP_TIMEOUT_NS) != IPCQ_OK)
				continue;
			sent++;
			for (uint64_t t0 = ipcb_now_ns(); x->many && atomic_load(&ctl->stopped) < sent &&
			                                  ipcb_now_ns() - t0 < (uint64_t)STOP_TIMEOUT_NS;)
				sched_yield();
		}
		free(stop);
	}
	for (unsigned i = 0; i < c->consumers; i++) {
		int r = ipcb_peer_wait(&x->cons[i], END_TIMEOUT_NS, why, sizeof why);
		if (r != 0 && rc == 0) {
			snprintf(err, errlen, "consumer %u at the end: %s", i, why);
			rc = -1;
		}
		if (r < 0 && !ipcb_peer_kill(&x->cons[i]))
			rc = -2;
	}
	if (rc == -1 && ipcb_report_failed(&ctl->report))
		snprintf(err, errlen, "%s", ctl->report.msg);
	return rc;
}

/* Every message sent was seen exactly once: counts and sums per producer. */
static int check_totals(struct sx *x, char *err, size_t errlen)
{
	const struct ipcb_case *c = x->c;
	for (unsigned p = 0; p < c->producers; p++) {
		uint64_t n = 0, s = 0;
		for (unsigned k = 0; k < c->consumers; k++) {
			n += x->ctl->tally[k].count[p];
			s += x->ctl->tally[k].sum[p];
		}
		uint64_t want = x->given;
		/* 0 + 1 + ... + (want - 1), modulo 2^64 as the sums are (halve the even factor first) */
		uint64_t sum = want % 2 ? want * ((want - 1) / 2) : (want / 2) * (want ? want - 1 : 0);
		if (n != want || s != sum) {
			snprintf(err, errlen,
			         "producer %u sent %llu messages; consumers saw %llu (sum of sequence numbers %llu, "
			         "expected %llu): messages were lost or duplicated",
			         p, (unsigned long long)want, (unsigned long long)n, (unsigned long long)s,
			         (unsigned long long)sum);
			return -1;
		}
	}
	return 0;
}

static void stream_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[600], t[300];
	struct sx *x = calloc(1, sizeof *x);
	if (!x) {
		ipcb_fail(st, "stream: out of memory");
		return;
	}
	x->c = c;
	x->thread = c->mode == IPCB_MODE_THREAD;
	x->zc = c->variant == IPCB_API_ZEROCOPY;
	x->many = c->variant == IPCB_API_MANY;
	x->done[0] = x->done[1] = -1;
	for (unsigned i = 0; i < IPCB_MAX_PEERS; i++)
		x->go[i][0] = x->go[i][1] = -1;
	bool failed = true, leak = false;
	unsigned started_p = 0, started_c = 0;

	x->ctl = ipcb_shared_alloc(sizeof *x->ctl, err, sizeof err);
	if (!x->ctl) {
		ipcb_fail(st, "stream: %s", err);
		goto out;
	}
	if ((c->producers > 1 || c->consumers > 1) && !(ipcq_mech_caps(c->mech) & IPCQ_CAP_MPMC)) {
		ipcb_fail(st, "%s lacks IPCQ_CAP_MPMC: %ux%u needs several producers or consumers on one queue",
		          ipcq_mech_name(c->mech), c->producers, c->consumers);
		goto out;
	}
	ipcq_config cfg = ipcb_queue_config(c->size);
	int s = ipcq_open(c->mech, &cfg, &x->q);
	if (s != IPCQ_OK) {
		ipcb_fail(st, "ipcq_open(%s, max_msg=%zu): %s", ipcq_mech_name(c->mech), c->size,
		          ipcb_status_text(s, NULL, t, sizeof t));
		goto out;
	}
	if (pipe2(x->done, O_CLOEXEC) != 0) {
		ipcb_fail(st, "stream: pipe2: %s", strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < c->producers; i++)
		if (pipe2(x->go[i], O_CLOEXEC) != 0) {
			ipcb_fail(st, "stream: pipe2: %s", strerror(errno));
			goto out;
		}
	const char *mech = ipcq_mech_name(c->mech);
	for (; started_c < c->consumers; started_c++) {
		x->ep_cons[started_c] = (struct endpoint){ x, started_c };
		if (ipcb_peer_start(&x->cons[started_c], x->thread, c->topo, c->cpu_b, mech, consumer_main,
		                    &x->ep_cons[started_c], &x->ctl->report, err, sizeof err) != 0) {
			ipcb_fail(st, "stream: starting consumer %u: %s", started_c, err);
			goto out;
		}
	}
	for (; started_p < c->producers; started_p++) {
		x->ep_prod[started_p] = (struct endpoint){ x, started_p };
		if (ipcb_peer_start(&x->prod[started_p], x->thread, c->topo, c->cpu_a, mech, producer_main,
		                    &x->ep_prod[started_p], &x->ctl->report, err, sizeof err) != 0) {
			ipcb_fail(st, "stream: starting producer %u: %s", started_p, err);
			goto out;
		}
	}

	/*
	 * Warm-up doubles as calibration (ipcb_quota_*). The start-up batch goes
	 * once round a bounded ring, whose slots are fresh memory until first
	 * used (ipcb_queue_lap). Sizing from the fastest batch matters: sizing
	 * from the last let one stalled batch leave a quota of a few messages,
	 * and the figure became two wake-ups per batch.
	 */
	struct ipcb_quota qt;
	ipcb_quota_init(&qt, ipcb_queue_lap(x->q) / c->producers + 1);
	uint64_t ns = 0;
	for (bool sized = false; !sized;) {
		if (batch(x, qt.quota, &ns, err, sizeof err) != 0) {
			ipcb_fail(st, "warm-up: %s", err);
			goto out;
		}
		sized = ipcb_quota_warm(&qt, ns);
	}

	failed = false;
	int64_t items = 0;
	while (ipcb_gb_keep_running(st)) {
		if (batch(x, qt.quota, &ns, err, sizeof err) != 0) {
			ipcb_fail(st, "%s", err);
			failed = true;
			break;
		}
		ipcb_gb_set_iteration_time(st, (double)ns * 1e-9);
		/* counted batch by batch: the quota may grow (ipcb_quota_measured) */
		items += (int64_t)qt.quota * (int64_t)c->producers;
		ipcb_quota_measured(&qt, ns);
	}
	int r = stop_all(x, failed, err, sizeof err);
	leak = r == -2;
	if (r != 0 && !failed) {
		ipcb_fail(st, "%s", err);
		failed = true;
	}
	if (!failed && check_totals(x, err, sizeof err) != 0) {
		ipcb_fail(st, "%s", err);
		failed = true;
	}
	if (!failed) {
		ipcb_gb_set_items_processed(st, items);
		ipcb_gb_set_bytes_processed(st, items * (int64_t)c->size);
		ipcb_gb_counter(st, "batch_msgs", (double)qt.quota * c->producers, IPCB_GB_COUNTER_DEFAULT); /* the batch size reached */
	}
	failed = true; /* peers are stopped; nothing left for out: to stop */
	started_p = started_c = 0;
out:
	if (started_p || started_c)
		leak = stop_all(x, failed, err, sizeof err) == -2 || leak;
	if (leak)
		return; /* a stuck thread may still use x and the queue */
	if (x->q)
		ipcq_close(x->q);
	for (unsigned i = 0; i < IPCB_MAX_PEERS; i++)
		for (int k = 0; k < 2; k++)
			if (x->go[i][k] >= 0)
				close(x->go[i][k]);
	for (int k = 0; k < 2; k++)
		if (x->done[k] >= 0)
			close(x->done[k]);
	ipcb_shared_free(x->ctl, sizeof *x->ctl);
	free(x);
}

const struct ipcb_workload ipcb_workload_stream = {
	.name = "stream",
	.summary = "throughput from N producers to M consumers (items_per_second, bytes_per_second)",
	.run = stream_run,
	.opts = { .manual_time = true },
};
