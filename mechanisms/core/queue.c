/*
 * queue.c - the public queue calls: argument, role and size checks, the
 * deadline, then one call into the mechanism.
 */
#include "internal.h"

#include <signal.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Closed handles stay allocated and reachable (so leak checkers stay quiet):
 * a call on one answers IPCQ_CLOSED instead of touching freed memory. What
 * a closed handle keeps is its small struct; its state and descriptors are gone.
 */
static struct {
	pthread_mutex_t lock;
	void **v;
	size_t n, cap;
} tombs = { .lock = PTHREAD_MUTEX_INITIALIZER };

void ipcq__tombstone(void *p)
{
	pthread_mutex_lock(&tombs.lock);
	if (tombs.n == tombs.cap) {
		size_t cap = tombs.cap ? tombs.cap * 2 : 64;
		void **v = realloc(tombs.v, cap * sizeof *v);
		if (v) {
			tombs.v = v;
			tombs.cap = cap;
		}
	}
	if (tombs.n < tombs.cap)
		tombs.v[tombs.n++] = p;
	pthread_mutex_unlock(&tombs.lock);
}

int ipcq__config_fill(const ipcq_mech *m, const ipcq_config *cfg, ipcq_config *out)
{
	static const ipcq_config none;
	if (!m)
		return ipcq__fail(IPCQ_INVAL, 0, "no mechanism given (ipcq_mech_find() returns NULL for an unknown name)");
	if (!cfg)
		cfg = &none;
	if (cfg->flags & ~IPCQ_SIGPIPE_IGNORED)
		return ipcq__fail(IPCQ_INVAL, 0, "config flags 0x%x: unknown bits 0x%x; the only flag is IPCQ_SIGPIPE_IGNORED",
		                  cfg->flags, cfg->flags & ~IPCQ_SIGPIPE_IGNORED);
	if (cfg->flags & IPCQ_SIGPIPE_IGNORED) {
		struct sigaction sa;
		if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler != SIG_IGN)
			return ipcq__fail(IPCQ_INVAL, 0,
			                  "IPCQ_SIGPIPE_IGNORED, but SIGPIPE is not ignored: call "
			                  "signal(SIGPIPE, SIG_IGN) first, or leave the flag out");
	}
	if (cfg->name && !(m->caps & IPCQ_CAP_NAMED))
		return ipcq__fail(IPCQ_UNSUPPORTED, 0,
		                  "%s: queues cannot be opened by name (no IPCQ_CAP_NAMED); leave cfg.name NULL",
		                  m->name);
	*out = *cfg;
	if (!out->max_msg)
		out->max_msg = m->default_max_msg;
	if (!out->capacity)
		out->capacity = ipcq__default_capacity(m, out->max_msg);
	return IPCQ_OK;
}

static void free_handle(ipcq *q)
{
	free((char *)q->cfg.name);
	free((char *)q->cfg.endpoint);
	free(q->state);
	q->state = NULL;
	q->cfg.name = q->cfg.endpoint = NULL;
}

/* A handle with zeroed state and a filled config, not yet opened. */
static int handle_new(const ipcq_mech *m, const ipcq_config *cfg, ipcq **out)
{
	ipcq *q = calloc(1, sizeof *q);
	if (!q)
		return ipcq__sys(ENOMEM, "%s: allocating a handle", m->name);
	q->mech = m;
	q->cfg = *cfg;
	q->cfg.name = cfg->name ? strdup(cfg->name) : NULL;
	q->cfg.endpoint = cfg->endpoint ? strdup(cfg->endpoint) : NULL;
	q->state = ipcq__state_alloc(m->state_size);
	if (!q->state || (cfg->name && !q->cfg.name) || (cfg->endpoint && !q->cfg.endpoint)) {
		free_handle(q);
		free(q);
		return ipcq__sys(ENOMEM, "%s: allocating a handle", m->name);
	}
	q->roles = IPCQ_PRODUCER | IPCQ_CONSUMER;
	*out = q;
	return IPCQ_OK;
}

void ipcq__queue_free(ipcq *q)
{
	free_handle(q);
	free(q);
}

int ipcq__queue_new(const ipcq_mech *m, const ipcq_config *cfg, ipcq **out)
{
	ipcq_config full;
	int st = ipcq__config_fill(m, cfg, &full);
	if (st == IPCQ_OK)
		st = handle_new(m, &full, out);
	return st;
}

int ipcq_open(const ipcq_mech *m, const ipcq_config *cfg, ipcq **out)
{
	if (!out)
		return ipcq__fail_on(NULL, IPCQ_INVAL, "%s", "ipcq_open: the result pointer is NULL");
	*out = NULL;
	ipcq *q;
	int st = ipcq__queue_new(m, cfg, &q);
	if (st == IPCQ_OK) {
		st = m->open(q->state, &q->cfg);
		if (st != IPCQ_OK) {
			m->close(q->state);
			ipcq__queue_free(q);
		}
	}
	if (st != IPCQ_OK) {
		ipcq__err_bind(NULL, st);
		return st;
	}
	*out = q;
	return IPCQ_OK;
}

/* The checks every call on a queue makes; handle is what errors are bound to. */
static int usable(ipcq *q, const void *handle, unsigned role, const char *call)
{
	if (!q)
		return ipcq__fail_on(NULL, IPCQ_INVAL, "%s: the queue is NULL", call);
	if (q->closed)
		return ipcq__fail_on(handle, IPCQ_CLOSED, "%s: the queue was closed in this process", call);
	if (role && !(q->roles & role))
		return ipcq__fail_on(handle, IPCQ_CLOSED,
		               role == IPCQ_PRODUCER ? "%s: this process released the producer role"
		                                     : "%s: this process released the consumer role",
		               call);
	return IPCQ_OK;
}

/* The checks of one message to put; what names it in errors ("put", "put_many: v[3]"). */
static int put_args(ipcq *q, const void *handle, const void *msg, size_t len, const char *what)
{
	if (len && !msg)
		return ipcq__fail_on(handle, IPCQ_INVAL, "%s: msg is NULL with a non-zero length", what);
	if (len > q->cfg.max_msg) {
		ipcq__fail(IPCQ_TOOBIG, 0,
		           "%s: message of %zu bytes exceeds max_msg %zu of this %s queue; nothing was "
		           "queued: open it with a larger max_msg",
		           what, len, q->cfg.max_msg, q->mech->name);
		return ipcq__bound(handle, IPCQ_TOOBIG);
	}
	if (!len && !(q->mech->caps & IPCQ_CAP_ZEROLEN)) {
		ipcq__fail(IPCQ_UNSUPPORTED, 0, "%s: %s cannot carry zero-length messages", what, q->mech->name);
		return ipcq__bound(handle, IPCQ_UNSUPPORTED);
	}
	return IPCQ_OK;
}

int ipcq__put(ipcq *q, const void *handle, const void *msg, size_t len, int64_t timeout_ns)
{
	int st = usable(q, handle, IPCQ_PRODUCER, "put");
	if (st == IPCQ_OK)
		st = put_args(q, handle, msg, len, "put");
	if (st != IPCQ_OK)
		return st;
	if (q->mech->try_put && q->mech->try_put(q->state, msg, len))
		return IPCQ_OK;
	return ipcq__bound(handle, q->mech->put(q->state, msg, len, ipcq__deadline(timeout_ns)));
}

int ipcq__get(ipcq *q, const void *handle, void *buf, size_t cap, size_t *len, int64_t timeout_ns)
{
	int st = usable(q, handle, IPCQ_CONSUMER, "get");
	if (st != IPCQ_OK)
		return st;
	if (!len || (cap && !buf))
		return ipcq__fail_on(handle, IPCQ_INVAL, "%s: len is NULL, or buf is NULL with a non-zero cap", "get");
	if (q->mech->try_get && q->mech->try_get(q->state, buf, cap, len))
		return IPCQ_OK;
	return ipcq__bound(handle, q->mech->get(q->state, buf, cap, len, ipcq__deadline(timeout_ns)));
}

int ipcq__poll_queue(ipcq *q, const void *handle, int64_t timeout_ns)
{
	int st = usable(q, handle, IPCQ_CONSUMER, "poll");
	if (st != IPCQ_OK)
		return st;
	return ipcq__bound(handle, q->mech->poll(q->state, ipcq__deadline(timeout_ns)));
}

int ipcq_put(ipcq *q, const void *msg, size_t len, int64_t timeout_ns)
{
	return ipcq__put(q, q, msg, len, timeout_ns);
}

int ipcq_get(ipcq *q, void *buf, size_t cap, size_t *len, int64_t timeout_ns)
{
	return ipcq__get(q, q, buf, cap, len, timeout_ns);
}

int ipcq_poll(ipcq *q, int64_t timeout_ns)
{
	return ipcq__poll_queue(q, q, timeout_ns);
}

/* --- Many messages a call --------------------------------------------------- */

/* Puts v[0..n) that go without waiting (try_put_many, else try_put one by one): how many went. */
static size_t put_ready(ipcq *q, const ipcq_msgv *v, size_t n)
{
	const ipcq_mech *m = q->mech;
	if (!n)
		return 0;
	if (m->try_put_many)
		return m->try_put_many(q->state, v, n);
	size_t k = 0;
	while (m->try_put && k < n && m->try_put(q->state, v[k].buf, v[k].len))
		k++;
	return k;
}

/*
 * Every message is checked before the first is queued, so a bad one in the
 * middle leaves the queue as it was. The deadline (a clock read) is made
 * only when a put has to wait.
 */
int ipcq_put_many(ipcq *q, const ipcq_msgv *v, size_t n, size_t *done, int64_t timeout_ns)
{
	if (done)
		*done = 0;
	int st = usable(q, q, IPCQ_PRODUCER, "put_many");
	if (st != IPCQ_OK)
		return st;
	if (!done || (n && !v))
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: done is NULL, or v is NULL with n > 0", "put_many");
	for (size_t i = 0; i < n; i++) {
		/* Only a message put_args might refuse pays for the name it gives in the error. */
		if (!v[i].len || !v[i].buf || v[i].len > q->cfg.max_msg) {
			char what[48];
			snprintf(what, sizeof what, "put_many: v[%zu]", i);
			if ((st = put_args(q, q, v[i].buf, v[i].len, what)) != IPCQ_OK)
				return st;
		}
	}
	bool timed = false;
	ipcq_deadline dl = IPCQ__NOW;
	size_t i = put_ready(q, v, n);
	while (i < n) {
		if (!timed) {
			dl = ipcq__deadline(timeout_ns);
			timed = true;
		}
		if ((st = q->mech->put(q->state, v[i].buf, v[i].len, dl)) != IPCQ_OK)
			break;
		i++;
		i += put_ready(q, v + i, n - i);
	}
	*done = i;
	return ipcq__bound(q, st);
}

/* Takes into v[0..n) what is queued now (try_get_many, else try_get or a get that does not wait, one by one). */
static size_t get_ready(ipcq *q, ipcq_msgv *v, size_t n)
{
	const ipcq_mech *m = q->mech;
	if (!n)
		return 0;
	if (m->try_get_many)
		return m->try_get_many(q->state, v, n);
	size_t k = 0;
	while (k < n && ((m->try_get && m->try_get(q->state, v[k].buf, v[k].cap, &v[k].len)) ||
	                 m->get(q->state, v[k].buf, v[k].cap, &v[k].len, IPCQ__NOW) == IPCQ_OK))
		k++;
	return k;
}

/*
 * The first message as ipcq_get takes it (waiting, TOOBIG, EOF); the rest
 * only if queued now. What ends the run - nothing queued, a message too big
 * for its buffer, EOF - is left for the next call to say.
 */
int ipcq_get_many(ipcq *q, ipcq_msgv *v, size_t n, size_t *got, int64_t timeout_ns)
{
	if (got)
		*got = 0;
	int st = usable(q, q, IPCQ_CONSUMER, "get_many");
	if (st != IPCQ_OK)
		return st;
	if (!got || !v || !n)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: got or v is NULL, or n is 0", "get_many");
	for (size_t i = 0; i < n; i++) {
		if (v[i].cap && !v[i].buf) {
			ipcq__fail(IPCQ_INVAL, 0, "get_many: v[%zu].buf is NULL with a non-zero cap", i);
			return ipcq__bound(q, IPCQ_INVAL);
		}
	}
	const ipcq_mech *m = q->mech;
	size_t k = m->try_get_many ? m->try_get_many(q->state, v, n)
	                           : m->try_get && m->try_get(q->state, v[0].buf, v[0].cap, &v[0].len);
	if (!k) {
		if ((st = m->get(q->state, v[0].buf, v[0].cap, &v[0].len, ipcq__deadline(timeout_ns))) != IPCQ_OK)
			return ipcq__bound(q, st);
		k = 1;
	} else if (m->try_get_many) { /* it stopped where the next would have been refused */
		*got = k;
		return IPCQ_OK;
	}
	*got = k + get_ready(q, v + k, n - k);
	return IPCQ_OK;
}

/* --- Zero copy ------------------------------------------------------------ */

/* The checks of every zero-copy call: usable in role, and the mechanism has the ops. */
static int zc_usable(ipcq *q, unsigned role, const char *call)
{
	int st = usable(q, q, role, call);
	if (st == IPCQ_OK && !q->mech->reserve)
		return ipcq__fail_on(q, IPCQ_UNSUPPORTED,
		               "%s: this mechanism has no zero-copy path (no IPCQ_CAP_ZEROCOPY); use ipcq_put and ipcq_get",
		               call);
	return st;
}

int ipcq_reserve(ipcq *q, size_t len, void **buf, int64_t timeout_ns)
{
	int st = zc_usable(q, IPCQ_PRODUCER, "reserve");
	if (st != IPCQ_OK)
		return st;
	if (!buf)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: buf is NULL", "reserve");
	*buf = NULL;
	if (len > q->cfg.max_msg) {
		ipcq__fail(IPCQ_TOOBIG, 0,
		           "reserve: %zu bytes exceed max_msg %zu of this %s queue; nothing was reserved: open it "
		           "with a larger max_msg",
		           len, q->cfg.max_msg, q->mech->name);
		return ipcq__bound(q, IPCQ_TOOBIG);
	}
	if (q->mech->try_reserve && q->mech->try_reserve(q->state, len, buf))
		return IPCQ_OK;
	return ipcq__bound(q, q->mech->reserve(q->state, len, buf, ipcq__deadline(timeout_ns)));
}

int ipcq_commit(ipcq *q, void *buf, size_t len)
{
	int st = zc_usable(q, IPCQ_PRODUCER, "commit");
	if (st != IPCQ_OK)
		return st;
	if (!buf)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: buf is NULL", "commit");
	if (!len && !(q->mech->caps & IPCQ_CAP_ZEROLEN))
		return ipcq__fail_on(q, IPCQ_UNSUPPORTED, "commit: %s cannot carry zero-length messages", q->mech->name);
	return ipcq__bound(q, q->mech->commit(q->state, buf, len));
}

int ipcq_cancel(ipcq *q, void *buf)
{
	int st = zc_usable(q, IPCQ_PRODUCER, "cancel");
	if (st != IPCQ_OK)
		return st;
	if (!buf)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: buf is NULL", "cancel");
	return ipcq__bound(q, q->mech->cancel(q->state, buf));
}

int ipcq_peek(ipcq *q, const void **buf, size_t *len, int64_t timeout_ns)
{
	int st = zc_usable(q, IPCQ_CONSUMER, "peek");
	if (st != IPCQ_OK)
		return st;
	if (!buf || !len)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: buf or len is NULL", "peek");
	*buf = NULL;
	if (q->mech->try_peek && q->mech->try_peek(q->state, buf, len))
		return IPCQ_OK;
	return ipcq__bound(q, q->mech->peek(q->state, buf, len, ipcq__deadline(timeout_ns)));
}

int ipcq_consume(ipcq *q, const void *buf)
{
	int st = zc_usable(q, IPCQ_CONSUMER, "consume");
	if (st != IPCQ_OK)
		return st;
	if (!buf)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: buf is NULL", "consume");
	return ipcq__bound(q, q->mech->consume(q->state, buf));
}

int ipcq_qsize(ipcq *q, size_t *n)
{
	int st = usable(q, q, 0, "qsize");
	if (st != IPCQ_OK)
		return st;
	if (!n)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: n is NULL", "qsize");
	if (!q->mech->qsize)
		return ipcq__fail_on(q, IPCQ_UNSUPPORTED, "qsize: %s cannot count its messages", q->mech->name);
	return ipcq__bound(q, q->mech->qsize(q->state, n));
}

bool ipcq_empty(ipcq *q)
{
	size_t n;
	return ipcq_qsize(q, &n) == IPCQ_OK && n == 0;
}

bool ipcq_full(ipcq *q)
{
	size_t n;
	return q && (q->mech->caps & IPCQ_CAP_BOUNDED) && ipcq_qsize(q, &n) == IPCQ_OK &&
	       n >= q->cfg.capacity;
}

int ipcq__release(ipcq *q, const void *handle, unsigned roles)
{
	int st = usable(q, handle, 0, "release");
	if (st != IPCQ_OK)
		return st;
	if (roles & ~(IPCQ_PRODUCER | IPCQ_CONSUMER))
		return ipcq__fail_on(handle, IPCQ_INVAL, "%s: roles are IPCQ_PRODUCER and/or IPCQ_CONSUMER", "release");
	unsigned held = roles & q->roles;
	if (!held)
		return IPCQ_OK;
	q->roles &= ~held;
	return ipcq__bound(handle, q->mech->release(q->state, held));
}

int ipcq_release(ipcq *q, unsigned roles)
{
	return ipcq__release(q, q, roles);
}

int ipcq_close(ipcq *q)
{
	if (!q)
		return IPCQ_OK; /* what a failed open leaves */
	if (q->closed)
		return ipcq__fail_on(q, IPCQ_CLOSED, "%s: the queue was already closed", "close");
	q->closed = true;
	q->roles = 0;
	q->mech->close(q->state);
	free_handle(q);
	ipcq__tombstone(q);
	return IPCQ_OK;
}

int ipcq_get_config(ipcq *q, ipcq_config *out)
{
	int st = usable(q, q, 0, "get_config");
	if (st != IPCQ_OK)
		return st;
	if (!out)
		return ipcq__fail_on(q, IPCQ_INVAL, "%s: out is NULL", "get_config");
	*out = q->cfg;
	return IPCQ_OK;
}

const ipcq_mech *ipcq_mechanism(ipcq *q)
{
	return q ? q->mech : NULL;
}
