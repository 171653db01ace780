/*
 * tests_wait.c - waiting: NOWAIT on empty and full, timed get/put/poll
 * (never early, late by at most max(50 ms, 25%)), blocking until the other
 * side acts (checked asleep through /proc), poll, and signals arriving every
 * few milliseconds during blocking calls.
 */
#include "tests.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- NOWAIT and timeouts ---------------------------------------------------------- */

void t_nowait_get_empty(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	char buf[64];
	size_t n;
	/* The fastest of three rounds: a loaded machine slows one round, a NOWAIT that sleeps slows all. */
	int64_t dt = INT64_MAX;
	for (int round = 0; round < 3 && dt >= 50 * CT_MS; round++) {
		int64_t t0 = ct_now();
		for (int i = 0; i < 100; i++)
			CT_ST(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q);
		CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
		int64_t t = ct_now() - t0;
		dt = t < dt ? t : dt;
	}
	CT_TRUE(dt < 50 * CT_MS, "100 NOWAIT gets on an empty queue took %.1f ms (fastest of 3 rounds)", dt / 1e6);
	/* put is synchronous: right after it returns a NOWAIT get finds the message. */
	for (uint32_t i = 0; i < 20; i++) {
		CT_PUT_MSG(q, 20, i, 1 + i, IPCQ_NOWAIT);
		CT_GET_MSG(q, 20, i, 1 + i, IPCQ_NOWAIT);
	}
	CT_OK(ipcq_close(q), q);
}

void t_nowait_put_full_then_room(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	size_t n = ct_fill(q, 64, 100000);
	CT_TRUE(n >= 1, "not even one message fitted");
	char same[64] = {0};
	CT_ST(ipcq_put(q, same, sizeof same, IPCQ_NOWAIT), IPCQ_FULL, q);
	CT_GET_MSG(q, 7, 0, 64, IPCQ_NOWAIT);
	/* One get makes room for one message of the same size... */
	CT_PUT_MSG(q, 7, (uint32_t)n, 64, IPCQ_NOWAIT);
	/* ...and no more where capacity counts messages (a byte stream may free more). */
	if (c->caps & IPCQ_CAP_BOUNDED)
		CT_ST(ipcq_put(q, same, sizeof same, IPCQ_NOWAIT), IPCQ_FULL, q);
	for (uint32_t i = 1; i <= n; i++)
		CT_GET_MSG(q, 7, i, 64, IPCQ_NOWAIT);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

void t_timed_get_empty(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	char buf[64];
	size_t n;
	CT_TIMED(ipcq_get(q, buf, sizeof buf, &n, 100 * CT_MS), IPCQ_EMPTY, 100 * CT_MS, q);
	CT_TIMED(ipcq_get(q, buf, sizeof buf, &n, 300 * CT_MS), IPCQ_EMPTY, 300 * CT_MS, q);
	CT_TIMED(ipcq_get(q, buf, sizeof buf, &n, 1 * CT_MS), IPCQ_EMPTY, 1 * CT_MS, q);
	CT_OK(ipcq_close(q), q);
}

void t_timed_put_full(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	ct_fill(q, 64, 100000);
	char buf[64] = {0};
	CT_TIMED(ipcq_put(q, buf, sizeof buf, 150 * CT_MS), IPCQ_FULL, 150 * CT_MS, q);
	CT_TIMED(ipcq_put(q, buf, sizeof buf, 2 * CT_MS), IPCQ_FULL, 2 * CT_MS, q);
	CT_OK(ipcq_close(q), q);
}

void t_timed_poll_empty(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	CT_TIMED(ipcq_poll(q, 120 * CT_MS), IPCQ_EMPTY, 120 * CT_MS, q);
	CT_OK(ipcq_close(q), q);
}

struct t_late {
	ipcq *q;
	int64_t delay;
	uint32_t count;
	size_t len;
};

static void t_late_producer(void *arg)
{
	struct t_late *l = arg;
	ct_sleep(l->delay);
	for (uint32_t i = 0; i < l->count; i++)
		CT_PUT_MSG(l->q, 21, i, l->len, CT_LONG);
}

void t_negative_timeout_waits(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	struct t_late *l = ct_shared(sizeof *l);
	*l = (struct t_late){.q = q, .delay = 150 * CT_MS, .count = 1, .len = 30};
	int64_t t0 = ct_now();
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_late_producer, l);
	CT_GET_MSG(q, 21, 0, 30, -12345); /* any negative timeout waits forever */
	CT_TRUE(ct_now() - t0 >= 140 * CT_MS, "the get returned before the put could have happened");
	ct_join(a);
	CT_OK(ipcq_close(q), q);
}

/* --- Blocked until the other side acts -------------------------------------------------- */

struct t_block {
	ipcq *q;
	atomic_int entering, done;
	int status;
};

static void t_blocked_getter(void *arg)
{
	struct t_block *b = arg;
	atomic_store(&b->entering, 1);
	CT_GET_MSG(b->q, 22, 0, 40, IPCQ_FOREVER);
	atomic_store(&b->done, 1);
}

void t_get_blocks_until_put(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	struct t_block *b = ct_shared(sizeof *b);
	b->q = q;
	struct ct_actor *a = ct_spawn(c, q, IPCQ_PRODUCER, t_blocked_getter, b);
	ct_wait_flag(&b->entering);
	ct_wait_sleeping(a);
	ct_sleep(20 * CT_MS);
	CT_TRUE(!atomic_load(&b->done), "the get returned with nothing queued");
	CT_PUT_MSG(q, 22, 0, 40, IPCQ_NOWAIT);
	ct_join(a);
	CT_TRUE(atomic_load(&b->done), "the actor finished without getting");
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

static void t_blocked_putter(void *arg)
{
	struct t_block *b = arg;
	atomic_store(&b->entering, 1);
	CT_PUT_MSG(b->q, 7, 100000, 64, IPCQ_FOREVER);
	atomic_store(&b->done, 1);
}

void t_put_blocks_until_room(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	size_t n = ct_fill(q, 64, 100000);
	struct t_block *b = ct_shared(sizeof *b);
	b->q = q;
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_blocked_putter, b);
	ct_wait_flag(&b->entering);
	ct_wait_sleeping(a);
	ct_sleep(20 * CT_MS);
	CT_TRUE(!atomic_load(&b->done), "the put returned into a full queue");
	CT_GET_MSG(q, 7, 0, 64, IPCQ_NOWAIT);
	ct_join(a);
	for (uint32_t i = 1; i < n; i++)
		CT_GET_MSG(q, 7, i, 64, IPCQ_NOWAIT);
	CT_GET_MSG(q, 7, 100000, 64, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

void t_poll_ready_nonconsuming(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_PUT_MSG(q, 23, 0, 17, IPCQ_NOWAIT);
	for (int i = 0; i < 5; i++)
		CT_OK(ipcq_poll(q, IPCQ_NOWAIT), q);
	int64_t t0 = ct_now();
	CT_OK(ipcq_poll(q, 500 * CT_MS), q);
	CT_TRUE(ct_now() - t0 < 50 * CT_MS, "poll with a message ready waited %.1f ms", (ct_now() - t0) / 1e6);
	if (c->caps & IPCQ_CAP_QSIZE) {
		size_t n = 0;
		CT_OK(ipcq_qsize(q, &n), q);
		CT_EQ(n, 1);
	}
	CT_GET_MSG(q, 23, 0, 17, IPCQ_NOWAIT);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

static void t_blocked_poller(void *arg)
{
	struct t_block *b = arg;
	atomic_store(&b->entering, 1);
	CT_OK(ipcq_poll(b->q, IPCQ_FOREVER), b->q);
	atomic_store(&b->done, 1);
	CT_GET_MSG(b->q, 24, 0, 9, IPCQ_NOWAIT);
}

void t_poll_wakes_on_put(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	struct t_block *b = ct_shared(sizeof *b);
	b->q = q;
	struct ct_actor *a = ct_spawn(c, q, IPCQ_PRODUCER, t_blocked_poller, b);
	ct_wait_flag(&b->entering);
	ct_wait_sleeping(a);
	CT_TRUE(!atomic_load(&b->done), "poll returned with nothing queued");
	CT_PUT_MSG(q, 24, 0, 9, IPCQ_NOWAIT);
	ct_join(a);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

#define T_POLL_BIG ((size_t)16 << 20)

static void t_poll_big_producer(void *arg)
{
	CT_PUT_MSG((ipcq *)arg, 27, 0, T_POLL_BIG, CT_LONG);
}

void t_poll_ok_means_get_succeeds(const struct ct_ctx *c)
{
	/* While a big put is still under way its message is not queued yet: poll must not say OK early. */
	ipcq *q = ct_open(c, 0, T_POLL_BIG);
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_poll_big_producer, q);
	int64_t end = ct_now() + CT_LONG;
	int st;
	while ((st = ipcq_poll(q, CT_MS)) == IPCQ_EMPTY && ct_now() < end)
		;
	CT_TRUE(st == IPCQ_OK, "poll -> %s while a 16 MiB put was under way", ipcq_strstatus(st));
	CT_GET_MSG(q, 27, 0, T_POLL_BIG, IPCQ_NOWAIT);
	ct_join(a);
	CT_OK(ipcq_close(q), q);
}

/* --- Signals during blocking calls ------------------------------------------------------ */

static volatile sig_atomic_t t_sig_count;

static void t_on_signal(int sig)
{
	(void)sig;
	int e = errno;
	t_sig_count++;
	errno = e;
}

struct t_storm {
	int sig;
	timer_t timer;
};

/* A handler for sig (SA_RESTART as asked) and a timer raising it every 2 ms in this process. */
static void t_storm_start(struct t_storm *s, int sig, bool restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = t_on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		CT_FAIL("sigaction(%d): %s", sig, strerror(errno));
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = sig;
	if (timer_create(CLOCK_MONOTONIC, &ev, &s->timer) != 0)
		CT_FAIL("timer_create: %s", strerror(errno));
	struct itimerspec its = {.it_value = {0, 2000000}, .it_interval = {0, 2000000}};
	if (timer_settime(s->timer, 0, &its, NULL) != 0)
		CT_FAIL("timer_settime: %s", strerror(errno));
	s->sig = sig;
	t_sig_count = 0;
}

/* Stops the timer; the storm must have really happened. */
static void t_storm_stop(struct t_storm *s, int64_t ran_ns)
{
	timer_delete(s->timer);
	int want = (int)(ran_ns / (20 * CT_MS)); /* a tenth of the 2 ms rate: scheduling slack */
	CT_TRUE(t_sig_count >= want, "only %d signals arrived in %.0f ms (expected at least %d)",
	        (int)t_sig_count, ran_ns / 1e6, want);
	signal(s->sig, SIG_IGN);
}

static void t_signals_get_timeout(const struct ct_ctx *c, int sig, bool restart)
{
	ipcq *q = ct_open(c, 4, 64);
	char buf[64];
	size_t n;
	struct t_storm s;
	int64_t t0 = ct_now();
	t_storm_start(&s, sig, restart);
	CT_TIMED(ipcq_get(q, buf, sizeof buf, &n, 250 * CT_MS), IPCQ_EMPTY, 250 * CT_MS, q);
	CT_TIMED(ipcq_poll(q, 100 * CT_MS), IPCQ_EMPTY, 100 * CT_MS, q);
	t_storm_stop(&s, ct_now() - t0);
	CT_OK(ipcq_close(q), q);
}

void t_signals_get_timeout_sigalrm(const struct ct_ctx *c)
{
	t_signals_get_timeout(c, SIGALRM, false);
}

void t_signals_get_timeout_sigusr1_restart(const struct ct_ctx *c)
{
	t_signals_get_timeout(c, SIGUSR1, true);
}

#define T_STORM_N 300
static size_t t_storm_len(uint32_t i, size_t max)
{
	size_t len = (i % 10 == 0) ? 5000 : 1 + (i * 53) % 300;
	return len > max ? max : len;
}

struct t_storm_peer {
	ipcq *q;
	size_t max;
};

static void t_storm_producer(void *arg)
{
	struct t_storm_peer *p = arg;
	for (uint32_t i = 0; i < T_STORM_N; i++) {
		if (i % 25 == 0)
			ct_sleep(3 * CT_MS); /* so the consumer blocks, and is interrupted while blocked */
		CT_PUT_MSG(p->q, 25, i, t_storm_len(i, p->max), CT_LONG);
	}
}

static void t_storm_consumer(void *arg)
{
	struct t_storm_peer *p = arg;
	for (uint32_t i = 0; i < T_STORM_N; i++) {
		if (i % 25 == 0)
			ct_sleep(3 * CT_MS); /* so the producer finds the queue full and blocks */
		CT_GET_MSG(p->q, 25, i, t_storm_len(i, p->max), CT_LONG);
	}
}

void t_signals_get_no_data_loss(const struct ct_ctx *c)
{
	const int sigs[2] = {SIGALRM, SIGUSR1};
	for (int k = 0; k < 2; k++) {
		ipcq *q = ct_open(c, 4, 8192);
		struct t_storm_peer *p = ct_shared(sizeof *p);
		*p = (struct t_storm_peer){.q = q, .max = 8192};
		struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_storm_producer, p);
		struct t_storm s;
		int64_t t0 = ct_now();
		t_storm_start(&s, sigs[k], k == 1);
		for (uint32_t i = 0; i < T_STORM_N; i++)
			CT_GET_MSG(q, 25, i, t_storm_len(i, 8192), CT_LONG);
		char buf[16];
		size_t n;
		CT_TIMED(ipcq_get(q, buf, sizeof buf, &n, 100 * CT_MS), IPCQ_EMPTY, 100 * CT_MS, q);
		t_storm_stop(&s, ct_now() - t0);
		ct_join(a);
		CT_OK(ipcq_close(q), q);
	}
}

void t_signals_put_timeout(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	ct_fill(q, 64, 100000);
	char buf[64] = {0};
	struct t_storm s;
	int64_t t0 = ct_now();
	t_storm_start(&s, SIGALRM, false);
	CT_TIMED(ipcq_put(q, buf, sizeof buf, 200 * CT_MS), IPCQ_FULL, 200 * CT_MS, q);
	t_storm_stop(&s, ct_now() - t0);
	t0 = ct_now();
	t_storm_start(&s, SIGUSR1, true);
	CT_TIMED(ipcq_put(q, buf, sizeof buf, 100 * CT_MS), IPCQ_FULL, 100 * CT_MS, q);
	t_storm_stop(&s, ct_now() - t0);
	CT_OK(ipcq_close(q), q);
}

void t_signals_put_no_data_loss(const struct ct_ctx *c)
{
	const int sigs[2] = {SIGALRM, SIGUSR1};
	for (int k = 0; k < 2; k++) {
		ipcq *q = ct_open(c, 4, 8192);
		struct t_storm_peer *p = ct_shared(sizeof *p);
		*p = (struct t_storm_peer){.q = q, .max = 8192};
		struct ct_actor *a = ct_spawn(c, q, IPCQ_PRODUCER, t_storm_consumer, p);
		struct t_storm s;
		int64_t t0 = ct_now();
		t_storm_start(&s, sigs[k], k == 1);
		for (uint32_t i = 0; i < T_STORM_N; i++)
			CT_PUT_MSG(q, 25, i, t_storm_len(i, 8192), CT_LONG);
		ct_join(a);
		t_storm_stop(&s, ct_now() - t0);
		CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
		CT_OK(ipcq_close(q), q);
	}
}

#define T_STORM_BIG ((size_t)3 << 20)

static void t_storm_big_consumer(void *arg)
{
	ipcq *q = arg;
	for (uint32_t i = 0; i < 4; i++) {
		ct_sleep(5 * CT_MS);
		CT_GET_MSG(q, 26, i, T_STORM_BIG - i, CT_LONG);
	}
}

void t_signals_huge_put_no_tear(const struct ct_ctx *c)
{
	/* Writes far beyond a kernel buffer are cut short by each signal; the frame must not be. */
	ipcq *q = ct_open(c, 0, T_STORM_BIG);
	struct ct_actor *a = ct_spawn(c, q, IPCQ_PRODUCER, t_storm_big_consumer, q);
	struct t_storm s;
	int64_t t0 = ct_now();
	t_storm_start(&s, SIGALRM, false);
	for (uint32_t i = 0; i < 4; i++)
		CT_PUT_MSG(q, 26, i, T_STORM_BIG - i, CT_LONG);
	ct_join(a);
	t_storm_stop(&s, ct_now() - t0);
	CT_OK(ipcq_close(q), q);
}

/* Ordinary calls leave the signal mask and SIGPIPE's disposition as they found them. */
void t_ops_leave_signal_state_alone(const struct ct_ctx *c)
{
	struct sigaction before, after;
	sigset_t mask_before, mask_after, pend;
	signal(SIGPIPE, SIG_DFL);
	sigaction(SIGPIPE, NULL, &before);
	sigemptyset(&mask_before);
	sigaddset(&mask_before, SIGUSR2);
	sigprocmask(SIG_SETMASK, &mask_before, NULL);
	ipcq *q = ct_open(c, 4, 64);
	ct_fill(q, 64, 100000);
	char buf[64] = {0};
	size_t n;
	CT_ST(ipcq_put(q, buf, 64, 5 * CT_MS), IPCQ_FULL, q);
	CT_OK(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), q);
	CT_OK(ipcq_poll(q, 5 * CT_MS), q);
	CT_OK(ipcq_close(q), q);
	sigaction(SIGPIPE, NULL, &after);
	sigprocmask(SIG_SETMASK, NULL, &mask_after);
	CT_TRUE(after.sa_handler == SIG_DFL, "SIGPIPE's disposition changed");
	for (int s = 1; s < 32; s++)
		CT_TRUE(sigismember(&mask_before, s) == sigismember(&mask_after, s),
		        "signal %d (SIG%s) is %s blocked after the calls", s, sigabbrev_np(s),
		        sigismember(&mask_after, s) ? "now" : "no longer");
	sigpending(&pend);
	CT_TRUE(!sigismember(&pend, SIGPIPE), "a SIGPIPE was left pending");
}

struct t_poller {
	ipcq *q;
	atomic_int status; /* poll's status + 1 once it returned */
	atomic_llong ns;   /* when it returned (ct_now) */
};

static void t_poller_main(void *arg)
{
	struct t_poller *p = arg;
	int st = ipcq_poll(p->q, 3 * CT_SEC);
	atomic_store(&p->ns, ct_now());
	atomic_store(&p->status, st + 1);
}

/*
 * A poller asleep is stopped (as a busy CPU might hold it off) while two
 * messages come and another consumer takes one: once it runs again, its
 * poll must see the one left, wherever the mechanism keeps it (a byte
 * stream's consumers share what one of them read ahead).
 */
void t_poll_sees_messages_read_ahead(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 64);
	struct t_poller *p = ct_shared(sizeof *p);
	p->q = q;
	struct ct_actor *a = ct_spawn_process(q, IPCQ_PRODUCER, t_poller_main, p);
	ct_wait_sleeping(a);
	kill(ct_actor_id(a), SIGSTOP);
	ct_sleep(50 * CT_MS);
	CT_PUT_MSG(q, 41, 0, 20, CT_SEC);
	CT_PUT_MSG(q, 41, 1, 20, CT_SEC);
	char b[64];
	size_t n;
	int g = ipcq_get(q, b, sizeof b, &n, IPCQ_NOWAIT); /* may find the poller in the way: EMPTY */
	CT_TRUE(g == IPCQ_OK || g == IPCQ_EMPTY, "NOWAIT get -> %s%s", ipcq_strstatus(g), ct_errmsg_suffix(q, g));
	int64_t t0 = ct_now();
	kill(ct_actor_id(a), SIGCONT);
	ct_join(a);
	CT_TRUE(atomic_load(&p->status) - 1 == IPCQ_OK, "the poll -> %s, expected IPCQ_OK",
	        ipcq_strstatus(atomic_load(&p->status) - 1));
	CT_TRUE(atomic_load(&p->ns) - t0 < CT_SEC, "the poll returned %lld ms after it could run again",
	        (long long)((atomic_load(&p->ns) - t0) / CT_MS));
	if (g != IPCQ_OK)
		CT_GET_MSG(q, 41, 0, 20, CT_SEC);
	CT_GET_MSG(q, 41, 1, 20, CT_SEC);
	CT_OK(ipcq_close(q), q);
}
