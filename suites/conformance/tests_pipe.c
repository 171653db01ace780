/*
 * tests_pipe.c - multiprocessing.Pipe: one-way direction (BADDIR), duplex
 * both ways and across fork, EOF after the other end closed (here and in a
 * child), BROKEN towards a closed end, CLOSED after close.
 */
#include "tests.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define T_SEND(c, who, seq, len) t_send_at(__FILE__, __LINE__, c, who, seq, len)
#define T_RECV(c, who, seq, len) t_recv_at(__FILE__, __LINE__, c, who, seq, len)

static void t_send_at(const char *file, int line, ipcq_conn *c, uint32_t who, uint32_t seq, size_t len)
{
	unsigned char buf[9000];
	ct_pattern(buf, len, who, seq);
	int st = ipcq_send(c, buf, len, CT_LONG);
	if (st != IPCQ_OK)
		ct_fail_at(file, line, "`ipcq_send(c, msg %u/%u, %zu bytes)` -> %s, expected IPCQ_OK%s", who,
		           seq, len, ipcq_strstatus(st), ct_errmsg_suffix(c, st));
}

static void t_recv_at(const char *file, int line, ipcq_conn *c, uint32_t who, uint32_t seq, size_t len)
{
	unsigned char buf[9000], want[9000];
	size_t n = (size_t)-1;
	int st = ipcq_recv(c, buf, sizeof buf, &n, CT_LONG);
	if (st != IPCQ_OK)
		ct_fail_at(file, line, "`ipcq_recv(c, ...)` for msg %u/%u -> %s, expected IPCQ_OK%s", who, seq,
		           ipcq_strstatus(st), ct_errmsg_suffix(c, st));
	if (n != len)
		ct_fail_at(file, line, "`ipcq_recv` for msg %u/%u gave %zu bytes, expected %zu", who, seq, n, len);
	ct_pattern(want, len, who, seq);
	ct_mem_at(file, line, "received message", buf, want, len);
}

static void t_pipe_open(const struct ct_ctx *c, bool duplex, ipcq_conn **a, ipcq_conn **b)
{
	ipcq_config cfg = {.capacity = 8, .max_msg = 8192};
	*a = *b = NULL;
	int st = ipcq_pipe(c->mech, &cfg, duplex, a, b);
	if (st != IPCQ_OK)
		CT_FAIL("`ipcq_pipe(%s, duplex=%d)` -> %s, expected IPCQ_OK (errmsg: %s)", c->name, duplex,
		        ipcq_strstatus(st), ipcq_errmsg(NULL));
	CT_TRUE(*a && *b, "ipcq_pipe returned OK without both ends");
}

void t_pipe_oneway_baddir(const struct ct_ctx *c)
{
	ipcq_conn *a, *b;
	t_pipe_open(c, false, &a, &b);
	char buf[16];
	size_t n;
	/* a receives only, b sends only. */
	CT_ST(ipcq_send(a, "x", 1, IPCQ_NOWAIT), IPCQ_BADDIR, a);
	CT_TRUE(ipcq_errmsg(a)[0] != 0, "no errmsg after BADDIR");
	CT_ST(ipcq_recv(b, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_BADDIR, b);
	CT_ST(ipcq_conn_poll(b, IPCQ_NOWAIT), IPCQ_BADDIR, b);
	CT_ST(ipcq_recv(a, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, a); /* BADDIR queued nothing */
	T_SEND(b, 50, 0, 12);
	CT_OK(ipcq_conn_poll(a, IPCQ_NOWAIT), a);
	T_RECV(a, 50, 0, 12);
	CT_OK(ipcq_conn_close(a), a);
	CT_OK(ipcq_conn_close(b), b);
}

void t_pipe_duplex_both_ways(const struct ct_ctx *c)
{
	ipcq_conn *a, *b;
	t_pipe_open(c, true, &a, &b);
	T_SEND(a, 51, 0, 4);
	T_RECV(b, 51, 0, 4);
	T_SEND(b, 52, 0, 4);
	T_RECV(a, 52, 0, 4);
	/* Both directions loaded at once: neither end sees its own messages. */
	for (uint32_t r = 0; r < 20; r++) {
		for (uint32_t i = 0; i < 4; i++) {
			T_SEND(a, 51, r * 4 + i, 1 + (r * 97 + i * 31) % 6000);
			T_SEND(b, 52, r * 4 + i, 1 + (r * 13 + i * 71) % 6000);
		}
		for (uint32_t i = 0; i < 4; i++) {
			T_RECV(a, 52, r * 4 + i, 1 + (r * 13 + i * 71) % 6000);
			T_RECV(b, 51, r * 4 + i, 1 + (r * 97 + i * 31) % 6000);
		}
	}
	char buf[16];
	size_t n;
	CT_ST(ipcq_recv(a, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, a);
	CT_ST(ipcq_recv(b, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, b);
	CT_OK(ipcq_conn_close(a), a);
	CT_OK(ipcq_conn_close(b), b);
}

struct t_ends {
	ipcq_conn *a, *b;
};

static void t_echo_child(void *arg)
{
	struct t_ends *e = arg;
	CT_OK(ipcq_conn_close(e->a), e->a);
	unsigned char buf[9000];
	for (;;) {
		size_t n = 0;
		int st = ipcq_recv(e->b, buf, sizeof buf, &n, CT_LONG);
		if (st == IPCQ_EOF)
			break;
		CT_TRUE(st == IPCQ_OK, "echo: recv -> %s%s", ipcq_strstatus(st), ct_errmsg_suffix(e->b, st));
		for (size_t i = 0; i < n; i++)
			buf[i] ^= 0x5a;
		CT_OK(ipcq_send(e->b, buf, n, CT_LONG), e->b);
	}
	CT_OK(ipcq_conn_close(e->b), e->b);
}

void t_pipe_duplex_across_fork(const struct ct_ctx *c)
{
	struct t_ends *e = ct_shared(sizeof *e);
	t_pipe_open(c, true, &e->a, &e->b);
	struct ct_actor *child = ct_spawn_process(NULL, 0, t_echo_child, e);
	CT_OK(ipcq_conn_close(e->b), e->b);
	unsigned char msg[6000], want[6000], got[6100];
	for (uint32_t i = 0; i < 200; i++) {
		size_t len = 1 + (i * 131) % sizeof msg, n = 0;
		ct_pattern(msg, len, 53, i);
		CT_OK(ipcq_send(e->a, msg, len, CT_LONG), e->a);
		CT_OK(ipcq_recv(e->a, got, sizeof got, &n, CT_LONG), e->a);
		CT_EQ(n, len);
		for (size_t k = 0; k < len; k++)
			want[k] = msg[k] ^ 0x5a;
		CT_MEM(got, want, len);
	}
	ipcq_conn *a = e->a;
	size_t n;
	CT_OK(ipcq_send(a, "bye", 3, CT_LONG), a);
	CT_OK(ipcq_recv(a, got, sizeof got, &n, CT_LONG), a);
	CT_EQ(n, 3);
	CT_OK(ipcq_conn_close(a), a); /* the child's loop ends on the EOF this gives it */
	ct_join(child);
}

void t_pipe_recv_eof_after_close(const struct ct_ctx *c)
{
	ipcq_conn *a, *b;
	t_pipe_open(c, false, &a, &b);
	size_t last = (c->caps & IPCQ_CAP_ZEROLEN) ? 0 : 1; /* a zero-length message is no EOF */
	T_SEND(b, 54, 0, 10);
	T_SEND(b, 54, 1, last);
	CT_OK(ipcq_conn_close(b), b);
	T_RECV(a, 54, 0, 10);
	T_RECV(a, 54, 1, last);
	char buf[16];
	size_t n;
	CT_ST(ipcq_recv(a, buf, sizeof buf, &n, 5 * CT_SEC), IPCQ_EOF, a);
	CT_ST(ipcq_recv(a, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EOF, a);
	CT_OK(ipcq_conn_close(a), a);

	/* Duplex: closing b ends a's receiving and breaks a's sending. */
	t_pipe_open(c, true, &a, &b);
	T_SEND(b, 55, 0, 10);
	CT_OK(ipcq_conn_close(b), b);
	T_RECV(a, 55, 0, 10);
	CT_ST(ipcq_recv(a, buf, sizeof buf, &n, 5 * CT_SEC), IPCQ_EOF, a);
	CT_ST(ipcq_send(a, "x", 1, CT_SEC), IPCQ_BROKEN, a);
	CT_OK(ipcq_conn_close(a), a);
}

static void t_eof_child(void *arg)
{
	struct t_ends *e = arg;
	CT_OK(ipcq_conn_close(e->b), e->b);
	for (uint32_t i = 0; i < 3; i++)
		T_RECV(e->a, 56, i, 100 * i + 1);
	char buf[16];
	size_t n;
	CT_ST(ipcq_recv(e->a, buf, sizeof buf, &n, 5 * CT_SEC), IPCQ_EOF, e->a);
}

void t_pipe_recv_eof_in_child(const struct ct_ctx *c)
{
	struct t_ends *e = ct_shared(sizeof *e);
	t_pipe_open(c, false, &e->a, &e->b);
	struct ct_actor *child = ct_spawn_process(NULL, 0, t_eof_child, e);
	CT_OK(ipcq_conn_close(e->a), e->a);
	for (uint32_t i = 0; i < 3; i++)
		T_SEND(e->b, 56, i, 100 * i + 1);
	CT_OK(ipcq_conn_close(e->b), e->b);
	ct_join(child);
}

void t_pipe_send_to_closed_end_broken(const struct ct_ctx *c)
{
	signal(SIGPIPE, SIG_DFL);
	ipcq_conn *a, *b;
	t_pipe_open(c, false, &a, &b);
	CT_OK(ipcq_conn_close(a), a);
	CT_ST(ipcq_send(b, "x", 1, IPCQ_NOWAIT), IPCQ_BROKEN, b);
	CT_ST(ipcq_send(b, "x", 1, CT_SEC), IPCQ_BROKEN, b);
	CT_OK(ipcq_conn_close(b), b);
}

void t_conn_use_after_close_closed(const struct ct_ctx *c)
{
	ipcq_conn *a, *b;
	t_pipe_open(c, true, &a, &b);
	CT_OK(ipcq_conn_close(a), a);
	char buf[16];
	size_t n;
	CT_ST(ipcq_send(a, "x", 1, IPCQ_NOWAIT), IPCQ_CLOSED, a);
	CT_ST(ipcq_recv(a, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_CLOSED, a);
	CT_ST(ipcq_conn_poll(a, IPCQ_NOWAIT), IPCQ_CLOSED, a);
	CT_ST(ipcq_conn_close(a), IPCQ_CLOSED, a);
	CT_OK(ipcq_conn_close(b), b);
	CT_ST(ipcq_send(b, "x", 1, IPCQ_NOWAIT), IPCQ_CLOSED, b);
	CT_ST(ipcq_conn_close(b), IPCQ_CLOSED, b);
}
