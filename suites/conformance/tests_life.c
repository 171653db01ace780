/*
 * tests_life.c - who holds the queue: many producers and consumers, fork
 * with items pending, EOF (after drain, waiting for every producer, waking
 * every consumer, producer death), BROKEN (dead consumers, SIGPIPE left
 * alone), and CLOSED after close or release.
 *
 * Sections: MPMC - fork - EOF - BROKEN - CLOSED.
 */
#include "tests.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- MPMC ------------------------------------------------------------------------------ */

#define T_NP 4
#define T_NC 4
#define T_PER 2000
#define T_STOP 0xffffffffu

struct t_mpmc {
	ipcq *q;
	size_t max;
	bool use_eof;
	uint32_t per;
	atomic_uchar seen[T_NP][T_PER];
	atomic_int got[T_NC];
};

/* Message s of producer p: frames above PIPE_BUF now and then, for the writer lock. */
static size_t t_mpmc_len(uint32_t p, uint32_t s, size_t max)
{
	size_t len = (s % 50 == 7) ? 5000 : 8 + (p * 7 + s * 13) % 200;
	return len > max ? max : len;
}

static void t_mpmc_encode(unsigned char *buf, uint32_t p, uint32_t s, size_t len)
{
	ct_pattern(buf, len, p, s);
	memcpy(buf, &p, 4);
	memcpy(buf + 4, &s, 4);
}

static struct t_mpmc *t_mpmc_arg;

static void t_mpmc_producer(void *arg)
{
	struct t_mpmc *m = t_mpmc_arg;
	uint32_t p = (uint32_t)(uintptr_t)arg;
	unsigned char *buf = malloc(m->max);
	for (uint32_t s = 0; s < m->per; s++) {
		size_t len = t_mpmc_len(p, s, m->max);
		t_mpmc_encode(buf, p, s, len);
		CT_OK(ipcq_put(m->q, buf, len, CT_LONG), m->q);
	}
	free(buf);
}

static void t_mpmc_consumer(void *arg)
{
	struct t_mpmc *m = t_mpmc_arg;
	uint32_t me = (uint32_t)(uintptr_t)arg;
	unsigned char *buf = malloc(m->max), *want = malloc(m->max);
	int64_t last[T_NP] = {-1, -1, -1, -1};
	for (;;) {
		size_t n = 0;
		int st = ipcq_get(m->q, buf, m->max, &n, CT_LONG);
		if (st == IPCQ_EOF && m->use_eof)
			break;
		if (st != IPCQ_OK)
			CT_FAIL("consumer %u: `ipcq_get` -> %s after %d messages, expected IPCQ_OK%s", me,
			        ipcq_strstatus(st), atomic_load(&m->got[me]), ct_errmsg_suffix(m->q, st));
		uint32_t p, s;
		CT_TRUE(n >= 8, "consumer %u got a %zu-byte message, shorter than any sent", me, n);
		memcpy(&p, buf, 4);
		memcpy(&s, buf + 4, 4);
		if (p == T_STOP && !m->use_eof)
			break;
		CT_TRUE(p < T_NP && s < m->per, "consumer %u got a message from producer %u seq %u", me, p, s);
		size_t len = t_mpmc_len(p, s, m->max);
		CT_TRUE(n == len, "consumer %u: message %u/%u is %zu bytes, expected %zu", me, p, s, n, len);
		t_mpmc_encode(want, p, s, len);
		CT_MEM(buf, want, len);
		CT_TRUE((int64_t)s > last[p], "consumer %u got %u/%u after %u/%lld: reordered or duplicated",
		        me, p, s, p, (long long)last[p]);
		last[p] = s;
		unsigned char before = atomic_fetch_add(&m->seen[p][s], 1);
		CT_TRUE(before == 0, "message %u/%u delivered twice", p, s);
		atomic_fetch_add(&m->got[me], 1);
	}
	free(buf);
	free(want);
}

static void t_mpmc_run(const struct ct_ctx *c, bool use_eof, uint32_t per)
{
	ipcq *q = ct_open(c, 0, 0);
	ipcq_config cfg;
	CT_OK(ipcq_get_config(q, &cfg), q);
	struct t_mpmc *m = ct_shared(sizeof *m);
	m->q = q;
	m->max = cfg.max_msg < 8192 ? cfg.max_msg : 8192;
	m->use_eof = use_eof;
	m->per = per;
	t_mpmc_arg = m;
	struct ct_actor *cons[T_NC], *prod[T_NP];
	for (uintptr_t i = 0; i < T_NC; i++)
		cons[i] = ct_spawn(c, q, IPCQ_PRODUCER, t_mpmc_consumer, (void *)i);
	for (uintptr_t i = 0; i < T_NP; i++)
		prod[i] = ct_spawn(c, q, IPCQ_CONSUMER, t_mpmc_producer, (void *)i);
	for (int i = 0; i < T_NP; i++)
		ct_join(prod[i]);
	if (use_eof) {
		CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	} else {
		/* FIFO: every data message is taken before the first stop. */
		for (uint32_t i = 0; i < T_NC; i++) {
			uint32_t stop[2] = {T_STOP, i};
			CT_OK(ipcq_put(q, stop, sizeof stop, CT_LONG), q);
		}
	}
	for (int i = 0; i < T_NC; i++)
		ct_join(cons[i]);
	int total = 0;
	for (int i = 0; i < T_NC; i++)
		total += atomic_load(&m->got[i]);
	for (uint32_t p = 0; p < T_NP; p++)
		for (uint32_t s = 0; s < per; s++)
			CT_TRUE(atomic_load(&m->seen[p][s]) == 1, "message %u/%u was delivered %d times (%d of %u in all)",
			        p, s, atomic_load(&m->seen[p][s]), total, T_NP * per);
	CT_EQ_I(total, T_NP * per);
	ipcq_close(q);
}

void t_mpmc_4x4(const struct ct_ctx *c)
{
	t_mpmc_run(c, false, T_PER);
}

void t_mpmc_4x4_until_eof(const struct ct_ctx *c)
{
	t_mpmc_run(c, true, 500);
}

/* Threads sharing one handle in one process, whatever the mechanism's kind. */
struct t_thr {
	ipcq *q;
	atomic_int sum;
};

static void *t_thr_producer(void *arg)
{
	struct t_thr *t = arg;
	for (uint32_t s = 0; s < 500; s++) {
		uint32_t v = s;
		CT_OK(ipcq_put(t->q, &v, sizeof v, CT_LONG), t->q);
	}
	return NULL;
}

static void *t_thr_consumer(void *arg)
{
	struct t_thr *t = arg;
	for (int i = 0; i < 500; i++) {
		uint32_t v = 0;
		size_t n = 0;
		CT_OK(ipcq_get(t->q, &v, sizeof v, &n, CT_LONG), t->q);
		CT_EQ(n, 4);
		atomic_fetch_add(&t->sum, (int)v);
	}
	return NULL;
}

void t_threads_share_one_handle(const struct ct_ctx *c)
{
	struct t_thr t = {.q = ct_open(c, 0, 64)};
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&th[i], NULL, i < 2 ? t_thr_producer : t_thr_consumer, &t))
			CT_FAIL("pthread_create failed");
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CT_EQ_I(atomic_load(&t.sum), 2 * (499 * 500 / 2));
	CT_ST(ipcq_poll(t.q, IPCQ_NOWAIT), IPCQ_EMPTY, t.q);
	CT_OK(ipcq_close(t.q), t.q);
}

/* --- fork ------------------------------------------------------------------------------- */

static void t_pending_child(void *arg)
{
	ipcq *q = arg;
	for (uint32_t i = 0; i < 3; i++)
		CT_GET_MSG(q, 30, i, 100 + i, IPCQ_NOWAIT); /* put returned before fork: already there */
	char b[8];
	size_t n;
	CT_ST(ipcq_get(q, b, sizeof b, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q);
}

void t_fork_with_pending_items(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 200);
	for (uint32_t i = 0; i < 3; i++)
		CT_PUT_MSG(q, 30, i, 100 + i, IPCQ_NOWAIT);
	ct_join(ct_spawn_process(q, IPCQ_PRODUCER, t_pending_child, q));
	/* One queue, not a copy: the child took them. */
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_PUT_MSG(q, 30, 9, 9, IPCQ_NOWAIT);
	CT_GET_MSG(q, 30, 9, 9, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

static void t_closer(void *arg)
{
	ipcq *q = arg;
	CT_OK(ipcq_close(q), q);
}

void t_close_in_child_keeps_queue(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 200);
	CT_PUT_MSG(q, 31, 0, 50, IPCQ_NOWAIT);
	ct_join(ct_spawn_process(q, 0, t_closer, q));
	/* This process still holds both roles: no EOF, no BROKEN, the message still there. */
	CT_GET_MSG(q, 31, 0, 50, IPCQ_NOWAIT);
	char b[8];
	size_t n;
	CT_ST(ipcq_get(q, b, sizeof b, &n, 50 * CT_MS), IPCQ_EMPTY, q);
	CT_PUT_MSG(q, 31, 1, 50, IPCQ_NOWAIT);
	CT_GET_MSG(q, 31, 1, 50, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

/* --- EOF ------------------------------------------------------------------------------------ */

void t_eof_after_drain(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 200);
	for (uint32_t i = 0; i < 5; i++)
		CT_PUT_MSG(q, 32, i, 1 + 40 * i, IPCQ_NOWAIT);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	CT_OK(ipcq_poll(q, IPCQ_NOWAIT), q);
	for (uint32_t i = 0; i < 5; i++)
		CT_GET_MSG(q, 32, i, 1 + 40 * i, IPCQ_NOWAIT);
	char b[8];
	size_t n;
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EOF, q);
	int64_t t0 = ct_now();
	CT_ST(ipcq_get(q, b, sizeof b, &n, IPCQ_FOREVER), IPCQ_EOF, q);
	CT_ST(ipcq_get(q, b, sizeof b, &n, CT_SEC), IPCQ_EOF, q); /* and it stays EOF */
	CT_ST(ipcq_poll(q, CT_SEC), IPCQ_EOF, q);
	CT_TRUE(ct_now() - t0 < 100 * CT_MS, "EOF took %.1f ms to say", (ct_now() - t0) / 1e6);
	CT_ST(ipcq_put(q, "x", 1, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_OK(ipcq_close(q), q);
}

struct t_eofp {
	ipcq *q;
	atomic_int released, go, release_now;
	uint32_t who, count;
};

static void t_eof_producer(void *arg)
{
	struct t_eofp *e = arg;
	for (uint32_t i = 0; i < e->count; i++)
		CT_PUT_MSG(e->q, e->who, i, 20 + i % 100, CT_LONG);
	ct_wait_flag(&e->release_now);
	CT_OK(ipcq_release(e->q, IPCQ_PRODUCER), e->q);
	atomic_store(&e->released, 1);
	/* Stay alive: the EOF must come from the release, not from our exit. */
	int64_t end = ct_now() + 15 * CT_SEC;
	while (!atomic_load(&e->go) && ct_now() < end)
		ct_sleep(CT_MS);
}

void t_eof_after_drain_child(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, 200);
	struct t_eofp *e = ct_shared(sizeof *e);
	*e = (struct t_eofp){.q = q, .who = 33, .count = 50, .release_now = 1};
	struct ct_actor *a = ct_spawn_process(q, IPCQ_CONSUMER, t_eof_producer, e);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	for (uint32_t i = 0; i < 50; i++)
		CT_GET_MSG(q, 33, i, 20 + i % 100, CT_LONG);
	char b[8];
	size_t n;
	CT_ST(ipcq_get(q, b, sizeof b, &n, 5 * CT_SEC), IPCQ_EOF, q);
	CT_TRUE(kill(ct_actor_id(a), 0) == 0 && !atomic_load(&e->go), "the producer is gone already");
	atomic_store(&e->go, 1);
	ct_join(a);
	CT_OK(ipcq_close(q), q);
}

static void t_exit_producer(void *arg)
{
	ipcq *q = arg;
	for (uint32_t i = 0; i < 3; i++)
		CT_PUT_MSG(q, 34, i, 10, CT_LONG);
	/* _exit without release or close: dying counts as releasing. */
}

void t_eof_producer_exit_counts(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 100);
	struct ct_actor *a = ct_spawn_process(q, IPCQ_CONSUMER, t_exit_producer, q);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	ct_join(a);
	for (uint32_t i = 0; i < 3; i++)
		CT_GET_MSG(q, 34, i, 10, IPCQ_NOWAIT);
	char b[8];
	size_t n;
	CT_ST(ipcq_get(q, b, sizeof b, &n, 5 * CT_SEC), IPCQ_EOF, q);
	CT_OK(ipcq_close(q), q);
}

void t_eof_waits_for_every_producer(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 200);
	struct t_eofp *ea = ct_shared(sizeof *ea), *eb = ct_shared(sizeof *eb);
	*ea = (struct t_eofp){.q = q, .who = 35, .count = 1, .release_now = 1};
	*eb = (struct t_eofp){.q = q, .who = 36, .count = 1};
	struct ct_actor *a = ct_spawn_process(q, IPCQ_CONSUMER, t_eof_producer, ea);
	struct ct_actor *b = ct_spawn_process(q, IPCQ_CONSUMER, t_eof_producer, eb);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	ct_wait_flag(&ea->released);
	unsigned char buf[256];
	size_t n;
	for (int i = 0; i < 2; i++) {
		CT_OK(ipcq_get(q, buf, sizeof buf, &n, CT_LONG), q);
		CT_EQ(n, 20);
	}
	/* A has released, B has not: still a producer, so EMPTY, not EOF. */
	CT_TIMED(ipcq_get(q, buf, sizeof buf, &n, 200 * CT_MS), IPCQ_EMPTY, 200 * CT_MS, q);
	CT_TIMED(ipcq_poll(q, 100 * CT_MS), IPCQ_EMPTY, 100 * CT_MS, q);
	atomic_store(&eb->release_now, 1);
	ct_wait_flag(&eb->released);
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, 5 * CT_SEC), IPCQ_EOF, q);
	atomic_store(&ea->go, 1);
	atomic_store(&eb->go, 1);
	ct_join(a);
	ct_join(b);
	CT_OK(ipcq_close(q), q);
}

struct t_waker {
	ipcq *q;
	atomic_int entering[3];
	int64_t woke[3];
};
static struct t_waker *t_waker_arg;

static void t_eof_waiter(void *arg)
{
	struct t_waker *w = t_waker_arg;
	int i = (int)(uintptr_t)arg;
	char b[8];
	size_t n;
	atomic_store(&w->entering[i], 1);
	CT_ST(ipcq_get(w->q, b, sizeof b, &n, IPCQ_FOREVER), IPCQ_EOF, w->q);
	w->woke[i] = ct_now();
}

void t_last_release_wakes_all(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 100);
	struct t_waker *w = ct_shared(sizeof *w);
	w->q = q;
	t_waker_arg = w;
	struct ct_actor *a[3];
	for (uintptr_t i = 0; i < 3; i++)
		a[i] = ct_spawn(c, q, IPCQ_PRODUCER, t_eof_waiter, (void *)i);
	for (int i = 0; i < 3; i++) {
		ct_wait_flag(&w->entering[i]);
		ct_wait_sleeping(a[i]);
	}
	int64_t t0 = ct_now();
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	for (int i = 0; i < 3; i++) {
		ct_join(a[i]);
		CT_TRUE(w->woke[i] - t0 < 2 * CT_SEC, "consumer %d saw EOF %.1f ms after the last release", i,
		        (w->woke[i] - t0) / 1e6);
	}
	CT_OK(ipcq_close(q), q);
}

struct t_victim {
	ipcq *q;
	atomic_int ready;
	pid_t pid;
};

static void t_victim_producer(void *arg)
{
	struct t_victim *v = arg;
	CT_PUT_MSG(v->q, 37, 0, 60, CT_LONG);
	CT_PUT_MSG(v->q, 37, 1, 60, CT_LONG);
	atomic_store(&v->ready, 1);
	ct_sleep(60 * CT_SEC); /* until killed */
}

static void t_killer(void *arg)
{
	struct t_victim *v = arg;
	ct_sleep(100 * CT_MS);
	kill(v->pid, SIGKILL);
}

void t_producer_sigkill_eof(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 100);
	struct t_victim *v = ct_shared(sizeof *v);
	v->q = q;
	struct ct_actor *p = ct_spawn_process(q, IPCQ_CONSUMER, t_victim_producer, v);
	v->pid = ct_actor_id(p);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	ct_wait_flag(&v->ready);
	CT_GET_MSG(q, 37, 0, 60, IPCQ_NOWAIT);
	CT_GET_MSG(q, 37, 1, 60, IPCQ_NOWAIT);
	char b[8];
	size_t n;
	CT_ST(ipcq_get(q, b, sizeof b, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q); /* alive: no EOF yet */
	/* Blocked in get when the producer is killed: wakes with EOF, not at its timeout. */
	struct ct_actor *k = ct_spawn_process(q, IPCQ_CONSUMER, t_killer, v);
	int64_t t0 = ct_now();
	CT_ST(ipcq_get(q, b, sizeof b, &n, 10 * CT_SEC), IPCQ_EOF, q);
	CT_TRUE(ct_now() - t0 < 3 * CT_SEC, "EOF came %.1f ms after the kill was due", (ct_now() - t0) / 1e6);
	int st = ct_join_status(p);
	CT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the producer was not SIGKILLed (status 0x%x)", st);
	ct_join(k);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EOF, q);
	CT_OK(ipcq_close(q), q);
}

static void t_idle_getter(void *arg)
{
	ipcq *q = arg;
	char b[64];
	size_t n;
	ipcq_get(q, b, sizeof b, &n, IPCQ_FOREVER); /* nothing comes: killed in here */
}

/* Waiting took nothing: killing a waiter must not leave the queue refusing service. */
void t_idle_consumer_sigkill_goes_on(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	struct ct_actor *a = ct_spawn_process(q, IPCQ_PRODUCER, t_idle_getter, q);
	ct_wait_sleeping(a);
	ct_sleep(100 * CT_MS); /* asleep may be before its get reached a broker: let it get there */
	ct_kill(a);
	for (uint32_t i = 0; i < 3; i++) {
		CT_PUT_MSG(q, 40, i, 30, CT_SEC);
		CT_GET_MSG(q, 40, i, 30, CT_SEC);
	}
	CT_OK(ipcq_close(q), q);
}

static void t_waiting_putter(void *arg)
{
	ipcq *q = arg;
	static unsigned char m[6000];
	ipcq_put(q, m, sizeof m, IPCQ_FOREVER); /* the queue is full: killed in here, nothing of it written */
}

/*
 * A queue filled to the last byte with page-sized messages, then a put
 * larger than PIPE_BUF waits for room and its process is killed: nothing of
 * it went, so the queue must go on (a writer marked mid-message while it
 * only waited would make it refuse service).
 */
void t_waiting_put_sigkill_goes_on(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, 8192);
	size_t n = ct_fill(q, 4092, 100000);
	struct ct_actor *a = ct_spawn_process(q, IPCQ_CONSUMER, t_waiting_putter, q);
	ct_wait_sleeping(a);
	ct_kill(a);
	static unsigned char b[8192];
	size_t len, got = 0;
	int st;
	while ((st = ipcq_get(q, b, sizeof b, &len, IPCQ_NOWAIT)) == IPCQ_OK)
		got++;
	CT_TRUE(st == IPCQ_EMPTY && got == n, "after the kill: %zu of %zu messages, then %s%s", got, n,
	        ipcq_strstatus(st), ct_errmsg_suffix(q, st));
	CT_PUT_MSG(q, 42, 0, 30, CT_SEC);
	CT_GET_MSG(q, 42, 0, 30, CT_SEC);
	CT_OK(ipcq_close(q), q);
}

struct t_hugekill {
	ipcq *q;
	size_t len;
	atomic_int ready;
	atomic_int put; /* the second producer's put: its status + 1 once it returned */
};

static void t_huge_putter(void *arg)
{
	struct t_hugekill *h = arg;
	unsigned char *m = ct_map(h->len);
	ct_pattern(m, h->len, 39, 0);
	atomic_store(&h->ready, 1);
	ipcq_put(h->q, m, h->len, IPCQ_FOREVER); /* nobody reads: a byte stream blocks in here, part written */
	ct_sleep(60 * CT_SEC);                   /* until killed */
}

static void t_after_putter(void *arg)
{
	struct t_hugekill *h = arg;
	atomic_store(&h->put, ipcq_put(h->q, "after", 5, CT_LONG) + 1);
}

/*
 * A producer dies inside a put too large for the queue's buffer, then
 * another producer puts a short message. Every message a get returns must be
 * one that was put, whole: the dead one's whole (a broker had taken it all),
 * or the short one - never the dead one's first part with the short one's
 * frame read as its rest. Refusing the queue as torn (PEERDEAD) is allowed.
 */
void t_huge_put_sigkill_no_tear(const struct ct_ctx *c)
{
	size_t len = 8u << 20;
	ipcq *q = ct_open(c, 0, len);
	struct t_hugekill *h = ct_shared(sizeof *h);
	h->q = q;
	h->len = len;
	struct ct_actor *a = ct_spawn_process(q, IPCQ_CONSUMER, t_huge_putter, h);
	ct_wait_flag(&h->ready);
	ct_wait_sleeping(a);
	ct_sleep(100 * CT_MS);
	ct_kill(a);
	/* We stay a producer: the end of every producer (EOF) would show the tear anyway. */
	struct ct_actor *b = ct_spawn_process(q, IPCQ_CONSUMER, t_after_putter, h);

	unsigned char *buf = ct_map(len), *want = ct_map(len);
	ct_pattern(want, len, 39, 0);
	bool after = false, torn = false;
	for (int i = 0; i < 2 && !after && !torn; i++) {
		size_t n = 0;
		int st = ipcq_get(q, buf, len, &n, 5 * CT_SEC);
		torn = st == IPCQ_PEERDEAD;
		CT_TRUE(st == IPCQ_OK || torn, "get %d after the kill -> %s, expected OK or IPCQ_PEERDEAD%s", i,
		        ipcq_strstatus(st), ct_errmsg_suffix(q, st));
		after = st == IPCQ_OK && n == 5 && memcmp(buf, "after", 5) == 0;
		if (st == IPCQ_OK && !after) {
			CT_TRUE(n == len, "get %d returned %zu bytes: neither the dead producer's %zu nor the 5 put after",
			        i, n, len);
			CT_MEM(buf, want, len);
		}
	}
	ct_join(b);
	int put = atomic_load(&h->put) - 1;
	CT_TRUE(put == IPCQ_OK || put == IPCQ_PEERDEAD, "the put after the kill -> %s", ipcq_strstatus(put));
	CT_TRUE(after || torn, "the message put after the kill never came");
	ct_unmap(buf, len);
	ct_unmap(want, len);
	CT_OK(ipcq_close(q), q);
}

/* --- BROKEN ------------------------------------------------------------------------------ */

void t_put_no_consumer_broken(const struct ct_ctx *c)
{
	signal(SIGPIPE, SIG_DFL);
	ipcq *q = ct_open(c, 5, 100);
	/* Some traffic first: a mechanism that looks for consumers now and then must still see this release. */
	for (uint32_t i = 0; i < 3; i++) {
		CT_PUT_MSG(q, 37, i, 10, IPCQ_NOWAIT);
		CT_GET_MSG(q, 37, i, 10, IPCQ_NOWAIT);
	}
	CT_OK(ipcq_release(q, IPCQ_CONSUMER), q);
	CT_ST(ipcq_put(q, "abc", 3, IPCQ_NOWAIT), IPCQ_BROKEN, q);
	CT_ST(ipcq_put(q, "abc", 3, CT_SEC), IPCQ_BROKEN, q);
	struct sigaction sa;
	sigaction(SIGPIPE, NULL, &sa);
	CT_TRUE(sa.sa_handler == SIG_DFL, "SIGPIPE's disposition was changed");
	CT_OK(ipcq_close(q), q);
}

struct t_deadc {
	ipcq *q;
	atomic_int ready;
};

static void t_dying_consumer(void *arg)
{
	struct t_deadc *d = arg;
	CT_GET_MSG(d->q, 38, 0, 30, CT_LONG);
	atomic_store(&d->ready, 1);
	ct_sleep(300 * CT_MS); /* the parent has filled the queue and blocks in a put by now */
	raise(SIGKILL);
}

static volatile sig_atomic_t t_sigpipe_seen;
static void t_on_sigpipe(int sig)
{
	(void)sig;
	t_sigpipe_seen++;
}

enum t_sigpipe { T_SIGDFL, T_HANDLER, T_SIGIGN };

static void t_dead_consumer(const struct ct_ctx *c, enum t_sigpipe how)
{
	bool user_handler = how == T_HANDLER;
	struct sigaction mine, now;
	memset(&mine, 0, sizeof mine);
	if (user_handler) {
		mine.sa_handler = t_on_sigpipe;
		mine.sa_flags = SA_RESTART;
		sigemptyset(&mine.sa_mask);
		sigaddset(&mine.sa_mask, SIGUSR2);
	} else {
		mine.sa_handler = how == T_SIGIGN ? SIG_IGN : SIG_DFL;
	}
	sigaction(SIGPIPE, &mine, NULL);
	sigset_t mask_before, mask_after, pend;
	sigprocmask(SIG_SETMASK, NULL, &mask_before);

	ipcq *q = ct_open_flags(c, 4, 64, how == T_SIGIGN ? IPCQ_SIGPIPE_IGNORED : 0);
	struct t_deadc *d = ct_shared(sizeof *d);
	d->q = q;
	struct ct_actor *a = ct_spawn_process(q, IPCQ_PRODUCER, t_dying_consumer, d);
	CT_OK(ipcq_release(q, IPCQ_CONSUMER), q);
	CT_PUT_MSG(q, 38, 0, 30, CT_LONG);
	ct_wait_flag(&d->ready);
	/* Full queue, blocked put: the only consumer dies; the put must end in BROKEN. */
	ct_fill(q, 64, 100000);
	int64_t t0 = ct_now();
	char buf[64] = {0};
	CT_ST(ipcq_put(q, buf, sizeof buf, 10 * CT_SEC), IPCQ_BROKEN, q);
	CT_TRUE(ct_now() - t0 < 3 * CT_SEC, "BROKEN took %.1f ms after the consumer died", (ct_now() - t0) / 1e6);
	int st = ct_join_status(a);
	CT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the consumer was not SIGKILLed (status 0x%x)", st);
	CT_ST(ipcq_put(q, buf, 1, IPCQ_NOWAIT), IPCQ_BROKEN, q); /* and again: still alive, still BROKEN */
	CT_ST(ipcq_put(q, buf, 64, CT_SEC), IPCQ_BROKEN, q);

	sigaction(SIGPIPE, NULL, &now);
	CT_TRUE(now.sa_handler == mine.sa_handler, "SIGPIPE's handler was changed");
	CT_TRUE((now.sa_flags & SA_RESTART) == (mine.sa_flags & SA_RESTART), "SIGPIPE's SA_RESTART was changed");
	if (user_handler)
		CT_TRUE(sigismember(&now.sa_mask, SIGUSR2) == 1, "SIGPIPE's handler mask was changed");
	sigprocmask(SIG_SETMASK, NULL, &mask_after);
	CT_TRUE(sigismember(&mask_after, SIGPIPE) == sigismember(&mask_before, SIGPIPE),
	        "SIGPIPE is left %s", sigismember(&mask_after, SIGPIPE) ? "blocked" : "unblocked");
	sigpending(&pend);
	CT_TRUE(!sigismember(&pend, SIGPIPE), "a SIGPIPE was left pending");
	CT_OK(ipcq_close(q), q);
}

void t_put_dead_consumer_broken_sigdfl(const struct ct_ctx *c)
{
	t_dead_consumer(c, T_SIGDFL);
}

void t_put_dead_consumer_broken_handler(const struct ct_ctx *c)
{
	t_dead_consumer(c, T_HANDLER);
}

void t_put_dead_consumer_broken_sigign(const struct ct_ctx *c)
{
	t_dead_consumer(c, T_SIGIGN);
}

void t_sigpipe_flag_needs_sig_ign(const struct ct_ctx *c)
{
	signal(SIGPIPE, SIG_DFL);
	ipcq_config cfg = { .capacity = 4, .max_msg = 64, .flags = IPCQ_SIGPIPE_IGNORED };
	ipcq *q = NULL;
	int st = ipcq_open(c->mech, &cfg, &q);
	CT_TRUE(st == IPCQ_INVAL, "`ipcq_open(IPCQ_SIGPIPE_IGNORED)` with SIGPIPE at SIG_DFL -> %s, expected IPCQ_INVAL",
	        ipcq_strstatus(st));
	CT_TRUE(q == NULL, "a refused open left a handle");
	CT_TRUE(strstr(ipcq_errmsg(NULL), "SIG_IGN") != NULL, "the message does not name the fix: %s",
	        ipcq_errmsg(NULL));
	cfg.flags = 1u << 7;
	st = ipcq_open(c->mech, &cfg, &q);
	CT_TRUE(st == IPCQ_INVAL, "`ipcq_open(flags 0x80)` -> %s, expected IPCQ_INVAL", ipcq_strstatus(st));
}

/* --- CLOSED ------------------------------------------------------------------------------- */

void t_use_after_close_closed(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	CT_PUT_MSG(q, 39, 0, 10, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
	char b[64];
	size_t n;
	ipcq_config cfg;
	CT_ST(ipcq_put(q, b, 1, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_ST(ipcq_get(q, b, sizeof b, &n, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_ST(ipcq_get(q, b, sizeof b, &n, CT_SEC), IPCQ_CLOSED, q);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_ST(ipcq_qsize(q, &n), IPCQ_CLOSED, q);
	CT_ST(ipcq_release(q, IPCQ_PRODUCER), IPCQ_CLOSED, q);
	CT_ST(ipcq_get_config(q, &cfg), IPCQ_CLOSED, q);
	CT_ST(ipcq_close(q), IPCQ_CLOSED, q);
	CT_ST(ipcq_close(q), IPCQ_CLOSED, q);
}

void t_put_after_release_producer_closed(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	CT_PUT_MSG(q, 40, 0, 10, IPCQ_NOWAIT);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	CT_ST(ipcq_put(q, "x", 1, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_ST(ipcq_put(q, "x", 1, CT_SEC), IPCQ_CLOSED, q);
	CT_GET_MSG(q, 40, 0, 10, IPCQ_NOWAIT); /* the consumer role is untouched */
	CT_OK(ipcq_close(q), q);
}

void t_get_after_release_consumer_closed(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	CT_PUT_MSG(q, 41, 0, 10, IPCQ_NOWAIT);
	CT_OK(ipcq_release(q, IPCQ_CONSUMER), q);
	char b[64];
	size_t n;
	CT_ST(ipcq_get(q, b, sizeof b, &n, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_ST(ipcq_get(q, b, sizeof b, &n, CT_SEC), IPCQ_CLOSED, q);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	CT_ST(ipcq_put(q, "x", 1, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_OK(ipcq_close(q), q);
	CT_ST(ipcq_close(q), IPCQ_CLOSED, q);
}
