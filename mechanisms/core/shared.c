/*
 * shared.c - the public shared-value calls: argument and key checks, then
 * one call into the mechanism. A mechanism without IPCQ_CAP_SHARED answers
 * IPCQ_UNSUPPORTED here, before any state is made.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ipcq_shared {
	const ipcq_mech *mech;
	ipcq_config cfg; /* defaults filled in; name/endpoint not kept */
	bool closed;
	void *state;     /* mech->state_size bytes */
};

int ipcq_shared_open(const ipcq_mech *m, const ipcq_config *cfg, ipcq_shared **out)
{
	if (!out)
		return ipcq__fail_on(NULL, IPCQ_INVAL, "%s", "ipcq_shared_open: the result pointer is NULL");
	*out = NULL;
	ipcq_config full;
	int st = ipcq__config_fill(m, cfg, &full);
	if (st == IPCQ_OK && !(m->caps & IPCQ_CAP_SHARED))
		st = ipcq__fail(IPCQ_UNSUPPORTED, 0,
		                "%s has no shared values (no IPCQ_CAP_SHARED); use shmmgr", m->name);
	if (st == IPCQ_OK && full.capacity == 0)
		st = ipcq__fail(IPCQ_INVAL, 0,
		                "ipcq_shared_open: %s has no default table size: set cfg.capacity to the number of keys",
		                m->name);
	if (st != IPCQ_OK) {
		ipcq__err_bind(NULL, st);
		return st;
	}
	full.name = full.endpoint = NULL;
	ipcq_shared *s = calloc(1, sizeof *s);
	void *state = s ? ipcq__state_alloc(m->state_size) : NULL;
	if (!state) {
		free(s);
		st = ipcq__sys(ENOMEM, "%s: allocating a shared-values handle", m->name);
		ipcq__err_bind(NULL, st);
		return st;
	}
	s->mech = m;
	s->cfg = full;
	s->state = state;
	st = m->shared_open(state, &s->cfg);
	if (st != IPCQ_OK) {
		m->shared_close(state);
		free(state);
		free(s);
		ipcq__err_bind(NULL, st);
		return st;
	}
	*out = s;
	return IPCQ_OK;
}

/* The checks every call on a table makes, the key's included. */
static int usable(ipcq_shared *s, const char *key, const char *call)
{
	if (!s)
		return ipcq__fail_on(NULL, IPCQ_INVAL, "%s: the shared-values handle is NULL", call);
	if (s->closed)
		return ipcq__fail_on(s, IPCQ_CLOSED, "%s: the shared values were closed in this process", call);
	if (!key || !*key)
		return ipcq__fail_on(s, IPCQ_INVAL, "%s: the key is NULL or empty", call);
	size_t n = strnlen(key, IPCQ_SHARED_KEY_MAX + 1);
	if (n > IPCQ_SHARED_KEY_MAX) {
		ipcq__fail(IPCQ_INVAL, 0,
		           "%s: key \"%.20s...\" is longer than IPCQ_SHARED_KEY_MAX (%d bytes); use a shorter key",
		           call, key, IPCQ_SHARED_KEY_MAX);
		ipcq__err_bind(s, IPCQ_INVAL);
		return IPCQ_INVAL;
	}
	return IPCQ_OK;
}

int ipcq_shared_set(ipcq_shared *s, const char *key, const void *val, size_t len)
{
	int st = usable(s, key, "shared_set");
	if (st != IPCQ_OK)
		return st;
	if (len && !val)
		return ipcq__fail_on(s, IPCQ_INVAL, "%s: val is NULL with a non-zero length", "shared_set");
	if (len > s->cfg.max_msg) {
		ipcq__fail(IPCQ_TOOBIG, 0,
		           "shared_set: value of %zu bytes exceeds max_msg %zu of this %s table; nothing was "
		           "stored: open it with a larger max_msg",
		           len, s->cfg.max_msg, s->mech->name);
		return ipcq__bound(s, IPCQ_TOOBIG);
	}
	return ipcq__bound(s, s->mech->shared_set(s->state, key, val, len));
}

int ipcq_shared_get(ipcq_shared *s, const char *key, void *buf, size_t cap, size_t *len)
{
	int st = usable(s, key, "shared_get");
	if (st != IPCQ_OK)
		return st;
	if (!len || (cap && !buf))
		return ipcq__fail_on(s, IPCQ_INVAL, "%s: len is NULL, or buf is NULL with a non-zero cap", "shared_get");
	return ipcq__bound(s, s->mech->shared_get(s->state, key, buf, cap, len));
}

/* add and cas store an int64: a table for smaller values (max_msg < 8) cannot hold one. */
static int int_fits(ipcq_shared *s, const char *call)
{
	if (s->cfg.max_msg >= sizeof(int64_t))
		return IPCQ_OK;
	ipcq__fail(IPCQ_TOOBIG, 0,
	           "%s: this %s table holds values of at most %zu bytes (max_msg) and an int64 takes 8; "
	           "nothing changed: open it with max_msg >= 8",
	           call, s->mech->name, s->cfg.max_msg);
	return ipcq__bound(s, IPCQ_TOOBIG);
}

int ipcq_shared_add(ipcq_shared *s, const char *key, int64_t delta, int64_t *result)
{
	int st = usable(s, key, "shared_add");
	if (st == IPCQ_OK)
		st = int_fits(s, "shared_add");
	if (st != IPCQ_OK)
		return st;
	int64_t ignored;
	return ipcq__bound(s, s->mech->shared_add(s->state, key, delta, result ? result : &ignored));
}

int ipcq_shared_cas(ipcq_shared *s, const char *key, int64_t expect, int64_t desired, bool *swapped)
{
	int st = usable(s, key, "shared_cas");
	if (st == IPCQ_OK)
		st = int_fits(s, "shared_cas");
	if (st != IPCQ_OK)
		return st;
	bool ignored;
	return ipcq__bound(s, s->mech->shared_cas(s->state, key, expect, desired, swapped ? swapped : &ignored));
}

int ipcq_shared_close(ipcq_shared *s)
{
	if (!s)
		return IPCQ_OK; /* what a failed open leaves */
	if (s->closed)
		return ipcq__fail_on(s, IPCQ_CLOSED, "%s: the shared values were already closed", "shared_close");
	s->closed = true;
	s->mech->shared_close(s->state);
	free(s->state);
	s->state = NULL;
	ipcq__tombstone(s);
	return IPCQ_OK;
}
