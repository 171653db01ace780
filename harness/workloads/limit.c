/*
 * limit.c - what the machine itself allows on the CPUs of a placement, so
 * each mechanism can be read as a fraction of it:
 *
 *   c2c     two threads pinned to CPUs A and B bounce one cache line:
 *           the round trip of a store seen by the other CPU and answered.
 *   memcpy  copy bandwidth for one size on CPU A (one CPU: no placement in
 *           the name; the label says which CPU).
 *   ring    a minimal spinning single-producer single-consumer ring of 64-byte
 *           slots in MAP_SHARED memory between two processes: no system call,
 *           no wake-up - the ceiling for any queue. Every message's sequence
 *           number is checked, all its bytes one message in 256.
 *
 * Sections follow the rows: c2c, memcpy, ring; then the dispatch.
 *
 * Waiting sides spin; when both ends share one PU spinning cannot help (the
 * other side needs the CPU), so they yield at once - there the row measures
 * a thread switch, which is that placement's limit.
 */
#include "payload.h"
#include "peer.h"
#include "stats.h"
#include "wlutil.h"

#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#define SPIN_BEFORE_YIELD 4096

/* One step of a wait: pause, and yield the CPU every `spins` steps so a
 * peer sharing this CPU (same-pu) can run. */
static inline void spin_wait(unsigned *n, unsigned spins)
{
	if (++*n > spins) {
		sched_yield();
		*n = 0;
	} else {
		cpu_relax();
	}
}
#define STOP_SEQ UINT64_MAX
#define END_TIMEOUT_NS 5000000000LL

static const char *const row_names[IPCB_LIMIT_COUNT] = { "c2c", "memcpy", "ring" };

const char *ipcb_limit_row_name(int r)
{
	return r >= 0 && r < IPCB_LIMIT_COUNT ? row_names[r] : NULL;
}

int ipcb_limit_row_from_name(const char *name)
{
	for (int r = 0; r < IPCB_LIMIT_COUNT; r++)
		if (strcmp(name, row_names[r]) == 0)
			return r;
	return -1;
}

static unsigned spin_limit(const struct ipcb_case *c)
{
	return c->cpu_a >= 0 && c->cpu_a == c->cpu_b ? 0 : SPIN_BEFORE_YIELD;
}

/* --- c2c ------------------------------------------------------------------ */

struct c2c {
	alignas(64) atomic_uint_fast64_t line;
	alignas(64) unsigned spins;
	struct ipcb_report report;
};

static int c2c_echo(void *arg)
{
	struct c2c *x = arg;
	for (uint64_t want = 1;; want += 2) {
		uint64_t v;
		unsigned n = 0;
		while ((v = atomic_load_explicit(&x->line, memory_order_acquire)) != want && v != STOP_SEQ) {
			spin_wait(&n, x->spins);
		}
		if (v == STOP_SEQ)
			return 0;
		atomic_store_explicit(&x->line, want + 1, memory_order_release);
	}
}

static inline void c2c_round(struct c2c *x, uint64_t *v)
{
	uint64_t want = *v + 2;
	unsigned n = 0;
	atomic_store_explicit(&x->line, *v + 1, memory_order_release);
	while (atomic_load_explicit(&x->line, memory_order_acquire) != want) {
		spin_wait(&n, x->spins);
	}
	*v = want;
}

static void run_c2c(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300];
	struct ipcb_pin pin;
	struct ipcb_peer peer;
	struct c2c *x = aligned_alloc(64, sizeof *x);
	if (!x) {
		ipcb_fail(st, "limit/c2c: out of memory");
		return;
	}
	memset(x, 0, sizeof *x);
	x->spins = spin_limit(c);
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "limit/c2c: %s", err);
		ipcb_unpin_self(&pin);
		free(x);
		return;
	}
	if (ipcb_peer_start(&peer, true, c->topo, c->cpu_b, "c2c", c2c_echo, x, &x->report, err, sizeof err) != 0) {
		ipcb_fail(st, "limit/c2c: %s", err);
		ipcb_unpin_self(&pin);
		free(x);
		return;
	}
	uint64_t v = 0;
	for (int i = 0; i < 20000; i++)
		c2c_round(x, &v);
	uint64_t t0 = ipcb_now_ns();
	while (ipcb_gb_keep_running_batch(st, 64))
		for (int i = 0; i < 64; i++)
			c2c_round(x, &v);
	uint64_t t1 = ipcb_now_ns();
	atomic_store(&x->line, STOP_SEQ);
	char why[200];
	if (ipcb_peer_wait(&peer, END_TIMEOUT_NS, why, sizeof why) != 0) {
		ipcb_fail(st, "limit/c2c: the echo thread: %s", why);
		ipcb_unpin_self(&pin);
		if (!ipcb_peer_kill(&peer))
			return; /* the thread still reads x */
		free(x);
		return;
	}
	int64_t iters = ipcb_gb_iterations(st);
	if (iters > 0)
		ipcb_gb_counter(st, "rtt_mean_ns", (double)(t1 - t0) / (double)iters, IPCB_GB_COUNTER_DEFAULT);
	ipcb_unpin_self(&pin);
	free(x);
}

/* --- memcpy --------------------------------------------------------------- */

static void run_memcpy(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300], label[64];
	struct ipcb_pin pin;
	size_t size = c->size, alloc = (size + 63) & ~(size_t)63;
	unsigned char *src = aligned_alloc(64, alloc), *dst = aligned_alloc(64, alloc);
	if (!src || !dst) {
		ipcb_fail(st, "limit/memcpy: allocating 2 x %zu bytes failed", size);
		goto out;
	}
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "limit/memcpy: %s", err);
		goto unpin;
	}
	memset(src, 0xa5, alloc);
	memset(dst, 0x5a, alloc);
	/* Enough copies per call that the loop's own cost disappears for 8 bytes. */
	int64_t per = size >= 262144 ? 1 : (int64_t)(262144 / size);
	while (ipcb_gb_keep_running_batch(st, per))
		for (int64_t i = 0; i < per; i++) {
			memcpy(dst, src, size);
			__asm__ __volatile__("" : : "r"(dst), "r"(src) : "memory"); /* the copy must happen */
		}
	if (memcmp(src, dst, size) != 0)
		ipcb_fail(st, "limit/memcpy: the copy differs from its source");
	ipcb_gb_set_bytes_processed(st, ipcb_gb_iterations(st) * (int64_t)size);
	snprintf(label, sizeof label, "cpu %d", c->cpu_a);
	ipcb_gb_set_label(st, c->cpu_a >= 0 ? label : "unpinned");
unpin:
	ipcb_unpin_self(&pin);
out:
	free(src);
	free(dst);
}

/* --- ring ----------------------------------------------------------------- */

#define RING_SLOTS 1024u /* power of two */
#define SLOT 64u

struct ring {
	alignas(64) atomic_uint_fast64_t head; /* written by the producer */
	alignas(64) atomic_uint_fast64_t tail; /* written by the consumer */
	alignas(64) unsigned spins;
	struct ipcb_report report;
	alignas(64) unsigned char slot[RING_SLOTS][SLOT];
};

static int ring_consumer(void *arg)
{
	struct ring *r = arg;
	uint64_t tail = atomic_load(&r->tail), head = tail;
	for (uint64_t want = 0;; want++) {
		unsigned n = 0;
		while (head == tail) {
			head = atomic_load_explicit(&r->head, memory_order_acquire);
			if (head != tail)
				break;
			spin_wait(&n, r->spins);
		}
		const unsigned char *s = r->slot[tail & (RING_SLOTS - 1)];
		uint64_t seq = ipcb_payload_seq(s);
		if (seq == STOP_SEQ)
			return 0;
		/* The sequence number every time (lost, repeated, reordered or stale
		 * slots), every byte one message in 256: a full check of each would
		 * halve the rate this row exists to show. */
		long off = seq != want ? 0 : (want & 255) == 0 ? ipcb_payload_check(s, SLOT, want) : -1;
		if (off >= 0) {
			ipcb_report_fail(&r->report, "limit/ring consumer: message %llu has a wrong byte at offset %ld",
			                 (unsigned long long)want, off);
			return 1;
		}
		atomic_store_explicit(&r->tail, ++tail, memory_order_release);
	}
}

/* Waits for room; false if the consumer ended. */
static bool ring_room(struct ring *r, uint64_t head, uint64_t *tail_cache, struct ipcb_peer *peer)
{
	unsigned n = 0;
	unsigned long waits = 0;
	while (head - *tail_cache >= RING_SLOTS) {
		*tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head - *tail_cache < RING_SLOTS)
			break;
		spin_wait(&n, r->spins);
		if ((++waits & 0xfffff) == 0) {
			char why[128];
			if (ipcb_peer_ended(peer, why, sizeof why))
				return false;
		}
	}
	return true;
}

static void run_ring(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300], why[200];
	struct ipcb_pin pin;
	struct ipcb_peer peer;
	struct ring *r = ipcb_shared_alloc(sizeof *r, err, sizeof err);
	if (!r) {
		ipcb_fail(st, "limit/ring: %s", err);
		return;
	}
	r->spins = spin_limit(c);
	for (unsigned i = 0; i < RING_SLOTS; i++)
		ipcb_payload_init(r->slot[i], SLOT);
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "limit/ring: %s", err);
		goto out;
	}
	if (ipcb_peer_start(&peer, false, c->topo, c->cpu_b, "ring", ring_consumer, r, &r->report, err,
	                    sizeof err) != 0) {
		ipcb_fail(st, "limit/ring: starting the consumer: %s", err);
		goto out;
	}
	uint64_t head = 0, tail_cache = 0;
	bool dead = false;
	for (int i = 0; i < 100000 && !dead; i++, head++) {
		if (!(dead = !ring_room(r, head, &tail_cache, &peer))) {
			ipcb_payload_stamp(r->slot[head & (RING_SLOTS - 1)], SLOT, head);
			atomic_store_explicit(&r->head, head + 1, memory_order_release);
		}
	}
	while (!dead && ipcb_gb_keep_running_batch(st, 256))
		for (int i = 0; i < 256; i++, head++) {
			if (!ring_room(r, head, &tail_cache, &peer)) {
				dead = true;
				break;
			}
			ipcb_payload_stamp(r->slot[head & (RING_SLOTS - 1)], SLOT, head);
			atomic_store_explicit(&r->head, head + 1, memory_order_release);
		}
	if (!dead && ring_room(r, head, &tail_cache, &peer)) {
		ipcb_payload_stamp(r->slot[head & (RING_SLOTS - 1)], SLOT, STOP_SEQ);
		atomic_store_explicit(&r->head, head + 1, memory_order_release);
	}
	int w = ipcb_peer_wait(&peer, END_TIMEOUT_NS, why, sizeof why);
	if (w != 0) {
		ipcb_peer_kill(&peer);
		ipcb_fail(st, "limit/ring: %s", ipcb_report_failed(&r->report) ? r->report.msg : why);
	} else if (dead) {
		ipcb_fail(st, "limit/ring: the consumer ended early");
	} else {
		ipcb_gb_set_items_processed(st, ipcb_gb_iterations(st));
		ipcb_gb_set_bytes_processed(st, ipcb_gb_iterations(st) * (int64_t)SLOT);
	}
out:
	ipcb_unpin_self(&pin);
	ipcb_shared_free(r, sizeof *r);
}

static void limit_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	switch (c->row) {
	case IPCB_LIMIT_C2C:
		run_c2c(st, c);
		break;
	case IPCB_LIMIT_MEMCPY:
		run_memcpy(st, c);
		break;
	case IPCB_LIMIT_RING:
		run_ring(st, c);
		break;
	default:
		ipcb_fail(st, "limit: unknown row %d", c->row);
	}
}

const struct ipcb_workload ipcb_workload_limit = {
	.name = "limit",
	.summary = "the machine's own limits on the same CPUs: c2c (cache-line round trip), "
	           "memcpy (copy bandwidth), ring (spinning SPSC ring, 64 B messages)",
	.run = limit_run,
	.opts = { .real_time = true },
};
