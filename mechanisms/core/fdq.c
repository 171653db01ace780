/*
 * fdq.c - a message queue over a byte-stream descriptor (pipe, socket).
 *
 * Sections: shared state and mapping; writing frames; reading frames;
 * open, pair, release and close.
 *
 * A message travels as a frame: a 4-byte length, then the bytes, so a
 * zero-length message is a frame too and only the descriptor's own EOF
 * means EOF. Many processes may write and read one descriptor at once, so
 * each direction keeps, in memory shared by all of them:
 *  - a writer lock held for a whole frame: frames never interleave, whatever
 *    their size (writes above PIPE_BUF are not atomic);
 *  - a reader lock and a read-ahead buffer: the lock holder reads as much as
 *    the descriptor has (one read() for many small frames) and every consumer
 *    takes frames from the same buffer, so a frame is consumed only whole,
 *    a get that times out mid-frame loses nothing, and TOOBIG leaves the
 *    message queued for every consumer. Only the lock holder waits on the
 *    descriptor; the others wait on the lock, so no wake-up is lost to the
 *    buffer.
 * The locks are robust: a holder that dies mid-frame marks the direction
 * unusable (IPCQ_PEERDEAD) rather than letting anyone read a torn frame.
 */
#include "mech.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FDQ_HDR 4u
#define FDQ_READAHEAD (64u * 1024u)
#define FDQ_SMALL 256u /* frames up to this size are copied into one write buffer */
/* While mid-frame, how often a waiting reader looks for a writer that died. */
#define FDQ_DEATH_CHECK_NS (100 * 1000000LL)

/* --- Shared state and mapping ------------------------------------------- */

struct ipcq__fdq_dir {
	pthread_mutex_t wlock;
	int wbusy;             /* a writer is between the first and last byte of a frame */
	pthread_mutex_t rlock;
	int rbusy;             /* a reader took bytes from the fd it has not yet recorded */
	bool dry;              /* the last read found the fd empty: the next waits first (fill) */
	atomic_int torn;       /* a frame was torn by a death: the direction is unusable */
	atomic_long count;     /* messages written minus taken; approximate */
	size_t head, tail;     /* unread bytes of buf, guarded by rlock */
	unsigned char buf[FDQ_READAHEAD];
};

struct ipcq__fdq_map {
	int refs; /* ends of this process using the mapping */
	struct ipcq__fdq_dir *dirs;
	size_t size;
};

static int map_new(struct ipcq__fdq_map **out, unsigned ndirs, int refs)
{
	struct ipcq__fdq_map *m = calloc(1, sizeof *m);
	if (!m)
		return ipcq__sys(ENOMEM, "fdq: allocating the handle");
	m->size = ndirs * sizeof(struct ipcq__fdq_dir);
	m->dirs = ipcq__shm_alloc(m->size);
	if (!m->dirs) {
		int e = errno;
		free(m);
		return ipcq__sys(e, "fdq: mmap of %zu bytes of shared state", ndirs * sizeof(struct ipcq__fdq_dir));
	}
	m->refs = refs;
	for (unsigned i = 0; i < ndirs; i++) {
		int st = ipcq__plock_init(&m->dirs[i].wlock);
		if (st == IPCQ_OK)
			st = ipcq__plock_init(&m->dirs[i].rlock);
		if (st != IPCQ_OK) {
			ipcq__shm_free(m->dirs, m->size);
			free(m);
			return st;
		}
	}
	*out = m;
	return IPCQ_OK;
}

static void map_unref(struct ipcq__fdq_map *m)
{
	if (m && --m->refs == 0) {
		ipcq__shm_free(m->dirs, m->size);
		free(m);
	}
}

static int torn_status(void)
{
	return ipcq__fail(IPCQ_PEERDEAD, 0,
	                  "a process died in the middle of a message on this queue; its stream is "
	                  "torn and the queue cannot be used any more: close it and open a new one");
}

/* Takes a lock; a dead previous holder that was mid-frame tears the direction. */
static int lock_dir(struct ipcq__fdq_dir *d, pthread_mutex_t *m, int *busy, ipcq_deadline dl)
{
	int st = ipcq__plock_lock(m, dl);
	if (st == IPCQ_PEERDEAD) {
		if (*busy)
			atomic_store(&d->torn, 1);
		*busy = 0;
		st = IPCQ_OK;
	}
	if (st == IPCQ_OK && atomic_load(&d->torn)) {
		ipcq__plock_unlock(m);
		return torn_status();
	}
	return st;
}

/*
 * Sets a busy flag so that the compiler moves none of the bookkeeping it
 * guards across the store: a process can be killed between any two
 * instructions, and the next lock holder judges by the flag.
 */
static inline void set_busy(int *busy, int v)
{
	atomic_signal_fence(memory_order_seq_cst);
	*busy = v;
	atomic_signal_fence(memory_order_seq_cst);
}

/* --- Writing frames ----------------------------------------------------- */

/*
 * No read or write here blocks: a process killed inside one that waits
 * cannot say whether bytes moved (see write_all and fill), so the waiting
 * is done in poll() and each transfer asks not to wait (MSG_DONTWAIT,
 * RWF_NOWAIT). A kernel without RWF_NOWAIT for pipes gets O_NONBLOCK on
 * both descriptors instead, which every caller copes with: EAGAIN always
 * leads to poll().
 */
static ssize_t pipe_nowait(struct ipcq__fdq *q, int fd, struct iovec *iov, int iovcnt, bool out)
{
	if (!q->nonblock) {
		ssize_t n = out ? pwritev2(fd, iov, iovcnt, -1, RWF_NOWAIT)
		                : preadv2(fd, iov, iovcnt, -1, RWF_NOWAIT);
		if (n >= 0 || (errno != EOPNOTSUPP && errno != EINVAL))
			return n;
		int ends[2] = { q->rfd, q->wfd };
		for (int i = 0; i < 2; i++) {
			int fl = ends[i] < 0 ? 0 : fcntl(ends[i], F_GETFL);
			if (fl < 0 || (ends[i] >= 0 && fcntl(ends[i], F_SETFL, fl | O_NONBLOCK) < 0))
				return -1;
		}
		q->nonblock = true;
	}
	return out ? writev(fd, iov, iovcnt) : readv(fd, iov, iovcnt);
}

/* One read into buf that does not wait. */
static ssize_t read_once(struct ipcq__fdq *q, void *buf, size_t len)
{
	if (q->is_socket)
		return recv(q->rfd, buf, len, MSG_DONTWAIT);
	struct iovec v = { buf, len };
	return pipe_nowait(q, q->rfd, &v, 1, false);
}

/*
 * One write that does not wait, never raises SIGPIPE and leaves the
 * signal's disposition alone: sockets say MSG_NOSIGNAL; for pipes the
 * signal is blocked in this thread for the call and a SIGPIPE it caused is
 * taken back, unless the user said it is ignored (IPCQ_SIGPIPE_IGNORED,
 * checked at open).
 */
static ssize_t write_once(struct ipcq__fdq *q, struct iovec *iov, int iovcnt)
{
	if (q->is_socket) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
		return sendmsg(q->wfd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (q->sigpipe_ignored)
		return pipe_nowait(q, q->wfd, iov, iovcnt, true);
	sigset_t pipe_only, old;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	ssize_t n = pipe_nowait(q, q->wfd, iov, iovcnt, true);
	int e = errno;
	if (n < 0 && e == EPIPE && !sigismember(&old, SIGPIPE)) {
		const struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_only, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return n;
}

static int wait_fd(int fd, short events, ipcq_deadline dl)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = ipcq__poll(&p, 1, dl);
	if (r < 0)
		return ipcq__sys(errno, "fdq: poll");
	return r == 0 ? IPCQ_FULL : IPCQ_OK;
}

/*
 * Writes the left bytes of v[0..nv), moving v on as they go: waits until dl
 * for the first byte, and for ever once one has gone, for a frame that has
 * begun must be finished. OK, or the status, with the direction torn if
 * bytes had gone. Called with wlock held; wbusy is clear on return.
 *
 * cut: the kernel may take part of the first write (a frame above
 * PIPE_BUF; any TCP write). A process killed inside such a write may leave
 * part of the frame in the stream, and nobody learns how much, so wbusy is
 * set around it: whoever takes the lock next tears the direction instead of
 * putting its frame after the part, where a reader would take it as the
 * rest. Up to PIPE_BUF a pipe or unix socket writes all or nothing. The
 * writes never block: a producer killed while it waits for room has
 * written nothing and leaves the stream whole (wbusy clear while it waits).
 */
static int write_all(struct ipcq__fdq *q, struct ipcq__fdq_dir *d, struct iovec *v, int nv, size_t left,
                     bool cut, ipcq_deadline dl)
{
	bool started = false;
	while (left > 0) {
		if (!started && cut)
			set_busy(&d->wbusy, 1);
		ssize_t n = write_once(q, v, nv);
		if (n > 0) {
			left -= (size_t)n;
			started = true;
			set_busy(&d->wbusy, left > 0);
			while (nv > 0 && (size_t)n >= v->iov_len) {
				n -= (ssize_t)v->iov_len;
				v++;
				nv--;
			}
			if (nv > 0) {
				v->iov_base = (char *)v->iov_base + n;
				v->iov_len -= (size_t)n;
			}
			continue;
		}
		int e = errno, st;
		if (!started)
			set_busy(&d->wbusy, 0); /* nothing went */
		if (n < 0 && e == EAGAIN) {
			st = wait_fd(q->wfd, POLLOUT, started ? IPCQ__NEVER : dl);
			if (st == IPCQ_OK)
				continue;
		} else if (n < 0 && e == EINTR) {
			continue;
		} else {
			st = (e == EPIPE || e == ECONNRESET)
			             ? ipcq__fail(IPCQ_BROKEN, e, "put: no consumer is left on this queue")
			             : ipcq__sys(e, "fdq: write");
		}
		if (started)
			atomic_store(&d->torn, 1);
		set_busy(&d->wbusy, 0);
		return st;
	}
	return IPCQ_OK;
}

int ipcq__fdq_put(void *state, const void *msg, size_t len, ipcq_deadline dl)
{
	struct ipcq__fdq *q = state;
	struct ipcq__fdq_dir *d = q->tx;
	int st = lock_dir(d, &d->wlock, &d->wbusy, dl);
	if (st != IPCQ_OK)
		return st;

	/* A small frame goes out of one buffer: one iovec is cheaper for the kernel to take. */
	union {
		uint32_t hdr;
		unsigned char bytes[FDQ_SMALL];
	} f;
	f.hdr = (uint32_t)len;
	struct iovec iov[2] = { { &f, FDQ_HDR }, { (void *)msg, len } };
	int nv = len ? 2 : 1;
	if (FDQ_HDR + len <= sizeof f) {
		if (len)
			memcpy(f.bytes + FDQ_HDR, msg, len);
		iov[0].iov_len = FDQ_HDR + len;
		nv = 1;
	}
	st = write_all(q, d, iov, nv, FDQ_HDR + len, q->cuts_writes || FDQ_HDR + len > PIPE_BUF, dl);
	if (st == IPCQ_OK)
		atomic_fetch_add(&d->count, 1);
	ipcq__plock_unlock(&d->wlock);
	return st;
}

/*
 * put_many's common case: the frames of v[0..) that fit in max_bytes (at
 * most PIPE_BUF), copied into one buffer and written at once, without
 * waiting: a pipe (or a unix socket, one buffer) takes all of them or none,
 * so no frame is cut. How many went; fewer than two sends the core to put,
 * which also finishes what a large frame needs.
 */
size_t ipcq__fdq_put_run(void *state, const ipcq_msgv *v, size_t n, size_t max_bytes)
{
	struct ipcq__fdq *q = state;
	struct ipcq__fdq_dir *d = q->tx;
	unsigned char run[PIPE_BUF];
	if (max_bytes > sizeof run)
		max_bytes = sizeof run;
	size_t k = 0, used = 0;
	for (; k < n && used + FDQ_HDR + v[k].len <= max_bytes; k++) {
		uint32_t hdr = (uint32_t)v[k].len;
		memcpy(run + used, &hdr, FDQ_HDR);
		if (v[k].len)
			memcpy(run + used + FDQ_HDR, v[k].buf, v[k].len);
		used += FDQ_HDR + v[k].len;
	}
	if (k < 2 || lock_dir(d, &d->wlock, &d->wbusy, IPCQ__NOW) != IPCQ_OK)
		return 0;
	struct iovec iov = { run, used };
	int st = write_all(q, d, &iov, 1, used, q->cuts_writes, IPCQ__NOW);
	if (st == IPCQ_OK)
		atomic_fetch_add(&d->count, (long)k);
	ipcq__plock_unlock(&d->wlock);
	return st == IPCQ_OK ? k : 0;
}

size_t ipcq__fdq_try_put_many(void *state, const ipcq_msgv *v, size_t n)
{
	return ipcq__fdq_put_run(state, v, n, PIPE_BUF);
}

/* --- Reading frames ----------------------------------------------------- */

/*
 * Reads what the fd has into the read-ahead buffer: OK (got bytes), EMPTY
 * (nothing before dl), EOF (no writer left). Called with rlock held.
 * A stream socket at EOF also polls readable, so EOF is read, never polled.
 *
 * rbusy covers moving the buffered bytes to its start and each read with
 * the count it adds: a reader killed in there leaves the buffer or the
 * stream half-moved, and the next one tears the direction. A read never
 * waits, though: a reader killed while waiting took nothing and must not
 * tear it, and a blocking read() cannot tell the two apart - so the wait
 * is a poll(). A read that emptied the fd (or found it empty) makes the
 * next fill poll first: poll-read, one system call more than a blocking
 * read(), where read-poll-read would be two. Pipe round trips across the
 * L3s on a 2-vCPU KVM guest, alternated: 23-26 us with a blocking read,
 * 27.5-31 with poll-read (system calls are dear there).
 */
static int fill(struct ipcq__fdq *q, struct ipcq__fdq_dir *d, ipcq_deadline dl)
{
	if (d->dry && dl != IPCQ__NOW) {
		int st = wait_fd(q->rfd, POLLIN, dl);
		if (st != IPCQ_OK)
			return st == IPCQ_FULL ? IPCQ_EMPTY : st;
	}
	for (;;) {
		set_busy(&d->rbusy, 1);
		if (d->head > 0) {
			memmove(d->buf, d->buf + d->head, d->tail - d->head);
			d->tail -= d->head;
			d->head = 0;
		}
		size_t room = sizeof d->buf - d->tail;
		ssize_t n = read_once(q, d->buf + d->tail, room);
		if (n > 0)
			d->tail += (size_t)n;
		set_busy(&d->rbusy, 0);
		d->dry = n < 0 ? errno == EAGAIN : (size_t)n < room;
		if (n > 0)
			return IPCQ_OK;
		if (n == 0)
			return IPCQ_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return ipcq__sys(errno, "fdq: read");
		if (dl == IPCQ__NOW)
			return IPCQ_EMPTY;
		int st = wait_fd(q->rfd, POLLIN, dl);
		if (st != IPCQ_OK)
			return st == IPCQ_FULL ? IPCQ_EMPTY : st;
	}
}

/* A writer that died holding wlock mid-frame means the rest never comes. */
static bool writer_died_midframe(struct ipcq__fdq_dir *d)
{
	int st = ipcq__plock_try(&d->wlock);
	if (st == IPCQ_FULL)
		return false;
	if (st == IPCQ_PEERDEAD && d->wbusy)
		atomic_store(&d->torn, 1);
	if (st == IPCQ_OK || st == IPCQ_PEERDEAD)
		ipcq__plock_unlock(&d->wlock);
	return atomic_load(&d->torn) != 0;
}

/* Waits for more of a frame that has begun: deadline dl, but never forever for a dead writer. */
static int fill_midframe(struct ipcq__fdq *q, struct ipcq__fdq_dir *d, ipcq_deadline dl)
{
	for (;;) {
		ipcq_deadline slice = ipcq__now_ns() + FDQ_DEATH_CHECK_NS;
		int st = fill(q, d, slice < dl ? slice : dl);
		if (st != IPCQ_EMPTY || (dl != IPCQ__NEVER && ipcq__now_ns() >= dl))
			return st;
		if (writer_died_midframe(d))
			return torn_status();
	}
}

/*
 * A frame too large for the read-ahead buffer goes straight into the
 * caller's buffer, its header already taken (rbusy set before that). Its
 * bytes leave the fd as they arrive, so from here the frame must be
 * finished: the deadline no longer applies, and a death tears the stream.
 */
static int get_direct(struct ipcq__fdq *q, struct ipcq__fdq_dir *d, unsigned char *out, size_t need)
{
	size_t have = d->tail - d->head;
	memcpy(out, d->buf + d->head, have);
	d->head = d->tail = 0;
	while (have < need) {
		ssize_t n = read_once(q, out + have, need - have);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			atomic_store(&d->torn, 1);
			set_busy(&d->rbusy, 0);
			return n == 0 ? torn_status() : ipcq__sys(errno, "fdq: read");
		}
		if (errno == EAGAIN) {
			int st = wait_fd(q->rfd, POLLIN, ipcq__now_ns() + FDQ_DEATH_CHECK_NS);
			if (st == IPCQ_FULL && writer_died_midframe(d)) {
				set_busy(&d->rbusy, 0);
				return torn_status();
			}
			if (st != IPCQ_OK && st != IPCQ_FULL) {
				atomic_store(&d->torn, 1);
				set_busy(&d->rbusy, 0);
				return st;
			}
		}
	}
	set_busy(&d->rbusy, 0);
	return IPCQ_OK;
}

/* The length of the frame at head, 0 until its header is all buffered; *have gets the bytes buffered. */
static uint32_t head_len(const struct ipcq__fdq_dir *d, size_t *have)
{
	uint32_t flen = 0;
	*have = d->tail - d->head;
	if (*have >= FDQ_HDR)
		memcpy(&flen, d->buf + d->head, FDQ_HDR);
	return flen;
}

/* More bytes into the buffer, waiting until dl: fill, or fill_midframe once a frame has begun (EOF there tears). */
static int read_more(struct ipcq__fdq *q, struct ipcq__fdq_dir *d, ipcq_deadline dl)
{
	bool begun = d->tail > d->head;
	int st = begun ? fill_midframe(q, d, dl) : fill(q, d, dl);
	if (st == IPCQ_EOF && begun) {
		atomic_store(&d->torn, 1);
		st = torn_status();
	}
	return st;
}

/*
 * Copies out the buffered whole frame at head (flen bytes after its header)
 * and moves past it: one store, so a reader killed here either took the
 * frame or left it. fill() moves what is left to the start of the buffer.
 */
static void take_frame(struct ipcq__fdq_dir *d, void *buf, uint32_t flen)
{
	if (flen)
		memcpy(buf, d->buf + d->head + FDQ_HDR, flen);
	atomic_signal_fence(memory_order_seq_cst);
	d->head += FDQ_HDR + flen;
}

int ipcq__fdq_get(void *state, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	struct ipcq__fdq *q = state;
	struct ipcq__fdq_dir *d = q->rx;
	int st = lock_dir(d, &d->rlock, &d->rbusy, dl);
	if (st != IPCQ_OK)
		return st == IPCQ_FULL ? IPCQ_EMPTY : st;

	for (;;) {
		size_t have;
		uint32_t flen = head_len(d, &have);
		if (have >= FDQ_HDR) {
			if (flen > cap) {
				*len = flen;
				st = ipcq__fail(IPCQ_TOOBIG, 0,
				                "get: the next message is %u bytes but the buffer holds %zu; "
				                "it stays queued: call again with a larger buffer",
				                flen, cap);
				break;
			}
			if (FDQ_HDR + (size_t)flen > sizeof d->buf) {
				set_busy(&d->rbusy, 1);
				d->head += FDQ_HDR;
				st = get_direct(q, d, buf, flen);
				if (st == IPCQ_OK) {
					*len = flen;
					atomic_fetch_sub(&d->count, 1);
				}
				break;
			}
			if (have >= FDQ_HDR + flen) {
				take_frame(d, buf, flen);
				*len = flen;
				atomic_fetch_sub(&d->count, 1);
				st = IPCQ_OK;
				break;
			}
		}
		if ((st = read_more(q, d, dl)) != IPCQ_OK)
			break;
	}
	ipcq__plock_unlock(&d->rlock);
	return st;
}

/*
 * get_many's common case: the frames already read ahead, and what one read
 * that does not wait adds, up to n and while each fits its buffer. A frame
 * too large for the read-ahead buffer, TOOBIG, EOF and torn streams are
 * left to get. How many were taken.
 */
size_t ipcq__fdq_try_get_many(void *state, ipcq_msgv *v, size_t n)
{
	struct ipcq__fdq *q = state;
	struct ipcq__fdq_dir *d = q->rx;
	if (lock_dir(d, &d->rlock, &d->rbusy, IPCQ__NOW) != IPCQ_OK)
		return 0;
	size_t k = 0;
	bool refilled = false;
	while (k < n) {
		size_t have;
		uint32_t flen = head_len(d, &have);
		if (have >= FDQ_HDR + (size_t)flen) {
			if (flen > v[k].cap)
				break;
			take_frame(d, v[k].buf, flen);
			v[k++].len = flen;
			continue;
		}
		if (refilled || FDQ_HDR + (size_t)flen > sizeof d->buf || fill(q, d, IPCQ__NOW) != IPCQ_OK)
			break;
		refilled = true;
	}
	if (k)
		atomic_fetch_sub(&d->count, (long)k);
	ipcq__plock_unlock(&d->rlock);
	return k;
}

/* A whole frame is buffered, or one too large for the buffer has begun (get reads it directly). */
static bool frame_ready(const struct ipcq__fdq_dir *d)
{
	size_t have;
	uint32_t flen = head_len(d, &have);
	return have >= FDQ_HDR && (have >= FDQ_HDR + flen || FDQ_HDR + (size_t)flen > sizeof d->buf);
}

/*
 * Waits, as get does, holding rlock: the one waiting on the descriptor must
 * be the one that sees what the others read ahead into the buffer.
 */
int ipcq__fdq_poll(void *state, ipcq_deadline dl)
{
	struct ipcq__fdq *q = state;
	struct ipcq__fdq_dir *d = q->rx;
	int st = lock_dir(d, &d->rlock, &d->rbusy, dl);
	if (st != IPCQ_OK)
		return st == IPCQ_FULL ? IPCQ_EMPTY : st;
	while (!frame_ready(d) && (st = read_more(q, d, dl)) == IPCQ_OK)
		;
	ipcq__plock_unlock(&d->rlock);
	return st;
}

int ipcq__fdq_qsize(void *state, size_t *n)
{
	struct ipcq__fdq *q = state;
	long c = atomic_load(&q->rx->count);
	*n = c > 0 ? (size_t)c : 0;
	return IPCQ_OK;
}

/* --- Open, pair, release and close --------------------------------------- */

static void close_fds(int a, int b)
{
	if (a >= 0)
		close(a);
	if (b >= 0 && b != a)
		close(b);
}

static int check_max(size_t max_msg)
{
	if (max_msg > UINT32_MAX - FDQ_HDR)
		return ipcq__fail(IPCQ_INVAL, 0, "max_msg %zu is above the frame limit %u: use a smaller max_msg",
		                  max_msg, UINT32_MAX - FDQ_HDR);
	return IPCQ_OK;
}

int ipcq__fdq_open(struct ipcq__fdq *q, int rfd, int wfd, bool is_socket, const ipcq_config *cfg)
{
	q->rfd = q->wfd = -1;
	int st = check_max(cfg->max_msg);
	if (st == IPCQ_OK)
		st = map_new(&q->map, 1, 1);
	if (st != IPCQ_OK) {
		close_fds(rfd, wfd);
		return st;
	}
	q->rfd = rfd;
	q->wfd = wfd;
	q->is_socket = is_socket;
	q->nonblock = false;
	q->sigpipe_ignored = cfg->flags & IPCQ_SIGPIPE_IGNORED;
	q->roles = IPCQ_PRODUCER | IPCQ_CONSUMER;
	q->max_msg = cfg->max_msg;
	q->rx = q->tx = &q->map->dirs[0];
	return IPCQ_OK;
}

int ipcq__fdq_pair(struct ipcq__fdq *a, struct ipcq__fdq *b, int fa, int fb, size_t max_msg)
{
	a->rfd = a->wfd = b->rfd = b->wfd = -1;
	struct ipcq__fdq_map *m = NULL;
	int st = check_max(max_msg);
	if (st == IPCQ_OK)
		st = map_new(&m, 2, 2);
	if (st != IPCQ_OK) {
		close_fds(fa, fb);
		return st;
	}
	*a = (struct ipcq__fdq){ .rfd = fa, .wfd = fa, .is_socket = true, .max_msg = max_msg,
		                 .roles = IPCQ_PRODUCER | IPCQ_CONSUMER,
		                 .tx = &m->dirs[0], .rx = &m->dirs[1], .map = m };
	*b = (struct ipcq__fdq){ .rfd = fb, .wfd = fb, .is_socket = true, .max_msg = max_msg,
		                 .roles = IPCQ_PRODUCER | IPCQ_CONSUMER,
		                 .tx = &m->dirs[1], .rx = &m->dirs[0], .map = m };
	return IPCQ_OK;
}

int ipcq__fdq_release(void *state, unsigned roles)
{
	struct ipcq__fdq *q = state;
	q->roles &= ~roles;
	if (q->rfd == q->wfd) {
		/* One descriptor carries both directions; shutdown() would act for
		 * every process, so it is closed only when this one needs neither. */
		if (q->roles == 0 && q->rfd >= 0) {
			close(q->rfd);
			q->rfd = q->wfd = -1;
		}
		return IPCQ_OK;
	}
	if ((roles & IPCQ_PRODUCER) && q->wfd >= 0) {
		close(q->wfd);
		q->wfd = -1;
	}
	if ((roles & IPCQ_CONSUMER) && q->rfd >= 0) {
		close(q->rfd);
		q->rfd = -1;
	}
	return IPCQ_OK;
}

void ipcq__fdq_close(void *state)
{
	struct ipcq__fdq *q = state;
	if (!q->map)
		return;
	close_fds(q->rfd, q->wfd);
	q->rfd = q->wfd = -1;
	map_unref(q->map);
	q->map = NULL;
}
