/*
 * mech.h - the plug-in interface a mechanism implements, and the core
 * helpers it may call. A mechanism author should need no other file.
 *
 * A mechanism is one folder with one .c file whose only exported symbol is
 * its `const struct ipcq_mech ipcq_mech_<name>`; it is added to the ordered
 * list in core/registry.c and given a CMake option. The core checks every
 * argument, role and size before an op is called, turns timeouts into one
 * absolute deadline, and keeps the error text; an op only moves bytes.
 *
 * Errors: an op returns an enum ipcq_status. Before returning anything but
 * IPCQ_OK, IPCQ_EMPTY, IPCQ_FULL or IPCQ_EOF it records why with
 * ipcq__fail() or ipcq__sys(), whose message names the call, the object and
 * what the user can do.
 */
#ifndef IPCQ_MECH_H
#define IPCQ_MECH_H

#include "ipcq.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <sys/uio.h>

#define IPCQ_MECH_VERSION 1

/*
 * A deadline is an absolute CLOCK_MONOTONIC time in nanoseconds.
 * IPCQ__NOW (0) has always passed: try once, never sleep.
 * IPCQ__NEVER waits until done.
 */
typedef int64_t ipcq_deadline;
#define IPCQ__MIN_DEFAULT_CAPACITY 16

/* The capacity a queue of m gets for cfg.capacity 0 and this max_msg. */
static inline size_t ipcq__default_capacity(const struct ipcq_mech *m, size_t max_msg);

#define IPCQ__NOW ((ipcq_deadline)0)
#define IPCQ__NEVER ((ipcq_deadline)INT64_MAX)

struct ipcq_mech {
	unsigned version;        /* IPCQ_MECH_VERSION */
	const char *name;        /* short, lower case, unique: "pipe" */
	const char *summary;     /* one line for `ipcbench list` */
	unsigned caps;           /* IPCQ_CAP_* it really keeps; the battery holds it to them */
	size_t state_size;       /* bytes of per-handle state; the core allocates them zeroed, 64-byte aligned */
	size_t default_capacity; /* used when cfg->capacity is 0; 0 only without IPCQ_CAP_BOUNDED */
	size_t default_max_msg;  /* used when cfg->max_msg is 0 */
	/*
	 * > 0: a default capacity also keeps capacity x max_msg within this many
	 * bytes (but at least IPCQ__MIN_DEFAULT_CAPACITY messages), for
	 * mechanisms that set aside max_msg bytes per slot: 1024 slots of 1 MiB
	 * would be 1 GiB of fresh memory per queue, paid in page faults.
	 */
	size_t default_bytes;

	/*
	 * Creates the queue in st (zeroed) from cfg, whose zero fields already
	 * hold the defaults. Does not block. On failure returns the status with
	 * the reason recorded, and leaves st so that close(st) is safe.
	 * A system limit that refuses cfg gives IPCQ_LIMIT naming the limit and
	 * how to raise it; never clamp silently.
	 */
	int (*open)(void *st, const ipcq_config *cfg);

	/*
	 * Queues one message (0 <= len <= max_msg, checked by the core; msg is
	 * non-NULL when len > 0). Blocks until dl at most while there is no room.
	 * Returns OK once any consumer can get it, FULL at the deadline, BROKEN
	 * when no consumer is left (never raising SIGPIPE), PEERDEAD when a
	 * dead peer left the queue unusable. On anything but OK nothing was queued.
	 */
	int (*put)(void *st, const void *msg, size_t len, ipcq_deadline dl);

	/*
	 * Takes the oldest message into buf (cap bytes) and sets *len. Blocks
	 * until dl at most while the queue is empty and producers remain.
	 * EMPTY at the deadline; EOF when every producer is gone (released,
	 * closed or dead) and nothing is queued; TOOBIG when cap is too small,
	 * with *len set to the size needed and the message still queued.
	 */
	int (*get)(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl);

	/*
	 * Optional (NULL: the core calls put or get at once). The common case
	 * of put or get, which the core tries first, before it turns the
	 * timeout into a deadline: true when the message was queued (taken,
	 * with *len set) exactly as put (get) would have; false, with nothing
	 * done, sends the core on to put (get) for everything else - no room,
	 * nothing queued, TOOBIG, a gone peer. A finite timeout's deadline
	 * reads the clock, ~25 ns on a KVM guest: a third of a 64 B message
	 * through shmring.
	 */
	bool (*try_put)(void *st, const void *msg, size_t len);
	bool (*try_get)(void *st, void *buf, size_t cap, size_t *len);
	/*
	 * Optional (NULL: the core calls try_put or try_get, then put or get,
	 * message by message). ipcq_put_many's and ipcq_get_many's common case:
	 * returns k <= n, having queued v[0..k) (taken v[0..k), len set) exactly
	 * as k calls of try_put (try_get) would have, with nothing else done; a
	 * short count means the next message would have been refused (the core
	 * then waits as put for it, or, for get, ends the call with what it has).
	 * It may wake sleeping peers once for the whole run instead of once a
	 * message.
	 */
	size_t (*try_put_many)(void *st, const ipcq_msgv *v, size_t n);
	size_t (*try_get_many)(void *st, ipcq_msgv *v, size_t n);

	/*
	 * Waits until dl at most for a get to have something to say: OK when a
	 * message is ready, EOF when it would say EOF, EMPTY at the deadline.
	 * Consumes nothing.
	 */
	int (*poll)(void *st, ipcq_deadline dl);

	/* Optional (NULL: IPCQ_UNSUPPORTED). Approximate count of queued messages. */
	int (*qsize)(void *st, size_t *n);

	/*
	 * This process gives up roles (IPCQ_PRODUCER and/or IPCQ_CONSUMER; the
	 * core passes only roles still held). When the last producer anywhere is
	 * gone consumers see EOF after draining; when the last consumer is gone
	 * puts say BROKEN. A process that dies must count as having released.
	 */
	int (*release)(void *st, unsigned roles);

	/* Frees what open made in this process. Never fails; safe after a failed open. */
	void (*close)(void *st);

	/*
	 * Optional, for IPCQ_CAP_DUPLEX: makes a and b (both zeroed) the two
	 * ends of one two-way connection: put on a is got on b and the reverse.
	 * Same failure rule as open; close() is called on both after a failure.
	 */
	int (*pair)(void *a, void *b, const ipcq_config *cfg);

	/*
	 * Zero copy, for IPCQ_CAP_ZEROCOPY (all five set, or all NULL: the core
	 * then answers IPCQ_UNSUPPORTED). The core has checked roles (PRODUCER for
	 * reserve, commit and cancel; CONSUMER for peek and consume), len <=
	 * max_msg for reserve, and the pointers. A buffer handed out is named by
	 * its address; an op given one it did not hand out to this process, or one
	 * already ended, returns INVAL and changes nothing.
	 *
	 * reserve: blocks until dl at most for room, as put; sets *buf to at least
	 *   len writable bytes in the queue's memory. FULL, BROKEN, PEERDEAD as put.
	 *   Until commit nothing of it is visible to any consumer.
	 * commit: publishes the first len bytes at buf as one message (INVAL for
	 *   len beyond what was reserved); does not block. OK as put's OK; PEERDEAD
	 *   when another process took the reservation for a dead one's.
	 * cancel: ends the reservation with nothing queued; does not block.
	 * peek: blocks until dl at most as get, then holds the oldest message for
	 *   this process: *buf and *len stay valid until consume. EMPTY, EOF as get.
	 * consume: ends the hold; the message is gone and its room free.
	 *
	 * A process that dies holding a reservation must leave it dropped (no
	 * consumer ever sees its bytes, no one waits on it for good); one that
	 * dies holding a message may lose it. release() of a role and close()
	 * end what this process holds in that role.
	 */
	int (*reserve)(void *st, size_t len, void **buf, ipcq_deadline dl);
	int (*commit)(void *st, void *buf, size_t len);
	int (*cancel)(void *st, void *buf);
	int (*peek)(void *st, const void **buf, size_t *len, ipcq_deadline dl);
	int (*consume)(void *st, const void *buf);
	/* Optional: reserve's and peek's common case, tried first, as try_put and try_get. */
	bool (*try_reserve)(void *st, size_t len, void **buf);
	bool (*try_peek)(void *st, const void **buf, size_t *len);

	/*
	 * Shared values, for IPCQ_CAP_SHARED (all six set, or all NULL: the
	 * core then answers IPCQ_UNSUPPORTED). st is state_size zeroed bytes of
	 * its own, never a queue's. The core has checked the key (1 to
	 * IPCQ_SHARED_KEY_MAX bytes) and the pointers; a value longer than
	 * cfg->max_msg is the op's TOOBIG. None waits beyond taking a lock whose
	 * holders never sleep; PEERDEAD when a dead peer left the table unusable.
	 *
	 * shared_open: creates a table of cfg->capacity keys, values up to
	 *   cfg->max_msg bytes, usable across fork(); same failure rule as open.
	 * shared_set: stores a copy of val; LIMIT (naming capacity) when a new key
	 *   finds the table full. A crash mid-set leaves the old or the new value.
	 * shared_get: copies the value into buf; EMPTY for a key never set;
	 *   TOOBIG with *len = size needed when cap is too small.
	 * shared_add / shared_cas: atomic on an 8-byte int64 value (a missing key
	 *   holds 0); INVAL when the key holds a value of another size.
	 * shared_close: frees what shared_open made in this process; never fails.
	 */
	int (*shared_open)(void *st, const ipcq_config *cfg);
	int (*shared_set)(void *st, const char *key, const void *val, size_t len);
	int (*shared_get)(void *st, const char *key, void *buf, size_t cap, size_t *len);
	int (*shared_add)(void *st, const char *key, int64_t delta, int64_t *result);
	int (*shared_cas)(void *st, const char *key, int64_t expect, int64_t desired, bool *swapped);
	void (*shared_close)(void *st);
};

static inline size_t ipcq__default_capacity(const struct ipcq_mech *m, size_t max_msg)
{
	size_t cap = m->default_capacity;
	if (m->default_bytes && max_msg) {
		size_t fit = m->default_bytes / max_msg;
		if (fit < IPCQ__MIN_DEFAULT_CAPACITY)
			fit = IPCQ__MIN_DEFAULT_CAPACITY;
		if (fit < cap)
			cap = fit;
	}
	return cap;
}

/* --- Errors -------------------------------------------------------------- */

/* Records status with a message for the current call and returns status. */
int ipcq__fail(int status, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records "<what>: <strerror(err)>" with the status errno maps to, and returns it. */
int ipcq__sys(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The status an errno value stands for: the one errno table. */
int ipcq__status_of_errno(int err);

/* --- Time and waiting ---------------------------------------------------- */

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t ipcq__now_ns(void);
/* The deadline a relative timeout gives (0 -> IPCQ__NOW, negative -> IPCQ__NEVER).
 * Inline: every put and get asks, and the two common answers read no clock. */
static inline ipcq_deadline ipcq__deadline(int64_t timeout_ns)
{
	if (timeout_ns == 0)
		return IPCQ__NOW;
	if (timeout_ns < 0)
		return IPCQ__NEVER;
	int64_t now = ipcq__now_ns();
	if (timeout_ns > IPCQ__NEVER - now)
		return IPCQ__NEVER;
	return now + timeout_ns;
}
/* Nanoseconds left before dl: 0 once passed, -1 for IPCQ__NEVER. */
int64_t ipcq__remaining_ns(ipcq_deadline dl);
/*
 * poll(2) until dl, retried across EINTR on the same deadline.
 * Returns the number of ready fds (> 0), 0 at the deadline, or -1 with errno.
 */
int ipcq__poll(struct pollfd *fds, nfds_t n, ipcq_deadline dl);

/* --- Process-shared memory and locks ------------------------------------- */

/* Zeroed MAP_SHARED anonymous memory that survives fork(); NULL with errno. */
void *ipcq__shm_alloc(size_t size);
/* Unmaps what ipcq__shm_alloc gave. */
void ipcq__shm_free(void *p, size_t size);

/*
 * A robust, process-shared mutex. Lock returns OK, FULL at the deadline
 * (callers turn it into their own timeout status), or PEERDEAD when the
 * previous holder died: the lock is then held and already made consistent,
 * and the caller decides whether what it protects is still whole. A wait
 * looks at the lock again every 100 ms, so a wake-up lost with a waiter
 * that died costs that much, not a hang.
 */
int ipcq__plock_init(pthread_mutex_t *m);
int ipcq__plock_lock(pthread_mutex_t *m, ipcq_deadline dl);
void ipcq__plock_unlock(pthread_mutex_t *m);
/* Non-blocking: OK (now held), FULL (held by a live owner) or PEERDEAD as above. */
int ipcq__plock_try(pthread_mutex_t *m);

/* --- Lifelines: who still holds a role, peer death included ---------------- */

/*
 * Two pipes whose write ends are held by the processes holding each role.
 * The kernel closes a dead process's descriptors, so "no holder left" is
 * exact even after SIGKILL, and it can be waited for with poll(): the read
 * end reports POLLHUP once the last holder is gone.
 */
struct ipcq__life {
	int prod[2]; /* prod[1] held by producers */
	int cons[2]; /* cons[1] held by consumers */
};
/* Creates both lifelines; this process holds both roles. */
int ipcq__life_open(struct ipcq__life *l);
/* Drops this process's hold on roles. */
void ipcq__life_release(struct ipcq__life *l, unsigned roles);
/* Closes everything; safe on a zeroed or failed struct. */
void ipcq__life_close(struct ipcq__life *l);
/* True when no process holds role any more (one non-blocking poll). */
bool ipcq__life_gone(const struct ipcq__life *l, unsigned role);
/* The fd that shows POLLHUP once role is gone everywhere, for a caller's poll set. */
int ipcq__life_fd(const struct ipcq__life *l, unsigned role);
/* True once process pid has ended: gone, or a zombie (killed, not yet reaped); false while unsure. */
bool ipcq__pid_ended(pid_t pid);
/* A tuning duration from the environment, in ns, clamped to [lo, hi]; def when unset or malformed. */
int64_t ipcq__env_ns(const char *var, int64_t def, int64_t lo, int64_t hi);
/* Fills buf with n random bytes (getrandom); OK, or the failure recorded as "<what>: getrandom: ...". */
int ipcq__random(void *buf, size_t n, const char *what);
/*
 * Runs fn(arg) in a grandchild in a session of its own - never the caller's
 * child, so never reaped, waited for or signalled with it - with fds[0..n)
 * (n <= 8) as descriptors 3..3+n and every other one closed; fn must not
 * return. Waits only for the middle process. OK, or SYSERR with what
 * ("redis: the private server's supervisor") in the message.
 */
int ipcq__detach(void (*fn)(void *arg), void *arg, const int *fds, int n, const char *what);

/* --- Framed byte streams (pipe, socketpair) -------------------------------- */

/*
 * A message queue over a byte-stream descriptor pair: 4-byte length-prefixed
 * frames, a shared read-ahead buffer and robust reader/writer locks in shared
 * memory, so many processes and threads may put and get at once, frames of any
 * size never interleave, and TOOBIG leaves the message queued for every
 * consumer. EOF and BROKEN come from the descriptors themselves.
 */
struct ipcq__fdq_dir;
struct ipcq__fdq_map;
struct ipcq__fdq {
	int rfd, wfd;               /* -1 once released or absent; equal for a duplex end */
	bool is_socket;             /* send(MSG_NOSIGNAL) instead of write() */
	bool cuts_writes;           /* the kernel may take part of any write (TCP): each is marked busy */
	bool nonblock;              /* the kernel lacks RWF_NOWAIT for pipes: fds set O_NONBLOCK */
	bool sigpipe_ignored;       /* IPCQ_SIGPIPE_IGNORED: pipe writes need no signal mask */
	unsigned roles;             /* roles this process still holds on this end */
	size_t max_msg;
	struct ipcq__fdq_dir *rx;   /* shared state of the direction this end reads */
	struct ipcq__fdq_dir *tx;   /* ... and of the one it writes */
	struct ipcq__fdq_map *map;  /* this process's reference to the shared mapping */
};
/* Takes over blocking rfd/wfd (either may be -1) and sets up shared state; on failure closes them. */
int ipcq__fdq_open(struct ipcq__fdq *q, int rfd, int wfd, bool is_socket, const ipcq_config *cfg);
/* Two ends of one duplex connection over a blocking connected socket pair (fa, fb); on failure closes them. */
int ipcq__fdq_pair(struct ipcq__fdq *a, struct ipcq__fdq *b, int fa, int fb, size_t max_msg);
/* The vtable lines of a mechanism whose state is struct P and whose ops are
 * named P_open, P_put, P_get, P_poll, P_qsize, P_release and P_close: each
 * mechanism then spells out only what is its own (name, caps, defaults). */
#define IPCQ_MECH_QUEUE_OPS(P)                                                                      \
	.state_size = sizeof(struct P), .open = P##_open, .put = P##_put, .get = P##_get,                 \
	.poll = P##_poll, .qsize = P##_qsize, .release = P##_release, .close = P##_close

/* The ops of a byte-stream mechanism: st is its struct ipcq__fdq. Put them straight in the vtable. */
#define IPCQ__FDQ_OPS                                                                              \
	.state_size = sizeof(struct ipcq__fdq), .put = ipcq__fdq_put, .get = ipcq__fdq_get,              \
	.poll = ipcq__fdq_poll, .qsize = ipcq__fdq_qsize, .release = ipcq__fdq_release,                  \
	.close = ipcq__fdq_close, .try_put_many = ipcq__fdq_try_put_many,                                 \
	.try_get_many = ipcq__fdq_try_get_many
int ipcq__fdq_put(void *st, const void *msg, size_t len, ipcq_deadline dl);
int ipcq__fdq_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl);
size_t ipcq__fdq_try_put_many(void *st, const ipcq_msgv *v, size_t n);
/* try_put_many's run of frames, in max_bytes at most (PIPE_BUF at most): how many went. */
size_t ipcq__fdq_put_run(void *st, const ipcq_msgv *v, size_t n, size_t max_bytes);
size_t ipcq__fdq_try_get_many(void *st, ipcq_msgv *v, size_t n);
int ipcq__fdq_poll(void *st, ipcq_deadline dl);
int ipcq__fdq_qsize(void *st, size_t *n);
int ipcq__fdq_release(void *st, unsigned roles);
void ipcq__fdq_close(void *st);

#endif /* IPCQ_MECH_H */
