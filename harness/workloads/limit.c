/*
 * limit.c - what the machine itself allows on the CPUs of a placement, so
 * each mechanism can be read as a fraction of it:
 *
 *   c2c     two threads pinned to CPUs A and B bounce one cache line:
 *           the round trip of a store seen by the other CPU and answered.
 *   memcpy  copy bandwidth for one size on CPU A (one CPU: no placement in
 *           the name; the label says which CPU).
 *   ring    a minimal spinning single-producer single-consumer ring of 64-byte
 *           slots in MAP_SHARED memory between two processes, one cache line
 *           per message and no index, each end waiting for a batch when it
 *           finds the ring full or empty: no system call, no wake-up - the
 *           ceiling for any queue. Every byte of every message is
 *           checked, as the stream workload checks a queue's.
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
	uint64_t next; /* the caller's next round starts from this value (after the warm-up) */
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

/*
 * Pins the caller to cpu_a, starts the echo thread on cpu_b (spins: as
 * spin_limit) and bounces the line warm times. The c2c, or NULL with err;
 * the caller is left unpinned then.
 */
static struct c2c *c2c_start(hwloc_topology_t topo, int cpu_a, int cpu_b, unsigned spins, int warm,
                             struct ipcb_pin *pin, struct ipcb_peer *peer, char *err, size_t errlen)
{
	struct c2c *x = aligned_alloc(64, sizeof *x);
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(x, 0, sizeof *x);
	x->spins = spins;
	if (ipcb_pin_self(pin, topo, cpu_a, err, errlen) != 0 ||
	    ipcb_peer_start(peer, true, topo, cpu_b, "c2c", c2c_echo, x, &x->report, err, errlen) != 0) {
		ipcb_unpin_self(pin);
		free(x);
		return NULL;
	}
	uint64_t v = 0;
	for (int i = 0; i < warm; i++)
		c2c_round(x, &v);
	x->next = v;
	return x;
}

/* Stops the echo thread and unpins the caller: 0, or -1 with err (x then stays allocated: the thread may still read it). */
static int c2c_stop(struct c2c *x, struct ipcb_pin *pin, struct ipcb_peer *peer, char *err, size_t errlen)
{
	atomic_store(&x->line, STOP_SEQ);
	char why[200];
	int rc = 0;
	if (ipcb_peer_wait(peer, END_TIMEOUT_NS, why, sizeof why) != 0) {
		snprintf(err, errlen, "the echo thread: %s", why);
		rc = -1;
		if (!ipcb_peer_kill(peer))
			x = NULL; /* the thread still reads it */
	}
	ipcb_unpin_self(pin);
	free(x);
	return rc;
}

static void run_c2c(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300];
	struct ipcb_pin pin;
	struct ipcb_peer peer;
	struct c2c *x = c2c_start(c->topo, c->cpu_a, c->cpu_b, spin_limit(c), 20000, &pin, &peer, err, sizeof err);
	if (!x) {
		ipcb_fail(st, "limit/c2c: %s", err);
		return;
	}
	uint64_t v = x->next;
	uint64_t t0 = ipcb_now_ns();
	while (ipcb_gb_keep_running_batch(st, 64))
		for (int i = 0; i < 64; i++)
			c2c_round(x, &v);
	uint64_t t1 = ipcb_now_ns();
	if (c2c_stop(x, &pin, &peer, err, sizeof err) != 0) {
		ipcb_fail(st, "limit/c2c: %s", err);
		return;
	}
	int64_t iters = ipcb_gb_iterations(st);
	if (iters > 0)
		ipcb_gb_counter(st, "rtt_mean_ns", (double)(t1 - t0) / (double)iters, IPCB_GB_COUNTER_DEFAULT);
}

int ipcb_limit_probe_c2c(hwloc_topology_t topo, int cpu_a, int cpu_b, double *rtt_ns, char *err, size_t errlen)
{
	struct ipcb_pin pin;
	struct ipcb_peer peer;
	struct c2c *x = c2c_start(topo, cpu_a, cpu_b, SPIN_BEFORE_YIELD, 2000, &pin, &peer, err, errlen);
	if (!x)
		return -1;
	/* The fastest of 8 stretches of 256 rounds: a preempted stretch says nothing about the host. */
	uint64_t v = x->next, best = UINT64_MAX;
	for (int k = 0; k < 8; k++) {
		uint64_t t0 = ipcb_now_ns();
		for (int i = 0; i < 256; i++)
			c2c_round(x, &v);
		uint64_t t = ipcb_now_ns() - t0;
		if (t < best)
			best = t;
	}
	if (c2c_stop(x, &pin, &peer, err, errlen) != 0)
		return -1;
	*rtt_ns = (double)best / 256.0;
	return 0;
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
/*
 * A producer that finds the ring full waits for this many free slots: with
 * 16, once the consumer's check of every byte made it the slower side, the
 * producer filled the slots the consumer had just freed, and the row read
 * 62-67 M msg/s in two runs of six (same host state; 159-172 M otherwise).
 * Half a ring: 179-191 M (alternated, 8 runs each).
 */
#define RING_BATCH 512u
#define TAKE_BATCH 512u  /* a consumer that finds the ring empty waits for this many full slots... */
#define TAKE_WAIT 2000   /* ...for at most this many pauses, then takes what there is */
#define EMPTY_SEQ (UINT64_MAX - 1)

/*
 * One message per 64-byte slot and no index: a message's first 8 bytes are
 * its sequence number (payload.h), and that word is the whole protocol. The
 * producer writes the other 56 bytes, then the word (release); the consumer
 * waits for the word it expects and hands the slot back by writing EMPTY
 * there, which also leaves the line Modified in its cache, so the producer's
 * next write of it is one transfer. A ring with head and tail indices moves
 * those lines back and forth too, and on a 2-CCD EPYC guest ran at a third
 * to a half of this one (and below shmring): a ceiling must be the fastest
 * ring we know.
 */
struct ring_slot {
	_Atomic uint64_t seq; /* EMPTY_SEQ, or the number of the message here */
	unsigned char rest[SLOT - 8];
};

struct ring {
	alignas(64) unsigned spins;
	struct ipcb_report report;
	alignas(64) struct ring_slot slot[RING_SLOTS];
};

static inline struct ring_slot *ring_at(struct ring *r, uint64_t pos)
{
	return &r->slot[pos & (RING_SLOTS - 1)];
}

static int ring_consumer(void *arg)
{
	struct ring *r = arg;
	for (uint64_t want = 0;; want++) {
		struct ring_slot *s = ring_at(r, want);
		uint64_t seq;
		unsigned n = 0;
		/*
		 * Found empty: let the producer get half a ring ahead before taking
		 * the next message, so the two CPUs stop working on the same lines
		 * (each line went back and forth twice, and the row swung 25-80 M
		 * msg/s run to run with the same host state); then the consumer
		 * walks lines the producer has long left. Bounded, so the last
		 * messages of a run (and a lone one) are still taken. Not on one
		 * PU, where waiting only keeps the producer off the CPU.
		 * Same host state: 32-79 -> 175-181 M msg/s.
		 */
		if (r->spins && atomic_load_explicit(&s->seq, memory_order_acquire) == EMPTY_SEQ) {
			_Atomic uint64_t *ahead = &ring_at(r, want + TAKE_BATCH - 1)->seq;
			for (int k = 0; k < TAKE_WAIT && atomic_load_explicit(ahead, memory_order_acquire) == EMPTY_SEQ; k++)
				cpu_relax();
		}
		while ((seq = atomic_load_explicit(&s->seq, memory_order_acquire)) == EMPTY_SEQ)
			spin_wait(&n, r->spins);
		if (seq == STOP_SEQ)
			return 0;
		/*
		 * Every byte of every message, in place, as the stream workload
		 * checks what each queue delivers: a ceiling that checked less
		 * would be out of reach of a queue that cost nothing.
		 */
		long off = seq != want ? 0 : ipcb_payload_check(s, SLOT, want);
		if (off >= 0) {
			ipcb_report_fail(&r->report, "limit/ring consumer: message %llu has a wrong byte at offset %ld",
			                 (unsigned long long)want, off);
			return 1;
		}
		atomic_store_explicit(&s->seq, EMPTY_SEQ, memory_order_release);
	}
}

/* Waits until slot pos is free (on a full ring, until RING_BATCH are); false if the consumer ended. */
static bool ring_room(struct ring *r, uint64_t pos, struct ipcb_peer *peer)
{
	if (atomic_load_explicit(&ring_at(r, pos)->seq, memory_order_acquire) == EMPTY_SEQ)
		return true;
	/* The consumer frees in order: the slot a batch ahead free means all before it are. */
	_Atomic uint64_t *ahead = &ring_at(r, pos + RING_BATCH - 1)->seq;
	unsigned n = 0;
	unsigned long waits = 0;
	while (atomic_load_explicit(ahead, memory_order_acquire) != EMPTY_SEQ) {
		spin_wait(&n, r->spins);
		if ((++waits & 0xfffff) == 0) {
			char why[128];
			if (ipcb_peer_ended(peer, why, sizeof why))
				return false;
		}
	}
	return atomic_load_explicit(&ring_at(r, pos)->seq, memory_order_acquire) == EMPTY_SEQ;
}

/* Puts message seq (msg: a stamped 64-byte payload) into slot pos, the number last. */
static inline void ring_put(struct ring *r, uint64_t pos, unsigned char *msg, uint64_t seq)
{
	struct ring_slot *s = ring_at(r, pos);
	ipcb_payload_stamp(msg, SLOT, seq);
	memcpy(s->rest, msg + 8, sizeof s->rest);
	atomic_store_explicit(&s->seq, seq, memory_order_release);
}

static void run_ring(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300], why[200];
	unsigned char msg[SLOT];
	struct ipcb_pin pin;
	struct ipcb_peer peer;
	struct ring *r = ipcb_shared_alloc(sizeof *r, err, sizeof err);
	if (!r) {
		ipcb_fail(st, "limit/ring: %s", err);
		return;
	}
	r->spins = spin_limit(c);
	ipcb_payload_init(msg, SLOT);
	for (unsigned i = 0; i < RING_SLOTS; i++) {
		memcpy(r->slot[i].rest, msg + 8, sizeof r->slot[i].rest);
		atomic_init(&r->slot[i].seq, EMPTY_SEQ);
	}
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "limit/ring: %s", err);
		goto out;
	}
	if (ipcb_peer_start(&peer, false, c->topo, c->cpu_b, "ring", ring_consumer, r, &r->report, err,
	                    sizeof err) != 0) {
		ipcb_fail(st, "limit/ring: starting the consumer: %s", err);
		goto out;
	}
	uint64_t head = 0;
	bool dead = false;
	for (int i = 0; i < 100000 && !dead; i++, head++)
		if (!(dead = !ring_room(r, head, &peer)))
			ring_put(r, head, msg, head);
	while (!dead && ipcb_gb_keep_running_batch(st, 256))
		for (int i = 0; i < 256; i++, head++) {
			if (!ring_room(r, head, &peer)) {
				dead = true;
				break;
			}
			ring_put(r, head, msg, head);
		}
	if (!dead && ring_room(r, head, &peer))
		ring_put(r, head, msg, STOP_SEQ);
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
