/*
 * internal.h - what the core's own files share and mechanisms never see:
 * the handle layouts and the thread-local error record.
 */
#ifndef IPCQ_INTERNAL_H
#define IPCQ_INTERNAL_H

#include "mech.h"

#include <stdlib.h>
#include <string.h>

struct ipcq {
	const ipcq_mech *mech;
	ipcq_config cfg;      /* defaults filled in; name/endpoint copied */
	unsigned roles;       /* held by this process */
	bool closed;
	void *state;          /* mech->state_size bytes */
};

/*
 * A connection end: queue tx carries what this end sends, rx what it
 * receives. A native duplex end has tx == rx. Each end owns exactly the
 * roles it uses, so closing it releases those and nothing else.
 */
struct ipcq_conn {
	ipcq *tx, *rx;
	bool closed;
};

/* Makes the status recorded by the last ipcq__fail/sys belong to handle. */
void ipcq__err_bind(const void *handle, int status);
/* Forgets any recorded error (a call starts clean). */
void ipcq__err_clear(void);

/* Statuses up to IPCQ_EOF are answers, not failures: no message to keep. */
#define FAILED(st) ((st) > IPCQ_EOF)

/* Records status with fmt (one %s: what) as handle's error; returns status. */
static inline int ipcq__fail_on(const void *handle, int status, const char *fmt, const char *what)
{
	ipcq__fail(status, 0, fmt, what);
	ipcq__err_bind(handle, status);
	return status;
}

/* A mechanism's answer, its error (if any) made handle's; returns st. */
static inline int ipcq__bound(const void *handle, int st)
{
	if (FAILED(st))
		ipcq__err_bind(handle, st);
	return st;
}

/*
 * A mechanism's per-handle state: size bytes (at least 1), zeroed, on its own
 * cache lines, so a mechanism can keep a field one thread writes away from
 * those another thread reads (threads share a handle). NULL without memory.
 */
static inline void *ipcq__state_alloc(size_t size)
{
	size_t n = size ? (size + 63) & ~(size_t)63 : 64;
	void *p = aligned_alloc(64, n);
	if (p)
		memset(p, 0, n);
	return p;
}

/* Keeps a closed handle's memory reachable so a late call answers CLOSED. */
void ipcq__tombstone(void *p);

/* Core-level arguments/flags check shared by queue and pipe opens; fills *out. */
int ipcq__config_fill(const ipcq_mech *m, const ipcq_config *cfg, ipcq_config *out);
/* Allocates and opens a queue handle (no name copies beyond cfg lifetime). */
int ipcq__queue_new(const ipcq_mech *m, const ipcq_config *cfg, ipcq **out);
/* Frees a handle that never opened (state closed by caller). */
void ipcq__queue_free(ipcq *q);

/* The queue calls, with the handle their errors belong to (a queue or a conn). */
int ipcq__put(ipcq *q, const void *handle, const void *msg, size_t len, int64_t timeout_ns);
int ipcq__get(ipcq *q, const void *handle, void *buf, size_t cap, size_t *len, int64_t timeout_ns);
int ipcq__poll_queue(ipcq *q, const void *handle, int64_t timeout_ns);
int ipcq__release(ipcq *q, const void *handle, unsigned roles);

#endif
