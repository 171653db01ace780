/*
 * io.c - a pool of workers running tasks that block, at a given concurrency
 * (= workers = tasks in flight): how close throughput comes to the ideal,
 * what a task's latency becomes, and what each worker costs in memory.
 *
 * Two tasks: `sleep` blocks in clock_nanosleep for the grain; `socket`
 * writes a request on the worker's own connection to a local AF_UNIX
 * server (an "answerer" thread of the benchmark process, using epoll and a
 * timerfd) and blocks in read until the answer, which the answerer sends
 * one grain after the request arrived. A worker connects on its first
 * socket task and keeps its connection (as a client keeps a database
 * connection). Every answer carries the request's token transformed, every
 * task reports how long it blocked; a wrong token or a task that blocked
 * less than the grain fails the row.
 *
 * The pool's capacity is the concurrency, so apply_async waits (running
 * callbacks) once that many tasks are in flight. Counters:
 *   tasks_per_second        callbacks run over the wall time, first
 *                           submission to last callback
 *   ideal_tasks_per_second  concurrency / grain
 *   of_ideal                tasks_per_second / ideal_tasks_per_second
 *   task_p50_ns task_p99_ns submission (apply_async) to callback, per task
 *   rss_per_worker_bytes, pss_per_worker_bytes, mem_per_worker_bytes (= pss):
 *     process mode: the mean over the workers of Rss and Pss in
 *     /proc/<worker pid>/smaps_rollup after the run (Pss divides each page
 *     among the processes that map it, so pages still shared copy-on-write
 *     with the owner count in part);
 *     thread mode: the growth of this process's Rss and Pss
 *     (/proc/self/smaps_rollup) from before ipcq_pool_open to after the
 *     run, divided by the workers (stacks touched, buffers, TLS).
 *   Both include the pool's own per-worker buffers; the thread figure also
 *   carries the pool's fixed cost (its queues, touched as they fill) divided
 *   among the workers, so rows with few workers overstate it, and the
 *   owner's heap moving meanwhile makes it noisy (even negative) when small.
 *
 * Sections: the answerer; tasks and callbacks; the run.
 */
#include "hist.h"
#include "peer.h"
#include "poolwl.h"
#include "stats.h"
#include "wlutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_MAGIC 0x5a17c0ffee0ddba1ull
#define MAX_CONNS 4096
#define RING 8192 /* pending answers: at most one per connection */

static const char *const task_names[IPCB_IO_COUNT] = { "sleep", "socket" };

const char *ipcb_io_task_name(int k)
{
	return k >= 0 && k < IPCB_IO_COUNT ? task_names[k] : NULL;
}

/* --- the answerer ------------------------------------------------------------ */

struct pending {
	int fd;
	uint64_t token, due;
};

struct answerer {
	int lfd, stopfd, tfd, ep;
	uint64_t delay_ns;
	pthread_t thread;
	bool running;
	struct pending ring[RING];
	size_t head, tail;
	int conn[MAX_CONNS]; /* accepted connections still open (-1: closed) */
	unsigned nconn;
	char why[200]; /* first failure, read after join */
};

static void abstract_addr(struct sockaddr_un *sa, socklen_t *len, pid_t owner, uint64_t gen)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "ipcb-io.%d.%llu", (int)owner,
	                 (unsigned long long)gen);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void arm(struct answerer *a)
{
	struct itimerspec its = { 0 };
	if (a->head != a->tail) {
		uint64_t due = a->ring[a->head % RING].due;
		its.it_value.tv_sec = (time_t)(due / 1000000000u);
		its.it_value.tv_nsec = (long)(due % 1000000000u);
	}
	timerfd_settime(a->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void *answerer_main(void *arg)
{
	struct answerer *a = arg;
	struct epoll_event ev[64];
	for (;;) {
		int n = epoll_wait(a->ep, ev, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(a->why, sizeof a->why, "answerer: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		bool rearm = false;
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == a->stopfd)
				return NULL;
			if (fd == a->tfd) {
				uint64_t x;
				if (read(a->tfd, &x, sizeof x) < 0) { /* nothing: spurious */ }
				rearm = true;
			} else if (fd == a->lfd) {
				int c = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
				if (c < 0)
					continue;
				if (a->nconn == MAX_CONNS) {
					close(c);
					continue;
				}
				a->conn[a->nconn++] = c;
				struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
				epoll_ctl(a->ep, EPOLL_CTL_ADD, c, &e);
			} else {
				uint64_t token;
				ssize_t r = recv(fd, &token, sizeof token, MSG_WAITALL);
				if (r != (ssize_t)sizeof token) {
					/* EOF (the worker left) or a broken request: forget the connection */
					epoll_ctl(a->ep, EPOLL_CTL_DEL, fd, NULL);
					for (size_t k = a->head; k != a->tail; k++)
						if (a->ring[k % RING].fd == fd)
							a->ring[k % RING].fd = -1;
					for (unsigned k = 0; k < a->nconn; k++)
						if (a->conn[k] == fd)
							a->conn[k] = -1;
					close(fd);
					continue;
				}
				if (a->tail - a->head == RING) {
					snprintf(a->why, sizeof a->why, "answerer: more than %d requests pending", RING);
					continue;
				}
				bool was_empty = a->head == a->tail;
				a->ring[a->tail++ % RING] = (struct pending){ fd, token, ipcb_now_ns() + a->delay_ns };
				rearm |= was_empty;
			}
		}
		/* The same delay for every request: due times come in order, a FIFO suffices. */
		uint64_t now = ipcb_now_ns();
		while (a->head != a->tail && a->ring[a->head % RING].due <= now) {
			struct pending *p = &a->ring[a->head++ % RING];
			uint64_t answer = p->token ^ TOKEN_MAGIC;
			if (p->fd >= 0 && send(p->fd, &answer, sizeof answer, MSG_NOSIGNAL) != (ssize_t)sizeof answer &&
			    !a->why[0])
				snprintf(a->why, sizeof a->why, "answerer: send: %s", strerror(errno));
			rearm = true;
		}
		if (rearm)
			arm(a);
	}
}

static void answerer_stop(struct answerer *a)
{
	if (a->running) {
		uint64_t one = 1;
		if (write(a->stopfd, &one, sizeof one) < 0) { /* cannot fail on an eventfd below its limit */ }
		pthread_join(a->thread, NULL);
		a->running = false;
	}
	for (unsigned k = 0; k < a->nconn; k++)
		if (a->conn[k] >= 0)
			close(a->conn[k]);
	a->nconn = 0;
	if (a->ep >= 0)
		close(a->ep);
	if (a->lfd >= 0)
		close(a->lfd);
	if (a->stopfd >= 0)
		close(a->stopfd);
	if (a->tfd >= 0)
		close(a->tfd);
	a->ep = a->lfd = a->stopfd = a->tfd = -1;
}

static int answerer_start(struct answerer *a, uint64_t delay_ns, pid_t owner, uint64_t gen, char *err, size_t errlen)
{
	a->delay_ns = delay_ns;
	a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a->stopfd = eventfd(0, EFD_CLOEXEC);
	a->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	a->ep = epoll_create1(EPOLL_CLOEXEC);
	struct sockaddr_un sa;
	socklen_t salen;
	abstract_addr(&sa, &salen, owner, gen);
	if (a->lfd < 0 || a->stopfd < 0 || a->tfd < 0 || a->ep < 0 || bind(a->lfd, (struct sockaddr *)&sa, salen) != 0 ||
	    listen(a->lfd, 1024) != 0) {
		snprintf(err, errlen, "io: the answerer's socket, eventfd, timerfd or epoll: %s", strerror(errno));
		answerer_stop(a);
		return -1;
	}
	int fds[3] = { a->lfd, a->stopfd, a->tfd };
	for (int i = 0; i < 3; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.fd = fds[i] };
		epoll_ctl(a->ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	int e = pthread_create(&a->thread, NULL, answerer_main, a);
	if (e) {
		snprintf(err, errlen, "io: starting the answerer thread: %s", strerror(e));
		answerer_stop(a);
		return -1;
	}
	a->running = true;
	return 0;
}

/* --- tasks and callbacks ------------------------------------------------------------ */

/* Connections workers opened, so thread mode can close them (MAP_SHARED). */
struct conn_list {
	atomic_uint n;
	int fd[MAX_CONNS];
};

struct io_arg {
	uint64_t t_submit, token, gen;
	uint32_t kind, grain_us;
	int32_t owner;
	uint32_t pad;
	struct conn_list *conns;
};

struct io_out {
	uint64_t t_submit, token, answer, blocked_ns;
	int32_t rc; /* 0, or an errno */
	uint32_t pad;
};

/* This worker's connection to the answerer of row `gen`. */
static _Thread_local struct {
	int fd;
	uint64_t gen;
} io_conn = { -1, 0 };

static int io_connect(const struct io_arg *a)
{
	if (io_conn.fd >= 0 && io_conn.gen == a->gen)
		return 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	struct sockaddr_un sa;
	socklen_t salen;
	abstract_addr(&sa, &salen, a->owner, a->gen);
	if (connect(fd, (struct sockaddr *)&sa, salen) != 0) {
		int e = errno;
		close(fd);
		return e;
	}
	unsigned i = atomic_fetch_add(&a->conns->n, 1);
	if (i < MAX_CONNS)
		a->conns->fd[i] = fd;
	io_conn.fd = fd;
	io_conn.gen = a->gen;
	return 0;
}

static void io_task(const void *arg, size_t len, void *out, size_t *out_len)
{
	struct io_arg a;
	struct io_out o = { 0 };
	if (len != sizeof a || *out_len < sizeof o) {
		*out_len = 0;
		return;
	}
	memcpy(&a, arg, sizeof a);
	o.t_submit = a.t_submit;
	o.token = a.token;
	uint64_t t0 = ipcb_now_ns();
	if (a.kind == IPCB_IO_SLEEP) {
		struct timespec ts = { (time_t)(a.grain_us / 1000000u), (long)(a.grain_us % 1000000u) * 1000 };
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
		o.answer = a.token ^ TOKEN_MAGIC;
	} else if ((o.rc = io_connect(&a)) == 0) {
		if (send(io_conn.fd, &a.token, sizeof a.token, MSG_NOSIGNAL) != (ssize_t)sizeof a.token)
			o.rc = errno ? errno : EIO;
		else if (recv(io_conn.fd, &o.answer, sizeof o.answer, MSG_WAITALL) != (ssize_t)sizeof o.answer)
			o.rc = errno ? errno : ECONNRESET;
		if (o.rc)
			io_conn.fd = -1; /* left open: conns holds it, and thread mode closes it at the end */
	}
	o.blocked_ns = ipcb_now_ns() - t0;
	memcpy(out, &o, sizeof o);
	*out_len = sizeof o;
}

struct io_run {
	struct ipcb_hist hist;
	uint64_t grain_ns;
	uint64_t done, bad;
	char why[240];
};

static void io_done(void *ctx, int status, const void *out, size_t len)
{
	struct io_run *r = ctx;
	uint64_t now = ipcb_now_ns();
	struct io_out o;
	r->done++;
	if (status != IPCQ_OK || len != sizeof o) {
		if (!r->bad++)
			snprintf(r->why, sizeof r->why, "a task ended %s with %zu result bytes", ipcq_strstatus(status), len);
		return;
	}
	memcpy(&o, out, sizeof o);
	if (o.rc || o.answer != (o.token ^ TOKEN_MAGIC) || o.blocked_ns < r->grain_ns) {
		if (!r->bad++)
			snprintf(r->why, sizeof r->why, "task %llu: %s (answer %016llx, blocked %llu ns of %llu)",
			         (unsigned long long)o.token, o.rc ? strerror(o.rc) : "wrong answer or woke early",
			         (unsigned long long)o.answer, (unsigned long long)o.blocked_ns,
			         (unsigned long long)r->grain_ns);
		return;
	}
	ipcb_hist_record(&r->hist, now - o.t_submit);
}

/* --- the run --------------------------------------------------------------------- */

static atomic_ullong io_gen; /* one answerer address per benchmark call */

static void io_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[400], cpus[64];
	struct ipcb_pin pin = { 0 };
	ipcq_pool *p = NULL;
	bool healthy = false;
	struct answerer *ans = calloc(1, sizeof *ans);
	struct io_run *r = calloc(1, sizeof *r);
	struct ipcb_pool_setup *s = ipcb_shared_alloc(sizeof *s, err, sizeof err);
	struct conn_list *conns = s ? ipcb_shared_alloc(sizeof *conns, err, sizeof err) : NULL;
	if (!ans || !r || !s || !conns) {
		ipcb_fail(st, "io: %s", ans && r ? err : "out of memory");
		goto out;
	}
	ans->lfd = ans->stopfd = ans->tfd = ans->ep = -1;
	ipcb_hist_reset(&r->hist);
	r->grain_ns = (uint64_t)c->grain_us * 1000;
	uint64_t gen = atomic_fetch_add(&io_gen, 1) + 1;
	if (c->variant == IPCB_IO_SOCKET && answerer_start(ans, r->grain_ns, getpid(), gen, err, sizeof err) != 0) {
		ipcb_fail(st, "%s", err);
		goto out;
	}
	double rss0 = 0, pss0 = 0;
	bool mem_ok = ipcb_proc_mem(0, &rss0, &pss0) == 0;

	ipcq_pool_config cfg = ipcb_pool_config(c, c->workers, sizeof(struct io_arg), sizeof(struct io_out));
	int rc = ipcq_pool_open(&cfg, &p);
	if (rc != IPCQ_OK) {
		ipcb_fail(st, "io: ipcq_pool_open with %u workers: %s", c->workers, ipcb_status_text(rc, NULL, err, sizeof err));
		p = NULL;
		goto out;
	}
	ipcb_pool_cpus(c, s, c->workers, cpus, sizeof cpus);
	if (ipcb_pool_setup_run(p, s, c->workers, err, sizeof err) != 0) {
		ipcb_fail(st, "io: %s", err);
		goto out;
	}
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "io: %s", err);
		goto out;
	}

	struct io_arg a = { .gen = gen, .kind = (uint32_t)c->variant, .grain_us = c->grain_us, .owner = getpid(),
		            .conns = conns };
	uint64_t submitted = 0;
	uint64_t t0 = ipcb_now_ns();
	while (ipcb_gb_keep_running(st)) {
		a.token = submitted * 0x9e3779b97f4a7c15ull + 1;
		a.t_submit = ipcb_now_ns();
		if ((rc = ipcq_pool_apply_async(p, io_task, &a, sizeof a, io_done, r)) != IPCQ_OK)
			break;
		submitted++;
		if (r->bad)
			break;
	}
	uint64_t t1;
	if (!ipcb_pool_finish(st, p, "io", rc, submitted, &r->done, &r->bad, r->why, &t1))
		goto out;
	if (ans->why[0]) {
		ipcb_fail(st, "io: %s", ans->why);
		goto out;
	}

	/* Memory while every worker is still there, after it ran tasks. */
	double rss = 0, pss = 0;
	if (c->mode == IPCB_MODE_PROCESS) {
		unsigned k = 0;
		for (unsigned i = 0; i < c->workers; i++) {
			double wr, wp;
			if (ipcb_proc_mem(s->pid[i], &wr, &wp) == 0) {
				rss += wr;
				pss += wp;
				k++;
			}
		}
		mem_ok = k == c->workers;
		rss /= k ? k : 1;
		pss /= k ? k : 1;
	} else {
		double rss1, pss1;
		mem_ok = mem_ok && ipcb_proc_mem(0, &rss1, &pss1) == 0;
		rss = (rss1 - rss0) / c->workers;
		pss = (pss1 - pss0) / c->workers;
	}

	healthy = true;
	double secs = (double)(t1 - t0) / 1e9, tps = (double)r->done / secs;
	double ideal = (double)c->workers * 1e6 / (double)c->grain_us;
	ipcb_gb_counter(st, "tasks_per_second", tps, IPCB_GB_COUNTER_DEFAULT);
	ipcb_gb_counter(st, "ideal_tasks_per_second", ideal, IPCB_GB_COUNTER_DEFAULT);
	ipcb_gb_counter(st, "of_ideal", tps / ideal, IPCB_GB_COUNTER_DEFAULT);
	ipcb_gb_counter(st, "task_p50_ns", (double)ipcb_hist_percentile(&r->hist, 0.5), IPCB_GB_COUNTER_DEFAULT);
	ipcb_gb_counter(st, "task_p99_ns", (double)ipcb_hist_percentile(&r->hist, 0.99), IPCB_GB_COUNTER_DEFAULT);
	if (mem_ok) {
		ipcb_gb_counter(st, "rss_per_worker_bytes", rss, IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "pss_per_worker_bytes", pss, IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "mem_per_worker_bytes", pss, IPCB_GB_COUNTER_DEFAULT);
	}
	ipcb_gb_set_label(st, cpus);
out:
	ipcb_unpin_self(&pin);
	ipcb_pool_end(p, healthy);
	if (ans)
		answerer_stop(ans);
	if (conns && c->mode == IPCB_MODE_THREAD) /* process workers took theirs with them */
		for (unsigned i = 0; i < atomic_load(&conns->n) && i < MAX_CONNS; i++)
			close(conns->fd[i]);
	free(ans);
	free(r);
	ipcb_shared_free(conns, sizeof *conns);
	ipcb_shared_free(s, sizeof *s);
}

const struct ipcb_workload ipcb_workload_io = {
	.name = "io",
	.summary = "pool of workers blocking in a sleep or a local socket read x concurrency "
	           "(tasks_per_second against the ideal, task p99, memory per worker)",
	.run = io_run,
	.opts = { .real_time = true },
};
