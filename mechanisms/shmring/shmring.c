/*
 * shmring.c - a bounded lock-free MPMC ring in MAP_SHARED memory, with an
 * adaptive wait (bounded spin, then a shared futex).
 *
 * The ring is N fixed slots, each sized for max_msg, mapped before fork().
 * Positions count up forever; position p lives in slot p % N, lap p / N.
 * Every slot has one 64-bit state word (Vyukov-style per-slot sequence):
 *
 *     lap (40 bits) | kind (2 bits) | pid (22 bits)
 *
 *   FREE(lap)          empty, waiting for the producer of position lap*N+i
 *   CLAIMED(lap, pid)  that producer is copying its message in
 *   FULL(lap)          the message is whole and may be taken
 *   READING(lap, pid)  a consumer is copying it out; then FREE(lap + 1)
 *
 * A producer or consumer claims a slot with one CAS on the state word, and
 * the CAS writes its pid in the same instant, so a claimed slot always names
 * its claimer. The sides' hints say where to start (positions below
 * them are all claimed); the states are the truth, so a hint that lags costs
 * a short scan, never a wrong answer. Capacity is exactly N messages.
 *
 * Crash safety: a message becomes visible only by the CAS CLAIMED -> FULL
 * after its bytes, so a producer killed mid-copy never exposes a torn
 * message. Whoever finds a CLAIMED or READING slot in its way after spinning
 * asks whether the named process still lives (kill(pid, 0), zombies count as
 * dead); a dead claimer's slot is turned into FREE(lap + 1), i.e. skipped:
 * the half-written message is dropped (its put never returned OK), a message
 * a consumer died reading is lost with it. Dead producers and consumers count
 * as released through the core lifelines.
 *
 * Solo sides (the SPSC fast path): the first thread to put becomes the
 * ring's solo producer, the first to get its solo consumer. While a side is
 * solo its owner skips the claim: it checks the state with a plain load,
 * copies, and publishes with a release store, so a call makes no locked
 * instruction and no cache-line miss stalls it (a CAS waits for every miss
 * before it; a store goes through the store buffer). The first time another
 * thread or process (a forked child: new tid) uses a side, that side turns
 * shared for good: the newcomer sets the flag, waits until the owner is out
 * of any solo attempt it may be in (the owner's busy word; a dead owner is
 * not waited for) and everyone uses the CAS path from then on. The owner sets
 * busy and then looks at the flag with no fence between; the newcomer's
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) after setting the flag provides
 * it, so one of them always sees the other. A solo owner dying mid-put leaves
 * its slot FREE (never exposed); dying mid-get leaves the message FULL.
 *
 * Waiting: spin (IPCQ_SHMRING_SPIN_NS, default 50 us) with pause, then sleep
 * on a shared futex (never FUTEX_PRIVATE_FLAG: the word is in shared memory).
 * A sleeper increments a waiter count (seq_cst) before its last look; a
 * publisher stores the new state before it reads the count, so one of the two
 * always sees the other: no lost wake-up, and no futex call while nobody
 * sleeps; a waker takes the sleepers it woke off the count itself. On the
 * CAS path the seq_cst CAS orders the two; a solo owner has no fence, so a
 * sleeper issues the membarrier above between announcing itself
 * and its last look (which is why only registered processes become owners).
 * Sleepers wake every 50 ms (IPCQ_SHMRING_NAP_NS, 1 ms to 60 s; tests raise
 * it so a lost wake-up would show as a hang) to look at the lifelines, since
 * a SIGKILLed peer sends no wake-up. Both variables are read at ipcq_open;
 * IPCQ_SHMRING_SOLO=0 turns the solo path off (tests compare the two),
 * IPCQ_SHMRING_SLIP=0 a consumer's slipping (see shmring_slip).
 *
 * Zero copy (ipcq_reserve/commit/cancel, ipcq_peek/consume): a reservation
 * is a slot CLAIMED(lap, pid) handed to the caller between calls, a held
 * message a slot READING(lap, pid); commit is the step CLAIMED -> FULL that
 * ends a put, consume the free that ends a get, cancel turns the slot into
 * FREE(lap + 1) as recovery would. So a holder killed in between is the
 * killed put or get above: its reservation is skipped, never torn, and the
 * ring goes on; a message it held is lost. They mark the slot with the pid
 * even on a solo side (see "Zero copy" below); release() and close() end the
 * ones the process still holds, found by pid and a mark in the slot's len.
 *
 * Named rings (cfg.name): the same ring in a POSIX shm object that
 * unrelated processes open by name; file locks on it stand in for the
 * lifelines (see "Named rings" below).
 *
 * Sections: layout and states - identity and fences - solo sides - claiming
 * slots (put, get, peek, reserve, hold) - recovery and lifelines - waiting -
 * named rings - ops - zero-copy ops.
 */
#include "mech.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* --- Layout and states ------------------------------------------------------ */

#define SHMRING_LAP_BITS 40
#define SHMRING_LAP_MASK ((UINT64_C(1) << SHMRING_LAP_BITS) - 1)
#define SHMRING_PID_MASK ((UINT64_C(1) << 22) - 1) /* PID_MAX_LIMIT is 2^22 */

enum { K_FREE = 0, K_CLAIMED = 1, K_FULL = 2, K_READING = 3 };

#define ST(lap, kind, pid) ((((uint64_t)(lap) & SHMRING_LAP_MASK) << 24) | ((uint64_t)(kind) << 22) | (uint64_t)(pid))
#define ST_LAP(s) ((s) >> 24)
#define ST_KIND(s) ((int)(((s) >> 22) & 3))
#define ST_PID(s) ((pid_t)((s) & SHMRING_PID_MASK))

#define SHMRING_DEFAULT_SPIN_NS 50000
#define SHMRING_NAP_NS 50000000    /* a sleeper looks at the lifelines this often */
#define SHMRING_CHECK_EVERY 1024u  /* puts between two looks at the consumers' lifeline */
#define SHMRING_BATCH_BYTES 65536  /* room a producer spinning on a full ring waits for (at most half the ring) */
#define NOTREADY (-1)              /* internal: nothing to do yet */
#define SETTLED 2u                 /* shmring_side.shared: the owner is known to be out */
#define SHMRING_READY UINT64_C(0x7368726e67726432) /* "shrngrd2": the layout with shmring_sleep */
#define SHMRING_NAME_MAX 200       /* of cfg.name; /dev/shm adds "ipcq.shmring." */
#define SHMRING_OPEN_NS (5 * 1000000000LL) /* named open: longest wait for a creator or a closer */
#define ZC_HELD (UINT64_C(1) << 63)  /* in a slot's len: a reservation or a held message, not a put or get in flight */

/*
 * A slot is max_msg bytes of data (rounded up to 8) and then this header.
 * Header last: a producer writes the data lines, then len and state
 * together, and a consumer spins on the header line alone while it fetches
 * the first data line alongside; with the state on the first data line
 * instead, the spinning consumer steals that line back between the
 * producer's stores, and a 64-byte message cost two line transfers a hop.
 */
struct shmring_slot {
	_Atomic uint64_t len;
	_Atomic uint64_t state;
};

/*
 * The sleepers on one side's futex, alone on a line that every publish
 * reads. waiters: the sleepers counted in (low 32 bits) and how many times
 * one counted itself in (high 32), so the word never comes back to a value
 * it had. stale: a value of waiters at which a wake-up found nobody in the
 * futex - every sleeper counted then had gone or was going without sleeping,
 * or had died asleep (SIGKILL leaves its count behind). Publishes skip the
 * futex call while waiters still holds that value: without it, one consumer
 * killed asleep made every later publish a system call.
 */
struct shmring_sleep {
	alignas(64) _Atomic uint64_t waiters;
	_Atomic uint64_t stale;
	atomic_uint futex;
};

#define SLEEPER_IN ((UINT64_C(1) << 32) | 1) /* added by a sleeper counting itself in */

/* The producers' or the consumers' side, alone on its cache line. */
struct shmring_side {
	alignas(64) _Atomic uint64_t hint; /* positions below are claimed by this side (exact while solo) */
	_Atomic uint32_t owner;            /* tid of the solo thread; 0 until one claims the side */
	_Atomic uint32_t shared;           /* a second thread came: CAS path for good; SETTLED when no
	                                      solo attempt can still be running */
	_Atomic uint32_t busy;             /* the owner is inside a solo attempt */
	_Atomic uint32_t hot;              /* consumers: the solo owner's last call found its message at once */
};

struct shmring_hdr {
	size_t capacity, slot_size;
	size_t max_msg;               /* named: an opener's config must match these three */
	uint32_t solo_ok;             /* named: the creator's choice, which openers follow */
	_Atomic uint64_t ready;       /* named: SHMRING_READY once the creator has set the header up */
	atomic_int prod_gone, cons_gone; /* set once observed: a role never comes back (private rings) */
	struct shmring_side prod, cons;
	/*
	 * Every publish reads the other side's waiter count: those lines stay
	 * shared in both caches. The spinner counts change each time a caller
	 * starts to spin, so they live apart: beside the waiters, a consumer
	 * catching up on every message took that line from the producer each
	 * time, and the 64 B stream ran at half its speed (14 -> 27-32 M msg/s).
	 */
	struct shmring_sleep data;
	alignas(64) atomic_uint data_spinners; /* getters spinning now (see shmring_run) */
	struct shmring_sleep room;
	alignas(64) atomic_uint room_spinners;
	alignas(64) unsigned char slots[];
};

struct shmring {
	struct shmring_hdr *h;
	size_t map_size;
	size_t cap, slot_size, max_msg;
	size_t data_room; /* bytes of data before each slot's header */
	unsigned shift; /* capacity = 1 << shift when pow2 */
	unsigned batch; /* a producer spinning on a full ring waits for this many free slots (first half of the spin), a slipping consumer for this many messages */
	unsigned max_spinners; /* per side: callers spinning at once, the others sleep at once */
	bool slip;             /* a consumer catching up with a stream waits for a batch (shmring_slip) */
	bool pow2;
	int64_t spin_ns, nap_ns;
	struct ipcq__life life;
	bool have_life;
	bool named;       /* opened by cfg.name: the role locks at the end instead of lifelines */
	bool solo;        /* solo sides allowed: membarrier can give the owners' missing fence */
	atomic_int prod_safe, cons_safe; /* this handle waited out that side's solo owner: CAS path is safe */
	atomic_int zc_used; /* this handle reserved or held a slot once: release looks for what it still holds */
	/*
	 * The one field a put writes, alone on its line (the core aligns the
	 * state): threads share a handle, and beside the fields every get reads
	 * it cost a consumer thread a miss per message - a 64 B stream between
	 * threads ran at 16-24 M msg/s against 38-61 M with it apart.
	 */
	alignas(64) atomic_uint puts; /* since the last lifeline look */
	/* Named rings only, last: the fields above are the hot path's. */
	alignas(64) int user_fd, prod_fd, cons_fd; /* descriptions holding OFD read locks on bytes 2, 0, 1 */
	dev_t dev;        /* the object's identity, so close never unlinks a newer one */
	ino_t ino;
	char shm_name[NAME_MAX + 1];
};

/* Signed distance a - b between two 40-bit laps. */
static inline int64_t lapdiff(uint64_t a, uint64_t b)
{
	return (int64_t)(((a - b) & SHMRING_LAP_MASK) << 24) >> 24;
}

static inline struct shmring_slot *slot_at(const struct shmring *q, uint64_t pos)
{
	uint64_t i = q->pow2 ? pos & (q->cap - 1) : pos % q->cap;
	return (struct shmring_slot *)(q->h->slots + i * q->slot_size + q->data_room);
}

static inline unsigned char *slot_data(const struct shmring *q, const struct shmring_slot *s)
{
	return (unsigned char *)s - q->data_room;
}

/* Fetches slot pos's header line and first data line for writing. */
static inline void slot_prefetch_write(const struct shmring *q, uint64_t pos)
{
	struct shmring_slot *s = slot_at(q, pos);
	__builtin_prefetch(s, 1, 3);
	__builtin_prefetch(slot_data(q, s), 1, 3);
}

/*
 * A solo consumer fetches the slot READ_AHEAD places on as it takes one,
 * so a stream's remote lines are on their way before it needs them: the
 * CPU no longer waits for each message's lines in turn. Alternated, 64 B
 * stream across the L3s: get 54-60 -> 62-65 M msg/s (threads 59-60 ->
 * 66-69); get_many 65 -> 74-76 (8 and 16 alike); round trips unchanged
 * (the slot is still ours from its last lap). Only for slots up to
 * READ_AHEAD_BELOW bytes: at 1 KiB the fetch cost get 7-15% (the producer
 * is then near, and loses the line it writes), at 256 B and 4 KiB it was even.
 */
#define READ_AHEAD 8
#define READ_AHEAD_BELOW 512

/* Fetches the header line and first data line of slot s for reading. */
static inline void slot_prefetch_read(const struct shmring *q, const struct shmring_slot *s)
{
	__builtin_prefetch(s, 0, 3);
	__builtin_prefetch(slot_data(q, s), 0, 3);
}

/*
 * A consumer done with n bytes of slot data writes one byte of each of its
 * lines back unchanged before it frees the slot. The lines then leave this
 * CPU Modified, and the producer's next write of each is one transfer; a
 * line only read here stays shared by both caches, and the producer's store
 * waits for an upgrade. Measured on a 2-CCD EPYC guest, stream across the
 * L3s: a bare put/get loop of 64 B went from 10 to 24 M msg/s, the stream
 * rows 2.7x at 256 B and 1 KiB, 2x at 2 KiB, +7% at 3 KiB - but 15-25%
 * slower from 4 KiB (copies that large are string moves, whose whole-line
 * stores do better on lines left shared), hence the bound. The bytes are
 * the same, so a consumer killed before the free leaves the message whole.
 */
#define SHMRING_OWN_BELOW 4096

static inline void slot_own_lines(unsigned char *data, size_t n)
{
	if (n >= SHMRING_OWN_BELOW)
		return;
	volatile unsigned char *d = data;
	for (size_t o = 0; o < n; o += 64)
		d[o] = d[o];
}

static inline uint64_t lap_of(const struct shmring *q, uint64_t pos)
{
	return (q->pow2 ? pos >> q->shift : pos / q->cap) & SHMRING_LAP_MASK;
}

/* Moves a hint forward; a rare lost race moves it back a little, which only costs a scan. */
static inline void hint_advance(_Atomic uint64_t *hint, uint64_t to)
{
	if (atomic_load_explicit(hint, memory_order_relaxed) < to)
		atomic_store_explicit(hint, to, memory_order_relaxed);
}

static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* --- Identity and fences ------------------------------------------------------ */

/*
 * The pid goes into every claim and the tid names a solo owner; both are
 * system calls: cache them, and forget them in a forked child (pthread_atfork)
 * before anything runs there, together with the membarrier registration.
 */
static atomic_int shmring_pid;
static _Thread_local uint32_t shmring_tid;
static atomic_int shmring_registered; /* this process gets the solo owners' missing fence */

static void shmring_forget_pid(void)
{
	atomic_store_explicit(&shmring_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&shmring_registered, 0, memory_order_relaxed);
	shmring_tid = 0; /* the child's only thread is the one that forked */
}

static void shmring_atfork_once(void)
{
	pthread_atfork(NULL, NULL, shmring_forget_pid);
}

static inline uint32_t self_tid(void)
{
	if (!shmring_tid)
		shmring_tid = (uint32_t)syscall(SYS_gettid);
	return shmring_tid;
}

/* True when membarrier() can order this process's solo attempts (registers once per process). */
static bool shmring_register(void)
{
	if (atomic_load_explicit(&shmring_registered, memory_order_acquire))
		return true;
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) != 0)
		return false;
	atomic_store_explicit(&shmring_registered, 1, memory_order_release);
	return true;
}

/* A full fence on every CPU now running a registered process: the half of a
 * store-then-load handshake that the fast side skips. */
static void shmring_fence_others(void)
{
	syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}

static inline uint32_t self_pid(void)
{
	int p = atomic_load_explicit(&shmring_pid, memory_order_relaxed);
	if (!p) {
		p = getpid();
		atomic_store_explicit(&shmring_pid, p, memory_order_relaxed);
	}
	return (uint32_t)p;
}

/* False once pid has exited; a zombie (killed, not yet reaped) is dead too. */
static bool pid_alive(pid_t pid)
{
	return pid == (pid_t)self_pid() || !ipcq__pid_ended(pid);
}

/* --- Solo sides ------------------------------------------------------------------ */

/*
 * The slow part of solo_enter: claims side sd for this thread (true) if
 * nobody has, else turns it shared, waits until its owner is out of any solo
 * attempt (or dead), marks this handle safe and returns false.
 */
static bool shmring_solo_settle(struct shmring *q, struct shmring_side *sd, atomic_int *safe, uint32_t me)
{
	uint32_t owner = 0;
	if (q->solo && !atomic_load_explicit(&sd->shared, memory_order_seq_cst) && shmring_register() &&
	    atomic_compare_exchange_strong_explicit(&sd->owner, &owner, me, memory_order_seq_cst,
	                                            memory_order_seq_cst))
		return true;
	if (owner == me)
		return true;
	uint32_t was = 0;
	atomic_compare_exchange_strong_explicit(&sd->shared, &was, 1, memory_order_seq_cst, memory_order_seq_cst);
	if (q->solo)
		shmring_fence_others(); /* now an owner that missed the flag has announced itself in busy */
	owner = atomic_load_explicit(&sd->owner, memory_order_seq_cst);
	for (unsigned i = 1; atomic_load_explicit(&sd->busy, memory_order_acquire); i++) {
		if ((i & 255) == 0 && !pid_alive((pid_t)owner))
			break; /* died inside: its slot was never published, or its message stays queued */
		sched_yield();
	}
	atomic_store_explicit(&sd->shared, SETTLED, memory_order_release);
	atomic_store_explicit(safe, 1, memory_order_release);
	return false;
}

/*
 * True when the calling thread is the solo owner of side sd and may make one
 * solo attempt; the caller then clears sd->busy (release) after it. False:
 * use the CAS path, which settle has made safe.
 */
static inline bool shmring_solo_enter(struct shmring *q, struct shmring_side *sd, atomic_int *safe)
{
	uint32_t me = self_tid();
	for (;;) {
		if (atomic_load_explicit(&sd->owner, memory_order_relaxed) == me &&
		    !atomic_load_explicit(&sd->shared, memory_order_relaxed)) {
			atomic_store_explicit(&sd->busy, 1, memory_order_relaxed);
			/* No hardware fence: the newcomer's membarrier is the other half. */
			atomic_signal_fence(memory_order_seq_cst);
			if (!atomic_load_explicit(&sd->shared, memory_order_relaxed))
				return true;
			atomic_store_explicit(&sd->busy, 0, memory_order_release);
		}
		if (atomic_load_explicit(safe, memory_order_acquire))
			return false;
		if (!shmring_solo_settle(q, sd, safe, me))
			return false;
	}
}

/* --- Claiming slots ------------------------------------------------------------- */

/*
 * Bumps the word (so a sleeper about to wait returns at once), wakes n of
 * its sleepers and takes those off the waiter count: a woken sleeper takes
 * itself off only when it was not woken (see shmring_run). Left to the
 * sleeper, the count showed it until its CPU ran it - a timeslice when the
 * CPU is busy with its sibling - and every publish in between made a futex
 * call: a 2x2 stream of 64 B ran at 1 M msg/s, one call per message.
 */
static void futex_wake(struct shmring_sleep *sl, int n, uint64_t seen)
{
	atomic_fetch_add_explicit(&sl->futex, 1, memory_order_seq_cst);
	long woke = syscall(SYS_futex, (uint32_t *)&sl->futex, FUTEX_WAKE, n, NULL, NULL, 0);
	if (woke > 0)
		atomic_fetch_sub_explicit(&sl->waiters, (uint64_t)woke, memory_order_relaxed);
	else if (woke == 0 && seen)
		atomic_store_explicit(&sl->stale, seen, memory_order_relaxed);
}

static void futex_wake_all(struct shmring_sleep *sl)
{
	futex_wake(sl, INT_MAX, 0);
}

/*
 * After a publish: wake one sleeper, only when the count says there are some.
 * One message needs one taker: waking them all would have every sleeper spin
 * and sleep again (with 64 idle pool workers, a herd per task). A woken
 * sleeper that loses the message to a spinner has lost nothing: it was taken.
 * The CAS path publishes with a seq_cst CAS, which orders the two; a solo
 * publish is a plain release store, and the sleeper's membarrier orders them.
 */
static inline void wake_if_waiting(struct shmring_sleep *sl, bool solo)
{
	if (solo)
		atomic_signal_fence(memory_order_seq_cst); /* the load stays after the store in program order */
	uint64_t w = atomic_load_explicit(&sl->waiters, solo ? memory_order_relaxed : memory_order_seq_cst);
	if ((uint32_t)w && w != atomic_load_explicit(&sl->stale, memory_order_relaxed))
		futex_wake(sl, 1, w);
}

/* Where an attempt stopped: the slot in the way and its state, for recovery. */
struct shmring_stuck {
	struct shmring_slot *slot;
	uint64_t pos, state;
};

/*
 * A try that found slot s (state st, at *pos) not ready: true when its side's
 * hint is past *pos (others moved on; *pos jumps there, try again), else
 * false with *stuck saying where the caller must wait.
 */
static inline bool shmring_jump_or_stuck(_Atomic uint64_t *hint, uint64_t *pos, struct shmring_slot *s, uint64_t st,
                                         struct shmring_stuck *stuck)
{
	uint64_t e = atomic_load_explicit(hint, memory_order_relaxed);
	if (e > *pos) {
		*pos = e;
		return true;
	}
	*stuck = (struct shmring_stuck){ .slot = s, .pos = *pos, .state = st };
	return false;
}

/* A solo producer's put into slot s (FREE at lap, nobody else moves it): copy, publish; no wake-up. */
static inline void shmring_solo_fill(struct shmring *q, struct shmring_slot *s, uint64_t pos, uint64_t lap,
                                     const void *msg, size_t len)
{
	/* The data first, then len and state together: see struct shmring_slot. */
	if (len)
		memcpy(slot_data(q, s), msg, len);
	atomic_store_explicit(&s->len, len, memory_order_relaxed);
	atomic_store_explicit(&s->state, ST(lap, K_FULL, 0), memory_order_release);
	/* Only after the publish: a hint past a slot left FREE would strand the consumers. */
	atomic_store_explicit(&q->h->prod.hint, pos + 1, memory_order_relaxed);
}

/* shmring_solo_fill, then the wake-up, and the next slot fetched for writing. */
static inline void shmring_solo_publish(struct shmring *q, struct shmring_slot *s, uint64_t pos, uint64_t lap,
                                        const void *msg, size_t len)
{
	shmring_solo_fill(q, s, pos, lap, msg, len);
	wake_if_waiting(&q->h->data, true);
	slot_prefetch_write(q, pos + 1);
}

/*
 * One non-blocking put: OK, or NOTREADY with *stuck set when the ring is full.
 * solo: the caller is the only producer (shmring_solo_enter said so).
 */
static int shmring_try_put(struct shmring *q, const void *msg, size_t len, bool solo, struct shmring_stuck *stuck)
{
	struct shmring_hdr *h = q->h;
	uint64_t pos = atomic_load_explicit(&h->prod.hint, memory_order_relaxed);
	for (;;) {
		struct shmring_slot *s = slot_at(q, pos);
		uint64_t lap = lap_of(q, pos);
		uint64_t st = ST(lap, K_FREE, 0);
		if (solo) {
			/* Nobody else moves a FREE slot while we are solo: look, copy, publish. */
			st = atomic_load_explicit(&s->state, memory_order_acquire);
			if (st == ST(lap, K_FREE, 0)) {
				shmring_solo_publish(q, s, pos, lap, msg, len);
				return IPCQ_OK;
			}
		} else {
			/*
			 * Claim without looking first: the usual answer is yes, and a CAS
			 * fetches the line for writing in one transfer where a load and then
			 * a CAS take two. On failure st holds what is there.
			 */
			uint32_t me = self_pid();
			uint64_t mine = ST(lap, K_CLAIMED, me);
			if (atomic_compare_exchange_strong_explicit(&s->state, &st, mine, memory_order_acquire,
			                                            memory_order_acquire)) {
				hint_advance(&h->prod.hint, pos + 1);
				if (len)
					memcpy(slot_data(q, s), msg, len);
				atomic_store_explicit(&s->len, len, memory_order_relaxed);
				if (!atomic_compare_exchange_strong_explicit(&s->state, &mine, ST(lap, K_FULL, 0),
				                                             memory_order_seq_cst, memory_order_relaxed))
					/* Only a pid reused while we ran can make another process think we died. */
					return ipcq__fail(IPCQ_PEERDEAD, 0,
					                  "shmring: put: another process declared this producer (pid %u) "
					                  "dead and reclaimed its slot; the message was not queued: retry "
					                  "the put",
					                  me);
				wake_if_waiting(&h->data, false);
				/* The next put writes the next slot: fetch it for writing while nobody waits on us. */
				slot_prefetch_write(q, pos + 1);
				return IPCQ_OK;
			}
		}
		int64_t d = lapdiff(ST_LAP(st), lap);
		if (d >= 0) { /* taken by another producer at this lap, or already consumed */
			pos++;
			continue;
		}
		if (shmring_jump_or_stuck(&h->prod.hint, &pos, s, st, stuck))
			continue;
		return NOTREADY; /* the slot still holds the message of an older lap: full */
	}
}

/*
 * Copies out the message of slot s (at pos, FULL, and claimed READING unless
 * solo) and frees the slot for lap + 1; no wake-up.
 */
static inline void shmring_take_quiet(struct shmring *q, struct shmring_slot *s, uint64_t pos, uint64_t lap,
                                      void *buf, size_t *len, bool solo)
{
	struct shmring_hdr *h = q->h;
	size_t n = (size_t)atomic_load_explicit(&s->len, memory_order_relaxed);
	if (!solo)
		hint_advance(&h->cons.hint, pos + 1);
	if (n) {
		memcpy(buf, slot_data(q, s), n);
		slot_own_lines(slot_data(q, s), n);
	}
	*len = n;
	atomic_store_explicit(&s->state, ST(lap + 1, K_FREE, 0), solo ? memory_order_release : memory_order_seq_cst);
	if (solo) /* after the free: a consumer dying in between leaves the message queued, not lost */
		atomic_store_explicit(&h->cons.hint, pos + 1, memory_order_relaxed);
}

/* shmring_take_quiet, then the wake-up of a producer waiting for room. */
static inline int shmring_take(struct shmring *q, struct shmring_slot *s, uint64_t pos, uint64_t lap,
                               void *buf, size_t *len, bool solo)
{
	shmring_take_quiet(q, s, pos, lap, buf, len, solo);
	wake_if_waiting(&q->h->room, solo);
	return IPCQ_OK;
}

/*
 * One non-blocking get (peek: only say whether one is ready): OK, TOOBIG with
 * *len set and the message left in place, or NOTREADY with *stuck set.
 * solo: the caller is the only consumer, so a FULL slot stays FULL until it
 * frees it.
 */
static int shmring_try_get(struct shmring *q, void *buf, size_t cap, size_t *len, bool peek, bool eager,
                           bool solo, struct shmring_stuck *stuck)
{
	struct shmring_hdr *h = q->h;
	uint64_t pos = atomic_load_explicit(&h->cons.hint, memory_order_relaxed);
	/*
	 * eager: claim FULL(lap) without looking first (one line transfer, not
	 * two), when no message can be TOOBIG for buf: a claimed message cannot
	 * be put back. Never while spinning, where it would steal the line from
	 * the producer writing it, and never solo, which claims nothing.
	 */
	eager = eager && !peek && !solo && cap >= q->max_msg;
	for (;;) {
		struct shmring_slot *s = slot_at(q, pos);
		uint64_t lap = lap_of(q, pos);
		uint64_t st;
		if (eager) {
			eager = false;
			st = ST(lap, K_FULL, 0);
			if (atomic_compare_exchange_strong_explicit(&s->state, &st, ST(lap, K_READING, self_pid()),
			                                            memory_order_acq_rel, memory_order_acquire))
				return shmring_take(q, s, pos, lap, buf, len, false);
		} else {
			st = atomic_load_explicit(&s->state, memory_order_acquire);
		}
		int64_t d = lapdiff(ST_LAP(st), lap);
		if (d > 0 || (d == 0 && ST_KIND(st) == K_READING)) { /* taken by another consumer */
			pos++;
			continue;
		}
		if (d == 0 && ST_KIND(st) == K_FULL) {
			if (peek)
				return IPCQ_OK;
			size_t n = (size_t)atomic_load_explicit(&s->len, memory_order_relaxed);
			if (n > cap) {
				/* n belongs to this message only if the state did not move meanwhile. */
				atomic_thread_fence(memory_order_acquire);
				if (atomic_load_explicit(&s->state, memory_order_relaxed) != st)
					continue;
				*len = n;
				return ipcq__fail(IPCQ_TOOBIG, 0,
				                  "shmring: get: message of %zu bytes does not fit the buffer of %zu "
				                  "bytes; it stays queued",
				                  n, cap);
			}
			if (solo)
				return shmring_take(q, s, pos, lap, buf, len, true);
			/* The state is FULL(lap) until we claim it (laps never repeat), so n is this message's. */
			if (!atomic_compare_exchange_weak_explicit(&s->state, &st, ST(lap, K_READING, self_pid()),
			                                           memory_order_acq_rel, memory_order_relaxed))
				continue;
			return shmring_take(q, s, pos, lap, buf, len, false);
		}
		/* FREE or CLAIMED at this lap, or an older lap: nothing whole here yet. */
		if (shmring_jump_or_stuck(&h->cons.hint, &pos, s, st, stuck))
			continue;
		return NOTREADY;
	}
}

/*
 * Zero copy. Unlike a solo put or get, it marks its slot CLAIMED or READING
 * with its pid on every path, solo owner included (with a plain store there,
 * inside the busy window like any solo attempt): the slot stays so between
 * calls, so a holder that dies is recovered exactly like a put or get killed
 * mid-copy, and a newcomer turning the side shared waits only for the claim,
 * never for the holder. commit and consume open a solo window of their own
 * (the side may have turned shared since): a plain store inside it, a CAS
 * with its seq_cst order for the wake-up outside.
 * len carries ZC_HELD meanwhile, which tells release() the slots to end.
 */

/*
 * One non-blocking reservation: OK with *where set to the slot's data, or
 * NOTREADY (full). solo: nobody else moves a FREE slot, so the claim is a
 * plain store, and the hint may pass the slot at once: it is CLAIMED with
 * our pid, which recovery can undo, never FREE.
 */
__attribute__((noinline)) static int shmring_try_reserve(struct shmring *q, size_t len, void **where, bool solo,
                                                         struct shmring_stuck *stuck)
{
	struct shmring_hdr *h = q->h;
	uint64_t pos = atomic_load_explicit(&h->prod.hint, memory_order_relaxed);
	uint32_t me = self_pid();
	for (;;) {
		struct shmring_slot *s = slot_at(q, pos);
		uint64_t lap = lap_of(q, pos);
		uint64_t st = ST(lap, K_FREE, 0);
		bool mine;
		if (solo) {
			st = atomic_load_explicit(&s->state, memory_order_acquire);
			mine = st == ST(lap, K_FREE, 0);
			if (mine)
				atomic_store_explicit(&s->state, ST(lap, K_CLAIMED, me), memory_order_relaxed);
		} else {
			mine = atomic_compare_exchange_strong_explicit(&s->state, &st, ST(lap, K_CLAIMED, me),
			                                               memory_order_acquire, memory_order_acquire);
		}
		if (mine) {
			hint_advance(&h->prod.hint, pos + 1);
			atomic_store_explicit(&s->len, ZC_HELD | len, memory_order_relaxed);
			*where = slot_data(q, s);
			return IPCQ_OK;
		}
		if (lapdiff(ST_LAP(st), lap) >= 0) {
			pos++;
			continue;
		}
		if (shmring_jump_or_stuck(&h->prod.hint, &pos, s, st, stuck))
			continue;
		return NOTREADY;
	}
}

/* One non-blocking hold of the oldest message: OK with *where and *len set, or NOTREADY.
 * solo: a FULL slot stays FULL until we move it, so the claim is a plain store. */
__attribute__((noinline)) static int shmring_try_hold(struct shmring *q, const void **where, size_t *len, bool solo,
                                                      struct shmring_stuck *stuck)
{
	struct shmring_hdr *h = q->h;
	uint64_t pos = atomic_load_explicit(&h->cons.hint, memory_order_relaxed);
	for (;;) {
		struct shmring_slot *s = slot_at(q, pos);
		uint64_t lap = lap_of(q, pos);
		uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
		int64_t d = lapdiff(ST_LAP(st), lap);
		if (d > 0 || (d == 0 && ST_KIND(st) == K_READING)) {
			pos++;
			continue;
		}
		if (d == 0 && ST_KIND(st) == K_FULL) {
			if (solo)
				atomic_store_explicit(&s->state, ST(lap, K_READING, self_pid()), memory_order_relaxed);
			else if (!atomic_compare_exchange_weak_explicit(&s->state, &st, ST(lap, K_READING, self_pid()),
			                                                memory_order_acq_rel, memory_order_relaxed))
				continue;
			hint_advance(&h->cons.hint, pos + 1);
			uint64_t n = atomic_load_explicit(&s->len, memory_order_relaxed);
			atomic_store_explicit(&s->len, ZC_HELD | n, memory_order_relaxed);
			*len = (size_t)n;
			*where = slot_data(q, s);
			return IPCQ_OK;
		}
		if (shmring_jump_or_stuck(&h->cons.hint, &pos, s, st, stuck))
			continue;
		return NOTREADY;
	}
}

/* --- Recovery and lifelines --------------------------------------------------------- */

/*
 * The slot in the way is claimed by a process that has died: skip it by
 * making it FREE for its next lap. True when something changed.
 */
static bool shmring_recover(struct shmring *q, const struct shmring_stuck *sk)
{
	int kind = ST_KIND(sk->state);
	if (kind != K_CLAIMED && kind != K_READING)
		return false;
	if (pid_alive(ST_PID(sk->state)))
		return false;
	uint64_t st = sk->state;
	if (atomic_compare_exchange_strong_explicit(&sk->slot->state, &st, ST(ST_LAP(st) + 1, K_FREE, 0),
	                                            memory_order_seq_cst, memory_order_relaxed)) {
		futex_wake_all(&q->h->data);
		futex_wake_all(&q->h->room);
	}
	return true; /* moved, by us or by another rescuer */
}

static bool shmring_named_gone(const struct shmring *q, unsigned role);

/*
 * True once every process holding role has released it or died (exact, via
 * the lifeline). Named rings ask the role locks each time: there a role can
 * come back, as an unrelated process opens the name later.
 */
static bool shmring_gone(struct shmring *q, unsigned role)
{
	if (q->named)
		return shmring_named_gone(q, role);
	atomic_int *flag = role == IPCQ_PRODUCER ? &q->h->prod_gone : &q->h->cons_gone;
	if (atomic_load_explicit(flag, memory_order_acquire))
		return true;
	if (!ipcq__life_gone(&q->life, role))
		return false;
	atomic_store_explicit(flag, 1, memory_order_release);
	return true;
}

static int shmring_broken(void)
{
	return ipcq__fail(IPCQ_BROKEN, EPIPE,
	                  "shmring: put: no consumer is left (every process released, closed or died)");
}

/* --- Waiting ----------------------------------------------------------------------- */

/* The kinds up to OP_RESERVE fill slots (they wait for room), the others empty them. */
enum shmring_kind { OP_PUT, OP_RESERVE, OP_GET, OP_PEEK, OP_HOLD };

struct shmring_op {
	enum shmring_kind kind;
	const void *msg;
	void *buf;
	size_t len, cap;
	size_t *out_len;
	void **where; /* OP_RESERVE, OP_HOLD: the slot's data */
};

static inline bool op_fills(enum shmring_kind k)
{
	return k <= OP_RESERVE;
}

/*
 * The solo path's common case, inline (solo_put, solo_get, solo_reserve,
 * solo_hold): this thread owns the side and the next slot is ready. True
 * when done; false sends the caller to the general path (a shared side, a
 * full or empty ring, a slot to skip, TOOBIG). Every put, get, reserve and
 * peek tries it first (the try_* ops), and so does a spinner whose slot has
 * moved: no op dispatch, no search loop, fewer frames - a third fewer
 * instructions, which counts when every op waits on a remote cache line
 * (the CPU overlaps as many as fit its window) and on a round trip's
 * critical path.
 *
 * shmring_solo_next finds the slot: when this thread owns the producers'
 * side (fill) or the consumers', and the next slot is FREE (fill) or FULL at
 * its lap, that slot with *pos and *lap, inside the owner's busy window,
 * which the caller closes with shmring_solo_end. Else NULL, window closed.
 */
static inline struct shmring_slot *shmring_solo_next(struct shmring *q, bool fill, uint64_t *pos, uint64_t *lap)
{
	struct shmring_side *sd = fill ? &q->h->prod : &q->h->cons;
	if (!shmring_solo_enter(q, sd, fill ? &q->prod_safe : &q->cons_safe))
		return NULL;
	*pos = atomic_load_explicit(&sd->hint, memory_order_relaxed);
	*lap = lap_of(q, *pos);
	struct shmring_slot *s = slot_at(q, *pos);
	if (atomic_load_explicit(&s->state, memory_order_acquire) == ST(*lap, fill ? K_FREE : K_FULL, 0))
		return s;
	atomic_store_explicit(&sd->busy, 0, memory_order_release);
	return NULL;
}

static inline void shmring_solo_end(struct shmring_side *sd)
{
	atomic_store_explicit(&sd->busy, 0, memory_order_release);
}

static inline bool shmring_solo_put(struct shmring *q, const void *msg, size_t len)
{
	uint64_t pos, lap;
	struct shmring_slot *s = shmring_solo_next(q, true, &pos, &lap);
	if (!s)
		return false;
	shmring_solo_publish(q, s, pos, lap, msg, len);
	shmring_solo_end(&q->h->prod);
	return true;
}

static inline bool shmring_solo_get(struct shmring *q, void *buf, size_t cap, size_t *len)
{
	uint64_t pos, lap;
	struct shmring_slot *s = shmring_solo_next(q, false, &pos, &lap);
	if (!s)
		return false;
	if (q->slot_size <= READ_AHEAD_BELOW)
		slot_prefetch_read(q, slot_at(q, pos + READ_AHEAD));
	bool fits = atomic_load_explicit(&s->len, memory_order_relaxed) <= cap;
	if (fits)
		shmring_take(q, s, pos, lap, buf, len, true);
	shmring_solo_end(&q->h->cons);
	return fits;
}

/* Zero copy: the next slot, marked CLAIMED or READING with our pid as try_reserve and try_hold do on every path. */
static inline bool shmring_solo_reserve(struct shmring *q, size_t len, void **where)
{
	uint64_t pos, lap;
	struct shmring_slot *s = shmring_solo_next(q, true, &pos, &lap);
	if (!s)
		return false;
	atomic_store_explicit(&s->state, ST(lap, K_CLAIMED, self_pid()), memory_order_relaxed);
	atomic_store_explicit(&s->len, ZC_HELD | len, memory_order_relaxed);
	atomic_store_explicit(&q->h->prod.hint, pos + 1, memory_order_relaxed);
	*where = slot_data(q, s);
	slot_prefetch_write(q, pos + 1);
	shmring_solo_end(&q->h->prod);
	return true;
}

static inline bool shmring_solo_hold(struct shmring *q, const void **where, size_t *len)
{
	uint64_t pos, lap;
	struct shmring_slot *s = shmring_solo_next(q, false, &pos, &lap);
	if (!s)
		return false;
	atomic_store_explicit(&s->state, ST(lap, K_READING, self_pid()), memory_order_relaxed);
	uint64_t n = atomic_load_explicit(&s->len, memory_order_relaxed);
	atomic_store_explicit(&s->len, ZC_HELD | n, memory_order_relaxed);
	atomic_store_explicit(&q->h->cons.hint, pos + 1, memory_order_relaxed);
	*len = (size_t)n;
	*where = slot_data(q, s);
	shmring_solo_end(&q->h->cons);
	return true;
}

/*
 * The solo paths of put_many and get_many: the run of FREE (FULL) slots from
 * the next on, up to n messages, each slot as solo_put (solo_get) leaves it,
 * and one wake-up check for the run. How many went; 0 sends the caller to
 * the one-message paths.
 *
 * A run steps from slot to slot with a cursor held in registers (the
 * geometry read once, a pointer bump and a compare per step): slot_at
 * after each memcpy made the compiler read q's geometry again, and divide
 * when the capacity is no power of two. The consumer fetches ahead as
 * solo_get does (READ_AHEAD).
 */

struct shmring_cursor {
	unsigned char *at, *first, *end; /* the slot's header; the ring's first and one past its last */
	size_t stride;
	uint64_t pos, lap;
};

static inline struct shmring_cursor cursor_at(const struct shmring *q, struct shmring_slot *s, uint64_t pos,
                                             uint64_t lap)
{
	unsigned char *first = q->h->slots + q->data_room;
	return (struct shmring_cursor){ .at = (unsigned char *)s, .first = first, .end = first + q->cap * q->slot_size,
		                        .stride = q->slot_size, .pos = pos, .lap = lap };
}

static inline struct shmring_slot *cursor_step(struct shmring_cursor *c)
{
	c->pos++;
	if ((c->at += c->stride) == c->end) {
		c->at = c->first;
		c->lap = (c->lap + 1) & SHMRING_LAP_MASK;
	}
	return (struct shmring_slot *)c->at;
}

static inline size_t shmring_solo_put_many(struct shmring *q, const ipcq_msgv *v, size_t n)
{
	uint64_t pos, lap;
	struct shmring_slot *s = shmring_solo_next(q, true, &pos, &lap);
	if (!s)
		return 0;
	struct shmring_cursor c = cursor_at(q, s, pos, lap);
	size_t k = 0;
	for (;;) {
		shmring_solo_fill(q, s, c.pos, c.lap, v[k].buf, v[k].len);
		if (++k == n)
			break;
		s = cursor_step(&c);
		if (atomic_load_explicit(&s->state, memory_order_acquire) != ST(c.lap, K_FREE, 0))
			break;
	}
	wake_if_waiting(&q->h->data, true);
	shmring_solo_end(&q->h->prod);
	return k;
}

static inline size_t shmring_solo_get_many(struct shmring *q, ipcq_msgv *v, size_t n)
{
	uint64_t pos, lap;
	struct shmring_slot *s = shmring_solo_next(q, false, &pos, &lap);
	if (!s)
		return 0;
	struct shmring_cursor c = cursor_at(q, s, pos, lap);
	size_t k = 0, ahead = c.stride <= READ_AHEAD_BELOW ? READ_AHEAD * c.stride : 0;
	while (atomic_load_explicit(&s->len, memory_order_relaxed) <= v[k].cap) {
		if (ahead) {
			unsigned char *f = c.at + ahead >= c.end ? c.at + ahead - (c.end - c.first) : c.at + ahead;
			slot_prefetch_read(q, (struct shmring_slot *)f);
		}
		shmring_take_quiet(q, s, c.pos, c.lap, v[k].buf, &v[k].len, true);
		if (++k == n)
			break;
		s = cursor_step(&c);
		if (atomic_load_explicit(&s->state, memory_order_acquire) != ST(c.lap, K_FULL, 0))
			break;
	}
	if (k)
		wake_if_waiting(&q->h->room, true);
	shmring_solo_end(&q->h->cons);
	return k;
}

/* One non-blocking try of op, solo when this thread owns its side; eager as in try_get. */
static int shmring_attempt(struct shmring *q, const struct shmring_op *op, bool eager, struct shmring_stuck *sk)
{
	if (op->kind == OP_PEEK) /* reads only: nothing to exclude */
		return shmring_try_get(q, NULL, 0, NULL, true, false, false, sk);
	bool put = op_fills(op->kind);
	struct shmring_side *sd = put ? &q->h->prod : &q->h->cons;
	bool solo = shmring_solo_enter(q, sd, put ? &q->prod_safe : &q->cons_safe);
	int rc;
	if (op->kind == OP_PUT)
		rc = shmring_try_put(q, op->msg, op->len, solo, sk);
	else if (op->kind == OP_GET)
		rc = shmring_try_get(q, op->buf, op->cap, op->out_len, false, eager, solo, sk);
	else
		rc = op->kind == OP_RESERVE ? shmring_try_reserve(q, op->len, op->where, solo, sk)
		                            : shmring_try_hold(q, (const void **)op->where, op->out_len, solo, sk);
	if (solo)
		shmring_solo_end(sd);
	return rc;
}

/*
 * The slow path's look around: a dead claimer in the way is skipped, a gone
 * other side ends the call. NOTREADY when the caller should keep waiting.
 */
static int shmring_look_around(struct shmring *q, const struct shmring_op *op, struct shmring_stuck *sk)
{
	for (int tries = 0; tries < 1000; tries++) {
		if (!shmring_recover(q, sk))
			break;
		int rc = shmring_attempt(q, op, false, sk);
		if (rc != NOTREADY)
			return rc;
	}
	if (op_fills(op->kind))
		return shmring_gone(q, IPCQ_CONSUMER) ? shmring_broken() : NOTREADY;
	if (!shmring_gone(q, IPCQ_PRODUCER))
		return NOTREADY;
	/* The last producer may have published just before it left: one last look. */
	int rc = shmring_attempt(q, op, false, sk);
	if (rc != NOTREADY)
		return rc;
	if (shmring_recover(q, sk))
		return shmring_look_around(q, op, sk);
	return IPCQ_EOF;
}

/*
 * For a put stuck on a full ring: true once the slot n - 1 past the stuck
 * one is free too. Taking each slot the moment it frees would keep the
 * producer writing right behind the consumer, and the two CPUs (their
 * prefetchers too) fight over the lines both are at: with 16 slots of room
 * the 64 B stream ran at 9-10 M msg/s, with half the ring (64 KiB) 24-30 M.
 */
static bool shmring_room_ahead(const struct shmring *q, const struct shmring_stuck *sk, unsigned n)
{
	uint64_t ahead = sk->pos + n - 1;
	uint64_t st = atomic_load_explicit(&slot_at(q, ahead)->state, memory_order_relaxed);
	return lapdiff(ST_LAP(st), lap_of(q, ahead)) >= 0;
}

/* True when a futex_wake woke us (and took us off the waiter count). */
static bool shmring_futex_wait(atomic_uint *word, unsigned val, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	/*
	 * 0 only when a waker took us off the futex's queue, which is what its
	 * count of woken says. EINTR, EAGAIN, ETIMEDOUT: the caller looks again
	 * and recomputes what is left.
	 */
	return syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, val, &ts, NULL, 0) == 0;
}

/*
 * Publishes wake one sleeper. One that slept and leaves without taking the
 * message it may have been woken for (a poll, a get whose buffer is too
 * small) passes the wake-up on, so a getter asleep beside it is not left
 * waiting for its next nap with a message queued.
 */
static int shmring_pass_on(int rc, const struct shmring_op *op, bool slept, struct shmring_sleep *sl)
{
	if (slept && (op->kind == OP_PEEK || rc == IPCQ_TOOBIG))
		wake_if_waiting(sl, false);
	return rc;
}

/*
 * Slipping: a solo consumer whose last call found its message at once and
 * whose next finds the ring empty has caught up with a stream. It lets the
 * producers get a batch ahead (the slot at pos + batch - 1 full) before it
 * goes on, while they keep filling SHMRING_SLIP_PACE slots a look or more,
 * and until the deadline. Caught up, the two CPUs work on the same few slots
 * and every line crosses twice. Measured on this 2-CCD guest, 64 B streams
 * between processes, alternated, same host state: 18-21 M msg/s copying and
 * 9 M zero copy without, 39-57 and 16-31 M with. The cost: a message that
 * comes just after a burst waits for the end of the look (~0.3 us); a
 * consumer that waited for its last message (a round trip) never slips, and
 * progress is read from the slots the producers have filled, never from
 * their lines (reading prod.hint put a transfer on a lone put's path: +300
 * ns). After the temporal slipping of FastForward (Giacomoni et al., PPoPP
 * 2008). IPCQ_SHMRING_SLIP=0 turns it off.
 */
#define SHMRING_SLIP_LOOK 16 /* pauses per look: ~0.3 us here */
#define SHMRING_SLIP_PACE 2  /* slots the producers must fill per look for the consumer to keep waiting */

static inline bool slot_full(const struct shmring *q, uint64_t pos)
{
	return atomic_load_explicit(&slot_at(q, pos)->state, memory_order_relaxed) == ST(lap_of(q, pos), K_FULL, 0);
}

static void shmring_slip(struct shmring *q, uint64_t pos, ipcq_deadline dl)
{
	uint64_t ahead = pos + q->batch - 1;
	for (uint64_t pace = pos + SHMRING_SLIP_PACE - 1;; pace += SHMRING_SLIP_PACE) {
		for (int k = 0; k < SHMRING_SLIP_LOOK; k++) {
			if (slot_full(q, ahead))
				return;
			cpu_pause();
		}
		/* The producers' progress from the slots they fill: their own lines would move to us. */
		if (pace >= ahead || !slot_full(q, pace) || (dl != IPCQ__NEVER && ipcq__now_ns() >= dl))
			return;
	}
}

static int shmring_run(struct shmring *q, const struct shmring_op *op, ipcq_deadline dl)
{
	struct shmring_stuck sk;
	int rc = shmring_attempt(q, op, true, &sk);
	if (rc != NOTREADY)
		return rc;
	int none = op_fills(op->kind) ? IPCQ_FULL : IPCQ_EMPTY;
	if (dl == IPCQ__NOW) {
		rc = shmring_look_around(q, op, &sk);
		return rc == NOTREADY ? none : rc;
	}
	/* A get need not spin before an EOF already known. */
	if (!op_fills(op->kind) && atomic_load_explicit(&q->h->prod_gone, memory_order_acquire)) {
		rc = shmring_look_around(q, op, &sk);
		if (rc != NOTREADY)
			return rc;
	}
	if ((op->kind == OP_GET || op->kind == OP_HOLD) && atomic_load_explicit(&q->h->cons.hot, memory_order_relaxed)) {
		atomic_store_explicit(&q->h->cons.hot, 0, memory_order_relaxed);
		if (q->slip && q->batch > 1) {
			shmring_slip(q, sk.pos, dl);
			rc = shmring_attempt(q, op, false, &sk);
			if (rc != NOTREADY)
				return rc;
		}
	}

	/*
	 * Spin: a peer on another CPU usually answers within microseconds. The
	 * clock is first read after 16 tries, so that a short wait reads none.
	 * Only the sleep below waits for a lone free slot on a full ring.
	 */
	/*
	 * Spinners are capped per side (max_spinners, from the CPUs online): a
	 * spinner beyond what the CPUs can run only takes time from the peer it
	 * waits for, and many idle consumers (a pool's workers) would burn every
	 * CPU between tasks. The others go to sleep at once. A caller killed
	 * while spinning leaves the count high: later callers sleep sooner,
	 * which is slower, never wrong.
	 */
	atomic_uint *spinners = op_fills(op->kind) ? &q->h->room_spinners : &q->h->data_spinners;
	bool spin = q->spin_ns > 0 && atomic_fetch_add_explicit(spinners, 1, memory_order_relaxed) < q->max_spinners;
	if (!spin && q->spin_ns > 0)
		atomic_fetch_sub_explicit(spinners, 1, memory_order_relaxed);
	int64_t now = 0, spin_end = 0, yield_from = 0, batch_end = 0;
	unsigned need = q->batch; /* a put waits for a batch while half the spin lasts, then for any room */
	for (unsigned i = 1; spin; i++) {
		cpu_pause();
		/*
		 * Try again only once the slot in the way has moved (for a get;
		 * a put waits for room for a batch): one load per turn, so the
		 * turn that sees the change is short, and a message's second
		 * line is fetched with its first.
		 */
		bool moved = op_fills(op->kind) ? shmring_room_ahead(q, &sk, need)
		                                : atomic_load_explicit(&sk.slot->state, memory_order_relaxed) != sk.state;
		if (!op_fills(op->kind) && q->data_room)
			__builtin_prefetch(slot_data(q, sk.slot), 0, 3);
		if (moved) {
			if (op->kind == OP_GET ? shmring_solo_get(q, op->buf, op->cap, op->out_len)
			                       : op->kind == OP_PUT && shmring_solo_put(q, op->msg, op->len)) {
				rc = IPCQ_OK;
				break;
			}
			rc = shmring_attempt(q, op, false, &sk);
			if (rc != NOTREADY)
				break;
		}
		if ((i & 15) == 0) {
			now = ipcq__now_ns();
			if (!spin_end) {
				spin_end = now + q->spin_ns;
				batch_end = now + q->spin_ns / 2;
				yield_from = now + 2000;
				if (dl != IPCQ__NEVER && spin_end > dl)
					spin_end = dl;
			}
			if (now >= batch_end)
				need = 1;
			if (now >= spin_end) {
				rc = NOTREADY;
				break;
			}
		}
		/*
		 * Past a couple of microseconds the claimer we wait for may be
		 * preempted on our own CPU: let it finish. Not sooner, for a
		 * system call in the spin is latency a busy peer would see.
		 */
		if ((i & 63) == 0 && now > yield_from)
			sched_yield();
	}

	if (spin)
		atomic_fetch_sub_explicit(spinners, 1, memory_order_relaxed);
	if (rc != NOTREADY)
		return rc;

	/* Sleep on the futex of the side we wait for. */
	bool room = op_fills(op->kind);
	struct shmring_sleep *sl = room ? &q->h->room : &q->h->data;
	bool slept = false;
	for (;;) {
		/*
		 * The word, then the lifelines: a release closes its lifeline before
		 * it bumps the word, so one these looks miss makes the wait return
		 * at once. They are system calls, made before we count ourselves in:
		 * while we are counted, every publish makes a futex call too (a 2x2
		 * stream made one every ten messages with them inside).
		 */
		unsigned v = atomic_load_explicit(&sl->futex, memory_order_seq_cst);
		rc = shmring_look_around(q, op, &sk);
		int64_t left = ipcq__remaining_ns(dl);
		if (rc == NOTREADY && left == 0) {
			rc = shmring_attempt(q, op, false, &sk);
		} else if (rc == NOTREADY) {
			atomic_fetch_add_explicit(&sl->waiters, SLEEPER_IN, memory_order_seq_cst);
			/* A solo publisher reads the count with no fence after its store. */
			struct shmring_side *them = room ? &q->h->cons : &q->h->prod;
			if (q->solo && atomic_load_explicit(&them->shared, memory_order_acquire) != SETTLED)
				shmring_fence_others();
			/* The last look at the ring, once counted: a publish it misses changes the word. */
			rc = shmring_attempt(q, op, false, &sk);
			bool woken = false;
			if (rc == NOTREADY) {
				woken = shmring_futex_wait(&sl->futex, v, left < 0 || left > q->nap_ns ? q->nap_ns : left);
				slept = true;
			}
			if (!woken) /* else our waker took us off */
				atomic_fetch_sub_explicit(&sl->waiters, 1, memory_order_relaxed);
		}
		if (rc != NOTREADY)
			return shmring_pass_on(rc, op, slept, sl);
		if (left == 0)
			return none;
		rc = shmring_attempt(q, op, false, &sk);
		if (rc != NOTREADY)
			return shmring_pass_on(rc, op, slept, sl);
	}
}

/* --- Named rings ------------------------------------------------------------------------ */

/*
 * cfg.name "jobs" is the POSIX shm object "/ipcq.shmring.jobs" (0600: the
 * same user's unrelated processes). Who holds it, and in which role, is kept
 * by the kernel in open-file-description locks (F_OFD_SETLK) on its first
 * bytes: every user holds a read lock on byte 2, producers on byte 0,
 * consumers on byte 1, each through a description of its own. Like the
 * lifelines' pipe ends these are dropped when the last reference to the
 * description goes (descriptors, and for byte 2 the mapping) - at release,
 * close, or death, SIGKILL included - and forked children share them, so EOF
 * and BROKEN mean the same as unnamed.
 * A lock cannot be polled: a sleeper sees a death at its next nap (50 ms);
 * a release still wakes it at once.
 *
 * Opening: create with O_EXCL or open the existing object; then a
 * non-blocking write lock on byte 2 says whether anybody else uses it. Alone,
 * the object is ours to set up: new, or left over by users that all died
 * (their locks died with them), so a crash never leaves a name unusable;
 * set up, the write lock turns into the read lock every user holds. Not
 * alone, wait for that read lock (the creator holds the write lock while it
 * sets up) and check the geometry. Closing: the last user (a write lock on
 * byte 2 through a fresh description succeeds) unlinks the name, unless it
 * already names a newer object. An opener that finds, once locked, that the
 * name no longer names its object starts again.
 */

/* One OFD lock (F_RDLCK, F_WRLCK or F_UNLCK) on one byte; 0 or errno (EAGAIN: held by another). */
static int shmring_ofd_lock(int fd, short type, off_t byte)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
	int r;
	do
		r = fcntl(fd, F_OFD_SETLK, &fl);
	while (r < 0 && errno == EINTR);
	return r == 0 ? 0 : errno == EACCES ? EAGAIN : errno; /* POSIX allows either for "held" */
}

static bool shmring_named_gone(const struct shmring *q, unsigned role)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = role == IPCQ_PRODUCER ? 0 : 1, .l_len = 1 };
	if (fcntl(q->user_fd, F_OFD_GETLK, &fl) < 0)
		return false; /* cannot tell: keep waiting, never a false EOF */
	return fl.l_type == F_UNLCK;
}

/* INVAL naming the problem and the fix unless name is 1..SHMRING_NAME_MAX of [A-Za-z0-9._-], not starting with '.'. */
static int shmring_name_check(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > SHMRING_NAME_MAX)
		return ipcq__fail(IPCQ_INVAL, 0,
		                  "shmring: name of %zu characters: give 1 to %d letters, digits, '.', '_' or '-' "
		                  "(e.g. \"jobs.v1\")",
		                  n, SHMRING_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		          c == '-' || (c == '.' && i > 0);
		if (!ok)
			return ipcq__fail(IPCQ_INVAL, 0,
			                  "shmring: name \"%.60s\": %s at offset %zu is not allowed; use only letters, "
			                  "digits, '.', '_' and '-', not starting with '.' (e.g. \"jobs.v1\"); "
			                  "the name is a file in /dev/shm, not a path",
			                  name, c == '/' ? "'/'" : c == '.' ? "a leading '.'" : "this character", i);
	}
	return IPCQ_OK;
}

static int shmring_named_fail(struct shmring *q, int err, const char *what)
{
	return ipcq__fail(ipcq__status_of_errno(err), err, "shmring: %s of /dev/shm%s: %s", what, q->shm_name,
	                  strerror(err));
}

/* A new description of the object with a read lock on byte; -1 after recording why. */
static int shmring_role_fd(struct shmring *q, off_t byte, int *out)
{
	int fd = shm_open(q->shm_name, O_RDWR | O_CLOEXEC, 0);
	int e = fd < 0 ? errno : shmring_ofd_lock(fd, F_RDLCK, byte);
	if (e) {
		if (fd >= 0)
			close(fd);
		return shmring_named_fail(q, e, "taking a role lock");
	}
	*out = fd;
	return IPCQ_OK;
}

/* True when fd is still the object the name stands for. */
static bool shmring_same_object(const struct shmring *q, int fd, struct stat *st)
{
	if (fstat(fd, st) != 0)
		return false;
	int now = shm_open(q->shm_name, O_RDWR | O_CLOEXEC, 0);
	if (now < 0)
		return false;
	struct stat other;
	bool same = fstat(now, &other) == 0 && other.st_dev == st->st_dev && other.st_ino == st->st_ino;
	close(now);
	return same;
}

/* Sets up a ring of size bytes in the object (fd, write-locked on byte 2 by us); the fields come from q. */
static int shmring_named_setup(struct shmring *q, int fd, size_t size)
{
	/* Truncating to 0 first zeroes a leftover's bytes: every slot FREE(lap 0) again. */
	if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)size) != 0)
		return shmring_named_fail(q, errno, "ftruncate");
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return shmring_named_fail(q, errno, "mmap");
	q->h = p;
	q->map_size = size;
	q->h->capacity = q->cap;
	q->h->slot_size = q->slot_size;
	q->h->max_msg = q->max_msg;
	q->h->solo_ok = q->solo;
	if (!q->solo) {
		atomic_store(&q->h->prod.shared, SETTLED);
		atomic_store(&q->h->cons.shared, SETTLED);
	}
	atomic_store_explicit(&q->h->ready, SHMRING_READY, memory_order_release);
	return IPCQ_OK;
}

/* Maps a ring another process set up, after checking it is whole and of our geometry. */
static int shmring_named_attach(struct shmring *q, int fd, const struct stat *st, size_t size)
{
	if ((size_t)st->st_size != size && (size_t)st->st_size >= sizeof(struct shmring_hdr)) {
		struct shmring_hdr h;
		if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.ready == SHMRING_READY)
			return ipcq__fail(IPCQ_INVAL, 0,
			                  "shmring: /dev/shm%s is a ring of capacity %zu and max_msg %zu; open it with "
			                  "those (this open asked for %zu and %zu), or use another name",
			                  q->shm_name, h.capacity, h.max_msg, q->cap, q->max_msg);
	}
	if ((size_t)st->st_size != size)
		return NOTREADY;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return shmring_named_fail(q, errno, "mmap");
	q->h = p;
	q->map_size = size;
	if (atomic_load_explicit(&q->h->ready, memory_order_acquire) != SHMRING_READY)
		return NOTREADY; /* its creator died setting it up: the next round takes it over */
	if (q->h->capacity != q->cap || q->h->max_msg != q->max_msg || q->h->slot_size != q->slot_size)
		return ipcq__fail(IPCQ_INVAL, 0,
		                  "shmring: /dev/shm%s is a ring of capacity %zu and max_msg %zu; open it with those "
		                  "(this open asked for %zu and %zu), or use another name",
		                  q->shm_name, q->h->capacity, q->h->max_msg, q->cap, q->max_msg);
	q->solo = q->h->solo_ok; /* the creator decided; every user must agree on the fences */
	return IPCQ_OK;
}

static int shmring_named_open(struct shmring *q, const char *name, size_t size)
{
	int rc = shmring_name_check(name);
	if (rc != IPCQ_OK)
		return rc;
	snprintf(q->shm_name, sizeof q->shm_name, "/ipcq.shmring.%s", name);
	int64_t give_up = ipcq__now_ns() + SHMRING_OPEN_NS;
	for (;;) {
		if (q->h)
			munmap(q->h, q->map_size);
		q->h = NULL;
		if (q->user_fd >= 0)
			close(q->user_fd);
		q->user_fd = -1;
		if (ipcq__now_ns() > give_up)
			return ipcq__fail(IPCQ_SYSERR, ETIMEDOUT,
			                  "shmring: /dev/shm%s stayed locked or half set up for %d s (another process "
			                  "stopped while creating or closing it?); retry, or remove it with "
			                  "rm /dev/shm%s once no process uses it",
			                  q->shm_name, (int)(SHMRING_OPEN_NS / 1000000000), q->shm_name);
		int fd = shm_open(q->shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			fd = shm_open(q->shm_name, O_RDWR | O_CLOEXEC, 0);
		if (fd < 0 && errno == ENOENT)
			continue; /* unlinked between the two: start again */
		if (fd < 0) {
			if (errno == EACCES)
				return ipcq__fail(IPCQ_INVAL, EACCES,
				                  "shmring: /dev/shm%s belongs to another user (rings are 0600); use another "
				                  "name, or run as that user",
				                  q->shm_name);
			return shmring_named_fail(q, errno, "shm_open");
		}
		q->user_fd = fd;
		int e = shmring_ofd_lock(fd, F_WRLCK, 2);
		bool alone = e == 0;
		if (e && e != EAGAIN)
			return shmring_named_fail(q, e, "locking");
		if (!alone) {
			/* The creator holds the write lock while it sets up, a closer while it unlinks. */
			while ((e = shmring_ofd_lock(fd, F_RDLCK, 2)) == EAGAIN && ipcq__now_ns() < give_up) {
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
			}
			if (e == EAGAIN)
				continue;
			if (e)
				return shmring_named_fail(q, e, "locking");
		}
		struct stat st;
		if (!shmring_same_object(q, fd, &st))
			continue; /* the name was unlinked (and maybe made anew) meanwhile */
		if (alone) {
			rc = shmring_named_setup(q, fd, size);
			if (rc == IPCQ_OK && (e = shmring_ofd_lock(fd, F_RDLCK, 2)) != 0)
				rc = shmring_named_fail(q, e, "locking");
		} else {
			rc = shmring_named_attach(q, fd, &st, size);
			if (rc == NOTREADY)
				continue;
		}
		if (rc != IPCQ_OK)
			return rc;
		q->dev = st.st_dev;
		q->ino = st.st_ino;
		rc = shmring_role_fd(q, 0, &q->prod_fd);
		if (rc == IPCQ_OK)
			rc = shmring_role_fd(q, 1, &q->cons_fd);
		return rc;
	}
}

/* Drops this process's locks; the last user anywhere unlinks the name (if it is still ours). */
static void shmring_named_close(struct shmring *q)
{
	int *fds[] = { &q->prod_fd, &q->cons_fd, &q->user_fd };
	for (size_t i = 0; i < 3; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	if (!q->ino)
		return; /* never fully opened */
	int fd = shm_open(q->shm_name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct stat st;
	/*
	 * Forked children share our descriptions: only a fresh one sees whether
	 * they still hold it. The name is checked again under the write lock:
	 * another last user may have unlinked it, and a new ring have taken the
	 * name, between our open and our lock. Under the lock the name cannot
	 * move, since every unlink is made holding the lock of what it removes.
	 */
	if (fstat(fd, &st) == 0 && st.st_dev == q->dev && st.st_ino == q->ino && shmring_ofd_lock(fd, F_WRLCK, 2) == 0 &&
	    shmring_same_object(q, fd, &st))
		shm_unlink(q->shm_name);
	close(fd);
}

/* --- Ops ------------------------------------------------------------------------------ */

static int shmring_release(void *st, unsigned roles);

static void shmring_close(void *st)
{
	struct shmring *q = st;
	if ((q->have_life || q->named) && q->h) {
		/* Roles still held go as release() lets them go, so sleepers learn at once. */
		unsigned held = q->named ? (q->prod_fd >= 0 ? IPCQ_PRODUCER : 0) | (q->cons_fd >= 0 ? IPCQ_CONSUMER : 0)
		                         : (q->life.prod[1] >= 0 ? IPCQ_PRODUCER : 0) |
		                                   (q->life.cons[1] >= 0 ? IPCQ_CONSUMER : 0);
		if (held)
			shmring_release(q, held);
	}
	if (q->have_life)
		ipcq__life_close(&q->life);
	q->have_life = false;
	if (q->h)
		munmap(q->h, q->map_size);
	q->h = NULL;
	if (q->named) /* after munmap: a mapping keeps its description, and so its lock, alive */
		shmring_named_close(q);
	q->named = false;
}

static int shmring_open(void *st, const ipcq_config *cfg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct shmring *q = st;
	pthread_once(&once, shmring_atfork_once);

	size_t cap = cfg->capacity, max = cfg->max_msg;
	if (max > SIZE_MAX - 128)
		goto too_big;
	size_t room = (max + 7) & ~(size_t)7, slot = room + sizeof(struct shmring_slot);
	slot = (slot + 63) & ~(size_t)63; /* no two slots share a cache line */
	if (cap > (SIZE_MAX - sizeof(struct shmring_hdr)) / slot)
		goto too_big;
	size_t size = sizeof(struct shmring_hdr) + cap * slot;
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (pages > 0 && psz > 0 && size / (size_t)psz > (size_t)pages)
		goto too_big;

	q->cap = cap;
	q->slot_size = slot;
	q->data_room = room;
	q->max_msg = max;
	q->pow2 = (cap & (cap - 1)) == 0;
	while (q->pow2 && ((size_t)1 << q->shift) < cap)
		q->shift++;
	size_t batch = SHMRING_BATCH_BYTES / slot;
	q->batch = batch > cap / 2 ? (unsigned)(cap / 2) : (unsigned)batch;
	if (q->batch < 1)
		q->batch = 1;
	/* Half the CPUs spin for each side at most: the rest is for the work they wait on. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	q->max_spinners = cpus > 2 ? (unsigned)(cpus / 2) : 1;
	q->spin_ns = ipcq__env_ns("IPCQ_SHMRING_SPIN_NS", SHMRING_DEFAULT_SPIN_NS, 0, 1000000000LL);
	q->nap_ns = ipcq__env_ns("IPCQ_SHMRING_NAP_NS", SHMRING_NAP_NS, 1000000, 60000000000LL);
	const char *slip = getenv("IPCQ_SHMRING_SLIP");
	q->slip = q->spin_ns > 0 && !(slip && strcmp(slip, "0") == 0);
	/* Solo owners need membarrier to fence their peers for them (Linux 4.16+, seccomp allowing). */
	const char *solo = getenv("IPCQ_SHMRING_SOLO");
	long mb = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	q->solo = !(solo && strcmp(solo, "0") == 0) && mb > 0 && (mb & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	          (mb & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);

	if (cfg->name) {
		q->named = true;
		q->user_fd = q->prod_fd = q->cons_fd = -1;
		int rc = shmring_named_open(q, cfg->name, size);
		if (rc == IPCQ_OK && !q->solo) {
			atomic_store(&q->prod_safe, 1);
			atomic_store(&q->cons_safe, 1);
		}
		return rc;
	}

	int rc = ipcq__life_open(&q->life);
	if (rc != IPCQ_OK)
		return rc;
	q->have_life = true;

	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		if (errno == ENOMEM)
			goto too_big;
		return ipcq__sys(errno, "shmring: mmap of a %zu-byte shared ring", size);
	}
	q->h = p;
	q->map_size = size;
	q->h->capacity = cap;
	q->h->slot_size = slot;
	if (!q->solo) {
		atomic_store(&q->h->prod.shared, SETTLED);
		atomic_store(&q->h->cons.shared, SETTLED);
		atomic_store(&q->prod_safe, 1);
		atomic_store(&q->cons_safe, 1);
	}
	/* Zeroed memory is FREE(lap 0) in every slot: the ring starts empty. */
	return IPCQ_OK;

too_big:
	return ipcq__fail(IPCQ_LIMIT, ENOMEM,
	                  "shmring: a ring of %zu slots of max_msg %zu bytes does not fit in memory "
	                  "(mmap or this machine's RAM refuses it); use a smaller capacity or max_msg",
	                  cap, max);
}

/* A message nobody can get must not be queued: the flag is cheap, the lifeline now and then. */
static inline bool shmring_no_consumer(struct shmring *q)
{
	if (atomic_load_explicit(&q->h->cons_gone, memory_order_relaxed))
		return true;
	/* Not an atomic add: a count that threads race on only shifts when the next look comes. */
	unsigned n = atomic_load_explicit(&q->puts, memory_order_relaxed);
	atomic_store_explicit(&q->puts, n + 1, memory_order_relaxed);
	return (n & (SHMRING_CHECK_EVERY - 1)) == 0 && shmring_gone(q, IPCQ_CONSUMER);
}

static int shmring_put(void *st, const void *msg, size_t len, ipcq_deadline dl)
{
	struct shmring *q = st;
	if (shmring_no_consumer(q))
		return shmring_broken();
	struct shmring_op op = { .kind = OP_PUT, .msg = msg, .len = len };
	return shmring_run(q, &op, dl);
}

/*
 * try_put and try_get (the core's first try of every put and get): the solo
 * path's common case, else (a shared side) one attempt on the CAS path, so
 * that a finite timeout costs a clock read only when the call has to wait
 * (threads 2x2, 64 B: a fifth of the time went to the vDSO's clock). Not
 * twice solo: a second look at the slot the peer is filling slows it.
 */
static bool shmring_fast_put(void *st, const void *msg, size_t len)
{
	struct shmring *q = st;
	if (shmring_no_consumer(q))
		return false;
	if (shmring_solo_put(q, msg, len))
		return true;
	if (!atomic_load_explicit(&q->h->prod.shared, memory_order_relaxed))
		return false; /* solo: the try above was the attempt */
	struct shmring_op op = { .kind = OP_PUT, .msg = msg, .len = len };
	struct shmring_stuck sk;
	return shmring_attempt(q, &op, true, &sk) == IPCQ_OK;
}

static inline void shmring_mark_hot(struct shmring *q)
{
	if (!atomic_load_explicit(&q->h->cons.hot, memory_order_relaxed))
		atomic_store_explicit(&q->h->cons.hot, 1, memory_order_relaxed);
}

static bool shmring_fast_get(void *st, void *buf, size_t cap, size_t *len)
{
	struct shmring *q = st;
	if (shmring_solo_get(q, buf, cap, len)) {
		shmring_mark_hot(q);
		return true;
	}
	if (!atomic_load_explicit(&q->h->cons.shared, memory_order_relaxed))
		return false;
	struct shmring_op op = { .kind = OP_GET, .buf = buf, .cap = cap, .out_len = len };
	struct shmring_stuck sk;
	return shmring_attempt(q, &op, true, &sk) == IPCQ_OK;
}

/*
 * try_put_many and try_get_many: the solo run, else (a shared side) one
 * attempt on the CAS path per message while they succeed, as try_put and
 * try_get make one each.
 */
static size_t shmring_fast_put_many(void *st, const ipcq_msgv *v, size_t n)
{
	struct shmring *q = st;
	if (shmring_no_consumer(q))
		return 0;
	size_t k = shmring_solo_put_many(q, v, n);
	if (k || !atomic_load_explicit(&q->h->prod.shared, memory_order_relaxed))
		return k;
	struct shmring_stuck sk;
	for (; k < n; k++) {
		struct shmring_op op = { .kind = OP_PUT, .msg = v[k].buf, .len = v[k].len };
		if (shmring_attempt(q, &op, true, &sk) != IPCQ_OK)
			break;
	}
	return k;
}

static size_t shmring_fast_get_many(void *st, ipcq_msgv *v, size_t n)
{
	struct shmring *q = st;
	size_t k = shmring_solo_get_many(q, v, n);
	if (k) {
		shmring_mark_hot(q);
		return k;
	}
	if (!atomic_load_explicit(&q->h->cons.shared, memory_order_relaxed))
		return 0;
	struct shmring_stuck sk;
	for (; k < n; k++) {
		struct shmring_op op = { .kind = OP_GET, .buf = v[k].buf, .cap = v[k].cap, .out_len = &v[k].len };
		if (shmring_attempt(q, &op, true, &sk) != IPCQ_OK)
			break;
	}
	return k;
}

static int shmring_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	struct shmring_op op = { .kind = OP_GET, .buf = buf, .cap = cap, .out_len = len };
	return shmring_run(st, &op, dl);
}

static int shmring_poll(void *st, ipcq_deadline dl)
{
	struct shmring_op op = { .kind = OP_PEEK };
	return shmring_run(st, &op, dl);
}

/* --- Zero-copy ops --------------------------------------------------------------------- */

/* The slot whose data starts at buf, or NULL when buf is not one of this ring's. */
static struct shmring_slot *shmring_slot_of(const struct shmring *q, const void *buf)
{
	uintptr_t p = (uintptr_t)buf, base = (uintptr_t)q->h->slots;
	if (p < base || (p - base) % q->slot_size || (p - base) / q->slot_size >= q->cap)
		return NULL;
	return (struct shmring_slot *)((unsigned char *)buf + q->data_room);
}

/*
 * The slot at buf when this process holds it as kind (CLAIMED: a
 * reservation, READING: a held message), with its state and len; else NULL
 * after recording INVAL.
 */
static struct shmring_slot *shmring_zc_slot(const struct shmring *q, const void *buf, int kind, const char *call,
                                            uint64_t *state, uint64_t *len)
{
	struct shmring_slot *s = shmring_slot_of(q, buf);
	if (s) {
		*state = atomic_load_explicit(&s->state, memory_order_acquire);
		*len = atomic_load_explicit(&s->len, memory_order_relaxed);
		if (ST_KIND(*state) == kind && ST_PID(*state) == (pid_t)self_pid() && (*len & ZC_HELD))
			return s;
	}
	ipcq__fail(IPCQ_INVAL, 0,
	           "shmring: %s: %p is not a %s this process holds on this queue (ended already, or from "
	           "another queue or call)",
	           call, buf, kind == K_CLAIMED ? "reservation (ipcq_reserve)" : "message held by ipcq_peek");
	return NULL;
}

/* This handle reserves or holds slots: release must look for what it still holds. */
static inline void shmring_zc_mark(struct shmring *q)
{
	if (!atomic_load_explicit(&q->zc_used, memory_order_relaxed)) /* once: threads share the line */
		atomic_store_explicit(&q->zc_used, 1, memory_order_relaxed);
}

/* try_reserve and try_peek: as try_put and try_get, solo only. */
static bool shmring_fast_reserve(void *st, size_t len, void **buf)
{
	struct shmring *q = st;
	if (shmring_no_consumer(q))
		return false;
	shmring_zc_mark(q);
	return shmring_solo_reserve(q, len, buf);
}

static bool shmring_fast_peek(void *st, const void **buf, size_t *len)
{
	struct shmring *q = st;
	shmring_zc_mark(q);
	if (!shmring_solo_hold(q, buf, len))
		return false;
	shmring_mark_hot(q);
	return true;
}

static int shmring_reserve(void *st, size_t len, void **buf, ipcq_deadline dl)
{
	struct shmring *q = st;
	if (shmring_no_consumer(q))
		return shmring_broken();
	shmring_zc_mark(q);
	struct shmring_op op = { .kind = OP_RESERVE, .len = len, .where = buf };
	return shmring_run(q, &op, dl);
}

static int shmring_commit(void *st, void *buf, size_t len)
{
	struct shmring *q = st;
	uint64_t cur, reserved;
	struct shmring_slot *s = shmring_zc_slot(q, buf, K_CLAIMED, "commit", &cur, &reserved);
	if (!s)
		return IPCQ_INVAL;
	if (len > (reserved & ~ZC_HELD))
		return ipcq__fail(IPCQ_INVAL, 0, "shmring: commit: %zu bytes, but only %llu were reserved; reserve more",
		                  len, (unsigned long long)(reserved & ~ZC_HELD));
	atomic_store_explicit(&s->len, len, memory_order_relaxed);
	struct shmring_side *sd = &q->h->prod;
	if (shmring_solo_enter(q, sd, &q->prod_safe)) {
		/* Publish as a solo put does; our CLAIMED slot is moved by nobody else while we live. */
		atomic_store_explicit(&s->state, ST(ST_LAP(cur), K_FULL, 0), memory_order_release);
		wake_if_waiting(&q->h->data, true);
		shmring_solo_end(sd);
		return IPCQ_OK;
	}
	if (!atomic_compare_exchange_strong_explicit(&s->state, &cur, ST(ST_LAP(cur), K_FULL, 0), memory_order_seq_cst,
	                                             memory_order_relaxed))
		return ipcq__fail(IPCQ_PEERDEAD, 0,
		                  "shmring: commit: another process declared this producer (pid %u) dead and reclaimed "
		                  "its reservation; the message was not queued: reserve again",
		                  self_pid());
	wake_if_waiting(&q->h->data, false);
	return IPCQ_OK;
}

/* Frees slot s (held in state cur) for its next lap; a consumer waiting on it passes it, a producer takes it. */
static void shmring_zc_end(struct shmring *q, struct shmring_slot *s, uint64_t cur)
{
	atomic_store_explicit(&s->len, 0, memory_order_relaxed);
	/* A CAS: a rescuer that wrongly took us for dead (reused pid) may have freed it already. */
	atomic_compare_exchange_strong_explicit(&s->state, &cur, ST(ST_LAP(cur) + 1, K_FREE, 0), memory_order_seq_cst,
	                                        memory_order_relaxed);
	wake_if_waiting(&q->h->room, false);
}

static int shmring_cancel(void *st, void *buf)
{
	struct shmring *q = st;
	uint64_t cur, len;
	struct shmring_slot *s = shmring_zc_slot(q, buf, K_CLAIMED, "cancel", &cur, &len);
	if (!s)
		return IPCQ_INVAL;
	shmring_zc_end(q, s, cur);
	/* Consumers may wait at this slot: the next message, if any, is past it. */
	wake_if_waiting(&q->h->data, false);
	return IPCQ_OK;
}

static int shmring_peek(void *st, const void **buf, size_t *len, ipcq_deadline dl)
{
	struct shmring *q = st;
	shmring_zc_mark(q);
	struct shmring_op op = { .kind = OP_HOLD, .out_len = len, .where = (void **)buf };
	return shmring_run(q, &op, dl);
}

static int shmring_consume(void *st, const void *buf)
{
	struct shmring *q = st;
	uint64_t cur, len;
	struct shmring_slot *s = shmring_zc_slot(q, buf, K_READING, "consume", &cur, &len);
	if (!s)
		return IPCQ_INVAL;
	slot_own_lines(slot_data(q, s), (size_t)(len & ~ZC_HELD));
	struct shmring_side *sd = &q->h->cons;
	if (shmring_solo_enter(q, sd, &q->cons_safe)) {
		/* Free it as a solo get does. */
		atomic_store_explicit(&s->len, 0, memory_order_relaxed);
		atomic_store_explicit(&s->state, ST(ST_LAP(cur) + 1, K_FREE, 0), memory_order_release);
		wake_if_waiting(&q->h->room, true);
		shmring_solo_end(sd);
		return IPCQ_OK;
	}
	shmring_zc_end(q, s, cur);
	return IPCQ_OK;
}

/* Ends what this process still holds in roles: reservations are dropped, held messages consumed. */
static void shmring_zc_release(struct shmring *q, unsigned roles)
{
	if (!atomic_load_explicit(&q->zc_used, memory_order_relaxed))
		return;
	pid_t me = (pid_t)self_pid();
	for (size_t i = 0; i < q->cap; i++) {
		struct shmring_slot *s = slot_at(q, i);
		uint64_t cur = atomic_load_explicit(&s->state, memory_order_acquire);
		int kind = ST_KIND(cur);
		bool mine = ST_PID(cur) == me && (atomic_load_explicit(&s->len, memory_order_relaxed) & ZC_HELD);
		if (mine && ((kind == K_CLAIMED && (roles & IPCQ_PRODUCER)) || (kind == K_READING && (roles & IPCQ_CONSUMER))))
			shmring_zc_end(q, s, cur); /* release() then wakes every sleeper of both sides */
	}
}

/* Counts FULL slots: exact when nothing moves, approximate otherwise. */
static int shmring_qsize(void *st, size_t *n)
{
	struct shmring *q = st;
	size_t full = 0;
	for (size_t i = 0; i < q->cap; i++) {
		const struct shmring_slot *s = slot_at(q, i);
		int kind = ST_KIND(atomic_load_explicit(&s->state, memory_order_relaxed));
		full += kind == K_FULL || kind == K_CLAIMED;
	}
	*n = full;
	return IPCQ_OK;
}

static int shmring_release(void *st, unsigned roles)
{
	struct shmring *q = st;
	shmring_zc_release(q, roles);
	if (!q->named) {
		ipcq__life_release(&q->life, roles);
	} else {
		if ((roles & IPCQ_PRODUCER) && q->prod_fd >= 0)
			close(q->prod_fd), q->prod_fd = -1;
		if ((roles & IPCQ_CONSUMER) && q->cons_fd >= 0)
			close(q->cons_fd), q->cons_fd = -1;
	}
	/* Sleepers on the other side look at the lifeline now rather than at their next nap. */
	if (roles & IPCQ_PRODUCER) {
		shmring_gone(q, IPCQ_PRODUCER);
		futex_wake_all(&q->h->data);
	}
	if (roles & IPCQ_CONSUMER) {
		shmring_gone(q, IPCQ_CONSUMER);
		futex_wake_all(&q->h->room);
	}
	return IPCQ_OK;
}

const struct ipcq_mech ipcq_mech_shmring = {
	.version = IPCQ_MECH_VERSION,
	.name = "shmring",
	.summary = "lock-free MPMC ring in shared memory; spins, then sleeps on a shared futex",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN |
	        IPCQ_CAP_BOUNDED | IPCQ_CAP_ROBUST | IPCQ_CAP_ZEROCOPY | IPCQ_CAP_NAMED,
	.state_size = sizeof(struct shmring),
	.default_capacity = 1024,
	.default_bytes = 16u << 20, /* 1024 slots up to 16 KiB messages; fewer, larger slots above */
	.default_max_msg = 8192,
	.open = shmring_open,
	.put = shmring_put,
	.get = shmring_get,
	.try_put = shmring_fast_put,
	.try_get = shmring_fast_get,
	.try_put_many = shmring_fast_put_many,
	.try_get_many = shmring_fast_get_many,
	.try_reserve = shmring_fast_reserve,
	.try_peek = shmring_fast_peek,
	.poll = shmring_poll,
	.qsize = shmring_qsize,
	.release = shmring_release,
	.close = shmring_close,
	.reserve = shmring_reserve,
	.commit = shmring_commit,
	.cancel = shmring_cancel,
	.peek = shmring_peek,
	.consume = shmring_consume,
};
