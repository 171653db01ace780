/*
 * shmmgr.c - a manager of shared state, after multiprocessing.Manager: a
 * bounded queue of message copies and a fixed table of shared values, each
 * in MAP_SHARED memory under one process-shared robust mutex. It is the
 * lock-based contrast to shmring: every operation takes the lock, copies,
 * and leaves.
 *
 * Crash safety. Every change to shared state is committed by one aligned
 * 8-byte store made last (release order): a put writes a free slot, then
 * bumps `tail`; a get copies out, then bumps `head`; a set writes the spare
 * value buffer of its entry, then flips the entry's `state` word (which
 * buffer, length, in use); add/cas store the int64 in place. A process
 * SIGKILLed while holding the lock therefore leaves the old state or the new
 * one, never a mix. The next locker gets EOWNERDEAD, checks the invariants
 * (head <= tail <= head + capacity, lengths <= max_msg, keys terminated) and
 * goes on; should they ever fail, the state is marked broken and every later
 * call says IPCQ_PEERDEAD, "close it and open a new one". Never a hang.
 *
 * Waiting: why not pthread condvars. glibc's (2.25+, 2.36 here) are not
 * robust to a *waiter* dying: a process SIGKILLed inside pthread_cond_wait
 * keeps a reference in __g_refs, and a later pthread_cond_signal that must
 * switch groups waits for it forever, holding the mutex (reproduced here:
 * kill one waiter, signal three times with another waiting - the third
 * signal never returns). So each "condvar" is a 32-bit sequence word on a
 * shared futex (never FUTEX_PRIVATE_FLAG), the classic sequence condvar:
 * a waiter reads the word under the lock, unlocks, spins up to MGR_SPIN_NS
 * for it to move, then sleeps with FUTEX_WAIT_BITSET on an absolute
 * CLOCK_MONOTONIC time; a waker bumps the word under the lock and makes the
 * wake-up call only when someone sleeps. A dead sleeper holds no state the
 * kernel does not drop, so it cannot block a waker; one killed after a
 * put's single wake-up reached it takes that wake-up with it, and another
 * sleeper then finds the message at the end of its slice (MGR_SLICE_NS).
 *
 * EOF, BROKEN and peer death come from the core lifelines. A dead process
 * cannot wake anyone, so sleepers wait in slices of MGR_SLICE_NS and check
 * the lifelines (one zero-timeout poll) before each sleep: a death is seen
 * within one slice; release and close wake every sleeper at once. A sleeper
 * costs MGR_SLICE_NS^-1 wake-ups a second, nothing more.
 *
 * Sections: shared layout and locking - waiting - queue - shared values - vtable.
 */
#include "mech.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdalign.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Longest sleep before a sleeper looks at the lifelines again (peer death); IPCQ_SHMMGR_SLICE_NS for tests. */
#define MGR_SLICE_NS (50 * 1000000LL)
/* Spin before sleeping: a peer on another CPU usually answers within a few us,
 * a futex wake-up across vCPUs here costs ~20 us. */
#define MGR_SPIN_NS 30000
/* Tries of a busy lock (16 pauses apart, ~0.1-0.5 us each) before sleeping on it. */
#define MGR_LOCK_TRIES 64

#if defined(__x86_64__) || defined(__i386__)
#define cpu_pause() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_pause() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_pause() __asm__ __volatile__("" ::: "memory")
#endif

/* --- Shared layout and locking ------------------------------------------- */

/*
 * A futex sequence and its sleepers. sleepers: those in the futex (low 32
 * bits; announced before the last look at the word, so a waker that bumps
 * the word then reads 0 here is seen by that look) and how many times one
 * announced itself (high 32), so the value never comes back. A process
 * killed asleep leaves its count behind; stale is a value of sleepers at
 * which a wake-up found nobody in the futex, and wakers skip the call while
 * sleepers still holds it (anyone coming or going changes it) - else every
 * put and get after such a death made a futex call nobody needed.
 */
struct mgr_wait {
	atomic_uint word;
	_Atomic uint64_t sleepers, stale;
};

#define MGR_SLEEPER_IN ((UINT64_C(1) << 32) | 1) /* added by a sleeper announcing itself */

/* What the queue and the table both start with. */
struct mgr_hdr {
	pthread_mutex_t lock;
	atomic_uint broken;   /* 1: a dead holder left the state inconsistent */
	struct mgr_wait readable; /* bumped when a message was queued, or a role went */
	struct mgr_wait writable; /* bumped when room was made, or a role went */
};

struct mgr_queue {
	struct mgr_hdr h;
	_Atomic uint64_t head, tail; /* messages taken / queued since open; count = tail - head */
	size_t capacity, max_msg, stride;
	int64_t slice_ns; /* MGR_SLICE_NS, or IPCQ_SHMMGR_SLICE_NS when the opener set it */
	alignas(64) unsigned char slots[]; /* capacity slots of stride bytes: uint64 len, then bytes */
};

/* state word of a table entry: 0 = free, else MGR_USED | buffer | length. */
#define MGR_USED (1ull << 63)
#define MGR_BUF1 (1ull << 62)
#define MGR_LEN(s) ((s) & (MGR_BUF1 - 1))

struct mgr_entry {
	_Atomic uint64_t state;
	char key[IPCQ_SHARED_KEY_MAX + 1];
	alignas(8) unsigned char val[]; /* two buffers of vcap bytes: the value and the spare */
};

struct mgr_table {
	struct mgr_hdr h;
	size_t capacity, max_msg, vcap, stride;
	alignas(64) unsigned char entries[];
};

struct shmmgr {
	struct mgr_queue *q; /* a queue handle */
	size_t q_size;
	struct mgr_table *t; /* a shared-values handle */
	size_t t_size;
	struct ipcq__life life;
	bool have_life, prod_gone, cons_gone;
	atomic_uint puts; /* since the last look at the consumers' lifeline */
};

static int mgr_unusable(const char *what)
{
	return ipcq__fail(IPCQ_PEERDEAD, 0,
	                  "shmmgr: %s: a process died while changing the shared state and left it "
	                  "inconsistent; it cannot be used any more: close it and open a new one",
	                  what);
}

static int mgr_hdr_init(struct mgr_hdr *h)
{
	return ipcq__plock_init(&h->lock);
}

/*
 * Takes the lock. After a holder's death (EOWNERDEAD, made consistent by
 * ipcq__plock_lock) check() says whether the state is whole; if not it is
 * marked broken for good. Returns OK with the lock held, or PEERDEAD
 * (broken) / SYSERR without it. No deadline: holders never sleep with it.
 */
static int mgr_lock(struct mgr_hdr *h, bool (*check)(const void *), const void *state, const char *what)
{
	/*
	 * glibc's robust mutexes never spin: a busy lock means a futex sleep and
	 * a ~20 us cross-CPU wake-up, for a lock held ~100 ns. Try a little first.
	 */
	int rc = ipcq__plock_try(&h->lock);
	for (int i = 0; rc == IPCQ_FULL && i < MGR_LOCK_TRIES; i++) {
		for (int j = 0; j < 16; j++)
			cpu_pause();
		rc = ipcq__plock_try(&h->lock);
	}
	if (rc == IPCQ_FULL)
		rc = ipcq__plock_lock(&h->lock, IPCQ__NEVER);
	if (rc == IPCQ_PEERDEAD) {
		if (!check(state))
			atomic_store(&h->broken, 1);
		rc = IPCQ_OK;
	}
	if (rc != IPCQ_OK)
		return rc;
	if (atomic_load_explicit(&h->broken, memory_order_relaxed)) {
		ipcq__plock_unlock(&h->lock);
		return mgr_unusable(what);
	}
	return IPCQ_OK;
}

/* --- Waiting ------------------------------------------------------------- */

/* Wakes n sleepers of w; seen: the sleepers value mgr_bump read (0: do not mark it stale). */
static void mgr_futex_wake(struct mgr_wait *w, int n, uint64_t seen)
{
	long woke = syscall(SYS_futex, (uint32_t *)&w->word, FUTEX_WAKE, n, NULL, NULL, 0);
	if (woke == 0 && seen)
		atomic_store_explicit(&w->stale, seen, memory_order_relaxed);
}

/* Sleeps while *word == val, until the absolute monotonic time until. */
static void mgr_futex_wait(atomic_uint *word, unsigned val, ipcq_deadline until)
{
	struct timespec ts = { .tv_sec = until / 1000000000, .tv_nsec = until % 1000000000 };
	/* FUTEX_WAIT_BITSET takes an absolute time, on CLOCK_MONOTONIC without FUTEX_CLOCK_REALTIME. */
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, val, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/*
 * Called with the lock held: waits for word to move (spinning, then asleep
 * for one slice at most), or until dl, then takes the lock again. Returns
 * as mgr_lock. EINTR and early wake-ups are fine: callers re-check
 * everything in a loop.
 */
static int mgr_sleep(struct mgr_hdr *h, struct mgr_wait *w, int64_t slice, ipcq_deadline dl,
                     bool (*check)(const void *), const void *state, const char *what)
{
	atomic_uint *word = &w->word;
	unsigned v = atomic_load_explicit(word, memory_order_relaxed);
	ipcq__plock_unlock(&h->lock);
	int64_t now = ipcq__now_ns();
	int64_t spin_end = dl < now + MGR_SPIN_NS ? dl : now + MGR_SPIN_NS, yield_from = now + 2000;
	bool moved = false;
	for (unsigned i = 1; now < spin_end; i++) {
		cpu_pause();
		if ((moved = atomic_load_explicit(word, memory_order_acquire) != v))
			break;
		if ((i & 15) == 0)
			now = ipcq__now_ns();
		/* The lock holder we wait for may be preempted on our own CPU: let it run. */
		if ((i & 63) == 0 && now > yield_from)
			sched_yield();
	}
	if (!moved && now < dl) {
		atomic_fetch_add_explicit(&w->sleepers, MGR_SLEEPER_IN, memory_order_seq_cst);
		if (atomic_load_explicit(word, memory_order_seq_cst) == v)
			mgr_futex_wait(word, v, dl < now + slice ? dl : now + slice);
		atomic_fetch_sub_explicit(&w->sleepers, 1, memory_order_relaxed);
	}
	return mgr_lock(h, check, state, what);
}

/*
 * Bumps w's word (lock held); how many sleepers a wake-up must reach after
 * unlocking, with *seen for mgr_futex_wake: none when nobody is counted,
 * or only those a wake-up found gone (see struct mgr_wait).
 */
static int mgr_bump(struct mgr_wait *w, bool all, uint64_t *seen)
{
	atomic_fetch_add_explicit(&w->word, 1, memory_order_seq_cst);
	uint64_t n = *seen = atomic_load_explicit(&w->sleepers, memory_order_seq_cst);
	if ((uint32_t)n == 0 || n == atomic_load_explicit(&w->stale, memory_order_relaxed))
		return 0;
	return all ? INT_MAX : 1;
}

/* mgr_bump, the unlock of h, then the wake-up if one is due: the system call outside the lock. */
static void mgr_signal_unlock(struct mgr_hdr *h, struct mgr_wait *w, bool all)
{
	uint64_t seen;
	int wake = mgr_bump(w, all, &seen);
	ipcq__plock_unlock(&h->lock);
	if (wake)
		mgr_futex_wake(w, wake, seen);
}

static bool mgr_passed(ipcq_deadline dl)
{
	return dl == IPCQ__NOW || (dl != IPCQ__NEVER && ipcq__now_ns() >= dl);
}

/* After a role went: every sleeper re-checks the lifelines now. */
static void mgr_wake_all(struct mgr_hdr *h, bool (*check)(const void *), const void *state)
{
	/* Bumped under the lock, so a sleeper that checked the lifelines before
	 * the release cannot sleep on the old value (see mgr_sleep). */
	int rc = ipcq__plock_lock(&h->lock, IPCQ__NEVER);
	if (rc == IPCQ_PEERDEAD && !check(state))
		atomic_store(&h->broken, 1);
	bool locked = rc == IPCQ_OK || rc == IPCQ_PEERDEAD;
	atomic_fetch_add(&h->readable.word, 1);
	atomic_fetch_add(&h->writable.word, 1);
	if (locked)
		ipcq__plock_unlock(&h->lock);
	mgr_futex_wake(&h->readable, INT_MAX, 0);
	mgr_futex_wake(&h->writable, INT_MAX, 0);
}

/* --- Queue --------------------------------------------------------------- */

static unsigned char *mgr_slot(const struct mgr_queue *q, uint64_t i)
{
	return (unsigned char *)q->slots + (size_t)(i % q->capacity) * q->stride;
}

/* Slot i's message: its length (a uint64 first), then its bytes. */
static uint64_t mgr_slot_len(const struct mgr_queue *q, uint64_t i)
{
	uint64_t len;
	memcpy(&len, mgr_slot(q, i), sizeof len);
	return len;
}

static void mgr_slot_write(const struct mgr_queue *q, uint64_t i, const void *msg, size_t len)
{
	unsigned char *slot = mgr_slot(q, i);
	uint64_t len64 = len;
	memcpy(slot, &len64, sizeof len64);
	if (len)
		memcpy(slot + sizeof len64, msg, len);
}

static void mgr_slot_read(const struct mgr_queue *q, uint64_t i, void *buf, size_t len)
{
	if (len)
		memcpy(buf, mgr_slot(q, i) + sizeof(uint64_t), len);
}

static bool mgr_queue_whole(const void *state)
{
	const struct mgr_queue *q = state;
	uint64_t head = atomic_load(&q->head), tail = atomic_load(&q->tail);
	if (tail - head > q->capacity)
		return false;
	for (uint64_t i = head; i != tail; i++)
		if (mgr_slot_len(q, i) > q->max_msg)
			return false;
	return true;
}

static int qlock(struct mgr_queue *q, const char *what)
{
	return mgr_lock(&q->h, mgr_queue_whole, q, what);
}

static int qsleep(struct mgr_queue *q, bool room, ipcq_deadline dl, const char *what)
{
	return mgr_sleep(&q->h, room ? &q->h.writable : &q->h.readable, q->slice_ns, dl, mgr_queue_whole, q, what);
}

/* Lifelines, remembered once gone: a role never comes back. */
static bool mgr_gone(struct shmmgr *s, unsigned role)
{
	bool *gone = role == IPCQ_PRODUCER ? &s->prod_gone : &s->cons_gone;
	if (!*gone)
		*gone = ipcq__life_gone(&s->life, role);
	return *gone;
}

#define MGR_CHECK_EVERY 1024u /* puts between two looks at the consumers' lifeline */

/*
 * A message nobody can get must not be queued - but a look is a poll(), and
 * one per put held a 64 B stream to 0.4 M msg/s against 1.6-2.5 M without
 * (alternated): the lock-based contrast measured a system call. So, as
 * shmring does, the first put looks, then one in MGR_CHECK_EVERY, and every
 * put that finds the queue full; a put in between is one the consumers'
 * death did not overtake, as if they had died just after it.
 */
static bool mgr_no_consumer(struct shmmgr *s)
{
	if (s->cons_gone)
		return true;
	/* Not an atomic add: a count that threads race on only shifts when the next look comes. */
	unsigned n = atomic_load_explicit(&s->puts, memory_order_relaxed);
	atomic_store_explicit(&s->puts, n + 1, memory_order_relaxed);
	return (n & (MGR_CHECK_EVERY - 1)) == 0 && mgr_gone(s, IPCQ_CONSUMER);
}

static void shmmgr_close(void *st)
{
	struct shmmgr *s = st;
	if (s->have_life)
		ipcq__life_close(&s->life);
	s->have_life = false;
	if (s->q) {
		/* Our roles went with the lifelines: sleepers elsewhere look now. */
		mgr_wake_all(&s->q->h, mgr_queue_whole, s->q);
		ipcq__shm_free(s->q, s->q_size);
	}
	s->q = NULL;
}

static int shmmgr_open(void *st, const ipcq_config *cfg)
{
	struct shmmgr *s = st;
	size_t stride = (sizeof(uint64_t) + cfg->max_msg + 7) & ~(size_t)7;
	if (cfg->max_msg > SIZE_MAX / 4 || cfg->capacity > (SIZE_MAX / 2 - sizeof *s->q) / stride)
		return ipcq__fail(IPCQ_LIMIT, EOVERFLOW,
		                  "shmmgr: capacity %zu x max_msg %zu does not fit the address space; use a "
		                  "smaller capacity or max_msg",
		                  cfg->capacity, cfg->max_msg);
	s->q_size = sizeof *s->q + cfg->capacity * stride;
	struct mgr_queue *q = ipcq__shm_alloc(s->q_size);
	if (!q)
		return ipcq__fail(IPCQ_LIMIT, errno,
		                  "shmmgr: mmap of %zu bytes of shared memory for %zu messages of %zu bytes "
		                  "failed (%s); use a smaller capacity or max_msg",
		                  s->q_size, cfg->capacity, cfg->max_msg, strerror(errno));
	q->capacity = cfg->capacity;
	q->max_msg = cfg->max_msg;
	q->stride = stride;
	q->slice_ns = ipcq__env_ns("IPCQ_SHMMGR_SLICE_NS", MGR_SLICE_NS, 1000000, 60000000000LL);
	int rc = mgr_hdr_init(&q->h);
	if (rc != IPCQ_OK) {
		ipcq__shm_free(q, s->q_size);
		return rc;
	}
	rc = ipcq__life_open(&s->life);
	if (rc != IPCQ_OK) {
		ipcq__shm_free(q, s->q_size);
		return rc;
	}
	s->have_life = true;
	s->q = q;
	return IPCQ_OK;
}

static int mgr_broken_pipe(void)
{
	return ipcq__fail(IPCQ_BROKEN, EPIPE,
	                  "shmmgr: put: no consumer is left (every process released, closed or died)");
}

static int shmmgr_put(void *st, const void *msg, size_t len, ipcq_deadline dl)
{
	struct shmmgr *s = st;
	struct mgr_queue *q = s->q;
	if (mgr_no_consumer(s))
		return mgr_broken_pipe();
	int rc = qlock(q, "put");
	if (rc != IPCQ_OK)
		return rc;
	uint64_t tail;
	for (;;) {
		tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
		if (tail - atomic_load_explicit(&q->head, memory_order_relaxed) < q->capacity)
			break;
		if (mgr_gone(s, IPCQ_CONSUMER)) {
			ipcq__plock_unlock(&q->h.lock);
			return mgr_broken_pipe();
		}
		if (mgr_passed(dl)) {
			ipcq__plock_unlock(&q->h.lock);
			return IPCQ_FULL;
		}
		if ((rc = qsleep(q, true, dl, "put")) != IPCQ_OK)
			return rc;
	}
	mgr_slot_write(q, tail, msg, len);
	/* The commit: a holder dying before this store queued nothing. */
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	mgr_signal_unlock(&q->h, &q->h.readable, false);
	return IPCQ_OK;
}

/*
 * Called with the lock held: waits until a message is queued (OK), or
 * answers EOF or EMPTY, all with the lock still held; any other status
 * comes without it.
 */
static int mgr_wait_message(struct shmmgr *s, ipcq_deadline dl, const char *what)
{
	struct mgr_queue *q = s->q;
	for (;;) {
		if (atomic_load_explicit(&q->tail, memory_order_relaxed) !=
		    atomic_load_explicit(&q->head, memory_order_relaxed))
			return IPCQ_OK;
		int rc = mgr_gone(s, IPCQ_PRODUCER) ? IPCQ_EOF : mgr_passed(dl) ? IPCQ_EMPTY : IPCQ_OK;
		if (rc != IPCQ_OK)
			return rc;
		if ((rc = qsleep(q, false, dl, what)) != IPCQ_OK)
			return rc;
	}
}

static int shmmgr_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	struct shmmgr *s = st;
	struct mgr_queue *q = s->q;
	int rc = qlock(q, "get");
	if (rc != IPCQ_OK)
		return rc;
	if ((rc = mgr_wait_message(s, dl, "get")) != IPCQ_OK) {
		if (rc == IPCQ_EOF || rc == IPCQ_EMPTY)
			ipcq__plock_unlock(&q->h.lock);
		return rc;
	}
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed), n = mgr_slot_len(q, head);
	*len = (size_t)n;
	if (n > cap) {
		/* The message stays: pass the wake-up this getter may have taken on. */
		mgr_signal_unlock(&q->h, &q->h.readable, false);
		return ipcq__fail(IPCQ_TOOBIG, 0,
		                  "shmmgr: get: message of %zu bytes does not fit the buffer of %zu bytes; "
		                  "it stays queued",
		                  (size_t)n, cap);
	}
	mgr_slot_read(q, head, buf, (size_t)n);
	/* The commit: a holder dying before this store took nothing. */
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	mgr_signal_unlock(&q->h, &q->h.writable, false);
	return IPCQ_OK;
}

/*
 * try_put_many and try_get_many: as many messages as there are room (are
 * queued) for, under one hold of the lock and with one commit of tail
 * (head) - the lock is what a put or get costs, and
 * a holder dying before the commit queued (took) none of them. Several
 * messages may be for several sleepers: those wake all.
 */
static size_t shmmgr_try_put_many(void *st, const ipcq_msgv *v, size_t n)
{
	struct shmmgr *s = st;
	struct mgr_queue *q = s->q;
	if (mgr_no_consumer(s) || qlock(q, "put") != IPCQ_OK)
		return 0; /* put says why */
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint64_t room = q->capacity - (tail - atomic_load_explicit(&q->head, memory_order_relaxed));
	size_t k = 0;
	for (; k < n && k < room; k++)
		mgr_slot_write(q, tail + k, v[k].buf, v[k].len);
	if (!k) {
		ipcq__plock_unlock(&q->h.lock);
		return 0;
	}
	atomic_store_explicit(&q->tail, tail + k, memory_order_release);
	mgr_signal_unlock(&q->h, &q->h.readable, k > 1);
	return k;
}

static size_t shmmgr_try_get_many(void *st, ipcq_msgv *v, size_t n)
{
	struct shmmgr *s = st;
	struct mgr_queue *q = s->q;
	if (qlock(q, "get") != IPCQ_OK)
		return 0;
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t queued = atomic_load_explicit(&q->tail, memory_order_relaxed) - head;
	size_t k = 0;
	for (; k < n && k < queued; k++) {
		uint64_t len64 = mgr_slot_len(q, head + k);
		if (len64 > v[k].cap)
			break; /* get says TOOBIG when it comes first */
		mgr_slot_read(q, head + k, v[k].buf, (size_t)len64);
		v[k].len = (size_t)len64;
	}
	if (!k) {
		ipcq__plock_unlock(&q->h.lock);
		return 0;
	}
	atomic_store_explicit(&q->head, head + k, memory_order_release);
	mgr_signal_unlock(&q->h, &q->h.writable, k > 1);
	return k;
}

static int shmmgr_poll(void *st, ipcq_deadline dl)
{
	struct shmmgr *s = st;
	struct mgr_queue *q = s->q;
	int rc = qlock(q, "poll");
	if (rc != IPCQ_OK)
		return rc;
	rc = mgr_wait_message(s, dl, "poll");
	if (rc == IPCQ_OK) {
		/*
		 * The message stays: pass on the wake-up this poller may have
		 * taken from a getter, as a TOOBIG get does. (A count of pollers
		 * that made every put wake everyone stayed up for good when a
		 * poller was killed asleep.)
		 */
		mgr_signal_unlock(&q->h, &q->h.readable, false);
	} else if (rc == IPCQ_EOF || rc == IPCQ_EMPTY) {
		ipcq__plock_unlock(&q->h.lock);
	}
	return rc;
}

static int shmmgr_qsize(void *st, size_t *n)
{
	struct shmmgr *s = st;
	uint64_t head = atomic_load(&s->q->head), n64 = atomic_load(&s->q->tail) - head;
	/* Unlocked: gets and puts between the two loads can overshoot. */
	*n = (size_t)(n64 > s->q->capacity ? s->q->capacity : n64);
	return IPCQ_OK;
}

static int shmmgr_release(void *st, unsigned roles)
{
	struct shmmgr *s = st;
	ipcq__life_release(&s->life, roles);
	/* This handle's puts look at the lifeline now and then; a release of the last consumer here is seen at once. */
	if (roles & IPCQ_CONSUMER)
		mgr_gone(s, IPCQ_CONSUMER);
	mgr_wake_all(&s->q->h, mgr_queue_whole, s->q);
	return IPCQ_OK;
}

/* --- Shared values ------------------------------------------------------- */

static struct mgr_entry *mgr_entry_at(const struct mgr_table *t, size_t i)
{
	return (struct mgr_entry *)((unsigned char *)t->entries + i * t->stride);
}

static unsigned char *mgr_value(const struct mgr_table *t, struct mgr_entry *e, uint64_t state)
{
	return e->val + ((state & MGR_BUF1) ? t->vcap : 0);
}

static bool mgr_table_whole(const void *state)
{
	const struct mgr_table *t = state;
	for (size_t i = 0; i < t->capacity; i++) {
		struct mgr_entry *e = mgr_entry_at(t, i);
		uint64_t st = atomic_load(&e->state);
		if (st && (!(st & MGR_USED) || MGR_LEN(st) > t->max_msg ||
		           !memchr(e->key, '\0', sizeof e->key)))
			return false;
	}
	return true;
}

static uint64_t mgr_hash(const char *key)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ull;
	return h;
}

/*
 * The entry holding key, or else (insert) the free entry where it goes,
 * or NULL. Open addressing, linear probing; entries are never removed, so a
 * free entry ends every probe.
 */
static struct mgr_entry *mgr_find(const struct mgr_table *t, const char *key, bool *found)
{
	size_t i = (size_t)(mgr_hash(key) % t->capacity);
	for (size_t n = 0; n < t->capacity; n++, i = i + 1 == t->capacity ? 0 : i + 1) {
		struct mgr_entry *e = mgr_entry_at(t, i);
		uint64_t st = atomic_load_explicit(&e->state, memory_order_relaxed);
		if (!st) {
			*found = false;
			return e;
		}
		if (strcmp(e->key, key) == 0) {
			*found = true;
			return e;
		}
	}
	*found = false;
	return NULL;
}

static int tlock(struct mgr_table *t, const char *what)
{
	return mgr_lock(&t->h, mgr_table_whole, t, what);
}

static int mgr_full(struct mgr_table *t, const char *call, const char *key)
{
	ipcq__plock_unlock(&t->h.lock);
	return ipcq__fail(IPCQ_LIMIT, ENOSPC,
	                  "shmmgr: %s \"%s\": the shared-values table is full (all %zu keys in use); "
	                  "open it with a larger cfg.capacity (the number of keys)",
	                  call, key, t->capacity);
}

/* Writes a new key into free entry e; the state store, made last, commits it. */
static void mgr_insert(struct mgr_entry *e, const char *key, const void *val, size_t len)
{
	strcpy(e->key, key); /* checked by the core: at most IPCQ_SHARED_KEY_MAX bytes */
	if (len)
		memcpy(e->val, val, len);
	atomic_store_explicit(&e->state, MGR_USED | len, memory_order_release);
}

static int mgr_not_int(struct mgr_table *t, const char *call, const char *key, uint64_t st)
{
	ipcq__plock_unlock(&t->h.lock);
	return ipcq__fail(IPCQ_INVAL, 0,
	                  "shmmgr: %s \"%s\": the key holds a %zu-byte value, not an 8-byte int64; set it "
	                  "with an int64_t first",
	                  call, key, (size_t)MGR_LEN(st));
}

static void shmmgr_shared_close(void *st)
{
	struct shmmgr *s = st;
	ipcq__shm_free(s->t, s->t_size);
	s->t = NULL;
}

static int shmmgr_shared_open(void *st, const ipcq_config *cfg)
{
	struct shmmgr *s = st;
	size_t vcap = (cfg->max_msg + 7) & ~(size_t)7;
	size_t stride = sizeof(struct mgr_entry) + 2 * vcap;
	if (cfg->max_msg > SIZE_MAX / 8 || cfg->capacity > (SIZE_MAX / 2 - sizeof *s->t) / stride)
		return ipcq__fail(IPCQ_LIMIT, EOVERFLOW,
		                  "shmmgr: %zu keys x values of %zu bytes do not fit the address space; use a "
		                  "smaller capacity or max_msg",
		                  cfg->capacity, cfg->max_msg);
	s->t_size = sizeof *s->t + cfg->capacity * stride;
	struct mgr_table *t = ipcq__shm_alloc(s->t_size);
	if (!t)
		return ipcq__fail(IPCQ_LIMIT, errno,
		                  "shmmgr: mmap of %zu bytes of shared memory for %zu keys of %zu-byte values "
		                  "failed (%s); use a smaller capacity or max_msg",
		                  s->t_size, cfg->capacity, cfg->max_msg, strerror(errno));
	t->capacity = cfg->capacity;
	t->max_msg = cfg->max_msg;
	t->vcap = vcap;
	t->stride = stride;
	int rc = mgr_hdr_init(&t->h);
	if (rc != IPCQ_OK) {
		ipcq__shm_free(t, s->t_size);
		return rc;
	}
	s->t = t;
	return IPCQ_OK;
}

static int shmmgr_shared_set(void *st, const char *key, const void *val, size_t len)
{
	struct mgr_table *t = ((struct shmmgr *)st)->t;
	int rc = tlock(t, "shared_set");
	if (rc != IPCQ_OK)
		return rc;
	bool found;
	struct mgr_entry *e = mgr_find(t, key, &found);
	if (!e)
		return mgr_full(t, "shared_set", key);
	if (!found) {
		mgr_insert(e, key, val, len);
	} else {
		/* Into the spare buffer, then one store flips to it. */
		uint64_t old = atomic_load_explicit(&e->state, memory_order_relaxed);
		uint64_t next = MGR_USED | (~old & MGR_BUF1) | len;
		if (len)
			memcpy(mgr_value(t, e, next), val, len);
		atomic_store_explicit(&e->state, next, memory_order_release);
	}
	ipcq__plock_unlock(&t->h.lock);
	return IPCQ_OK;
}

static int shmmgr_shared_get(void *st, const char *key, void *buf, size_t cap, size_t *len)
{
	struct mgr_table *t = ((struct shmmgr *)st)->t;
	int rc = tlock(t, "shared_get");
	if (rc != IPCQ_OK)
		return rc;
	bool found;
	struct mgr_entry *e = mgr_find(t, key, &found);
	if (!found) {
		ipcq__plock_unlock(&t->h.lock);
		return IPCQ_EMPTY;
	}
	uint64_t state = atomic_load_explicit(&e->state, memory_order_relaxed);
	size_t n = (size_t)MGR_LEN(state);
	*len = n;
	if (n > cap) {
		ipcq__plock_unlock(&t->h.lock);
		return ipcq__fail(IPCQ_TOOBIG, 0,
		                  "shmmgr: shared_get \"%s\": the value of %zu bytes does not fit the buffer of "
		                  "%zu bytes",
		                  key, n, cap);
	}
	if (n)
		memcpy(buf, mgr_value(t, e, state), n);
	ipcq__plock_unlock(&t->h.lock);
	return IPCQ_OK;
}

/*
 * The int64 of key, for add and cas: *e is NULL for a missing key (which
 * holds 0) with *slot the free entry for it, or NULL when the table is full.
 * Lock held on OK; released on any other answer.
 */
static int mgr_int(struct mgr_table *t, const char *call, const char *key, struct mgr_entry **e,
                   int64_t **val, int64_t *now)
{
	bool found;
	*e = mgr_find(t, key, &found);
	*val = NULL;
	*now = 0;
	if (!found)
		return IPCQ_OK;
	uint64_t st = atomic_load_explicit(&(*e)->state, memory_order_relaxed);
	if (MGR_LEN(st) != sizeof(int64_t))
		return mgr_not_int(t, call, key, st);
	*val = (int64_t *)(void *)mgr_value(t, *e, st); /* 8-aligned: entries and vcap are */
	*now = __atomic_load_n(*val, __ATOMIC_RELAXED);
	return IPCQ_OK;
}

/* Stores v: in place (one aligned 8-byte store) or as a new key. */
static int mgr_int_store(struct mgr_table *t, const char *call, const char *key, struct mgr_entry *e,
                         int64_t *val, int64_t v)
{
	if (val) {
		__atomic_store_n(val, v, __ATOMIC_RELEASE);
	} else if (!e) {
		return mgr_full(t, call, key);
	} else {
		mgr_insert(e, key, &v, sizeof v);
	}
	return IPCQ_OK;
}

static int shmmgr_shared_add(void *st, const char *key, int64_t delta, int64_t *result)
{
	struct mgr_table *t = ((struct shmmgr *)st)->t;
	int rc = tlock(t, "shared_add");
	if (rc != IPCQ_OK)
		return rc;
	struct mgr_entry *e;
	int64_t *val, now;
	if ((rc = mgr_int(t, "shared_add", key, &e, &val, &now)) != IPCQ_OK)
		return rc;
	/* Wraps like an atomic add, never undefined overflow. */
	int64_t next = (int64_t)((uint64_t)now + (uint64_t)delta);
	if ((rc = mgr_int_store(t, "shared_add", key, e, val, next)) != IPCQ_OK)
		return rc;
	ipcq__plock_unlock(&t->h.lock);
	*result = next;
	return IPCQ_OK;
}

static int shmmgr_shared_cas(void *st, const char *key, int64_t expect, int64_t desired, bool *swapped)
{
	struct mgr_table *t = ((struct shmmgr *)st)->t;
	int rc = tlock(t, "shared_cas");
	if (rc != IPCQ_OK)
		return rc;
	struct mgr_entry *e;
	int64_t *val, now;
	if ((rc = mgr_int(t, "shared_cas", key, &e, &val, &now)) != IPCQ_OK)
		return rc;
	*swapped = false;
	if (now == expect) {
		if ((rc = mgr_int_store(t, "shared_cas", key, e, val, desired)) != IPCQ_OK)
			return rc;
		*swapped = true;
	}
	ipcq__plock_unlock(&t->h.lock);
	return IPCQ_OK;
}

/* --- Vtable -------------------------------------------------------------- */

const struct ipcq_mech ipcq_mech_shmmgr = {
	.version = IPCQ_MECH_VERSION,
	IPCQ_MECH_QUEUE_OPS(shmmgr),
	.name = "shmmgr",
	.summary = "shared-memory manager: bounded queue and shared values under a robust "
	           "process-shared lock, futex sequence condvars",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN |
	        IPCQ_CAP_BOUNDED | IPCQ_CAP_ROBUST | IPCQ_CAP_SHARED,
	.default_capacity = 1024,
	.default_bytes = 16u << 20, /* 1024 slots up to 16 KiB messages; fewer, larger slots above */
	.default_max_msg = 64 * 1024,
	.try_put_many = shmmgr_try_put_many,
	.try_get_many = shmmgr_try_get_many,
	.shared_open = shmmgr_shared_open,
	.shared_set = shmmgr_shared_set,
	.shared_get = shmmgr_shared_get,
	.shared_add = shmmgr_shared_add,
	.shared_cas = shmmgr_shared_cas,
	.shared_close = shmmgr_shared_close,
};
