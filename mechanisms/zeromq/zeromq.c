/*
 * zeromq.c - ZeroMQ (libzmq) over ipc:// as an ipcq mechanism.
 *
 * Why a broker and not PUSH/PULL straight between the processes: the queue
 * contract says a put is synchronous (once it returns OK any process can get
 * the message) and a TOOBIG get leaves the message for every consumer. Over
 * ipc://, PUSH/PULL keeps a sent message in the sender's or the receiver's
 * I/O thread: right after zmq_send a NOWAIT zmq_recv in the same process
 * missed it 970 times in 1000 here, a message put before fork() stays in the
 * parent's context, and one prefetched by a PULL in process A is lost to
 * process B (and for good when A dies). So each queue has one broker that
 * holds the messages, as a multiprocessing Manager's server does. Every
 * client thread talks to it over its own REQ socket; the broker is a ROUTER
 * and answers each request exactly once, by its deadline:
 *
 *   PUT(deadline, bytes)  -> OK (queued), FULL, BROKEN, CLOSED
 *   GET(deadline, cap)    -> OK + bytes, TOOBIG + size (the message stays), EMPTY, EOF
 *   POLL(deadline)        -> OK, EMPTY, EOF
 *
 * A request that cannot be answered yet is parked until the queue changes or
 * its deadline (absolute CLOCK_MONOTONIC, the same clock in every process)
 * passes, so timeouts are kept by one clock and a client waits only for its
 * reply: a signal interrupting that wait restarts it, and neither loses a
 * reply nor moves the deadline. A client never abandons a request.
 *
 * Lifetimes. The broker is a thread of the process that opened the queue
 * (the opener), started by open() with every signal blocked, on a socket
 * open() has already bound, so open() does not wait for it. A broker
 * *process* would outlive its opener, but two fork()s per open cost 5-30 ms
 * on a loaded 2-CPU VM (1000 pipe open/close cycles then missed the
 * battery's 30 s deadline); a thread costs about 0.2 ms. The price: the
 * queue ends with the opener. Other processes watch the opener through a
 * pidfd and then say PEERDEAD instead of waiting forever, and the next
 * zeromq open of any process of this user removes the directory it left.
 * The broker watches its own copies of the core's lifelines: no producer
 * left -> EOF once drained; no consumer left -> BROKEN; neither -> it
 * unlinks the socket, removes its private 0700 directory and ends.
 *
 * The broker publishes its message count in a shared page, counted before
 * a put is acknowledged: a NOWAIT get or poll that finds it 0 while
 * producers remain says EMPTY without a round trip (so NOWAIT does not
 * sleep), and qsize reads it.
 *
 * Fork. A zmq context is not fork-safe. Each process makes its own context
 * and sockets on its first call; a child that finds its parent's (the pid
 * differs) forgets them without closing them, keeping them reachable so leak
 * checkers stay quiet. Sockets are per thread, because a zmq socket is not
 * thread-safe and a thread parked in a blocking get must not stop another
 * thread's put.
 *
 * Sections: protocol - fork guard - broker - start - client - ops.
 */
#include "mech.h"

#include <zmq.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- Protocol ---------------------------------------------------------------- */

enum { ZQ_PUT = 1, ZQ_GET, ZQ_POLL };

struct zq_req {
	uint32_t op;
	uint32_t pid; /* the client's process, set by zq_call: a parked get of one that died takes nothing */
	int64_t dl;   /* absolute CLOCK_MONOTONIC ns; IPCQ__NOW / IPCQ__NEVER as in mech.h */
	uint64_t cap; /* GET: the client's buffer */
};

struct zq_rep {
	int32_t status;
	uint32_t pad;
	uint64_t n; /* GET: message length (OK, TOOBIG) */
};

/* --- Fork guard ------------------------------------------------------------------ */

/*
 * zmq_ctx_new, zmq_socket and zmq_ctx_term take process-wide locks inside
 * libzmq and libsodium (sodium_init's mutex). A fork() while another thread
 * holds one leaves the child's copy locked for good, and the child's first
 * zmq_ctx_new hangs (a harness echo peer did, forked just after open while
 * the broker thread was starting). So those calls run under one lock that
 * fork() takes first, through pthread_atfork.
 */
static pthread_mutex_t zq_fork_lock = PTHREAD_MUTEX_INITIALIZER;

static void zq_fork_prepare(void)
{
	pthread_mutex_lock(&zq_fork_lock);
}

static void zq_fork_done(void)
{
	pthread_mutex_unlock(&zq_fork_lock);
}

static void zq_fork_register(void)
{
	pthread_atfork(zq_fork_prepare, zq_fork_done, zq_fork_done);
}

/* Takes the guard (registering it with fork on first use). */
static void zq_guard(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, zq_fork_register);
	pthread_mutex_lock(&zq_fork_lock);
}

static void zq_unguard(void)
{
	pthread_mutex_unlock(&zq_fork_lock);
}

/* --- Broker -------------------------------------------------------------------- */

struct zb_msg {
	struct zb_msg *next;
	zmq_msg_t m;
};

/* One request, answered at once or parked in arrival order. */
struct zb_req {
	struct zb_req *next;
	zmq_msg_t id; /* the ROUTER routing id of the client's socket */
	struct zq_req rq;
	zmq_msg_t body; /* PUT's message; empty otherwise */
};

/* Shared by the broker and every client (MAP_SHARED, inherited). */
struct zq_shared {
	atomic_size_t count; /* messages queued; written by the broker only */
};

struct zbroker {
	void *sock;
	struct zq_shared *sh;
	struct zb_msg *head, **tail;
	size_t count, capacity;
	struct zb_req *parked;
	struct ipcq__life life; /* read ends only */
	bool prod_gone, cons_gone;
};

static void zb_free(struct zb_req *r)
{
	zmq_msg_close(&r->id);
	zmq_msg_close(&r->body);
	free(r);
}

/* Sends the reply to r and frees r. A client that has died is not there: ROUTER drops it. */
static void zb_answer(struct zbroker *b, struct zb_req *r, int status, uint64_t n, zmq_msg_t *body)
{
	struct zq_rep rp = { .status = status, .n = n };
	if (zmq_msg_send(&r->id, b->sock, ZMQ_SNDMORE) >= 0 && zmq_send(b->sock, "", 0, ZMQ_SNDMORE) >= 0 &&
	    zmq_send(b->sock, &rp, sizeof rp, body ? ZMQ_SNDMORE : 0) >= 0 && body)
		zmq_msg_send(body, b->sock, 0);
	if (body)
		zmq_msg_close(body);
	zb_free(r);
}

/*
 * Answers r if the queue lets it be answered now; false: park it. parked:
 * r waited, and its client may have died meanwhile - a get of a dead
 * process is dropped rather than handed the next message, which would go
 * with it (a consumer killed while it waited must take nothing).
 */
static bool zb_try(struct zbroker *b, struct zb_req *r, int64_t now, bool parked)
{
	switch (r->rq.op) {
	case ZQ_PUT:
		/* Only a thread racing its process's release, or a dead process, puts after the last producer. */
		if (b->prod_gone) {
			zb_answer(b, r, IPCQ_CLOSED, 0, NULL);
			return true;
		}
		if (b->cons_gone) {
			zb_answer(b, r, IPCQ_BROKEN, 0, NULL);
			return true;
		}
		if (b->count < b->capacity) {
			struct zb_msg *m = malloc(sizeof *m);
			if (!m)
				break; /* no memory now: park, and try again when something changes */
			m->next = NULL;
			zmq_msg_init(&m->m);
			zmq_msg_move(&m->m, &r->body);
			*b->tail = m;
			b->tail = &m->next;
			b->count++;
			atomic_store_explicit(&b->sh->count, b->count, memory_order_release);
			zb_answer(b, r, IPCQ_OK, 0, NULL);
			return true;
		}
		break;
	case ZQ_GET:
		if (b->head && parked && r->rq.pid && ipcq__pid_ended((pid_t)r->rq.pid)) {
			zb_free(r);
			return true;
		}
		if (b->head) {
			struct zb_msg *m = b->head;
			size_t size = zmq_msg_size(&m->m);
			if (size > r->rq.cap) {
				zb_answer(b, r, IPCQ_TOOBIG, size, NULL);
				return true;
			}
			b->head = m->next;
			if (!b->head)
				b->tail = &b->head;
			b->count--;
			atomic_store_explicit(&b->sh->count, b->count, memory_order_release);
			zb_answer(b, r, IPCQ_OK, size, &m->m);
			free(m);
			return true;
		}
		if (b->prod_gone) {
			zb_answer(b, r, IPCQ_EOF, 0, NULL);
			return true;
		}
		break;
	case ZQ_POLL:
		if (b->head || b->prod_gone) {
			zb_answer(b, r, b->head ? IPCQ_OK : IPCQ_EOF, 0, NULL);
			return true;
		}
		break;
	default:
		zb_answer(b, r, IPCQ_INVAL, 0, NULL);
		return true;
	}
	if (r->rq.dl <= now) {
		zb_answer(b, r, r->rq.op == ZQ_PUT ? IPCQ_FULL : IPCQ_EMPTY, 0, NULL);
		return true;
	}
	return false;
}

/*
 * One pass over the parked requests in arrival order. Parked puts (queue
 * full) and parked gets (queue empty) never coexist since capacity >= 1, so
 * answering one kind cannot unblock the other within the pass.
 */
static void zb_serve(struct zbroker *b)
{
	int64_t now = ipcq__now_ns();
	for (struct zb_req **pp = &b->parked; *pp;) {
		struct zb_req *r = *pp;
		*pp = r->next;
		if (!zb_try(b, r, now, true)) {
			r->next = *pp;
			*pp = r;
			pp = &r->next;
		}
	}
}

/*
 * Looks at the lifelines again. Called after each request is read: a client
 * releases before it sends, so the hang-up it caused is visible by then even
 * when zmq_poll looked at the descriptors before the request arrived.
 */
static void zb_refresh(struct zbroker *b)
{
	if (!b->prod_gone)
		b->prod_gone = ipcq__life_gone(&b->life, IPCQ_PRODUCER);
	if (!b->cons_gone)
		b->cons_gone = ipcq__life_gone(&b->life, IPCQ_CONSUMER);
}

/*
 * Reads one request: ROUTER frames id, empty delimiter, header[, body].
 * False when none is waiting; *out is NULL for one that is not ours (dropped).
 */
static bool zb_read(struct zbroker *b, struct zb_req **out)
{
	*out = NULL;
	zmq_msg_t f[4];
	int nf = 0;
	bool more = true, good = true;
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, b->sock, nf == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&m);
			if (nf == 0)
				return false;
			good = false;
			break;
		}
		more = zmq_msg_more(&m);
		if (nf < 4) {
			zmq_msg_init(&f[nf]);
			zmq_msg_move(&f[nf++], &m);
		} else {
			good = false;
		}
		zmq_msg_close(&m);
	}
	struct zq_req rq;
	if (good && nf >= 3 && zmq_msg_size(&f[1]) == 0 && zmq_msg_size(&f[2]) == sizeof rq) {
		memcpy(&rq, zmq_msg_data(&f[2]), sizeof rq);
		struct zb_req *r = (rq.op == ZQ_PUT) == (nf == 4) ? calloc(1, sizeof *r) : NULL;
		if (r) {
			r->rq = rq;
			zmq_msg_init(&r->id);
			zmq_msg_move(&r->id, &f[0]);
			zmq_msg_init(&r->body);
			if (nf == 4)
				zmq_msg_move(&r->body, &f[3]);
			*out = r;
		}
	}
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
	return true;
}

/* Milliseconds zmq_poll may sleep: until the earliest parked deadline, rounded up, or -1. */
static long zb_timeout_ms(const struct zbroker *b)
{
	int64_t first = IPCQ__NEVER;
	for (const struct zb_req *r = b->parked; r; r = r->next)
		if (r->rq.dl < first)
			first = r->rq.dl;
	if (first == IPCQ__NEVER)
		return -1;
	int64_t left = ipcq__remaining_ns(first);
	int64_t ms = (left + 999999) / 1000000;
	return ms > 3600000 ? 3600000 : (long)ms;
}

/* Serves until no process holds either role. */
static void zb_loop(struct zbroker *b)
{
	for (;;) {
		zb_refresh(b);
		zb_serve(b);
		if (b->prod_gone && b->cons_gone)
			return;
		zmq_pollitem_t it[3] = { { .socket = b->sock, .events = ZMQ_POLLIN } };
		int n = 1;
		/* A lifeline that has hung up stays readable: leave it out, or poll would spin. */
		if (!b->prod_gone)
			it[n++] = (zmq_pollitem_t){ .fd = ipcq__life_fd(&b->life, IPCQ_PRODUCER), .events = ZMQ_POLLIN };
		if (!b->cons_gone)
			it[n++] = (zmq_pollitem_t){ .fd = ipcq__life_fd(&b->life, IPCQ_CONSUMER), .events = ZMQ_POLLIN };
		if (zmq_poll(it, n, zb_timeout_ms(b)) < 0 && errno != EINTR)
			return;
		struct zb_req *r;
		while (zb_read(b, &r)) {
			if (!r)
				continue;
			zb_refresh(b);
			if (!zb_try(b, r, ipcq__now_ns(), false)) {
				struct zb_req **pp = &b->parked;
				while (*pp)
					pp = &(*pp)->next;
				*pp = r;
			} else {
				zb_serve(b); /* a put or a get changed the queue */
			}
		}
	}
}

/* --- Start ------------------------------------------------------------------------ */

/* What the broker thread owns; freed by whichever of it and the opener's close ends last. */
struct zb_args {
	int prod_fd, cons_fd; /* its own copies of the lifelines' read ends */
	int listen_fd;        /* bound and listening; zmq owns it once adopted */
	struct zq_shared *sh; /* also the opener's: unmapped by the last of the two */
	size_t capacity;
	char dir[96], endpoint[128];
	atomic_int refs;
};

static void zb_args_unref(struct zb_args *a)
{
	if (atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	ipcq__shm_free(a->sh, sizeof *a->sh);
	free(a);
}

/*
 * The broker thread of one queue, in the process that opened it. Clients
 * may have connected before it got here: the socket was listening already.
 * It ends once no process holds either role, removing socket and directory.
 */
static void *zb_thread(void *arg)
{
	struct zb_args *a = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL); /* the program's signals are for its own threads */
	struct zbroker b = { .capacity = a->capacity, .sh = a->sh };
	b.tail = &b.head;
	b.life = (struct ipcq__life){ .prod = { a->prod_fd, -1 }, .cons = { a->cons_fd, -1 } };
	zq_guard();
	void *ctx = zmq_ctx_new();
	b.sock = ctx ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
	int zero = 0;
	bool up = b.sock && zmq_setsockopt(b.sock, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
	          zmq_setsockopt(b.sock, ZMQ_USE_FD, &a->listen_fd, sizeof a->listen_fd) == 0 &&
	          zmq_bind(b.sock, a->endpoint) == 0;
	zq_unguard();
	if (up)
		zb_loop(&b);
	else
		close(a->listen_fd);
	/* Nobody holds the queue any more (or it never started: clients then wait on their own lifeline). */
	for (struct zb_req *r = b.parked, *next; r; r = next) {
		next = r->next;
		zb_free(r);
	}
	for (struct zb_msg *m = b.head, *next; m; m = next) {
		next = m->next;
		zmq_msg_close(&m->m);
		free(m);
	}
	zq_guard();
	if (b.sock)
		zmq_close(b.sock);
	if (ctx)
		while (zmq_ctx_term(ctx) != 0 && errno == EINTR)
			;
	zq_unguard();
	close(a->prod_fd);
	close(a->cons_fd);
	unlink(a->endpoint + strlen("ipc://"));
	rmdir(a->dir);
	zb_args_unref(a);
	return NULL;
}

/* --- Client -------------------------------------------------------------------------- */

struct zq_sock {
	pthread_t thread;
	void *sock;
};

/* What one process has made for one queue. */
struct zq_proc {
	pid_t pid;
	pthread_mutex_t lock; /* over ctx and socks */
	void *ctx;
	struct zq_sock *socks;
	size_t nsocks, capsocks;
	int opener_fd; /* pidfd of the process hosting the broker; -1 in that process */
	struct zq_proc *forgotten_next;
};

struct zeromq {
	bool have_life, have_dir, have_socket, have_broker;
	struct ipcq__life life;
	pid_t opener;         /* the process that opened the queue and runs its broker thread */
	pthread_t broker;     /* valid in the opener when have_broker */
	struct zb_args *args; /* shared with the broker thread, in the opener */
	struct zq_shared *sh;
	char dir[96];       /* private, 0700; the broker removes it */
	char endpoint[128]; /* ipc://<dir>/q */
	_Atomic(struct zq_proc *) proc;
};

/* Parents' contexts seen by children: never touched, kept reachable (LeakSanitizer). */
static _Atomic(struct zq_proc *) zq_forgotten;

static void zq_forget(struct zq_proc *p)
{
	if (p->opener_fd >= 0)
		close(p->opener_fd); /* a plain descriptor: ours to close, unlike the zmq objects */
	p->opener_fd = -1;
	p->forgotten_next = atomic_load(&zq_forgotten);
	while (!atomic_compare_exchange_weak(&zq_forgotten, &p->forgotten_next, p))
		;
}

static int zq_peerdead(const struct zeromq *q);

static int zq_zerr(const char *what)
{
	return ipcq__sys(errno, "zeromq: %s", what);
}

/* This thread's REQ socket to the broker, made on first use in this process and thread. */
static int zq_socket(struct zeromq *q, void **out)
{
	pid_t me = getpid();
	struct zq_proc *p = atomic_load(&q->proc);
	if (!p || p->pid != me) {
		struct zq_proc *fresh = calloc(1, sizeof *fresh);
		if (!fresh)
			return ipcq__sys(ENOMEM, "zeromq: allocating this process's client state");
		fresh->pid = me;
		fresh->opener_fd = -1;
		if (me != q->opener && (fresh->opener_fd = (int)syscall(SYS_pidfd_open, q->opener, 0)) < 0) {
			int e = errno;
			free(fresh);
			if (e == ESRCH)
				return zq_peerdead(q);
			return ipcq__sys(e, "zeromq: pidfd_open of the process that opened the queue");
		}
		pthread_mutex_init(&fresh->lock, NULL);
		if (atomic_compare_exchange_strong(&q->proc, &p, fresh)) {
			if (p)
				zq_forget(p); /* our parent's: its context must not be touched here */
			p = fresh;
		} else {
			if (fresh->opener_fd >= 0)
				close(fresh->opener_fd);
			pthread_mutex_destroy(&fresh->lock);
			free(fresh); /* another thread of this process won; p is its state */
		}
	}
	pthread_t self = pthread_self();
	int rc = IPCQ_OK;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nsocks; i++)
		if (pthread_equal(p->socks[i].thread, self)) {
			*out = p->socks[i].sock;
			pthread_mutex_unlock(&p->lock);
			return IPCQ_OK;
		}
	/*
	 * A thread id can come back after its thread ended; the socket then
	 * passes to the new thread, which is safe: a socket is idle between calls.
	 */
	zq_guard();
	if (!p->ctx)
		p->ctx = zmq_ctx_new();
	void *s = p->ctx ? zmq_socket(p->ctx, ZMQ_REQ) : NULL;
	zq_unguard();
	if (!s) {
		rc = zq_zerr(p->ctx ? "zmq_socket(ZMQ_REQ)" : "zmq_ctx_new");
		goto out;
	}
	if (p->nsocks == p->capsocks) {
		size_t cap = p->capsocks ? 2 * p->capsocks : 4;
		struct zq_sock *v = realloc(p->socks, cap * sizeof *v);
		if (!v) {
			rc = ipcq__sys(ENOMEM, "zeromq: allocating a socket table");
			zmq_close(s);
			goto out;
		}
		p->socks = v;
		p->capsocks = cap;
	}
	/*
	 * Both first process the socket's pending commands, a wait a signal can
	 * interrupt (EINTR) before they do anything: then they are simply retried.
	 */
	int zero = 0, r;
	do
		r = zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	while (r != 0 && zmq_errno() == EINTR);
	if (r == 0) /* (the loop this replaces gave up after one EINTR here: SYSERR under signals) */
		do
			r = zmq_connect(s, q->endpoint);
		while (r != 0 && zmq_errno() == EINTR);
	if (r != 0) {
		rc = ipcq__sys(errno, "zeromq: connecting to %s", q->endpoint);
		zmq_close(s);
		goto out;
	}
	p->socks[p->nsocks++] = (struct zq_sock){ .thread = self, .sock = s };
	*out = s;
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* True once the process hosting the broker has ended (never in that process itself). */
static bool zq_broker_gone(const struct zeromq *q)
{
	struct zq_proc *p = atomic_load(&q->proc);
	if (!p || p->opener_fd < 0)
		return false;
	struct pollfd pf = { .fd = p->opener_fd, .events = POLLIN };
	int r;
	do
		r = poll(&pf, 1, 0);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

static int zq_peerdead(const struct zeromq *q)
{
	/* The broker died with its process and cannot clean up: do it for it. */
	unlink(q->endpoint + strlen("ipc://"));
	rmdir(q->dir);
	return ipcq__fail(IPCQ_PEERDEAD, EPIPE,
	                  "zeromq: the process that opened this queue (pid %d) has ended, and the queue's "
	                  "broker with it: the queue is gone; keep the opener alive while others use it",
	                  (int)q->opener);
}

static int zq_send(const struct zeromq *q, void *s, const void *data, size_t n, int flags)
{
	while (zmq_send(s, data, n, flags) < 0) {
		if (errno == EINTR)
			continue;
		if (zq_broker_gone(q))
			return zq_peerdead(q);
		return zq_zerr("zmq_send to the broker");
	}
	return IPCQ_OK;
}

/*
 * One request and its reply. A GET reply's bytes go to buf (cap bytes; the
 * broker sends OK only when they fit). Waits for the reply however long the
 * broker takes: it answers by the request's deadline.
 */
static int zq_call(struct zeromq *q, const struct zq_req *rq, const void *body, size_t blen,
                   struct zq_rep *rp, void *buf, size_t cap)
{
	void *s = NULL;
	int rc = zq_socket(q, &s);
	if (rc != IPCQ_OK)
		return rc;
	struct zq_proc *p = atomic_load(&q->proc);
	struct zq_req req = *rq;
	req.pid = (uint32_t)p->pid; /* zq_socket made p this process's */
	bool put = rq->op == ZQ_PUT;
	if ((rc = zq_send(q, s, &req, sizeof req, put ? ZMQ_SNDMORE : 0)) != IPCQ_OK)
		return rc;
	if (put && (rc = zq_send(q, s, blen ? body : "", blen, 0)) != IPCQ_OK)
		return rc;
	for (;;) {
		zmq_pollitem_t it[2] = {
			{ .socket = s, .events = ZMQ_POLLIN },
			{ .fd = p->opener_fd, .events = ZMQ_POLLIN },
		};
		if (zmq_poll(it, p->opener_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return zq_zerr("zmq_poll");
		}
		if (it[0].revents & ZMQ_POLLIN)
			break;
		if (it[1].revents)
			return zq_peerdead(q);
	}
	int n;
	while ((n = zmq_recv(s, rp, sizeof *rp, 0)) < 0 && errno == EINTR)
		;
	if (n != (int)sizeof *rp)
		return n < 0 ? zq_zerr("zmq_recv from the broker")
		             : ipcq__fail(IPCQ_SYSERR, EPROTO, "zeromq: a malformed reply from the broker");
	int more = 0;
	size_t ml = sizeof more;
	zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
	if (more) {
		while ((n = zmq_recv(s, buf, cap, 0)) < 0 && errno == EINTR)
			;
		if (n < 0)
			return zq_zerr("zmq_recv of a message from the broker");
		if ((uint64_t)n != rp->n || (size_t)n > cap)
			return ipcq__fail(IPCQ_SYSERR, EPROTO, "zeromq: the broker sent %d bytes for a %llu-byte message",
			                  n, (unsigned long long)rp->n);
	}
	return IPCQ_OK;
}

/* --- Ops ------------------------------------------------------------------------------ */

static void zeromq_close(void *st)
{
	struct zeromq *q = st;
	bool opener = getpid() == q->opener;
	struct zq_proc *p = atomic_exchange(&q->proc, NULL);
	if (p && p->pid == getpid()) {
		zq_guard();
		for (size_t i = 0; i < p->nsocks; i++)
			zmq_close(p->socks[i].sock);
		if (p->ctx)
			while (zmq_ctx_term(p->ctx) != 0 && errno == EINTR)
				;
		zq_unguard();
		if (p->opener_fd >= 0)
			close(p->opener_fd);
		free(p->socks);
		pthread_mutex_destroy(&p->lock);
		free(p);
	} else if (p) {
		zq_forget(p);
	}
	if (q->have_life) {
		ipcq__life_release(&q->life, IPCQ_PRODUCER | IPCQ_CONSUMER);
		if (opener && q->have_broker) {
			/* Last holder anywhere: the broker is ending; wait, so its descriptors are gone on return. */
			if (ipcq__life_gone(&q->life, IPCQ_PRODUCER) && ipcq__life_gone(&q->life, IPCQ_CONSUMER))
				pthread_join(q->broker, NULL);
			else
				pthread_detach(q->broker);
		}
		ipcq__life_close(&q->life);
	}
	if (q->have_dir && !q->have_broker) { /* a failed open: no broker will */
		if (q->have_socket)
			unlink(q->endpoint + strlen("ipc://"));
		rmdir(q->dir);
	}
	if (q->args && opener) {
		zb_args_unref(q->args); /* unmaps sh if the broker has ended */
	} else {
		free(q->args); /* a child's copy of the opener's memory: nothing in it is live */
		ipcq__shm_free(q->sh, sizeof *q->sh);
	}
	q->args = NULL;
	q->sh = NULL;
	q->have_life = q->have_dir = q->have_socket = q->have_broker = false;
}

/* Where the queues' directories go: $TMPDIR when a socket path there fits a sockaddr_un, else /tmp. */
static const char *zq_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	return base && *base && strlen(base) <= 48 ? base : "/tmp";
}

/*
 * A process killed while it hosted brokers leaves their directories (the
 * socket inside keeps nobody alive). Once per process, remove those of
 * this user whose process (the pid in the name) is gone.
 */
static void zq_sweep(const char *base)
{
	static atomic_int swept_by; /* pid that swept; a forked child sweeps again, harmlessly */
	int me = (int)getpid();
	if (atomic_exchange(&swept_by, me) == me)
		return;
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid;
		char path[512]; /* base is at most 48 bytes, a name 255 */
		struct stat sb;
		if (sscanf(e->d_name, "ipcq-zmq-%d-", &pid) != 1 || pid <= 0 || (kill(pid, 0) != 0 ? errno != ESRCH : true))
			continue;
		snprintf(path, sizeof path, "%s/%s", base, e->d_name);
		if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
			continue;
		snprintf(path, sizeof path, "%s/%s/q", base, e->d_name);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s", base, e->d_name);
		rmdir(path);
	}
	closedir(d);
}

/*
 * The queue's socket, listening, in a private directory named after this
 * process (so a later process can tell a leftover from a live one). Bound here rather than in the broker
 * so open() need not wait for the broker to start. Returns the fd or -1.
 */
static int zq_listen(struct zeromq *q, int *fd)
{
	const char *base = zq_tmpdir();
	zq_sweep(base);
	snprintf(q->dir, sizeof q->dir, "%s/ipcq-zmq-%d-XXXXXX", base, (int)getpid());
	if (!mkdtemp(q->dir)) /* mode 0700: only this user can connect */
		return ipcq__sys(errno, "zeromq: mkdtemp %s", q->dir);
	q->have_dir = true;
	snprintf(q->endpoint, sizeof q->endpoint, "ipc://%s/q", q->dir);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s/q", q->dir);
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return ipcq__sys(errno, "zeromq: socket(AF_UNIX)");
	if (bind(*fd, (struct sockaddr *)&a, sizeof a) < 0 || (q->have_socket = true, listen(*fd, SOMAXCONN) < 0)) {
		int e = errno;
		close(*fd);
		return ipcq__sys(e, "zeromq: bind/listen %s", a.sun_path);
	}
	return IPCQ_OK;
}

static int zeromq_open(void *st, const ipcq_config *cfg)
{
	struct zeromq *q = st;
	if (cfg->endpoint)
		return ipcq__fail(IPCQ_UNSUPPORTED, 0,
		                  "zeromq: cfg.endpoint is not supported yet (queues use ipc:// in a private "
		                  "directory); leave it NULL");
	q->opener = getpid();
	int rc = ipcq__life_open(&q->life);
	if (rc != IPCQ_OK)
		return rc;
	q->have_life = true;
	if (!(q->sh = ipcq__shm_alloc(sizeof *q->sh)))
		return ipcq__sys(errno, "zeromq: mmap of the shared count");
	int lfd = -1;
	if ((rc = zq_listen(q, &lfd)) != IPCQ_OK)
		return rc;
	struct zb_args *a = calloc(1, sizeof *a);
	if (!a) {
		close(lfd);
		return ipcq__sys(ENOMEM, "zeromq: allocating the broker's state");
	}
	*a = (struct zb_args){ .listen_fd = lfd, .sh = q->sh, .capacity = cfg->capacity, .refs = 2 };
	memcpy(a->dir, q->dir, sizeof a->dir);
	memcpy(a->endpoint, q->endpoint, sizeof a->endpoint);
	a->prod_fd = fcntl(ipcq__life_fd(&q->life, IPCQ_PRODUCER), F_DUPFD_CLOEXEC, 0);
	a->cons_fd = fcntl(ipcq__life_fd(&q->life, IPCQ_CONSUMER), F_DUPFD_CLOEXEC, 0);
	int e = errno;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with every signal blocked */
	int prc = a->prod_fd < 0 || a->cons_fd < 0 ? -1 : pthread_create(&q->broker, NULL, zb_thread, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (prc != 0) {
		if (a->prod_fd >= 0)
			close(a->prod_fd);
		if (a->cons_fd >= 0)
			close(a->cons_fd);
		close(lfd);
		free(a);
		return prc < 0 ? ipcq__sys(e, "zeromq: dup of a lifeline") : ipcq__sys(prc, "zeromq: pthread_create of the broker");
	}
	q->args = a;
	q->have_broker = true;
	return IPCQ_OK;
}

static int zeromq_put(void *st, const void *msg, size_t len, ipcq_deadline dl)
{
	struct zeromq *q = st;
	struct zq_req rq = { .op = ZQ_PUT, .dl = dl };
	struct zq_rep rp;
	int rc = zq_call(q, &rq, msg, len, &rp, NULL, 0);
	if (rc != IPCQ_OK)
		return rc;
	if (rp.status == IPCQ_BROKEN)
		return ipcq__fail(IPCQ_BROKEN, EPIPE,
		                  "zeromq: put: no consumer is left (every process released, closed or died)");
	if (rp.status == IPCQ_CLOSED)
		return ipcq__fail(IPCQ_CLOSED, 0, "zeromq: put: the producer role was released during the put");
	return rp.status;
}

/*
 * True when a NOWAIT get or poll may say EMPTY without asking the broker.
 * With producers gone the answer may be EOF, and a put may land between the
 * two looks: the broker decides then.
 */
static bool zq_empty_now(const struct zeromq *q, ipcq_deadline dl)
{
	return dl == IPCQ__NOW && atomic_load_explicit(&q->sh->count, memory_order_acquire) == 0 &&
	       !ipcq__life_gone(&q->life, IPCQ_PRODUCER);
}

static int zeromq_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	struct zeromq *q = st;
	if (zq_empty_now(q, dl))
		return IPCQ_EMPTY;
	struct zq_req rq = { .op = ZQ_GET, .dl = dl, .cap = cap };
	struct zq_rep rp;
	int rc = zq_call(q, &rq, NULL, 0, &rp, buf, cap);
	if (rc != IPCQ_OK)
		return rc;
	if (rp.status == IPCQ_OK || rp.status == IPCQ_TOOBIG)
		*len = (size_t)rp.n;
	if (rp.status == IPCQ_TOOBIG)
		return ipcq__fail(IPCQ_TOOBIG, 0,
		                  "zeromq: get: message of %llu bytes does not fit the buffer of %zu bytes; it stays queued",
		                  (unsigned long long)rp.n, cap);
	return rp.status;
}

static int zeromq_poll(void *st, ipcq_deadline dl)
{
	if (zq_empty_now(st, dl))
		return IPCQ_EMPTY;
	struct zq_req rq = { .op = ZQ_POLL, .dl = dl };
	struct zq_rep rp;
	int rc = zq_call(st, &rq, NULL, 0, &rp, NULL, 0);
	return rc != IPCQ_OK ? rc : rp.status;
}

static int zeromq_qsize(void *st, size_t *n)
{
	struct zeromq *q = st;
	*n = atomic_load_explicit(&q->sh->count, memory_order_acquire);
	return IPCQ_OK;
}

static int zeromq_release(void *st, unsigned roles)
{
	struct zeromq *q = st;
	ipcq__life_release(&q->life, roles);
	return IPCQ_OK;
}

const struct ipcq_mech ipcq_mech_zeromq = {
	.version = IPCQ_MECH_VERSION,
	IPCQ_MECH_QUEUE_OPS(zeromq),
	.name = "zeromq",
	.summary = "ZeroMQ over ipc://: a broker thread (ROUTER) in the opening process holds the queue; REQ per client thread",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN |
	        IPCQ_CAP_HUGE | IPCQ_CAP_BOUNDED,
	.default_capacity = 1000, /* zmq's own default high-water mark */
	.default_max_msg = 1u << 20,
};
