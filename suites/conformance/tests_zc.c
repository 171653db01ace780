/*
 * tests_zc.c - zero copy (IPCQ_CAP_ZEROCOPY): ipcq_reserve/commit/cancel and
 * ipcq_peek/consume. UNSUPPORTED without the cap; with it, the bytes and
 * order of put/get, reservations and holds counted in the capacity, FIFO
 * behind a reservation not yet committed, wrong buffers refused, release and
 * close ending what a process holds, and SIGKILL between reserve and commit
 * or between peek and consume: nothing torn, nothing blocked for good.
 */
#include "tests.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

/* Reserves len bytes, writes ct_pattern(who, seq) into them and commits. */
static void zc_put(ipcq *q, uint32_t who, uint32_t seq, size_t len, int64_t t)
{
	void *buf = NULL;
	CT_OK(ipcq_reserve(q, len, &buf, t), q);
	CT_TRUE(buf != NULL, "reserve said OK and left buf NULL");
	ct_pattern(buf, len, who, seq);
	CT_OK(ipcq_commit(q, buf, len), q);
}

/* Peeks the next message: it must be ct_pattern(who, seq) of len bytes; then consumes it. */
static void zc_get(ipcq *q, uint32_t who, uint32_t seq, size_t len, int64_t t)
{
	const void *buf = NULL;
	size_t n = 0;
	unsigned char want[4096];
	CT_OK(ipcq_peek(q, &buf, &n, t), q);
	CT_TRUE(buf != NULL, "peek said OK and left buf NULL");
	CT_EQ(n, len);
	CT_TRUE(len <= sizeof want, "test message of %zu bytes is too long for the check", len);
	ct_pattern(want, len, who, seq);
	CT_MEM(buf, want, len);
	CT_OK(ipcq_consume(q, buf), q);
}

void t_zerocopy_unsupported_without_cap(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	void *w = NULL;
	const void *r = NULL;
	size_t n = 0;
	if (c->caps & IPCQ_CAP_ZEROCOPY) {
		zc_put(q, 1, 0, 10, IPCQ_NOWAIT);
		zc_get(q, 1, 0, 10, IPCQ_NOWAIT);
		CT_OK(ipcq_close(q), q);
		return;
	}
	char b[8] = "x";
	CT_ST(ipcq_reserve(q, 8, &w, IPCQ_NOWAIT), IPCQ_UNSUPPORTED, q);
	CT_TRUE(strlen(ipcq_errmsg(q)) > 10, "UNSUPPORTED without a message");
	CT_ST(ipcq_commit(q, b, 1), IPCQ_UNSUPPORTED, q);
	CT_ST(ipcq_cancel(q, b), IPCQ_UNSUPPORTED, q);
	CT_ST(ipcq_peek(q, &r, &n, IPCQ_NOWAIT), IPCQ_UNSUPPORTED, q);
	CT_ST(ipcq_consume(q, b), IPCQ_UNSUPPORTED, q);
	/* The queue is unharmed. */
	CT_PUT_MSG(q, 1, 0, 8, IPCQ_NOWAIT);
	CT_GET_MSG(q, 1, 0, 8, CT_LONG);
	CT_OK(ipcq_close(q), q);
}

void t_zc_round_trip_mixed_with_copies(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 1000);
	/* zero copy in, copy out; copy in, zero copy out; both; sizes up to max_msg */
	for (uint32_t i = 0; i < 60; i++) {
		size_t len = 1 + (i * 97) % 1000;
		if (i % 3 == 0) {
			zc_put(q, 2, i, len, IPCQ_NOWAIT);
			CT_GET_MSG(q, 2, i, len, IPCQ_NOWAIT);
		} else if (i % 3 == 1) {
			CT_PUT_MSG(q, 2, i, len, IPCQ_NOWAIT);
			zc_get(q, 2, i, len, IPCQ_NOWAIT);
		} else {
			zc_put(q, 2, i, len, IPCQ_NOWAIT);
			zc_get(q, 2, i, len, IPCQ_NOWAIT);
		}
	}
	/* Committing less than was reserved sends exactly that much. */
	void *w;
	CT_OK(ipcq_reserve(q, 1000, &w, IPCQ_NOWAIT), q);
	ct_pattern(w, 300, 3, 0);
	CT_OK(ipcq_commit(q, w, 300), q);
	zc_get(q, 3, 0, 300, IPCQ_NOWAIT);
	if (c->caps & IPCQ_CAP_ZEROLEN) {
		CT_OK(ipcq_reserve(q, 0, &w, IPCQ_NOWAIT), q);
		CT_OK(ipcq_commit(q, w, 0), q);
		const void *r;
		size_t n = 99;
		CT_OK(ipcq_peek(q, &r, &n, IPCQ_NOWAIT), q);
		CT_EQ(n, 0);
		CT_OK(ipcq_consume(q, r), q);
	}
	/* Several outstanding at once, ended in any order; messages keep reservation order. */
	void *a, *b2;
	CT_OK(ipcq_reserve(q, 50, &a, IPCQ_NOWAIT), q);
	CT_OK(ipcq_reserve(q, 50, &b2, IPCQ_NOWAIT), q);
	CT_TRUE(a != b2, "two reservations share a buffer");
	ct_pattern(b2, 50, 4, 1);
	CT_OK(ipcq_commit(q, b2, 50), q);
	ct_pattern(a, 50, 4, 0);
	CT_OK(ipcq_commit(q, a, 50), q);
	const void *r0, *r1;
	size_t n0, n1;
	CT_OK(ipcq_peek(q, &r0, &n0, IPCQ_NOWAIT), q);
	CT_OK(ipcq_peek(q, &r1, &n1, IPCQ_NOWAIT), q);
	unsigned char want[50];
	ct_pattern(want, 50, 4, 0);
	CT_MEM(r0, want, 50);
	ct_pattern(want, 50, 4, 1);
	CT_MEM(r1, want, 50);
	CT_OK(ipcq_consume(q, r1), q);
	CT_OK(ipcq_consume(q, r0), q);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

void t_zc_wrong_buffers_inval(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 100);
	void *w = NULL, *nul = NULL;
	const void *r = NULL;
	size_t n;
	char mine[100];
	CT_ST(ipcq_reserve(q, 101, &w, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_TRUE(w == NULL, "a TOOBIG reserve left a buffer");
	CT_ST(ipcq_reserve(q, 10, NULL, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_peek(q, NULL, &n, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_peek(q, &r, NULL, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_commit(q, nul, 1), IPCQ_INVAL, q);
	CT_ST(ipcq_commit(q, mine, 1), IPCQ_INVAL, q);    /* not the queue's memory */
	CT_TRUE(strlen(ipcq_errmsg(q)) > 10, "INVAL without a message");
	CT_ST(ipcq_consume(q, mine), IPCQ_INVAL, q);
	CT_ST(ipcq_cancel(q, mine), IPCQ_INVAL, q);

	CT_OK(ipcq_reserve(q, 10, &w, IPCQ_NOWAIT), q);
	CT_ST(ipcq_commit(q, w, 11), IPCQ_INVAL, q);      /* more than reserved: still reserved */
	CT_ST(ipcq_consume(q, w), IPCQ_INVAL, q);         /* a reservation is not a held message */
	CT_ST(ipcq_commit(q, (char *)w + 1, 5), IPCQ_INVAL, q);
	ct_pattern(w, 10, 5, 0);
	CT_OK(ipcq_commit(q, w, 10), q);
	CT_ST(ipcq_commit(q, w, 10), IPCQ_INVAL, q);      /* ended already */
	CT_ST(ipcq_cancel(q, w), IPCQ_INVAL, q);
	CT_OK(ipcq_peek(q, &r, &n, IPCQ_NOWAIT), q);
	CT_ST(ipcq_commit(q, (void *)r, 1), IPCQ_INVAL, q); /* a held message is not a reservation */
	CT_OK(ipcq_consume(q, r), q);
	CT_ST(ipcq_consume(q, r), IPCQ_INVAL, q);
	/* Exactly one message went through. */
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);

	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	CT_ST(ipcq_reserve(q, 10, &w, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_OK(ipcq_release(q, IPCQ_CONSUMER), q);
	CT_ST(ipcq_peek(q, &r, &n, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_OK(ipcq_close(q), q);
	CT_ST(ipcq_reserve(q, 10, &w, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_ST(ipcq_consume(q, mine), IPCQ_CLOSED, q);
}

void t_zc_cancel_queues_nothing(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 2, 64);
	void *w, *w2;
	CT_OK(ipcq_reserve(q, 64, &w, IPCQ_NOWAIT), q);
	memset(w, 0xee, 64);
	CT_OK(ipcq_cancel(q, w), q);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	size_t n;
	CT_OK(ipcq_qsize(q, &n), q);
	CT_EQ(n, 0);
	/* A cancelled reservation ahead of a message does not hold it back. */
	CT_OK(ipcq_reserve(q, 64, &w, IPCQ_NOWAIT), q);
	CT_PUT_MSG(q, 6, 0, 30, IPCQ_NOWAIT);
	CT_ST(ipcq_reserve(q, 64, &w2, IPCQ_NOWAIT), IPCQ_FULL, q); /* the reservation counts */
	CT_OK(ipcq_cancel(q, w), q);
	CT_GET_MSG(q, 6, 0, 30, IPCQ_NOWAIT);
	/* and its room is free again, many times around */
	for (uint32_t i = 0; i < 20; i++) {
		CT_OK(ipcq_reserve(q, 64, &w, IPCQ_NOWAIT), q);
		CT_OK(ipcq_cancel(q, w), q);
		zc_put(q, 6, i, 20, IPCQ_NOWAIT);
		zc_put(q, 6, 100 + i, 20, IPCQ_NOWAIT);
		CT_GET_MSG(q, 6, i, 20, IPCQ_NOWAIT);
		zc_get(q, 6, 100 + i, 20, IPCQ_NOWAIT);
	}
	CT_OK(ipcq_close(q), q);
}

/* Reservations and held messages take room; FIFO waits behind an uncommitted reservation. */
void t_zc_capacity_and_fifo(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 3, 64);
	void *a, *b;
	const void *r;
	size_t n;
	CT_OK(ipcq_reserve(q, 16, &a, IPCQ_NOWAIT), q);
	CT_PUT_MSG(q, 7, 1, 16, IPCQ_NOWAIT);
	/* message 1 is queued behind reservation 0: nothing to get yet */
	CT_ST(ipcq_peek(q, &r, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_reserve(q, 16, &b, IPCQ_NOWAIT), q);
	CT_ST(ipcq_put(q, "x", 1, IPCQ_NOWAIT), IPCQ_FULL, q);
	void *none = &none;
	CT_TIMED(ipcq_reserve(q, 16, &none, 100 * CT_MS), IPCQ_FULL, 100 * CT_MS, q);
	CT_TRUE(none == NULL, "a reserve that found no room left *buf set");
	ct_pattern(a, 16, 7, 0);
	CT_OK(ipcq_commit(q, a, 16), q);
	CT_GET_MSG(q, 7, 0, 16, IPCQ_NOWAIT);
	/* holding message 1 keeps its room */
	CT_OK(ipcq_peek(q, &r, &n, IPCQ_NOWAIT), q);
	CT_PUT_MSG(q, 7, 3, 16, IPCQ_NOWAIT);
	CT_ST(ipcq_put(q, "x", 1, IPCQ_NOWAIT), IPCQ_FULL, q);
	CT_OK(ipcq_consume(q, r), q);
	ct_pattern(b, 16, 7, 2);
	CT_OK(ipcq_commit(q, b, 16), q);
	CT_GET_MSG(q, 7, 2, 16, IPCQ_NOWAIT);
	CT_GET_MSG(q, 7, 3, 16, IPCQ_NOWAIT);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

struct zc_block {
	ipcq *q;
	atomic_int entering, done;
	pid_t pid;
};

static void zc_blocked_peeker(void *arg)
{
	struct zc_block *b = arg;
	atomic_store(&b->entering, 1);
	zc_get(b->q, 8, 0, 40, IPCQ_FOREVER);
	atomic_store(&b->done, 1);
}

void t_zc_peek_sleeps_until_commit(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	struct zc_block *b = ct_shared(sizeof *b);
	b->q = q;
	struct ct_actor *a = ct_spawn(c, q, IPCQ_PRODUCER, zc_blocked_peeker, b);
	ct_wait_flag(&b->entering);
	ct_wait_sleeping(a);
	void *w;
	CT_OK(ipcq_reserve(q, 40, &w, IPCQ_NOWAIT), q);
	ct_pattern(w, 40, 8, 0);
	ct_sleep(20 * CT_MS);
	CT_TRUE(!atomic_load(&b->done), "the peek returned before the commit");
	CT_OK(ipcq_commit(q, w, 40), q);
	ct_join(a);
	CT_TRUE(atomic_load(&b->done), "the actor finished without its message");
	CT_OK(ipcq_close(q), q);
}

/* release(PRODUCER) drops this process's reservations: consumers drain to EOF, not to a hang. */
void t_zc_release_ends_reservations(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64);
	void *w;
	CT_OK(ipcq_reserve(q, 16, &w, IPCQ_NOWAIT), q);
	CT_PUT_MSG(q, 9, 0, 16, IPCQ_NOWAIT);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	CT_GET_MSG(q, 9, 0, 16, CT_LONG);
	const void *r;
	size_t n;
	if (c->caps & IPCQ_CAP_EOF)
		CT_ST(ipcq_peek(q, &r, &n, CT_LONG), IPCQ_EOF, q);
	CT_OK(ipcq_close(q), q);
}

static void zc_holder_closes(void *arg)
{
	struct zc_block *b = arg;
	const void *r;
	size_t n;
	CT_OK(ipcq_peek(b->q, &r, &n, CT_LONG), b->q);
	CT_OK(ipcq_close(b->q), NULL); /* without consume: close ends the hold */
	atomic_store(&b->done, 1);
	ct_sleep(60 * CT_SEC); /* alive, so only close can have freed the room */
}

void t_zc_close_ends_holds(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 1, 64);
	struct zc_block *b = ct_shared(sizeof *b);
	b->q = q;
	CT_PUT_MSG(q, 10, 0, 16, IPCQ_NOWAIT);
	struct ct_actor *a = ct_spawn_process(q, IPCQ_PRODUCER, zc_holder_closes, b);
	ct_wait_flag(&b->done);
	CT_PUT_MSG(q, 10, 1, 16, 5 * CT_SEC); /* the one slot is free again */
	CT_GET_MSG(q, 10, 1, 16, IPCQ_NOWAIT);
	ct_kill(a);
	CT_OK(ipcq_close(q), q);
}

#define ZC_FLOW 3000

static void zc_flow_producer(void *arg)
{
	struct zc_block *b = arg;
	for (uint32_t i = 0; i < ZC_FLOW; i++)
		zc_put(b->q, 11, i, 1 + (i * 131) % 2000, CT_LONG);
	CT_OK(ipcq_release(b->q, IPCQ_PRODUCER), b->q);
}

/* Another process writes in place, this one reads in place: every byte and the order hold, then EOF. */
void t_zc_flow_across_processes(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 2000);
	struct zc_block *b = ct_shared(sizeof *b);
	b->q = q;
	struct ct_actor *a = ct_spawn_process(q, IPCQ_CONSUMER, zc_flow_producer, b);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	unsigned char want[2000];
	for (uint32_t i = 0; i < ZC_FLOW; i++) {
		const void *r;
		size_t n, len = 1 + (i * 131) % 2000;
		CT_OK(ipcq_peek(q, &r, &n, CT_LONG), q);
		CT_EQ(n, len);
		ct_pattern(want, len, 11, i);
		CT_MEM(r, want, len);
		CT_OK(ipcq_consume(q, r), q);
	}
	ct_join(a);
	const void *r;
	size_t n;
	CT_ST(ipcq_peek(q, &r, &n, CT_LONG), IPCQ_EOF, q);
	CT_OK(ipcq_close(q), q);
}

struct zc_victim {
	ipcq *q;
	atomic_int ready;
};

static void zc_dies_reserved(void *arg)
{
	struct zc_victim *v = arg;
	zc_put(v->q, 12, 0, 60, CT_LONG);
	void *w;
	CT_OK(ipcq_reserve(v->q, 60, &w, CT_LONG), v->q);
	memset(w, 0xab, 30); /* half written */
	atomic_store(&v->ready, 1);
	ct_sleep(60 * CT_SEC); /* until killed */
}

/* A producer SIGKILLed between reserve and commit: its bytes never show, EOF comes, the ring goes on. */
void t_zc_producer_sigkill_before_commit(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 3, 64);
	struct zc_victim *v = ct_shared(sizeof *v);
	v->q = q;
	struct ct_actor *p = ct_spawn_process(q, IPCQ_CONSUMER, zc_dies_reserved, v);
	ct_wait_flag(&v->ready);
	/* Keep the producer role here: a message put behind the reservation must get past it once it is dead. */
	CT_PUT_MSG(q, 12, 1, 60, IPCQ_NOWAIT);
	ct_kill(p);
	zc_get(q, 12, 0, 60, IPCQ_NOWAIT);
	CT_GET_MSG(q, 12, 1, 60, 5 * CT_SEC);
	/* twice around the ring, every slot usable */
	for (uint32_t i = 2; i < 8; i++) {
		zc_put(q, 12, i, 60, 5 * CT_SEC);
		zc_get(q, 12, i, 60, 5 * CT_SEC);
	}
	if (c->caps & IPCQ_CAP_EOF) {
		CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
		const void *r;
		size_t n;
		CT_ST(ipcq_peek(q, &r, &n, CT_LONG), IPCQ_EOF, q);
	}
	CT_OK(ipcq_close(q), q);
}

static void zc_dies_holding(void *arg)
{
	struct zc_victim *v = arg;
	const void *r;
	size_t n;
	CT_OK(ipcq_peek(v->q, &r, &n, CT_LONG), v->q);
	atomic_store(&v->ready, 1);
	ct_sleep(60 * CT_SEC); /* until killed, holding it */
}

/* A consumer SIGKILLed between peek and consume: its slot comes back; no other message is lost. */
void t_zc_consumer_sigkill_before_consume(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 2, 64);
	struct zc_victim *v = ct_shared(sizeof *v);
	v->q = q;
	CT_PUT_MSG(q, 13, 0, 60, IPCQ_NOWAIT);
	struct ct_actor *p = ct_spawn_process(q, IPCQ_PRODUCER, zc_dies_holding, v);
	ct_wait_flag(&v->ready);
	CT_PUT_MSG(q, 13, 1, 60, IPCQ_NOWAIT);
	ct_kill(p);
	/* the ring is full (one held, one queued) until the dead holder's slot is taken back */
	zc_put(q, 13, 2, 60, 5 * CT_SEC);
	zc_get(q, 13, 1, 60, IPCQ_NOWAIT);
	zc_get(q, 13, 2, 60, IPCQ_NOWAIT);
	for (uint32_t i = 3; i < 9; i++) {
		zc_put(q, 13, i, 60, 5 * CT_SEC);
		CT_GET_MSG(q, 13, i, 60, 5 * CT_SEC);
	}
	CT_OK(ipcq_close(q), q);
}

#define ZC_THREADS_PER 3000

struct zc_share {
	ipcq *q;
	atomic_uchar seen[2][ZC_THREADS_PER];
	atomic_int taken;
};

static void zc_share_producer(void *arg)
{
	struct zc_share *s = arg;
	static atomic_int next_id;
	uint32_t who = (uint32_t)atomic_fetch_add(&next_id, 1);
	for (uint32_t i = 0; i < ZC_THREADS_PER; i++) {
		void *w;
		CT_OK(ipcq_reserve(s->q, 32, &w, CT_LONG), s->q);
		ct_pattern(w, 32, who, i);
		CT_OK(ipcq_commit(s->q, w, 32), s->q);
	}
}

static void zc_share_consumer(void *arg)
{
	struct zc_share *s = arg;
	unsigned char want[32];
	while (atomic_load(&s->taken) < 2 * ZC_THREADS_PER) {
		const void *r;
		size_t n;
		int st = ipcq_peek(s->q, &r, &n, 50 * CT_MS);
		if (st == IPCQ_EMPTY)
			continue;
		CT_OK(st, s->q);
		CT_EQ(n, 32);
		uint32_t who = 0, seq = 0;
		for (; who < 2; who++) {
			for (seq = 0; seq < ZC_THREADS_PER; seq++) {
				ct_pattern(want, 32, who, seq);
				if (!memcmp(want, r, 32))
					break;
			}
			if (seq < ZC_THREADS_PER)
				break;
		}
		CT_TRUE(who < 2, "a message matches no producer's pattern");
		CT_TRUE(atomic_fetch_add(&s->seen[who][seq], 1) == 0, "message %u of %u came twice", seq, who);
		CT_OK(ipcq_consume(s->q, r), s->q);
		atomic_fetch_add(&s->taken, 1);
	}
}

static void *zc_share_thread(void *arg)
{
	struct zc_share *s = arg;
	static atomic_int started;
	if (atomic_fetch_add(&started, 1) % 2)
		zc_share_consumer(s);
	else
		zc_share_producer(s);
	return NULL;
}

/* Two threads reserve and two peek on one handle: every message once, none torn. */
void t_zc_threads_share_one_handle(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 16, 32);
	struct zc_share *s = ct_map(sizeof *s);
	s->q = q;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, zc_share_thread, s) != 0)
			CT_FAIL("pthread_create failed");
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CT_EQ(atomic_load(&s->taken), 2 * ZC_THREADS_PER);
	CT_OK(ipcq_close(q), q);
	ct_unmap(s, sizeof *s);
}
