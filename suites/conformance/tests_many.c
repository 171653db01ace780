/*
 * tests_many.c - ipcq_put_many and ipcq_get_many: the same bytes, order and
 * statuses as put and get one by one - arguments checked before anything is
 * queued, a message too big for its buffer left queued, FULL and EMPTY at
 * the deadline, EOF after the drain - and bursts across fork and between
 * threads sharing a handle.
 */
#include "tests.h"

#include <pthread.h>
#include <string.h>

#define T_MAXV 32

/* Length of message seq of a test: 1..max, 0 too where the mechanism carries empty messages. */
static size_t t_len(const struct ct_ctx *c, uint32_t seq, size_t max)
{
	size_t zero = (c->caps & IPCQ_CAP_ZEROLEN) ? 0 : 1;
	return zero + (seq * 37u) % (max + 1 - zero);
}

/* v[0..n) pointing at bufs (n * max bytes) holding ct_pattern(who, seq0 + i) of t_len bytes. */
static void t_fill(const struct ct_ctx *c, ipcq_msgv *v, unsigned char *bufs, size_t n, size_t max, uint32_t who,
                   uint32_t seq0)
{
	for (size_t i = 0; i < n; i++) {
		v[i] = (ipcq_msgv){ .buf = bufs + i * max, .len = t_len(c, seq0 + (uint32_t)i, max) };
		ct_pattern(v[i].buf, v[i].len, who, seq0 + (uint32_t)i);
	}
}

/* Rooms of cap bytes each for get_many. */
static void t_rooms(ipcq_msgv *v, unsigned char *bufs, size_t n, size_t cap)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (ipcq_msgv){ .buf = bufs + i * cap, .cap = cap };
}

/* get_many into n rooms of cap bytes (timeout t) must say want, with no message. */
static void t_none(ipcq *q, size_t n, size_t cap, int64_t t, int want)
{
	ipcq_msgv v[T_MAXV];
	unsigned char bufs[T_MAXV * 512];
	size_t got = 99;
	CT_TRUE(n <= T_MAXV && cap <= 512, "test sizes too large");
	t_rooms(v, bufs, n, cap);
	CT_ST(ipcq_get_many(q, v, n, &got, t), want, q);
	CT_EQ(got, 0);
}

/* Message v must be ct_pattern(who, seq) of t_len bytes. */
static void t_check(const struct ct_ctx *c, const ipcq_msgv *v, size_t max, uint32_t who, uint32_t seq)
{
	unsigned char want[1024];
	size_t len = t_len(c, seq, max);
	CT_TRUE(v->len == len, "message %u is %zu bytes, sent %zu (lost, reordered or merged)", seq, v->len, len);
	ct_pattern(want, len, who, seq);
	CT_MEM(v->buf, want, len);
}

/* get_many (n rooms, timeout t) until count messages came, checking order and bytes. */
static void t_take(const struct ct_ctx *c, ipcq *q, size_t n, size_t max, uint32_t who, uint32_t seq0, uint32_t count,
                   int64_t t)
{
	ipcq_msgv v[T_MAXV];
	unsigned char bufs[T_MAXV * 512];
	CT_TRUE(n <= T_MAXV && max <= 512, "test sizes too large");
	for (uint32_t seq = seq0; seq < seq0 + count;) {
		size_t got = 99;
		t_rooms(v, bufs, n, max);
		CT_OK(ipcq_get_many(q, v, n, &got, t), q);
		CT_TRUE(got >= 1 && got <= n, "get_many said OK with %zu messages for %zu rooms", got, n);
		CT_TRUE(seq + got <= seq0 + count, "get_many brought %zu messages, only %u were sent", got,
		        seq0 + count - seq);
		for (size_t i = 0; i < got; i++)
			t_check(c, &v[i], max, who, seq++);
	}
}

void t_many_round_trip_in_order(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 10, 300); /* fs.mqueue.msg_max is 10 by default */
	ipcq_msgv v[T_MAXV];
	unsigned char bufs[T_MAXV * 300];
	size_t done = 99;
	t_fill(c, v, bufs, 6, 300, 40, 0);
	CT_OK(ipcq_put_many(q, v, 6, &done, CT_LONG), q);
	CT_EQ(done, 6);
	/* Mixed with single calls, in both directions. */
	CT_PUT_MSG(q, 40, 6, t_len(c, 6, 300), CT_LONG);
	t_fill(c, v, bufs, 3, 300, 40, 7);
	CT_OK(ipcq_put_many(q, v, 3, &done, CT_LONG), q);
	CT_EQ(done, 3);
	CT_GET_MSG(q, 40, 0, t_len(c, 0, 300), IPCQ_NOWAIT);
	t_take(c, q, 4, 300, 40, 1, 9, IPCQ_NOWAIT);
	t_none(q, 4, 300, IPCQ_NOWAIT, IPCQ_EMPTY);
	CT_OK(ipcq_close(q), q);
}

void t_many_bad_args_queue_unharmed(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 100);
	ipcq_msgv v[4];
	unsigned char bufs[4 * 101];
	size_t done = 99, got = 99;
	t_fill(c, v, bufs, 3, 100, 41, 0);
	CT_ST(ipcq_put_many(NULL, v, 3, &done, IPCQ_NOWAIT), IPCQ_INVAL, NULL);
	CT_ST(ipcq_put_many(q, v, 3, NULL, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_put_many(q, NULL, 3, &done, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_OK(ipcq_put_many(q, v, 0, &done, IPCQ_NOWAIT), q);
	CT_EQ(done, 0);
	/* One bad message anywhere: nothing queued, and the message names it. */
	v[2].len = 101;
	CT_ST(ipcq_put_many(q, v, 3, &done, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_EQ(done, 0);
	CT_TRUE(strstr(ipcq_errmsg(q), "v[2]") && strstr(ipcq_errmsg(q), "max_msg"),
	        "the TOOBIG message does not name v[2] and max_msg: \"%s\"", ipcq_errmsg(q));
	v[2].len = 5;
	v[1].buf = NULL;
	CT_ST(ipcq_put_many(q, v, 3, &done, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_EQ(done, 0);
	if (!(c->caps & IPCQ_CAP_ZEROLEN)) {
		v[1] = (ipcq_msgv){ .buf = bufs, .len = 0 };
		CT_ST(ipcq_put_many(q, v, 3, &done, IPCQ_NOWAIT), IPCQ_UNSUPPORTED, q);
		CT_EQ(done, 0);
	}
	t_rooms(v, bufs, 4, 100);
	CT_ST(ipcq_get_many(q, v, 4, &got, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_ST(ipcq_get_many(NULL, v, 4, &got, IPCQ_NOWAIT), IPCQ_INVAL, NULL);
	CT_ST(ipcq_get_many(q, v, 0, &got, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_get_many(q, NULL, 4, &got, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_get_many(q, v, 4, NULL, IPCQ_NOWAIT), IPCQ_INVAL, q);
	v[3].buf = NULL;
	CT_ST(ipcq_get_many(q, v, 4, &got, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_TRUE(strstr(ipcq_errmsg(q), "v[3]"), "the INVAL message does not name v[3]: \"%s\"", ipcq_errmsg(q));
	/* The queue works as before; roles and close are checked as for put and get. */
	t_fill(c, v, bufs, 2, 100, 42, 0);
	CT_OK(ipcq_put_many(q, v, 2, &done, IPCQ_NOWAIT), q);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	CT_ST(ipcq_put_many(q, v, 2, &done, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_EQ(done, 0);
	t_take(c, q, 4, 100, 42, 0, 2, IPCQ_NOWAIT);
	CT_OK(ipcq_release(q, IPCQ_CONSUMER), q);
	t_none(q, 4, 100, IPCQ_NOWAIT, IPCQ_CLOSED);
	CT_OK(ipcq_close(q), q);
	t_none(q, 4, 100, IPCQ_NOWAIT, IPCQ_CLOSED);
	CT_ST(ipcq_put_many(q, v, 1, &done, IPCQ_NOWAIT), IPCQ_CLOSED, q);
}

void t_many_toobig_stays_queued(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 200);
	static const size_t lens[3] = { 10, 100, 10 };
	for (uint32_t i = 0; i < 3; i++)
		CT_PUT_MSG(q, 43, i, lens[i], CT_LONG);
	ipcq_msgv v[3];
	unsigned char bufs[3 * 200], want[100];
	size_t got = 99;
	/* The first fits, the second does not fit its room: the call ends before it. */
	t_rooms(v, bufs, 3, 50);
	CT_OK(ipcq_get_many(q, v, 3, &got, IPCQ_NOWAIT), q);
	CT_EQ(got, 1);
	CT_EQ(v[0].len, 10);
	ct_pattern(want, 10, 43, 0);
	CT_MEM(v[0].buf, want, 10);
	/* Now it is first: TOOBIG with the size it needs, and still queued. */
	t_rooms(v, bufs, 3, 50);
	CT_ST(ipcq_get_many(q, v, 3, &got, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_EQ(got, 0);
	CT_EQ(v[0].len, 100);
	for (uint32_t seq = 1; seq < 3;) {
		t_rooms(v, bufs, 3, 200);
		CT_OK(ipcq_get_many(q, v, 3, &got, IPCQ_NOWAIT), q);
		for (size_t i = 0; i < got; i++, seq++) {
			CT_EQ(v[i].len, lens[seq]);
			ct_pattern(want, lens[seq], 43, seq);
			CT_MEM(v[i].buf, want, lens[seq]);
		}
	}
	CT_OK(ipcq_close(q), q);
}

void t_many_full_and_timeouts(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	ipcq_msgv v[6];
	unsigned char bufs[6 * 64];
	size_t done = 99, got = 99;
	t_fill(c, v, bufs, 6, 64, 44, 0);
	CT_ST(ipcq_put_many(q, v, 6, &done, IPCQ_NOWAIT), IPCQ_FULL, q);
	CT_EQ(done, 4);
	CT_TIMED(ipcq_put_many(q, v + 4, 2, &done, 100 * CT_MS), IPCQ_FULL, 100 * CT_MS, q);
	CT_EQ(done, 0);
	t_take(c, q, 6, 64, 44, 0, 4, IPCQ_NOWAIT);
	t_rooms(v, bufs, 6, 64);
	CT_TIMED(ipcq_get_many(q, v, 6, &got, 100 * CT_MS), IPCQ_EMPTY, 100 * CT_MS, q);
	CT_EQ(got, 0);
	CT_OK(ipcq_close(q), q);
}

void t_many_eof_after_drain(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 100);
	ipcq_msgv v[5];
	unsigned char bufs[5 * 100];
	size_t done = 99;
	t_fill(c, v, bufs, 5, 100, 45, 0);
	CT_OK(ipcq_put_many(q, v, 5, &done, CT_LONG), q);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	t_take(c, q, 3, 100, 45, 0, 5, IPCQ_FOREVER);
	t_none(q, 5, 100, IPCQ_FOREVER, IPCQ_EOF);
	CT_OK(ipcq_close(q), q);
}

#define T_BURSTS 3000u

struct t_burst {
	const struct ct_ctx *c;
	ipcq *q;
};

/* Puts T_BURSTS messages in bursts of 1..17 through a small queue, then exits. */
static void t_burst_producer(void *arg)
{
	struct t_burst *b = arg;
	ipcq_msgv v[17];
	unsigned char bufs[17 * 512];
	for (uint32_t seq = 0; seq < T_BURSTS;) {
		size_t n = 1 + seq % 17, done = 0;
		if (n > T_BURSTS - seq)
			n = T_BURSTS - seq;
		t_fill(b->c, v, bufs, n, 512, 46, seq);
		CT_OK(ipcq_put_many(b->q, v, n, &done, CT_LONG), b->q);
		CT_EQ(done, n);
		seq += (uint32_t)n;
	}
}

void t_many_across_processes(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 512);
	struct t_burst *b = ct_shared(sizeof *b);
	*b = (struct t_burst){ .c = c, .q = q };
	struct ct_actor *a = ct_spawn_process(q, IPCQ_CONSUMER, t_burst_producer, b);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	t_take(c, q, 5, 512, 46, 0, T_BURSTS, CT_LONG);
	t_none(q, 5, 512, 5 * CT_SEC, IPCQ_EOF);
	ct_join(a);
	CT_OK(ipcq_close(q), q);
}

struct t_mthr {
	ipcq *q;
	atomic_int taken;
	atomic_llong sum;
};

static void *t_mthr_producer(void *arg)
{
	struct t_mthr *t = arg;
	for (uint32_t s = 0; s < 500; s += 10) {
		uint32_t vals[10];
		ipcq_msgv v[10];
		for (uint32_t i = 0; i < 10; i++) {
			vals[i] = s + i;
			v[i] = (ipcq_msgv){ .buf = &vals[i], .len = sizeof vals[i] };
		}
		size_t done = 0;
		CT_OK(ipcq_put_many(t->q, v, 10, &done, CT_LONG), t->q);
		CT_EQ(done, 10);
	}
	return NULL;
}

static void *t_mthr_consumer(void *arg)
{
	struct t_mthr *t = arg;
	int64_t end = ct_now() + CT_LONG;
	while (atomic_load(&t->taken) < 1000) {
		uint32_t vals[8];
		ipcq_msgv v[8];
		for (int i = 0; i < 8; i++)
			v[i] = (ipcq_msgv){ .buf = &vals[i], .cap = sizeof vals[i] };
		size_t got = 0;
		int st = ipcq_get_many(t->q, v, 8, &got, 20 * CT_MS);
		if (st == IPCQ_EMPTY) {
			CT_TRUE(ct_now() < end, "1000 messages did not arrive in 10 s: %d so far", atomic_load(&t->taken));
			continue;
		}
		CT_OK(st, t->q);
		for (size_t i = 0; i < got; i++) {
			CT_EQ(v[i].len, 4);
			atomic_fetch_add(&t->sum, vals[i]);
		}
		atomic_fetch_add(&t->taken, (int)got);
	}
	return NULL;
}

void t_many_threads_share_one_handle(const struct ct_ctx *c)
{
	struct t_mthr t = { .q = ct_open(c, 8, 64) };
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&th[i], NULL, i < 2 ? t_mthr_producer : t_mthr_consumer, &t))
			CT_FAIL("pthread_create failed");
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CT_EQ_I(atomic_load(&t.taken), 1000);
	CT_EQ_I(atomic_load(&t.sum), 2 * (499 * 500 / 2));
	CT_ST(ipcq_poll(t.q, IPCQ_NOWAIT), IPCQ_EMPTY, t.q);
	CT_OK(ipcq_close(t.q), t.q);
}
