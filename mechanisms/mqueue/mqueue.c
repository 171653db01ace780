/*
 * mqueue.c - POSIX message queues (mq_overview(7)) as an ipcq mechanism.
 *
 * The queue gets a private, unguessable name that is unlinked as soon as it
 * exists: the descriptor, inherited across fork(), keeps the queue alive
 * while any process holds it, so no name outlives its users, SIGKILL
 * included. mq_timedsend/mq_timedreceive wait on CLOCK_REALTIME, so they are
 * never used: the descriptor is non-blocking and every wait is a poll() on
 * the core's monotonic deadline (Linux mq descriptors are pollable).
 *
 * EOF and BROKEN come from the core's lifelines, waited for in the same
 * poll() as the queue, so peer death needs no polling loop.
 *
 * mq_receive wants a buffer of at least mq_msgsize and removes what it
 * reads. A get whose buffer is smaller receives into a stash in shared
 * memory; a message that does not fit stays there, ahead of the kernel
 * queue, for the next get of any process. get, poll and qsize look at the
 * stash first, and an eventfd that is readable while the stash is full wakes
 * consumers sleeping in poll().
 *
 * Sections: limits, stash, open/close, put, get, poll/qsize/release.
 */
#include "mech.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

/* The kernel's ceilings (HARD_MSGMAX, HARD_MSGSIZEMAX): no sysctl goes past them. */
#define MQUEUE_HARD_MSGMAX 65536L
#define MQUEUE_HARD_MSGSIZEMAX (16L * 1024 * 1024)

struct mqueue_stash {
	pthread_mutex_t lock; /* robust: taken only around non-blocking calls */
	atomic_bool full;     /* read without the lock on the fast path */
	size_t len;
	unsigned char data[]; /* max_msg bytes; mq_receive's buffer on the slow path */
};

struct mqueue {
	mqd_t mqd;
	int efd; /* readable while the stash is full */
	bool have_mqd, have_efd, have_life;
	size_t max_msg;
	struct ipcq__life life;
	struct mqueue_stash *stash; /* shared by every process of the queue */
	size_t stash_size;
};

/* --- Limits -------------------------------------------------------------- */

static bool mqueue_sysctl(const char *leaf, long *v)
{
	char path[64], text[32];
	snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", leaf);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	char *end;
	errno = 0;
	*v = strtol(text, &end, 10);
	return errno == 0 && end != text;
}

/* Refuses, before mq_open, what the kernel would refuse with a bare EINVAL. */
static int mqueue_check_limits(size_t capacity, size_t max_msg)
{
	long lim;
	if (capacity > (size_t)MQUEUE_HARD_MSGMAX)
		return ipcq__fail(IPCQ_LIMIT, EINVAL,
		                  "mqueue: capacity %zu exceeds the kernel's ceiling of %ld messages "
		                  "per queue (HARD_MSGMAX); use a smaller capacity or another mechanism",
		                  capacity, MQUEUE_HARD_MSGMAX);
	if (max_msg > (size_t)MQUEUE_HARD_MSGSIZEMAX)
		return ipcq__fail(IPCQ_LIMIT, EINVAL,
		                  "mqueue: max_msg %zu exceeds the kernel's ceiling of %ld bytes "
		                  "(HARD_MSGSIZEMAX); use a smaller max_msg or another mechanism",
		                  max_msg, MQUEUE_HARD_MSGSIZEMAX);
	/* Root may pass these two, but a queue must not work only for root. */
	if (mqueue_sysctl("msg_max", &lim) && (long)capacity > lim)
		return ipcq__fail(IPCQ_LIMIT, EINVAL,
		                  "mqueue: capacity %zu exceeds fs.mqueue.msg_max (%ld); "
		                  "raise it with sysctl -w fs.mqueue.msg_max=%zu",
		                  capacity, lim, capacity);
	if (mqueue_sysctl("msgsize_max", &lim) && (long)max_msg > lim)
		return ipcq__fail(IPCQ_LIMIT, EINVAL,
		                  "mqueue: max_msg %zu exceeds fs.mqueue.msgsize_max (%ld); "
		                  "raise it with sysctl -w fs.mqueue.msgsize_max=%zu",
		                  max_msg, lim, max_msg);
	return IPCQ_OK;
}

/* Names the limit behind a failed mq_open; spare is a descriptor to probe with. */
static int mqueue_open_failed(int err, size_t capacity, size_t max_msg, int spare)
{
	long lim;
	struct rlimit rl;
	switch (err) {
	case EMFILE: {
		/* EMFILE is either the descriptor table or RLIMIT_MSGQUEUE: probe which. */
		int probe = fcntl(spare, F_DUPFD_CLOEXEC, 0);
		if (probe < 0)
			return ipcq__sys(err, "mqueue: mq_open");
		close(probe);
		/* The kernel charges each message slot about 90 bytes beyond its payload. */
		unsigned long long need = (unsigned long long)capacity * (max_msg + 90);
		if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			return ipcq__fail(IPCQ_LIMIT, err,
			                  "mqueue: mq_open: RLIMIT_MSGQUEUE (%llu bytes for all of this "
			                  "user's queues) %s; this queue needs about %llu bytes; raise it with "
			                  "`ulimit -q`, or use a smaller capacity or max_msg",
			                  (unsigned long long)rl.rlim_cur,
			                  need > rl.rlim_cur ? "is too small" : "is used up by other queues", need);
		return ipcq__fail(IPCQ_LIMIT, err,
		                  "mqueue: mq_open: RLIMIT_MSGQUEUE is used up; raise it with `ulimit -q`");
	}
	case ENOSPC:
		if (mqueue_sysctl("queues_max", &lim))
			return ipcq__fail(IPCQ_LIMIT, err,
			                  "mqueue: mq_open: fs.mqueue.queues_max (%ld) queues already exist; "
			                  "raise it with sysctl -w fs.mqueue.queues_max=%ld",
			                  lim, lim * 2);
		return ipcq__fail(IPCQ_LIMIT, err,
		                  "mqueue: mq_open: fs.mqueue.queues_max reached; raise it with sysctl");
	case ENOMEM:
		return ipcq__fail(IPCQ_LIMIT, err,
		                  "mqueue: mq_open: the kernel has no memory for %zu messages of %zu bytes; "
		                  "use a smaller capacity or max_msg",
		                  capacity, max_msg);
	case EINVAL:
		/* Our own check passed, so a sysctl changed under us. */
		return ipcq__fail(IPCQ_LIMIT, err,
		                  "mqueue: mq_open refused capacity %zu, max_msg %zu: check "
		                  "fs.mqueue.msg_max and fs.mqueue.msgsize_max with sysctl fs.mqueue",
		                  capacity, max_msg);
	default:
		return ipcq__sys(err, "mqueue: mq_open");
	}
}

/* --- Stash ----------------------------------------------------------------- */

/*
 * The eventfd mirrors the full flag; both change under the stash lock, the
 * eventfd raised before the flag is set and cleared after it is cleared, so
 * a holder dying in between leaves a readable eventfd over an empty stash,
 * which the waiters put right under the lock (mqueue_stash_resync) - never
 * a full stash nobody is woken for: a sleeping consumer would miss it until
 * the next put.
 */
static void mqueue_efd_set(struct mqueue *q, bool full)
{
	uint64_t v = 1;
	ssize_t r;
	if (full)
		r = write(q->efd, &v, sizeof v);
	else
		r = read(q->efd, &v, sizeof v); /* EAGAIN when already clear */
	(void)r;
}

static int mqueue_stash_lock(struct mqueue *q)
{
	/*
	 * No deadline: the holder never sleeps, so waiting is short, and a
	 * try-once get must not say EMPTY because another consumer holds it.
	 */
	int rc = ipcq__plock_lock(&q->stash->lock, IPCQ__NEVER);
	if (rc == IPCQ_PEERDEAD) {
		/*
		 * The holder died. The flag was set only after the bytes, so a
		 * full stash is whole; a message it had just received and not
		 * yet marked died with it. Resync the eventfd with the flag.
		 */
		bool full = atomic_load_explicit(&q->stash->full, memory_order_relaxed);
		mqueue_efd_set(q, false);
		if (full)
			mqueue_efd_set(q, true);
		rc = IPCQ_OK;
	}
	return rc;
}

static int mqueue_toobig(size_t need, size_t cap)
{
	return ipcq__fail(IPCQ_TOOBIG, 0,
	                  "mqueue: get: message of %zu bytes does not fit the buffer of %zu bytes; "
	                  "it stays queued",
	                  need, cap);
}

/* One non-blocking get through the stash, for buffers smaller than max_msg. */
static int mqueue_stash_get(struct mqueue *q, void *buf, size_t cap, size_t *len)
{
	struct mqueue_stash *s = q->stash;
	int rc = mqueue_stash_lock(q);
	if (rc != IPCQ_OK)
		return rc;
	if (atomic_load_explicit(&s->full, memory_order_relaxed)) {
		size_t n = s->len;
		*len = n;
		if (n > cap) {
			ipcq__plock_unlock(&s->lock);
			return mqueue_toobig(n, cap);
		}
		if (n)
			memcpy(buf, s->data, n);
		atomic_store_explicit(&s->full, false, memory_order_relaxed);
		mqueue_efd_set(q, false);
		ipcq__plock_unlock(&s->lock);
		return IPCQ_OK;
	}
	ssize_t n = mq_receive(q->mqd, (char *)s->data, q->max_msg, NULL);
	if (n < 0) {
		int e = errno;
		ipcq__plock_unlock(&s->lock);
		if (e == EAGAIN || e == EINTR)
			return IPCQ_EMPTY;
		return ipcq__sys(e, "mqueue: mq_receive");
	}
	*len = (size_t)n;
	if ((size_t)n <= cap) {
		if (n)
			memcpy(buf, s->data, (size_t)n);
		ipcq__plock_unlock(&s->lock);
		return IPCQ_OK;
	}
	s->len = (size_t)n;
	mqueue_efd_set(q, true);
	atomic_store_explicit(&s->full, true, memory_order_release);
	ipcq__plock_unlock(&s->lock);
	return mqueue_toobig((size_t)n, cap);
}

/*
 * poll() saw the eventfd readable yet the flag says empty: the stash was
 * emptied since, or a process died before lowering the eventfd. Under the
 * lock the eventfd is made to match the flag, so no waiter spins on it.
 */
static int mqueue_stash_resync(struct mqueue *q)
{
	int rc = mqueue_stash_lock(q);
	if (rc != IPCQ_OK)
		return rc;
	if (!atomic_load_explicit(&q->stash->full, memory_order_relaxed))
		mqueue_efd_set(q, false);
	ipcq__plock_unlock(&q->stash->lock);
	return IPCQ_OK;
}

/* --- Open and close -------------------------------------------------------- */

static int mqueue_create(struct mqueue *q, size_t capacity, size_t max_msg)
{
	struct mq_attr attr = { .mq_maxmsg = (long)capacity, .mq_msgsize = (long)max_msg };
	char name[64];
	for (int tries = 0;; tries++) {
		uint64_t r;
		int rc = ipcq__random(&r, sizeof r, "mqueue: a private queue name");
		if (rc != IPCQ_OK)
			return rc;
		snprintf(name, sizeof name, "/ipcq-%ld-%016" PRIx64, (long)getpid(), r);
		q->mqd = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC, 0600, &attr);
		if (q->mqd != (mqd_t)-1)
			break;
		if (errno != EEXIST || tries == 3)
			return mqueue_open_failed(errno, capacity, max_msg, q->efd);
	}
	q->have_mqd = true;
	/* From here the descriptors alone keep the queue: nothing to leak on a crash. */
	if (mq_unlink(name) < 0)
		return ipcq__sys(errno, "mqueue: mq_unlink %s", name);
	return IPCQ_OK;
}

static void mqueue_close(void *st)
{
	struct mqueue *q = st;
	if (q->have_mqd)
		mq_close(q->mqd);
	if (q->have_efd)
		close(q->efd);
	if (q->have_life)
		ipcq__life_close(&q->life);
	ipcq__shm_free(q->stash, q->stash_size);
	q->have_mqd = q->have_efd = q->have_life = false;
	q->stash = NULL;
}

static int mqueue_open(void *st, const ipcq_config *cfg)
{
	struct mqueue *q = st;
	int rc = mqueue_check_limits(cfg->capacity, cfg->max_msg);
	if (rc != IPCQ_OK)
		return rc;
	q->max_msg = cfg->max_msg;

	rc = ipcq__life_open(&q->life);
	if (rc != IPCQ_OK)
		return rc;
	q->have_life = true;

	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		return ipcq__sys(errno, "mqueue: eventfd");
	q->have_efd = true;

	q->stash_size = sizeof *q->stash + cfg->max_msg;
	q->stash = ipcq__shm_alloc(q->stash_size);
	if (!q->stash)
		return ipcq__sys(errno, "mqueue: mmap of a %zu-byte shared stash", q->stash_size);
	rc = ipcq__plock_init(&q->stash->lock);
	if (rc != IPCQ_OK)
		return rc;

	return mqueue_create(q, cfg->capacity, cfg->max_msg);
}

/* --- Put ------------------------------------------------------------------- */

static int mqueue_broken(void)
{
	return ipcq__fail(IPCQ_BROKEN, EPIPE,
	                  "mqueue: put: no consumer is left (every process released, closed or died)");
}

static int mqueue_put(void *st, const void *msg, size_t len, ipcq_deadline dl)
{
	struct mqueue *q = st;
	/* A message nobody can ever get must not be queued: one poll() per put. */
	if (ipcq__life_gone(&q->life, IPCQ_CONSUMER))
		return mqueue_broken();
	const char *bytes = len ? msg : "";
	for (;;) {
		if (mq_send(q->mqd, bytes, len, 0) == 0)
			return IPCQ_OK;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return ipcq__sys(errno, "mqueue: mq_send");
		if (dl == IPCQ__NOW)
			return IPCQ_FULL;
		struct pollfd fds[2] = {
			{ .fd = q->mqd, .events = POLLOUT },
			{ .fd = ipcq__life_fd(&q->life, IPCQ_CONSUMER), .events = 0 },
		};
		int n = ipcq__poll(fds, 2, dl);
		if (n < 0)
			return ipcq__sys(errno, "mqueue: poll");
		if (n == 0)
			return IPCQ_FULL;
		if (fds[1].revents & (POLLHUP | POLLERR))
			return mqueue_broken();
	}
}

/* --- Get ------------------------------------------------------------------- */

/* One non-blocking attempt; EMPTY when nothing was there. */
static int mqueue_try_get(struct mqueue *q, void *buf, size_t cap, size_t *len)
{
	if (cap >= q->max_msg && !atomic_load_explicit(&q->stash->full, memory_order_acquire)) {
		ssize_t n = mq_receive(q->mqd, buf, cap, NULL);
		if (n >= 0) {
			*len = (size_t)n;
			return IPCQ_OK;
		}
		if (errno == EAGAIN || errno == EINTR)
			return IPCQ_EMPTY;
		return ipcq__sys(errno, "mqueue: mq_receive");
	}
	return mqueue_stash_get(q, buf, cap, len);
}

/* The poll set of a consumer: the queue, the stash and the producers' lifeline. */
static void mqueue_consumer_fds(const struct mqueue *q, struct pollfd fds[3])
{
	fds[0] = (struct pollfd){ .fd = q->mqd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = q->efd, .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = ipcq__life_fd(&q->life, IPCQ_PRODUCER), .events = 0 };
}

/* A descriptor poll() cannot use would make the wait loops spin: fail instead. */
static int mqueue_fds_check(const struct pollfd fds[3])
{
	if (((fds[0].revents | fds[1].revents) & (POLLERR | POLLNVAL)) || (fds[2].revents & POLLNVAL))
		return ipcq__fail(IPCQ_SYSERR, EBADF,
		                  "mqueue: poll: a descriptor of the queue failed (closed behind libipcq's back?)");
	return IPCQ_OK;
}

static bool mqueue_producers_gone(const struct pollfd fds[3])
{
	return !(fds[0].revents & POLLIN) && !(fds[1].revents & POLLIN) &&
	       (fds[2].revents & (POLLHUP | POLLERR));
}

/* Waits until dl for the queue, the stash or a lifeline to change: OK with fds filled, EMPTY at dl. */
static int mqueue_consumer_wait(struct mqueue *q, struct pollfd fds[3], ipcq_deadline dl)
{
	mqueue_consumer_fds(q, fds);
	int n = ipcq__poll(fds, 3, dl);
	if (n < 0)
		return ipcq__sys(errno, "mqueue: poll");
	if (n == 0)
		return IPCQ_EMPTY;
	return mqueue_fds_check(fds);
}

static int mqueue_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	struct mqueue *q = st;
	for (;;) {
		int rc = mqueue_try_get(q, buf, cap, len);
		if (rc != IPCQ_EMPTY)
			return rc;
		struct pollfd fds[3];
		if ((rc = mqueue_consumer_wait(q, fds, dl)) != IPCQ_OK)
			return rc;
		if (mqueue_producers_gone(fds)) {
			/*
			 * poll() looked at the queue before the lifeline, so a put
			 * finished just before the last release may have been
			 * missed. No put can start now: one last look decides.
			 */
			rc = mqueue_try_get(q, buf, cap, len);
			return rc == IPCQ_EMPTY ? IPCQ_EOF : rc;
		}
		if ((fds[1].revents & POLLIN) && !atomic_load_explicit(&q->stash->full, memory_order_acquire)) {
			rc = mqueue_stash_resync(q);
			if (rc != IPCQ_OK)
				return rc;
		}
	}
}

/* --- Poll, qsize, release -------------------------------------------------- */

static int mqueue_count(struct mqueue *q, size_t *n)
{
	struct mq_attr a;
	if (mq_getattr(q->mqd, &a) < 0)
		return ipcq__sys(errno, "mqueue: mq_getattr");
	*n = (size_t)a.mq_curmsgs + atomic_load_explicit(&q->stash->full, memory_order_acquire);
	return IPCQ_OK;
}

static int mqueue_poll(void *st, ipcq_deadline dl)
{
	struct mqueue *q = st;
	for (;;) {
		if (atomic_load_explicit(&q->stash->full, memory_order_acquire))
			return IPCQ_OK;
		struct pollfd fds[3];
		int rc = mqueue_consumer_wait(q, fds, dl);
		if (rc != IPCQ_OK)
			return rc;
		if (fds[0].revents & POLLIN)
			return IPCQ_OK;
		if (fds[1].revents & POLLIN) {
			rc = mqueue_stash_resync(q); /* OK at the top of the loop if still full */
			if (rc != IPCQ_OK)
				return rc;
			continue;
		}
		if (mqueue_producers_gone(fds)) {
			size_t left = 0;
			rc = mqueue_count(q, &left);
			if (rc != IPCQ_OK)
				return rc;
			return left ? IPCQ_OK : IPCQ_EOF;
		}
	}
}

static int mqueue_qsize(void *st, size_t *n)
{
	return mqueue_count(st, n);
}

static int mqueue_release(void *st, unsigned roles)
{
	struct mqueue *q = st;
	ipcq__life_release(&q->life, roles);
	return IPCQ_OK;
}

const struct ipcq_mech ipcq_mech_mqueue = {
	.version = IPCQ_MECH_VERSION,
	IPCQ_MECH_QUEUE_OPS(mqueue),
	.name = "mqueue",
	.summary = "POSIX message queue, private and unlinked at once; waits with poll()",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE |
	        IPCQ_CAP_ZEROLEN | IPCQ_CAP_FD | IPCQ_CAP_BOUNDED,
	.default_capacity = 10,  /* the kernel's default fs.mqueue.msg_max */
	.default_max_msg = 8192, /* and fs.mqueue.msgsize_max */
};
