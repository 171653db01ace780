/*
 * conn.c - multiprocessing.Pipe on top of queues.
 *
 * A one-way pipe is one queue: end a holds its consumer role, end b its
 * producer role. A duplex pipe is two queues crossed over, or, where the
 * mechanism has IPCQ_CAP_DUPLEX, its own pair of ends. Each end owns exactly
 * the roles it uses, so closing an end releases those roles in this process,
 * and a queue is freed here once no end of this process holds a role on it.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

static int open_queue(const ipcq_mech *m, const ipcq_config *cfg, ipcq **q)
{
	int st = ipcq__queue_new(m, cfg, q);
	if (st != IPCQ_OK)
		return st;
	st = m->open((*q)->state, &(*q)->cfg);
	if (st != IPCQ_OK) {
		m->close((*q)->state);
		ipcq__queue_free(*q);
		*q = NULL;
	}
	return st;
}

static int open_native_pair(const ipcq_mech *m, const ipcq_config *cfg, ipcq **qa, ipcq **qb)
{
	int st = ipcq__queue_new(m, cfg, qa);
	if (st != IPCQ_OK)
		return st;
	st = ipcq__queue_new(m, cfg, qb);
	if (st != IPCQ_OK) {
		ipcq__queue_free(*qa);
		return st;
	}
	st = m->pair((*qa)->state, (*qb)->state, &(*qa)->cfg);
	if (st != IPCQ_OK) {
		m->close((*qa)->state);
		m->close((*qb)->state);
		ipcq__queue_free(*qa);
		ipcq__queue_free(*qb);
	}
	return st;
}

int ipcq_pipe(const ipcq_mech *m, const ipcq_config *cfg, bool duplex, ipcq_conn **a, ipcq_conn **b)
{
	if (!a || !b)
		return ipcq__fail_on(NULL, IPCQ_INVAL, "%s", "ipcq_pipe: a result pointer is NULL");
	*a = *b = NULL;
	if (cfg && cfg->name)
		return ipcq__fail_on(NULL, IPCQ_INVAL, "%s",
		                 "ipcq_pipe: a pipe is private (both ends of one name would be one queue); leave "
		                 "cfg.name NULL, or open named queues with ipcq_open, one per direction");
	ipcq_conn *ca = calloc(1, sizeof *ca), *cb = calloc(1, sizeof *cb);
	ipcq *q1 = NULL, *q2 = NULL;
	int st = (ca && cb) ? IPCQ_OK : ipcq__sys(ENOMEM, "ipcq_pipe: allocating the ends");
	if (st == IPCQ_OK && m && duplex && (m->caps & IPCQ_CAP_DUPLEX)) {
		st = open_native_pair(m, cfg, &q1, &q2);
		if (st == IPCQ_OK) {
			*ca = (ipcq_conn){ .tx = q1, .rx = q1 };
			*cb = (ipcq_conn){ .tx = q2, .rx = q2 };
		}
	} else if (st == IPCQ_OK && duplex) {
		st = open_queue(m, cfg, &q1); /* a -> b */
		if (st == IPCQ_OK) {
			st = open_queue(m, cfg, &q2); /* b -> a */
			if (st != IPCQ_OK)
				ipcq_close(q1);
		}
		if (st == IPCQ_OK) {
			*ca = (ipcq_conn){ .tx = q1, .rx = q2 };
			*cb = (ipcq_conn){ .tx = q2, .rx = q1 };
		}
	} else if (st == IPCQ_OK) {
		st = open_queue(m, cfg, &q1);
		if (st == IPCQ_OK) {
			*ca = (ipcq_conn){ .rx = q1 };
			*cb = (ipcq_conn){ .tx = q1 };
		}
	}
	if (st != IPCQ_OK) {
		free(ca);
		free(cb);
		ipcq__err_bind(NULL, st);
		return st;
	}
	*a = ca;
	*b = cb;
	return IPCQ_OK;
}

static int conn_usable(ipcq_conn *c, ipcq *q, const char *call, const char *wrong_end)
{
	if (!c)
		return ipcq__fail_on(NULL, IPCQ_INVAL, "%s", "the connection is NULL");
	if (c->closed)
		return ipcq__fail_on(c, IPCQ_CLOSED, "%s", call);
	if (!q)
		return ipcq__fail_on(c, IPCQ_BADDIR, "%s", wrong_end);
	return IPCQ_OK;
}

int ipcq_send(ipcq_conn *c, const void *msg, size_t len, int64_t timeout_ns)
{
	int st = conn_usable(c, c ? c->tx : NULL, "send: this end was closed",
	                     "send: this is the receive-only end of a one-way pipe; send on the other end");
	return st != IPCQ_OK ? st : ipcq__put(c->tx, c, msg, len, timeout_ns);
}

int ipcq_recv(ipcq_conn *c, void *buf, size_t cap, size_t *len, int64_t timeout_ns)
{
	int st = conn_usable(c, c ? c->rx : NULL, "recv: this end was closed",
	                     "recv: this is the send-only end of a one-way pipe; receive on the other end");
	return st != IPCQ_OK ? st : ipcq__get(c->rx, c, buf, cap, len, timeout_ns);
}

int ipcq_conn_poll(ipcq_conn *c, int64_t timeout_ns)
{
	int st = conn_usable(c, c ? c->rx : NULL, "poll: this end was closed",
	                     "poll: this is the send-only end of a one-way pipe; poll the other end");
	return st != IPCQ_OK ? st : ipcq__poll_queue(c->rx, c, timeout_ns);
}

/* Gives up one role of q for this end; frees q here once no role is left. */
static void drop_role(ipcq *q, unsigned role)
{
	if (!q)
		return;
	ipcq_release(q, role);
	if (q->roles == 0)
		ipcq_close(q);
}

int ipcq_conn_close(ipcq_conn *c)
{
	if (!c)
		return IPCQ_OK;
	if (c->closed)
		return ipcq__fail_on(c, IPCQ_CLOSED, "%s", "close: this end was already closed");
	c->closed = true;
	if (c->tx && c->tx == c->rx) {
		drop_role(c->tx, IPCQ_PRODUCER | IPCQ_CONSUMER);
	} else {
		drop_role(c->tx, IPCQ_PRODUCER);
		drop_role(c->rx, IPCQ_CONSUMER);
	}
	c->tx = c->rx = NULL;
	ipcq__tombstone(c);
	return IPCQ_OK;
}
