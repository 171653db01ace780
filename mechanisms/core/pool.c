/*
 * pool.c - multiprocessing.Pool: workers (forked processes or threads)
 * running tasks that arrive over one queue, results going back over another.
 *
 * Transport: one MPMC task queue (owner -> workers) and one result queue
 * (workers -> owner) of one mechanism. A message carries a batch: the owner
 * packs tasks into the message it is filling and sends it at once when a
 * worker may be idle, or when the batch is full. The batch limit follows how
 * long tasks take (workers report it): empty tasks travel up to 128 to a
 * message, 10 ms tasks one by one; it starts again from 1 after the pool was
 * idle and drops to 1 when no message was answered for POOL_STALL_NS, so a
 * burst of slow tasks is spread over the workers. A worker answers a batch
 * with one result message (more when the results do not fit one). The owner
 * never waits on a put: it sends without waiting and, when the task queue is
 * full, drains results instead. On a kernel-buffered byte stream (pipe,
 * socketpair) a put that finds room for part of a frame waits for the rest,
 * so there the owner also keeps the unread task bytes within a budget.
 *
 * Deaths (PROCESS mode): each worker has a slot in MAP_SHARED memory where it
 * writes the sequence number of the message it took before running it. The
 * owner reaps workers with waitpid(WNOHANG) whenever it waits (at most every
 * POOL_SLICE_NS) and every POOL_REAP_EVERY submissions; on a death it drains
 * the result queue, fails the unanswered tasks of the message the dead worker
 * held with IPCQ_PEERDEAD and forks a replacement. A worker killed inside a
 * get may lose a message nobody recorded: after a death, a sent message no
 * live worker holds while the task queue is empty is declared lost after
 * POOL_LOST_NS. A death in the middle of a frame on a byte stream tears the
 * queue (the mechanism says PEERDEAD): the pool then opens new queues and
 * workers, and what was sent on the old ones is PEERDEAD. Workers die with
 * their owner (PR_SET_PDEATHSIG) and see EOF on the task queue once the owner
 * has closed the pool and sent everything.
 *
 * Callbacks run on the owner's thread inside pool calls; nested calls from a
 * callback drain into a buffer of their own (up to POOL_MAX_DEPTH deep).
 *
 * Sections: wire format and state - errors - workers - the owner's table -
 * sending - receiving - deaths - waiting - public calls.
 */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- Wire format and state ------------------------------------------------------ */

#define POOL_DEFAULT_ARG 4096u
#define POOL_DEFAULT_OUT 4096u
#define POOL_DEFAULT_CAPACITY 1024u
#define POOL_BATCH_MAX 128u                 /* tasks per message at most (adaptive mode) */
#define POOL_BATCH_NS 20000                 /* adaptive batches aim at this much work */
#define POOL_STALL_NS (200 * 1000LL)        /* no answer for this long: tasks are slow, send them singly */
#define POOL_SLICE_NS (10 * 1000000LL)      /* a waiting owner looks at its workers this often */
#define POOL_LOST_NS (100 * 1000000LL)      /* an unheld message after a death is lost after this */
#define POOL_REAP_EVERY 4096u               /* submissions between two looks at the workers */
#define POOL_STREAM_BUDGET (32 * 1024)      /* task bytes in a kernel-buffered stream at most */
#define POOL_STREAM_MSGS 32                 /* and messages (a socket counts ~1 KiB per write) */
#define POOL_MAX_DEPTH IPCQ_POOL_MAX_DEPTH  /* nesting of pool calls inside callbacks */
#define POOL_EXIT_BROKEN 120                /* a worker's exit status: its queue became unusable */

#define MSG_END 1u   /* result message: the last one for its task message */

struct pool_hdr {
	uint64_t seq;   /* task message number (1, 2, ...); results name the one they answer */
	uint32_t n;     /* entries that follow */
	uint32_t flags; /* MSG_END */
	uint64_t ns;    /* result END: nanoseconds the worker spent on the whole message */
};
struct pool_task {
	uint64_t id;
	uint64_t fn; /* ipcq_task_fn: workers are forked, never exec'd */
	uint32_t len;
	uint32_t pad;
};
struct pool_res {
	uint64_t id;
	uint32_t status;
	uint32_t len; /* bytes that follow, or the size needed for TOOBIG */
};
#define PAD8(n) (((n) + 7u) & ~(size_t)7u)

/* A worker's slot in shared memory, on a line of its own. */
struct pool_slot {
	_Alignas(64) _Atomic uint64_t taken; /* seq of the message it runs; 0 between messages */
};
struct pool_shared {
	_Alignas(64) _Atomic uint64_t results; /* result messages put so far, by every worker */
	_Alignas(64) _Atomic uint64_t taken_bytes; /* bytes of task messages workers have taken */
	_Atomic uint64_t taken_msgs;           /* and how many */
	_Alignas(64) atomic_int stop;          /* THREAD mode terminate: run nothing more */
	struct pool_slot slot[];
};

enum { T_FREE, T_PENDING, T_SENT };

struct pool_entry {
	uint32_t gen;
	uint8_t state;
	uint64_t seq;          /* message it went in */
	int64_t suspect_since; /* lost-message watch */
	ipcq_done_fn done;
	void *ctx;
};

struct pool_worker {
	pid_t pid; /* PROCESS: 0 when none */
	bool finished; /* PROCESS: exited 0 after the release, having seen EOF: never replaced */
	pthread_t thread;
	bool running; /* THREAD: created, not yet joined */
	unsigned char *in, *out; /* THREAD: the worker's own buffers */
};

struct ipcq_pool {
	ipcq_pool_config cfg;
	const ipcq_mech *mech;
	ipcq *tasks, *results;
	ipcq_config qcfg; /* how both were opened, to open them again */
	size_t max_msg;
	pid_t owner;
	unsigned fork_gen; /* pool_fork_gen at open: a forked child sees another */
	bool closed, terminated, released, broken, joined;
	int broken_status;

	struct pool_shared *sh;
	size_t sh_size;
	struct pool_worker *w;

	/* the owner's table of tasks queued or running */
	struct pool_entry *e;
	uint32_t *free_ix;
	uint32_t *pend_ix; /* entries in the message being filled */
	unsigned nfree, outstanding;

	/* the message being filled */
	unsigned char *pbuf;
	size_t plen;
	unsigned pn;
	uint64_t next_seq;
	unsigned batch_limit;
	unsigned fixed_per; /* map: tasks per message; 0: adaptive */
	int64_t last_end;   /* when pool_flush last saw a message answered (or the pool idle) */
	uint64_t mark_ended; /* ended_msgs then */
	double ns_per_task; /* smoothed; 0 until the first report */

	uint64_t sent_msgs, ended_msgs; /* task messages sent, and answered in full */
	uint64_t given_up[32];          /* messages pool_watch_lost failed: their END, if it comes, counts no more */
	uint64_t sent_bytes;            /* of task messages, against sh->taken_bytes */
	size_t stream_budget;           /* 0, or the most task bytes left in a stream's kernel buffer */
	uint64_t results_seen;          /* result messages taken */
	bool in_reap;
	bool need_rebuild, in_rebuild; /* a queue was torn by a death: PROCESS mode opens new ones */
	uint64_t progress; /* result messages processed */
	unsigned submits;
	int64_t last_reap;
	unsigned deaths; /* ever: turns the lost-message watch on */

	unsigned depth;  /* callbacks running */
	unsigned char *rbuf[POOL_MAX_DEPTH + 1];

	/* PROCESS mode workers run from the owner's buffers (copied by fork) */
	unsigned char *win, *wout;
};

/* Every pool of this process: a new worker process drops the roles of the others' queues. */
static pthread_mutex_t pool_list_lock = PTHREAD_MUTEX_INITIALIZER;
static ipcq_pool **pool_list;
static size_t pool_list_n, pool_list_cap;

/*
 * Counts forks (pthread_atfork), so a call from a child of the owner is
 * refused without a getpid() system call per task.
 */
static atomic_uint pool_fork_gen;

static void pool_forked(void)
{
	atomic_fetch_add_explicit(&pool_fork_gen, 1, memory_order_relaxed);
}

static void pool_atfork_once(void)
{
	pthread_atfork(NULL, NULL, pool_forked);
}

/* --- Errors -------------------------------------------------------------------- */

static int pool_fail(ipcq_pool *p, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pool_fail(ipcq_pool *p, int st, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ipcq__fail(st, 0, "%s", msg);
	ipcq__err_bind(p, st);
	return st;
}

/* The status a queue call returned, with its message moved to the pool. */
static int pool_pass(ipcq_pool *p, ipcq *q, int st, const char *what)
{
	char msg[400];
	snprintf(msg, sizeof msg, "pool: %s: %s", what, ipcq_errmsg(q));
	ipcq__fail(st, ipcq_errno(q), "%s", msg);
	ipcq__err_bind(p, st);
	return st;
}

static int pool_usable(ipcq_pool *p, const char *call, bool submit)
{
	if (!p)
		return pool_fail(NULL, IPCQ_INVAL, "%s: the pool is NULL", call);
	if (p->joined)
		return pool_fail(p, IPCQ_CLOSED, "%s: the pool was joined and freed; open a new one", call);
	if (p->fork_gen != atomic_load_explicit(&pool_fork_gen, memory_order_relaxed))
		return pool_fail(p, IPCQ_INVAL, "%s: only the process that opened the pool may use it", call);
	if (submit && (p->closed || p->terminated))
		return pool_fail(p, IPCQ_CLOSED, "%s: the pool was %s; no new tasks are taken (open a new pool)",
		                 call, p->terminated ? "terminated" : "closed");
	if (submit && p->broken)
		return pool_fail(p, p->broken_status,
		                 "%s: the pool's queues became unusable after a worker died mid-message; "
		                 "terminate and join it, then open a new pool", call);
	return IPCQ_OK;
}

/* --- Workers --------------------------------------------------------------------- */

/*
 * Puts one result message: OK, CLOSED once the pool is being terminated
 * (nobody drains the results any more: a worker thread waiting for room
 * would never be joined), or the queue's failure. Waits in slices to see
 * the terminate.
 */
static int pool_put_result(ipcq_pool *p, const void *out, size_t len)
{
	for (;;) {
		int st = ipcq_put(p->results, out, len, POOL_SLICE_NS);
		if (st != IPCQ_FULL)
			return st;
		if (atomic_load_explicit(&p->sh->stop, memory_order_relaxed))
			return IPCQ_CLOSED;
	}
}

/*
 * Runs task messages until EOF. Results go straight into the out buffer;
 * a result that would not fit what is left sends the buffer first.
 * Returns 0 at EOF, POOL_EXIT_BROKEN when a queue became unusable.
 */
static int pool_work(ipcq_pool *p, struct pool_slot *slot, unsigned char *in, unsigned char *out)
{
	const size_t max_out = p->cfg.max_out, max_msg = p->max_msg;
	for (;;) {
		size_t len;
		int st = ipcq_get(p->tasks, in, max_msg, &len, IPCQ_FOREVER);
		if (st == IPCQ_EOF)
			return 0;
		if (st != IPCQ_OK)
			return POOL_EXIT_BROKEN;
		struct pool_hdr h;
		memcpy(&h, in, sizeof h);
		atomic_store_explicit(&slot->taken, h.seq, memory_order_release);
		if (p->stream_budget) {
			atomic_fetch_add_explicit(&p->sh->taken_bytes, len, memory_order_relaxed);
			atomic_fetch_add_explicit(&p->sh->taken_msgs, 1, memory_order_relaxed);
		}
		int64_t t0 = ipcq__now_ns();
		size_t off = sizeof h, o = sizeof(struct pool_hdr);
		uint32_t on = 0;
		bool stop = atomic_load_explicit(&p->sh->stop, memory_order_relaxed);
		for (uint32_t i = 0; i < h.n && !stop; i++) {
			struct pool_task t;
			memcpy(&t, in + off, sizeof t);
			off += sizeof t;
			if (o + sizeof(struct pool_res) + max_out > max_msg) {
				struct pool_hdr rh = { .seq = h.seq, .n = on };
				memcpy(out, &rh, sizeof rh);
				if ((st = pool_put_result(p, out, o)) == IPCQ_CLOSED)
					break;
				if (st != IPCQ_OK)
					return POOL_EXIT_BROKEN;
				atomic_fetch_add_explicit(&p->sh->results, 1, memory_order_release);
				o = sizeof rh;
				on = 0;
			}
			struct pool_res r = { .id = t.id };
			size_t got = max_out;
			((ipcq_task_fn)(uintptr_t)t.fn)(in + off, t.len, out + o + sizeof r, &got);
			off += PAD8(t.len);
			if (got > max_out) {
				r.status = IPCQ_TOOBIG;
				r.len = (uint32_t)(got > UINT32_MAX ? UINT32_MAX : got);
				got = 0;
			} else {
				r.len = (uint32_t)got;
			}
			memcpy(out + o, &r, sizeof r);
			o += sizeof r + PAD8(got);
			on++;
			stop = atomic_load_explicit(&p->sh->stop, memory_order_relaxed);
		}
		if (stop || st == IPCQ_CLOSED)
			continue; /* terminated: what is left is answered CLOSED by the owner */
		struct pool_hdr rh = { .seq = h.seq, .n = on, .flags = MSG_END, .ns = (uint64_t)(ipcq__now_ns() - t0) };
		memcpy(out, &rh, sizeof rh);
		if ((st = pool_put_result(p, out, o)) == IPCQ_CLOSED)
			continue;
		if (st != IPCQ_OK)
			return POOL_EXIT_BROKEN;
		atomic_fetch_add_explicit(&p->sh->results, 1, memory_order_release);
		atomic_store_explicit(&slot->taken, 0, memory_order_release);
	}
}

static void *pool_thread_main(void *arg)
{
	ipcq_pool *p = ((void **)arg)[0];
	struct pool_worker *w = ((void **)arg)[1];
	free(arg);
	pool_work(p, &p->sh->slot[w - p->w], w->in, w->out);
	return NULL;
}

/* In a new worker process: drop what is not ours, die with the owner, work, _exit. */
static void pool_child(ipcq_pool *p, unsigned i)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != p->owner)
		_exit(0); /* the owner died before we could ask to die with it */
	prctl(PR_SET_NAME, "ipcq:pool", 0, 0, 0);
	/* A task writing to a closed pipe gets EPIPE, not death; the queues never raise it. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t k = 0; k < pool_list_n; k++) {
		ipcq_pool *o = pool_list[k];
		if (o != p && (ipcq_mech_caps(o->mech) & IPCQ_CAP_PROCESS)) {
			ipcq_close(o->tasks);
			ipcq_close(o->results);
		}
	}
	pthread_mutex_unlock(&pool_list_lock);
	int rc = IPCQ_OK;
	if (!p->released)
		rc = ipcq_release(p->tasks, IPCQ_PRODUCER);
	if (rc == IPCQ_OK)
		rc = ipcq_release(p->results, IPCQ_CONSUMER);
	_exit(rc == IPCQ_OK ? pool_work(p, &p->sh->slot[i], p->win, p->wout) : POOL_EXIT_BROKEN);
}

static int pool_start(ipcq_pool *p, unsigned i)
{
	struct pool_worker *w = &p->w[i];
	w->finished = false; /* a failed fork is retried (pool_reap) */
	atomic_store(&p->sh->slot[i].taken, 0);
	if (p->cfg.mode == IPCQ_POOL_THREAD) {
		void **arg = malloc(2 * sizeof *arg);
		if (!arg)
			return pool_fail(p, IPCQ_LIMIT, "pool: out of memory starting worker thread %u", i);
		arg[0] = p;
		arg[1] = w;
		sigset_t all, old;
		sigfillset(&all);
		/* Workers block every signal, so signals meant for the owner land on its threads. */
		pthread_sigmask(SIG_SETMASK, &all, &old);
		int e = pthread_create(&w->thread, NULL, pool_thread_main, arg);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e) {
			free(arg);
			ipcq__sys(e, "pool: pthread_create of worker %u", i);
			ipcq__err_bind(p, ipcq__status_of_errno(e));
			return ipcq__status_of_errno(e);
		}
		w->running = true;
		return IPCQ_OK;
	}
	pthread_mutex_lock(&pool_list_lock); /* held across fork: the child sees a whole list */
	pid_t pid = fork();
	if (pid == 0)
		pool_child(p, i); /* never returns */
	int e = errno;
	pthread_mutex_unlock(&pool_list_lock);
	if (pid < 0) {
		int st = ipcq__sys(e, "pool: fork of worker %u (RLIMIT_NPROC or memory may be short)", i);
		ipcq__err_bind(p, st);
		return st;
	}
	w->pid = pid;
	return IPCQ_OK;
}

/* --- The owner's table ---------------------------------------------------------------- */

static inline uint64_t pool_id(const ipcq_pool *p, uint32_t ix)
{
	return ((uint64_t)p->e[ix].gen << 32) | ix;
}

/* Frees the entry, then runs its callback: a callback may submit again. */
static void pool_finish(ipcq_pool *p, uint32_t ix, int status, const void *out, size_t len)
{
	struct pool_entry *e = &p->e[ix];
	ipcq_done_fn done = e->done;
	void *ctx = e->ctx;
	e->state = T_FREE;
	e->gen++;
	p->free_ix[p->nfree++] = ix;
	p->outstanding--;
	if (done) {
		p->depth++;
		done(ctx, status, out, len);
		p->depth--;
	}
}

/* Fails every sent task of message seq (0: of every message) still unanswered. */
static unsigned pool_fail_message(ipcq_pool *p, uint64_t seq, int status)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < p->cfg.capacity; i++)
		if (p->e[i].state == T_SENT && (seq == 0 || p->e[i].seq == seq)) {
			pool_finish(p, i, status, NULL, 0);
			n++;
		}
	return n;
}

/* The queues are unusable (a worker died mid-message): nothing can be answered any more. */
static void pool_break(ipcq_pool *p)
{
	if (p->broken)
		return;
	p->broken = true;
	p->broken_status = IPCQ_PEERDEAD;
	for (uint32_t i = 0; i < p->cfg.capacity; i++)
		if (p->e[i].state != T_FREE)
			pool_finish(p, i, IPCQ_PEERDEAD, NULL, 0);
	p->pn = 0;
	p->plen = sizeof(struct pool_hdr);
}

/*
 * A queue said it cannot be used any more (a worker died mid-frame on a byte
 * stream). PROCESS mode opens new queues at the next safe point (pool_rebuild);
 * THREAD mode, where nobody dies, gives up.
 */
static void pool_torn(ipcq_pool *p)
{
	if (p->in_rebuild || p->broken || p->terminated)
		return;
	if (p->cfg.mode == IPCQ_POOL_PROCESS)
		p->need_rebuild = true;
	else
		pool_break(p);
}

/* --- Sending ------------------------------------------------------------------------- */

/*
 * Sends the tasks being gathered, at most per to a message: map's chunk, or
 * the adaptive limit. That limit starts again at 1 when the pool was idle
 * (tasks may have changed: learn first) and falls to 1 when no message was
 * answered for POOL_STALL_NS (tasks got slow: spread them over the workers).
 * OK, FULL (the rest is kept for later) or a failure.
 */
static int pool_flush(ipcq_pool *p)
{
	if (!p->pn)
		return IPCQ_OK;
	unsigned per = p->fixed_per;
	if (!per) {
		int64_t now = ipcq__now_ns();
		per = p->batch_limit;
		if (p->ended_msgs != p->mark_ended) { /* answers came since the last look */
			p->mark_ended = p->ended_msgs;
			p->last_end = now;
		}
		if (p->sent_msgs == p->ended_msgs) {
			p->batch_limit = 1; /* for what comes next: this batch goes as gathered */
			p->last_end = now;
		} else if (now - p->last_end > POOL_STALL_NS) {
			p->batch_limit = per = 1;
		}
	}
	const size_t H = sizeof(struct pool_hdr);
	size_t off = H;
	unsigned k = 0;
	int st = IPCQ_OK;
	while (k < p->pn) {
		size_t end = off;
		unsigned m = 0;
		for (; m < per && k + m < p->pn; m++) {
			struct pool_task t;
			memcpy(&t, p->pbuf + end, sizeof t);
			end += sizeof t + PAD8(t.len);
		}
		/*
		 * A put on a byte stream that finds room for only part of a frame
		 * waits for the rest, deadline or not; the workers may then wait on
		 * us to read results: keep the unread task bytes well below the
		 * kernel's buffer.
		 */
		if (p->stream_budget) {
			uint64_t unread = p->sent_bytes - atomic_load_explicit(&p->sh->taken_bytes, memory_order_relaxed);
			uint64_t msgs = p->sent_msgs - atomic_load_explicit(&p->sh->taken_msgs, memory_order_relaxed);
			size_t len = end - off + H;
			/* One message beyond the budget goes alone: then no worker waits on a result put. */
			bool alone = len > p->stream_budget && p->sent_msgs != p->ended_msgs;
			if (alone || (unread && (unread + len > p->stream_budget || msgs >= POOL_STREAM_MSGS))) {
				st = IPCQ_FULL;
				break;
			}
		}
		/* The header goes over the tail of the part already sent. */
		unsigned char *msg = p->pbuf + off - H;
		struct pool_hdr h = { .seq = p->next_seq, .n = m };
		memcpy(msg, &h, H);
		st = ipcq_put(p->tasks, msg, end - off + H, IPCQ_NOWAIT);
		if (st != IPCQ_OK)
			break;
		p->sent_bytes += end - off + H;
		for (unsigned j = k; j < k + m; j++) {
			p->e[p->pend_ix[j]].state = T_SENT;
			p->e[p->pend_ix[j]].seq = p->next_seq;
		}
		p->next_seq++;
		p->sent_msgs++;
		k += m;
		off = end;
	}
	if (k) {
		memmove(p->pbuf + H, p->pbuf + off, p->plen - off);
		memmove(p->pend_ix, p->pend_ix + k, (p->pn - k) * sizeof *p->pend_ix);
		p->plen = H + (p->plen - off);
		p->pn -= k;
	}
	if (st != IPCQ_OK && st != IPCQ_FULL) {
		pool_pass(p, p->tasks, st, "sending tasks");
		pool_torn(p);
	}
	return st;
}

/* --- Receiving ------------------------------------------------------------------------ */

static void pool_learn(ipcq_pool *p, const struct pool_hdr *h, unsigned ntasks)
{
	if (!ntasks)
		return;
	double per = (double)h->ns / ntasks;
	p->ns_per_task = p->ns_per_task > 0 ? 0.75 * p->ns_per_task + 0.25 * per : per;
	double lim = POOL_BATCH_NS / (p->ns_per_task > 1 ? p->ns_per_task : 1);
	/* Grow by doubling at most: a limit learnt on other tasks is not trusted at once. */
	double grow = 2.0 * p->batch_limit;
	lim = lim > grow ? grow : lim;
	p->batch_limit = lim >= POOL_BATCH_MAX ? POOL_BATCH_MAX : lim < 1 ? 1 : (unsigned)lim;
}

/* Runs the callbacks of one result message in buf. */
static void pool_process(ipcq_pool *p, const unsigned char *buf, size_t len)
{
	struct pool_hdr h;
	if (len < sizeof h)
		return;
	memcpy(&h, buf, sizeof h);
	size_t off = sizeof h;
	for (uint32_t k = 0; k < h.n && off + sizeof(struct pool_res) <= len; k++) {
		struct pool_res r;
		memcpy(&r, buf + off, sizeof r);
		off += sizeof r;
		size_t bytes = r.status == IPCQ_OK ? r.len : 0;
		uint32_t ix = (uint32_t)r.id;
		/* A stale id (a task already failed as lost) is dropped. */
		if (ix < p->cfg.capacity && p->e[ix].state == T_SENT && pool_id(p, ix) == r.id)
			pool_finish(p, ix, (int)r.status, bytes ? buf + off : NULL,
			            r.status == IPCQ_TOOBIG ? r.len : bytes);
		off += PAD8(bytes);
	}
	if (h.flags & MSG_END) {
		for (size_t i = 0; i < sizeof p->given_up / sizeof p->given_up[0]; i++)
			if (p->given_up[i] == h.seq) { /* counted when it was failed as lost */
				p->given_up[i] = 0;
				return;
			}
		p->ended_msgs++;
		pool_learn(p, &h, h.n);
	}
}

/* Takes one result message (waiting until dl): OK when one was processed, else EMPTY/EOF/failure. */
static int pool_take(ipcq_pool *p, int64_t timeout)
{
	if (p->depth > POOL_MAX_DEPTH)
		return IPCQ_EMPTY;
	unsigned char *buf = p->rbuf[p->depth];
	if (!buf) {
		buf = p->rbuf[p->depth] = malloc(p->max_msg);
		if (!buf)
			return IPCQ_EMPTY;
	}
	size_t len;
	int st = ipcq_get(p->results, buf, p->max_msg, &len, timeout);
	if (st == IPCQ_OK) {
		p->results_seen++;
		p->progress++;
		pool_process(p, buf, len);
	}
	else if (st != IPCQ_EMPTY && st != IPCQ_EOF && !p->broken && !p->terminated && !p->in_rebuild) {
		pool_pass(p, p->results, st, "receiving results");
		pool_torn(p);
	}
	return st;
}

/* Takes what the workers say they have put, without any system call when nothing is new. */
static void pool_drain_fast(ipcq_pool *p)
{
	/* Behind by a message a dying worker put but did not count: the slow path takes it. */
	int64_t n = (int64_t)(atomic_load_explicit(&p->sh->results, memory_order_acquire) - p->results_seen);
	for (; n > 0; n--)
		if (pool_take(p, IPCQ_NOWAIT) != IPCQ_OK)
			break;
}

/* Takes every result message there is. */
static void pool_drain_all(ipcq_pool *p)
{
	while (pool_take(p, IPCQ_NOWAIT) == IPCQ_OK)
		;
}

/* --- Deaths ------------------------------------------------------------------------------ */

static bool pool_held(const ipcq_pool *p, uint64_t seq)
{
	for (unsigned i = 0; i < p->cfg.workers; i++)
		if (p->w[i].pid > 0 && atomic_load(&p->sh->slot[i].taken) == seq)
			return true;
	return false;
}

/* After a death: a sent message no live worker holds while the task queue is empty was lost in a get. */
static void pool_watch_lost(ipcq_pool *p)
{
	if (!p->deaths || p->outstanding == p->pn)
		return;
	int q = ipcq_poll(p->tasks, IPCQ_NOWAIT);
	bool empty = q == IPCQ_EMPTY || q == IPCQ_EOF;
	int64_t now = ipcq__now_ns();
	for (uint32_t i = 0; i < p->cfg.capacity; i++) {
		struct pool_entry *e = &p->e[i];
		if (e->state != T_SENT)
			continue;
		if (!empty || pool_held(p, e->seq)) {
			e->suspect_since = 0;
		} else if (!e->suspect_since) {
			e->suspect_since = now;
		} else if (now - e->suspect_since > POOL_LOST_NS) {
			ipcq__fail(IPCQ_PEERDEAD, 0, "pool: a worker died while taking this task's message");
			uint64_t seq = e->seq;
			if (pool_fail_message(p, seq, IPCQ_PEERDEAD)) {
				/*
				 * Counted as ended now; should a live worker that was
				 * only slow to say it held the message answer it after
				 * all, its END must not count twice (sent - ended
				 * would wrap, and the "a worker may be idle" send rule
				 * would never fire again).
				 */
				p->ended_msgs++;
				p->given_up[seq % (sizeof p->given_up / sizeof p->given_up[0])] = seq;
			}
		}
	}
}

/* Reaps dead workers, fails what they held, starts replacements. */
static void pool_reap(ipcq_pool *p)
{
	p->last_reap = ipcq__now_ns();
	if (p->cfg.mode != IPCQ_POOL_PROCESS || p->in_reap)
		return;
	p->in_reap = true;
	bool any = false;
	int status[p->cfg.workers];
	bool dead[p->cfg.workers];
	for (unsigned i = 0; i < p->cfg.workers; i++) {
		dead[i] = false;
		if (p->w[i].pid <= 0)
			continue;
		pid_t r = waitpid(p->w[i].pid, &status[i], WNOHANG);
		if (r == p->w[i].pid || (r < 0 && errno == ECHILD)) {
			if (r < 0)
				status[i] = 0;
			dead[i] = any = true;
			p->w[i].pid = 0;
			/*
			 * EOF after the release: the tasks are all taken, a replacement
			 * would only see EOF too. Only a known clean exit holding no
			 * message: with SIGCHLD ignored (ECHILD) the status is unknown,
			 * and a task may exit(0).
			 */
			p->w[i].finished = r > 0 && p->released && WIFEXITED(status[i]) &&
			                   WEXITSTATUS(status[i]) == 0 && !atomic_load(&p->sh->slot[i].taken);
			p->deaths += !p->w[i].finished;
		}
	}
	if (any) {
		/* What the dead sent before dying counts: take it before failing the rest. */
		pool_drain_all(p);
		for (unsigned i = 0; i < p->cfg.workers; i++) {
			if (!dead[i])
				continue;
			uint64_t seq = atomic_load(&p->sh->slot[i].taken);
			ipcq__fail(IPCQ_PEERDEAD, 0, "pool: the worker running this task died");
			if (seq && pool_fail_message(p, seq, IPCQ_PEERDEAD))
				p->ended_msgs++;
			if (WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == POOL_EXIT_BROKEN)
				pool_torn(p);
		}
	}
	/* Replacements; a failed fork is retried at the next look, unless no worker is left. */
	unsigned alive = 0, live = 0;
	int st = IPCQ_OK;
	for (unsigned i = 0; i < p->cfg.workers; i++)
		alive += p->w[i].pid > 0;
	if (!alive && p->outstanding > 0) /* answers are missing and nobody is left: never wait on finished slots */
		for (unsigned i = 0; i < p->cfg.workers; i++)
			if (p->w[i].finished) {
				p->w[i].finished = false;
				p->deaths++; /* and let the lost-message watch look */
			}
	for (unsigned i = 0; i < p->cfg.workers; i++) {
		if (!p->w[i].pid && !p->w[i].finished && !p->terminated && !p->broken && !p->need_rebuild &&
		    (!p->closed || p->outstanding > 0)) {
			int s = pool_start(p, i);
			if (s != IPCQ_OK)
				st = s;
		}
		live += p->w[i].pid > 0;
	}
	if (!live && st != IPCQ_OK && p->outstanding) {
		pool_break(p); /* nobody could run what is queued: fail it rather than hang */
		p->broken_status = st;
	}
	p->in_reap = false;
}

static void pool_kill_workers(ipcq_pool *p)
{
	for (unsigned i = 0; i < p->cfg.workers; i++)
		if (p->w[i].pid > 0)
			kill(p->w[i].pid, SIGKILL);
	for (unsigned i = 0; i < p->cfg.workers; i++)
		if (p->w[i].pid > 0) {
			while (waitpid(p->w[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
			p->w[i].pid = 0;
		}
}

/*
 * New queues and workers after a queue was torn: what was sent and not
 * answered is lost with the old queues (PEERDEAD); what was still being
 * gathered goes out on the new ones.
 */
static void pool_rebuild(ipcq_pool *p)
{
	if (!p->need_rebuild || p->in_rebuild)
		return;
	p->need_rebuild = false;
	p->in_rebuild = true;
	pool_kill_workers(p);
	pool_drain_all(p); /* results that made it whole still count */
	ipcq_close(p->tasks);
	ipcq_close(p->results);
	p->tasks = p->results = NULL;
	int st = ipcq_open(p->mech, &p->qcfg, &p->tasks);
	if (st == IPCQ_OK)
		st = ipcq_open(p->mech, &p->qcfg, &p->results);
	atomic_store(&p->sh->results, 0);
	atomic_store(&p->sh->taken_bytes, 0);
	atomic_store(&p->sh->taken_msgs, p->sent_msgs);
	p->sent_bytes = 0;
	p->results_seen = 0;
	p->ended_msgs = p->sent_msgs;
	memset(p->given_up, 0, sizeof p->given_up);
	p->released = false;
	p->in_rebuild = false;
	if (st != IPCQ_OK) {
		char msg[400];
		snprintf(msg, sizeof msg, "pool: opening new queues after a worker tore one: %s", ipcq_errmsg(NULL));
		pool_fail(p, st, "%s", msg);
		pool_break(p);
		return;
	}
	for (unsigned i = 0; i < p->cfg.workers; i++)
		pool_start(p, i); /* a failed fork is retried by pool_reap */
	ipcq__fail(IPCQ_PEERDEAD, 0, "pool: a worker died mid-message and took the queue with it");
	pool_fail_message(p, 0, IPCQ_PEERDEAD);
}

/* --- Waiting ------------------------------------------------------------------------------ */

/* Drops the producer role once closed and nothing waits to be sent: workers then see EOF. */
static void pool_maybe_release(ipcq_pool *p)
{
	if ((p->closed || p->terminated) && !p->released && (!p->pn || p->terminated)) {
		ipcq_release(p->tasks, IPCQ_PRODUCER);
		p->released = true;
	}
}

/* One step of progress, waiting until dl at most (and POOL_SLICE_NS at most). */
static void pool_settle_terminated(ipcq_pool *p);

static void pool_step(ipcq_pool *p, ipcq_deadline dl)
{
	if (p->terminated) {
		pool_settle_terminated(p);
		return;
	}
	if (!p->broken)
		pool_flush(p);
	pool_maybe_release(p);
	uint64_t before = p->progress;
	pool_drain_fast(p);
	int64_t now = ipcq__now_ns();
	if (p->progress == before && !p->broken) {
		int64_t left = dl == IPCQ__NEVER ? POOL_SLICE_NS : dl - now;
		if (left > POOL_SLICE_NS)
			left = POOL_SLICE_NS;
		/* With the task queue full, room may come without any result: look again soon. */
		if (p->pn && left > 1000000)
			left = 1000000;
		if (left > 0 && pool_take(p, left) == IPCQ_OK)
			pool_drain_fast(p);
		now = ipcq__now_ns();
	}
	if (now - p->last_reap >= POOL_SLICE_NS || p->need_rebuild) {
		pool_reap(p);
		pool_rebuild(p);
		pool_watch_lost(p);
	}
}

/* --- Public calls ------------------------------------------------------------------------- */

static bool pool_list_add(ipcq_pool *p)
{
	pthread_mutex_lock(&pool_list_lock);
	if (pool_list_n == pool_list_cap) {
		size_t c = pool_list_cap ? 2 * pool_list_cap : 8;
		ipcq_pool **v = realloc(pool_list, c * sizeof *v);
		if (v) {
			pool_list = v;
			pool_list_cap = c;
		}
	}
	bool ok = pool_list_n < pool_list_cap;
	if (ok)
		pool_list[pool_list_n++] = p;
	pthread_mutex_unlock(&pool_list_lock);
	return ok;
}

static void pool_list_remove(ipcq_pool *p)
{
	pthread_mutex_lock(&pool_list_lock);
	for (size_t k = 0; k < pool_list_n; k++)
		if (pool_list[k] == p) {
			pool_list[k] = pool_list[--pool_list_n];
			break;
		}
	pthread_mutex_unlock(&pool_list_lock);
}

/* Frees everything but the struct, which stays as a tombstone. */
static void pool_free(ipcq_pool *p)
{
	pool_list_remove(p);
	ipcq_close(p->tasks);
	ipcq_close(p->results);
	p->tasks = p->results = NULL;
	if (p->w && p->cfg.mode == IPCQ_POOL_THREAD)
		for (unsigned i = 0; i < p->cfg.workers; i++) {
			free(p->w[i].in);
			free(p->w[i].out);
		}
	free(p->w);
	free(p->e);
	free(p->free_ix);
	free(p->pend_ix);
	free(p->pbuf);
	free(p->win);
	free(p->wout);
	for (int i = 0; i <= POOL_MAX_DEPTH; i++)
		free(p->rbuf[i]);
	ipcq__shm_free(p->sh, p->sh_size);
	p->w = NULL;
	p->e = NULL;
	p->free_ix = p->pend_ix = NULL;
	p->pbuf = p->win = p->wout = NULL;
	memset(p->rbuf, 0, sizeof p->rbuf);
	p->sh = NULL;
}

/* Stops every worker: SIGKILL for processes; threads finish their task and see EOF. */
static void pool_stop_workers(ipcq_pool *p)
{
	if (!p->w)
		return;
	if (p->cfg.mode == IPCQ_POOL_PROCESS) {
		pool_kill_workers(p);
		return;
	}
	if (p->sh)
		atomic_store(&p->sh->stop, 1);
	if (!p->released && p->tasks) {
		ipcq_release(p->tasks, IPCQ_PRODUCER);
		p->released = true;
	}
	for (unsigned i = 0; i < p->cfg.workers; i++)
		if (p->w[i].running) {
			pthread_join(p->w[i].thread, NULL);
			p->w[i].running = false;
		}
}

static const ipcq_mech *pool_default_mech(unsigned mode)
{
	static const char *const process[] = { "shmring", "pipe", "socketpair", "shmmgr", "mqueue" };
	static const char *const thread[] = { "inproc", "shmring", "pipe" };
	const char *const *names = mode == IPCQ_POOL_THREAD ? thread : process;
	size_t n = mode == IPCQ_POOL_THREAD ? 3 : 5;
	for (size_t i = 0; i < n; i++) {
		const ipcq_mech *m = ipcq_mech_find(names[i]);
		if (m)
			return m;
	}
	return NULL;
}

int ipcq_pool_open(const ipcq_pool_config *cfg, ipcq_pool **out)
{
	if (!out || !cfg) {
		int st = pool_fail(NULL, IPCQ_INVAL, "ipcq_pool_open: %s is NULL", out ? "cfg" : "the result pointer");
		return st;
	}
	*out = NULL;
	if (cfg->workers == 0)
		return pool_fail(NULL, IPCQ_INVAL, "ipcq_pool_open: workers is 0; ask for at least 1 worker");
	if (cfg->workers > 4096)
		return pool_fail(NULL, IPCQ_INVAL, "ipcq_pool_open: %u workers is more than 4096; ask for fewer",
		                 cfg->workers);
	if (cfg->mode != IPCQ_POOL_PROCESS && cfg->mode != IPCQ_POOL_THREAD)
		return pool_fail(NULL, IPCQ_INVAL,
		                 "ipcq_pool_open: mode %u is neither IPCQ_POOL_PROCESS (1) nor IPCQ_POOL_THREAD (2)",
		                 cfg->mode);
	const ipcq_mech *m = cfg->mech ? cfg->mech : pool_default_mech(cfg->mode);
	if (!m)
		return pool_fail(NULL, IPCQ_UNSUPPORTED, "ipcq_pool_open: no mechanism given and none built in");
	unsigned caps = ipcq_mech_caps(m);
	if (cfg->mode == IPCQ_POOL_PROCESS && !(caps & IPCQ_CAP_PROCESS))
		return pool_fail(NULL, IPCQ_UNSUPPORTED,
		                 "ipcq_pool_open: %s does not work across fork (no IPCQ_CAP_PROCESS); use a "
		                 "process mechanism such as shmring, or IPCQ_POOL_THREAD",
		                 ipcq_mech_name(m));
	if (cfg->mode == IPCQ_POOL_PROCESS && !(caps & IPCQ_CAP_EOF))
		return pool_fail(NULL, IPCQ_UNSUPPORTED,
		                 "ipcq_pool_open: %s cannot tell workers the pool closed (no IPCQ_CAP_EOF); "
		                 "use shmring or pipe", ipcq_mech_name(m));
	if (!(caps & IPCQ_CAP_MPMC) && cfg->workers > 1)
		return pool_fail(NULL, IPCQ_UNSUPPORTED,
		                 "ipcq_pool_open: %s has one consumer at most (no IPCQ_CAP_MPMC); use 1 worker",
		                 ipcq_mech_name(m));
	if (cfg->max_arg > UINT32_MAX || cfg->max_out > UINT32_MAX)
		return pool_fail(NULL, IPCQ_INVAL, "ipcq_pool_open: max_arg and max_out must be below 4 GiB");

	ipcq_pool *p = calloc(1, sizeof *p);
	if (!p)
		return pool_fail(NULL, IPCQ_LIMIT, "ipcq_pool_open: out of memory");
	p->cfg = *cfg;
	p->cfg.mech = p->mech = m;
	if (!p->cfg.max_arg)
		p->cfg.max_arg = POOL_DEFAULT_ARG;
	if (!p->cfg.max_out)
		p->cfg.max_out = POOL_DEFAULT_OUT;
	if (!p->cfg.capacity)
		p->cfg.capacity = POOL_DEFAULT_CAPACITY;
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, pool_atfork_once);
	p->owner = getpid();
	p->fork_gen = atomic_load(&pool_fork_gen);
	p->next_seq = 1;
	p->batch_limit = 1; /* until the workers say how long tasks take */

	size_t need_t = sizeof(struct pool_hdr) + sizeof(struct pool_task) + PAD8(p->cfg.max_arg);
	size_t need_r = sizeof(struct pool_hdr) + sizeof(struct pool_res) + PAD8(p->cfg.max_out);
	size_t mm = m->default_max_msg;
	if (mm < need_t)
		mm = need_t;
	if (mm < need_r)
		mm = need_r;
	p->max_msg = mm;

	int st = IPCQ_OK;
	struct sigaction sa;
	bool sigign = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
	ipcq_config qc = { .max_msg = mm, .flags = sigign ? IPCQ_SIGPIPE_IGNORED : 0 };
	p->qcfg = qc;
	if (!(caps & IPCQ_CAP_BOUNDED))
		p->stream_budget = POOL_STREAM_BUDGET;
	unsigned cap = p->cfg.capacity;
	p->e = calloc(cap, sizeof *p->e);
	p->free_ix = calloc(cap, sizeof *p->free_ix);
	p->pend_ix = calloc(cap, sizeof *p->pend_ix);
	p->w = calloc(p->cfg.workers, sizeof *p->w);
	p->pbuf = malloc(mm);
	p->sh_size = sizeof(struct pool_shared) + p->cfg.workers * sizeof(struct pool_slot);
	p->sh = ipcq__shm_alloc(p->sh_size);
	bool bufs = true;
	if (cfg->mode == IPCQ_POOL_PROCESS) {
		p->win = malloc(mm);
		p->wout = malloc(mm);
		bufs = p->win && p->wout;
	} else {
		for (unsigned i = 0; p->w && i < p->cfg.workers; i++) {
			p->w[i].in = malloc(mm);
			p->w[i].out = malloc(mm);
			bufs = bufs && p->w[i].in && p->w[i].out;
		}
	}
	if (!p->e || !p->free_ix || !p->pend_ix || !p->w || !p->pbuf || !p->sh || !bufs) {
		st = pool_fail(NULL, IPCQ_LIMIT, "ipcq_pool_open: out of memory for %u tasks of %zu bytes", cap, mm);
		goto fail;
	}
	for (unsigned i = 0; i < cap; i++)
		p->free_ix[i] = cap - 1 - i;
	p->nfree = cap;
	p->plen = sizeof(struct pool_hdr);

	st = ipcq_open(m, &qc, &p->tasks);
	if (st == IPCQ_OK)
		st = ipcq_open(m, &qc, &p->results);
	if (st != IPCQ_OK) {
		char msg[400];
		snprintf(msg, sizeof msg, "ipcq_pool_open: opening its %s queues: %s", ipcq_mech_name(m),
		         ipcq_errmsg(NULL));
		st = pool_fail(NULL, st, "%s", msg);
		goto fail;
	}
	if (!pool_list_add(p)) {
		st = pool_fail(NULL, IPCQ_LIMIT, "ipcq_pool_open: out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < p->cfg.workers; i++) {
		st = pool_start(p, i);
		if (st != IPCQ_OK) {
			char msg[400];
			snprintf(msg, sizeof msg, "ipcq_pool_open: %s", ipcq_errmsg(p));
			st = pool_fail(NULL, st, "%s", msg);
			goto fail;
		}
	}
	p->last_reap = ipcq__now_ns();
	*out = p;
	return IPCQ_OK;

fail:
	p->terminated = true;
	pool_stop_workers(p);
	pool_free(p);
	free(p);
	ipcq__err_bind(NULL, st);
	return st;
}

/* Queues one task in the message being filled; chunk 0: adaptive batching. */
static int pool_submit(ipcq_pool *p, ipcq_task_fn fn, const void *arg, size_t len, ipcq_done_fn done,
                       void *ctx, size_t chunk)
{
	if (!fn)
		return pool_fail(p, IPCQ_INVAL, "pool: the task function is NULL");
	if (len && !arg)
		return pool_fail(p, IPCQ_INVAL, "pool: arg is NULL with a non-zero length");
	if (len > p->cfg.max_arg)
		return pool_fail(p, IPCQ_TOOBIG,
		                 "pool: task argument of %zu bytes exceeds max_arg %zu; nothing was queued: "
		                 "open the pool with a larger max_arg",
		                 len, p->cfg.max_arg);
	/* Room: a table entry (capacity) and bytes in the message being filled. */
	size_t need = sizeof(struct pool_task) + PAD8(len);
	size_t cap = p->stream_budget && p->stream_budget < p->max_msg ? p->stream_budget : p->max_msg;
	while (!p->nfree || (p->pn && p->plen + need > cap)) {
		if (p->pn && p->plen + need > cap && pool_flush(p) == IPCQ_OK)
			continue;
		if (p->depth > POOL_MAX_DEPTH)
			return pool_fail(p, IPCQ_FULL, "pool: callbacks nested too deep to wait for room");
		pool_step(p, IPCQ__NEVER);
		if (p->broken || p->terminated)
			return pool_usable(p, "apply_async", true);
	}
	uint32_t ix = p->free_ix[--p->nfree];
	struct pool_entry *e = &p->e[ix];
	e->state = T_PENDING;
	e->seq = 0; /* the message it goes in is numbered when sent */
	e->suspect_since = 0;
	e->done = done;
	e->ctx = ctx;
	p->outstanding++;
	struct pool_task t = { .id = pool_id(p, ix), .fn = (uint64_t)(uintptr_t)fn, .len = (uint32_t)len };
	memcpy(p->pbuf + p->plen, &t, sizeof t);
	if (len)
		memcpy(p->pbuf + p->plen + sizeof t, arg, len);
	p->plen += need;
	p->pend_ix[p->pn++] = ix;
	/* Send now when a worker may be idle, else once the batch is full. */
	bool send = chunk ? p->pn >= chunk : (p->pn >= p->batch_limit || p->sent_msgs - p->ended_msgs < p->cfg.workers);
	if (send)
		pool_flush(p); /* FULL keeps the batch for the next call */
	return IPCQ_OK;
}

int ipcq_pool_apply_async(ipcq_pool *p, ipcq_task_fn fn, const void *arg, size_t len, ipcq_done_fn done,
                          void *ctx)
{
	int st = pool_usable(p, "ipcq_pool_apply_async", true);
	if (st != IPCQ_OK)
		return st;
	if (++p->submits % POOL_REAP_EVERY == 0 || p->need_rebuild) {
		pool_reap(p);
		pool_rebuild(p);
	}
	pool_drain_fast(p);
	return pool_submit(p, fn, arg, len, done, ctx, 0);
}

struct pool_into {
	bool done;
	int status;
	void *out;
	size_t cap;
	size_t *out_len;
};

static void pool_into_done(void *ctx, int status, const void *out, size_t len)
{
	struct pool_into *r = ctx;
	r->done = true;
	r->status = status;
	if (r->out_len)
		*r->out_len = len;
	if (status == IPCQ_OK && len > r->cap)
		r->status = IPCQ_TOOBIG;
	else if (status == IPCQ_OK && len)
		memcpy(r->out, out, len);
}

static const char *pool_result_text(int status)
{
	switch (status) {
	case IPCQ_PEERDEAD:
		return "the worker running it died (it was replaced)";
	case IPCQ_TOOBIG:
		return "its result did not fit: open the pool with a larger max_out, or give a larger buffer";
	case IPCQ_CLOSED:
		return "the pool was terminated before it ran";
	default:
		return ipcq_strstatus(status);
	}
}

/*
 * A call that waits for results must be able to take them: beyond
 * POOL_MAX_DEPTH nested callbacks it cannot (pool_take), and would wait for ever.
 */
static int pool_can_wait(ipcq_pool *p, const char *call)
{
	if (p->depth <= POOL_MAX_DEPTH)
		return IPCQ_OK;
	return pool_fail(p, IPCQ_INVAL,
	                 "%s: called from inside %u nested done-callbacks; results cannot be taken more than "
	                 "%d deep: wait from a shallower callback, or use ipcq_pool_apply_async",
	                 call, p->depth, POOL_MAX_DEPTH);
}

int ipcq_pool_apply(ipcq_pool *p, ipcq_task_fn fn, const void *arg, size_t len, void *out, size_t cap,
                    size_t *out_len)
{
	int st = pool_usable(p, "ipcq_pool_apply", true);
	if (st == IPCQ_OK)
		st = pool_can_wait(p, "ipcq_pool_apply");
	if (st != IPCQ_OK)
		return st;
	if (cap && !out)
		return pool_fail(p, IPCQ_INVAL, "ipcq_pool_apply: out is NULL with a non-zero cap");
	struct pool_into r = { .out = out, .cap = cap, .out_len = out_len };
	st = pool_submit(p, fn, arg, len, pool_into_done, &r, 1);
	if (st != IPCQ_OK)
		return st;
	while (!r.done)
		pool_step(p, IPCQ__NEVER);
	if (r.status != IPCQ_OK)
		return pool_fail(p, r.status, "ipcq_pool_apply: the task failed: %s", pool_result_text(r.status));
	return IPCQ_OK;
}

struct pool_map_ctx {
	size_t left;
	int first_fail; /* status of the lowest-numbered failed task */
	size_t first_ix;
};
struct pool_map_one {
	struct pool_map_ctx *m;
	size_t i;
	void *out;
	size_t cap;
	size_t *out_len;
};

static void pool_map_done(void *ctx, int status, const void *out, size_t len)
{
	struct pool_map_one *o = ctx;
	if (o->out_len)
		*o->out_len = len;
	if (status == IPCQ_OK && len > o->cap)
		status = IPCQ_TOOBIG;
	else if (status == IPCQ_OK && len)
		memcpy(o->out, out, len);
	if (status != IPCQ_OK && (!o->m->first_fail || o->i < o->m->first_ix)) {
		o->m->first_fail = status;
		o->m->first_ix = o->i;
	}
	o->m->left--;
}

int ipcq_pool_map(ipcq_pool *p, ipcq_task_fn fn, const void *args, size_t arg_len, size_t n, size_t chunk,
                  void *outs, size_t out_cap, size_t *out_lens)
{
	int st = pool_usable(p, "ipcq_pool_map", true);
	if (st == IPCQ_OK)
		st = pool_can_wait(p, "ipcq_pool_map");
	if (st != IPCQ_OK)
		return st;
	if ((n && arg_len && !args) || (n && out_cap && !outs))
		return pool_fail(p, IPCQ_INVAL, "ipcq_pool_map: args or outs is NULL with n > 0");
	if (!fn)
		return pool_fail(p, IPCQ_INVAL, "ipcq_pool_map: the task function is NULL");
	if (arg_len > p->cfg.max_arg)
		return pool_fail(p, IPCQ_TOOBIG,
		                 "ipcq_pool_map: arguments of %zu bytes exceed max_arg %zu; nothing was queued: "
		                 "open the pool with a larger max_arg",
		                 arg_len, p->cfg.max_arg);
	if (!n)
		return IPCQ_OK;
	if (!chunk) { /* as CPython: about four chunks per worker */
		chunk = n / (p->cfg.workers * 4u);
		if (n % (p->cfg.workers * 4u) || !chunk)
			chunk++;
	}
	struct pool_map_one *one = malloc(n * sizeof *one);
	if (!one)
		return pool_fail(p, IPCQ_LIMIT, "ipcq_pool_map: out of memory for %zu tasks", n);
	/* A batch of apply_async calls goes first, alone. */
	while (p->pn && pool_flush(p) != IPCQ_OK && !p->broken)
		pool_step(p, IPCQ__NEVER);
	struct pool_map_ctx m = { .left = n };
	size_t queued = 0;
	p->fixed_per = (unsigned)(chunk > UINT32_MAX ? UINT32_MAX : chunk);
	for (size_t i = 0; i < n; i++) {
		one[i] = (struct pool_map_one){ &m, i, (char *)outs + i * out_cap, out_cap,
			                        out_lens ? &out_lens[i] : NULL };
		size_t in_chunk = i % chunk;
		if (in_chunk == 0) /* every chunk in a message of its own */
			while (p->pn && pool_flush(p) != IPCQ_OK && !p->broken && !p->terminated)
				pool_step(p, IPCQ__NEVER);
		st = pool_submit(p, fn, (const char *)args + i * arg_len, arg_len, pool_map_done, &one[i],
		                 i + 1 == n ? (size_t)p->pn + 1 : chunk);
		if (st != IPCQ_OK)
			break;
		queued++;
	}
	if (!p->broken && !p->terminated)
		while (p->pn && pool_flush(p) != IPCQ_OK && !p->broken && !p->terminated)
			pool_step(p, IPCQ__NEVER);
	p->fixed_per = 0;
	m.left -= n - queued;
	while (m.left)
		pool_step(p, IPCQ__NEVER);
	free(one);
	if (st != IPCQ_OK)
		return st;
	if (m.first_fail)
		return pool_fail(p, m.first_fail, "ipcq_pool_map: task %zu failed: %s", m.first_ix,
		                 pool_result_text(m.first_fail));
	return IPCQ_OK;
}

/* After terminate: what finished is delivered, every other task gets CLOSED. */
static void pool_settle_terminated(ipcq_pool *p)
{
	pool_drain_all(p);
	ipcq__fail(IPCQ_CLOSED, 0, "pool: terminated before the task finished");
	for (uint32_t i = 0; i < p->cfg.capacity; i++)
		if (p->e[i].state != T_FREE)
			pool_finish(p, i, IPCQ_CLOSED, NULL, 0);
	p->pn = 0;
	p->plen = sizeof(struct pool_hdr);
}

int ipcq_pool_wait(ipcq_pool *p, int64_t timeout_ns)
{
	int st = pool_usable(p, "ipcq_pool_wait", false);
	if (st != IPCQ_OK)
		return st;
	if (p->terminated) {
		pool_settle_terminated(p);
		return IPCQ_OK;
	}
	ipcq_deadline dl = ipcq__deadline(timeout_ns);
	if (p->outstanding && dl != IPCQ__NOW && (st = pool_can_wait(p, "ipcq_pool_wait")) != IPCQ_OK)
		return st;
	for (;;) {
		if (!p->outstanding)
			return IPCQ_OK;
		if (dl == IPCQ__NOW) {
			pool_flush(p);
			pool_drain_fast(p);
			if (!p->outstanding)
				return IPCQ_OK;
			return IPCQ_EMPTY;
		}
		if (dl != IPCQ__NEVER && ipcq__now_ns() >= dl)
			return IPCQ_EMPTY;
		pool_step(p, dl);
	}
}

int ipcq_pool_close(ipcq_pool *p)
{
	int st = pool_usable(p, "ipcq_pool_close", false);
	if (st != IPCQ_OK)
		return st;
	if (p->closed)
		return pool_fail(p, IPCQ_CLOSED, "ipcq_pool_close: the pool was already closed");
	p->closed = true;
	if (!p->terminated && !p->broken)
		pool_flush(p);
	pool_maybe_release(p);
	return IPCQ_OK;
}

int ipcq_pool_terminate(ipcq_pool *p)
{
	int st = pool_usable(p, "ipcq_pool_terminate", false);
	if (st != IPCQ_OK)
		return st;
	if (p->terminated)
		return IPCQ_OK;
	p->terminated = true;
	pool_stop_workers(p);
	return IPCQ_OK;
}

int ipcq_pool_join(ipcq_pool *p)
{
	int st = pool_usable(p, "ipcq_pool_join", false);
	if (st != IPCQ_OK)
		return st;
	if (!p->closed && !p->terminated)
		return pool_fail(p, IPCQ_INVAL,
		                 "ipcq_pool_join: the pool is still running: call ipcq_pool_close or "
		                 "ipcq_pool_terminate first");
	if (p->depth)
		return pool_fail(p, IPCQ_INVAL, "ipcq_pool_join: called from inside a callback; join after it returns");
	while (p->outstanding && !p->terminated)
		pool_step(p, IPCQ__NEVER);
	pool_maybe_release(p);
	if (p->terminated) {
		pool_stop_workers(p);
		pool_settle_terminated(p);
	} else if (p->cfg.mode == IPCQ_POOL_PROCESS) {
		/* Everything answered, producer released: the workers see EOF and leave. */
		for (unsigned i = 0; i < p->cfg.workers; i++)
			if (p->w[i].pid > 0) {
				while (waitpid(p->w[i].pid, NULL, 0) < 0 && errno == EINTR)
					;
				p->w[i].pid = 0;
			}
	} else {
		pool_stop_workers(p);
	}
	pool_free(p);
	p->joined = true;
	ipcq__tombstone(p);
	return IPCQ_OK;
}
