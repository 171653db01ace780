/*
 * ipcq.h - the public interface of libipcq: queues, pipes and the
 * mechanism registry, modelled on Python's multiprocessing.
 *
 * Every call returns an enum ipcq_status (IPCQ_OK is 0); errno never leaks
 * out. Timeouts are relative nanoseconds: IPCQ_NOWAIT (0) never sleeps, any
 * negative value (IPCQ_FOREVER) waits until done, a positive value waits at
 * most that long against CLOCK_MONOTONIC, across signals.
 */
#ifndef IPCQ_H
#define IPCQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define IPCQ_API __attribute__((visibility("default")))
#else
#define IPCQ_API
#endif

/* X(name, python equivalent / meaning). The order gives the values. */
#define IPCQ_STATUS_MAP(X)                                                          \
	X(OK, "done")                                                               \
	X(FULL, "no room before the deadline (queue.Full)")                         \
	X(EMPTY, "nothing to get before the deadline (queue.Empty)")                \
	X(EOF, "every producer is gone and the queue is drained (EOFError)")        \
	X(BROKEN, "no consumer is left (BrokenPipeError)")                          \
	X(CLOSED, "this handle was closed or released that role")                   \
	X(TOOBIG, "message larger than max_msg, or buffer too small")               \
	X(BADDIR, "wrong end of a one-way pipe")                                    \
	X(INVAL, "bad argument or configuration")                                   \
	X(LIMIT, "a system limit refused it")                                       \
	X(UNSUPPORTED, "this mechanism cannot do that")                             \
	X(PEERDEAD, "a peer died while holding shared state")                       \
	X(SYSERR, "system error")

enum ipcq_status {
#define IPCQ__ENUM(name, text) IPCQ_##name,
	IPCQ_STATUS_MAP(IPCQ__ENUM)
#undef IPCQ__ENUM
	IPCQ_STATUS_COUNT
};

#define IPCQ_NOWAIT ((int64_t)0)
#define IPCQ_FOREVER ((int64_t)-1)

/* Roles a process holds on a queue; every process starts with both. */
#define IPCQ_PRODUCER 1u
#define IPCQ_CONSUMER 2u

/* Capabilities of a mechanism. */
#define IPCQ_CAP_PROCESS (1u << 0)  /* works across fork() */
#define IPCQ_CAP_MPMC (1u << 1)     /* many producers and consumers at once */
#define IPCQ_CAP_EOF (1u << 2)      /* EOF and BROKEN, peer death included */
#define IPCQ_CAP_QSIZE (1u << 3)    /* ipcq_qsize() answers */
#define IPCQ_CAP_ZEROLEN (1u << 4)  /* zero-length messages */
#define IPCQ_CAP_HUGE (1u << 5)     /* messages of 16 MiB and more */
#define IPCQ_CAP_FD (1u << 6)       /* waits on a pollable descriptor */
#define IPCQ_CAP_NAMED (1u << 7)    /* unrelated processes open it by name */
#define IPCQ_CAP_SHARED (1u << 8)   /* shared values */
#define IPCQ_CAP_ROBUST (1u << 9)   /* survives a peer dying in shared state */
#define IPCQ_CAP_BOUNDED (1u << 10) /* capacity counts messages exactly */
#define IPCQ_CAP_DUPLEX (1u << 11)  /* native two-way connection */
#define IPCQ_CAP_ZEROCOPY (1u << 12) /* ipcq_reserve/commit and ipcq_peek/consume work in place */

typedef struct ipcq_mech ipcq_mech;
typedef struct ipcq ipcq;
typedef struct ipcq_conn ipcq_conn;

/* Configuration of a queue or pipe. Zero fields take the mechanism's default. */
typedef struct ipcq_config {
	size_t capacity;      /* messages the queue holds; without IPCQ_CAP_BOUNDED the
	                         kernel's buffer decides instead and this is ignored */
	size_t max_msg;       /* largest message in bytes */
	const char *name;     /* for IPCQ_CAP_NAMED mechanisms (see ipcq_open); NULL = private */
	const char *endpoint; /* for networked mechanisms; NULL = default */
	unsigned flags;       /* IPCQ_SIGPIPE_IGNORED or 0 */
} ipcq_config;

/*
 * Flag: this process ignores SIGPIPE (signal(SIGPIPE, SIG_IGN) before
 * ipcq_open, kept for the queue's life), so puts on pipe(2) descriptors need
 * not block and unblock it around every write (two system calls per put).
 * ipcq_open refuses it with IPCQ_INVAL while SIGPIPE is not ignored.
 */
#define IPCQ_SIGPIPE_IGNORED (1u << 0)

/* Names a status: "IPCQ_EOF". Never NULL. */
IPCQ_API const char *ipcq_strstatus(int status);

/* --- Registry --------------------------------------------------------- */

/* Number of mechanisms built into this library. */
IPCQ_API size_t ipcq_mech_count(void);
/* The i-th mechanism in registry order, or NULL past the end. */
IPCQ_API const ipcq_mech *ipcq_mech_at(size_t i);
/* The mechanism called name, or NULL. */
IPCQ_API const ipcq_mech *ipcq_mech_find(const char *name);
/* Its name ("pipe"). */
IPCQ_API const char *ipcq_mech_name(const ipcq_mech *m);
/* One line saying what it is. */
IPCQ_API const char *ipcq_mech_summary(const ipcq_mech *m);
/* Its IPCQ_CAP_* bits. */
IPCQ_API unsigned ipcq_mech_caps(const ipcq_mech *m);
/* Writes the names of the bits in caps, comma-separated, into buf. */
IPCQ_API void ipcq_caps_format(unsigned caps, char *buf, size_t cap);

/* --- Queue: multiprocessing.Queue ------------------------------------- */

/*
 * Named queues (cfg.name, IPCQ_CAP_NAMED; UNSUPPORTED elsewhere): ipcq_open
 * opens the queue of that name, creating it when there is none, so unrelated
 * processes of one user meet by name. A name is 1 to 200 letters, digits,
 * '.', '_' or '-', not starting with '.' (INVAL otherwise, saying so). Later
 * openers must ask for the same capacity and max_msg (INVAL names the ones in
 * force). Every opener starts with both roles, as a forked child does, and
 * EOF and BROKEN mean what they mean unnamed, death included; a role can come
 * back when another process opens the name, so a process that starts before
 * its peers keeps the role it does not use until the other side shows up (a
 * consumer keeps IPCQ_PRODUCER until its first message). The name goes at the
 * last user's close; if every user died instead, the next open of the name
 * takes over what they left (or remove it: rm /dev/shm/ipcq.<mechanism>.<name>).
 * ipcq_pipe takes no name.
 */

/* Opens a queue; cfg may be NULL for defaults. Open before fork(), or by cfg.name from any process. */
IPCQ_API int ipcq_open(const ipcq_mech *m, const ipcq_config *cfg, ipcq **q);
/* Queues a copy of msg; OK means any process can now get it. */
IPCQ_API int ipcq_put(ipcq *q, const void *msg, size_t len, int64_t timeout_ns);
/* Takes the oldest message into buf; TOOBIG sets *len to the size needed and leaves it queued. */
IPCQ_API int ipcq_get(ipcq *q, void *buf, size_t cap, size_t *len, int64_t timeout_ns);
/* OK when a get would find a message (or EOF when it would say EOF); consumes nothing. */
IPCQ_API int ipcq_poll(ipcq *q, int64_t timeout_ns);
/* Approximate number of queued messages; UNSUPPORTED where unknown. */
IPCQ_API int ipcq_qsize(ipcq *q, size_t *n);
/* Approximate, as in Python: true when qsize is 0 (false when unknown). */
IPCQ_API bool ipcq_empty(ipcq *q);
/* Approximate: true when qsize reaches capacity (false when unknown). */
IPCQ_API bool ipcq_full(ipcq *q);
/* This process is done with these roles (IPCQ_PRODUCER | IPCQ_CONSUMER). */
IPCQ_API int ipcq_release(ipcq *q, unsigned roles);
/* Releases every role and frees local resources; safe twice, later calls say CLOSED. */
IPCQ_API int ipcq_close(ipcq *q);

/* --- Many messages a call, as sendmmsg(2) and recvmmsg(2) ------------------ */

/*
 * One message of ipcq_put_many (buf and len: the message) or ipcq_get_many
 * (buf and cap: the room; len: set to the message's size).
 */
typedef struct ipcq_msgv {
	void *buf;
	size_t len, cap;
} ipcq_msgv;

/*
 * The per-message cost of put and get (checks, a call into the mechanism,
 * a wake-up check, the clock for a finite timeout) paid once per call: every
 * mechanism takes these; shmring moves a run of slots in one pass.
 */

/* Queues v[0..n) in order, as n puts under one deadline, once all pass put's checks (else nothing is queued); *done = how many went, n on OK. */
IPCQ_API int ipcq_put_many(ipcq *q, const ipcq_msgv *v, size_t n, size_t *done, int64_t timeout_ns);
/* Waits as get for one message, then takes those queued at once too, up to n: *got >= 1 on OK; TOOBIG only for v[0] (later misfits stay queued). */
IPCQ_API int ipcq_get_many(ipcq *q, ipcq_msgv *v, size_t n, size_t *got, int64_t timeout_ns);

/* --- Zero copy: write and read a message in the queue's own memory ------- */

/*
 * For mechanisms with IPCQ_CAP_ZEROCOPY; the others answer UNSUPPORTED (the
 * core does not fake it with a copy: that would cost more than put and get).
 * A reservation or a held message is named by its buffer pointer and ended
 * exactly once, by the thread or any thread of the process that began it:
 * commit or cancel; consume. A process may have several at once. They keep
 * FIFO order, so consumers wait behind a reservation not yet committed, and
 * a reservation can wait for room its own held slots block: keep them short.
 * A process that dies holding one ends it: its reservation is dropped (never
 * seen, never torn, the ring goes on), a message it held is lost, as with a
 * get it died in. release() of a role and close() end this process's own.
 */

/* Claims room for one message of at most len bytes and sets *buf to it; waits for room like put (FULL, BROKEN; TOOBIG for len > max_msg). */
IPCQ_API int ipcq_reserve(ipcq *q, size_t len, void **buf, int64_t timeout_ns);
/* Publishes the first len bytes (<= the len reserved) at buf as one message; OK means any process can now get it. */
IPCQ_API int ipcq_commit(ipcq *q, void *buf, size_t len);
/* Drops the reservation at buf: nothing is queued and the room is free again. */
IPCQ_API int ipcq_cancel(ipcq *q, void *buf);
/* Holds the oldest message in place: *buf, *len stay valid until ipcq_consume(q, *buf); waits, EMPTY and EOF as get. */
IPCQ_API int ipcq_peek(ipcq *q, const void **buf, size_t *len, int64_t timeout_ns);
/* Ends the hold on buf: the message is taken for good and its room freed; there is no putting it back. */
IPCQ_API int ipcq_consume(ipcq *q, const void *buf);

/* The configuration in force (defaults filled in). */
IPCQ_API int ipcq_get_config(ipcq *q, ipcq_config *out);
/* The mechanism behind q. */
IPCQ_API const ipcq_mech *ipcq_mechanism(ipcq *q);

/*
 * Why the last failed call on handle (an ipcq or ipcq_conn) made by this
 * thread failed, as a sentence a user can act on; "" if none. NULL asks about
 * the last failed ipcq_open or ipcq_pipe. ipcq_errno gives the raw errno (or 0).
 */
IPCQ_API int ipcq_errno(const void *handle);
IPCQ_API const char *ipcq_errmsg(const void *handle);

/* --- Shared values: multiprocessing.Manager / Redis ------------------- */

/*
 * A fixed table of named values in shared memory, for mechanisms with
 * IPCQ_CAP_SHARED. cfg.capacity is the number of keys it holds, cfg.max_msg
 * the largest value. Keys are NUL-terminated, 1 to IPCQ_SHARED_KEY_MAX bytes.
 * add and cas work on values of exactly 8 bytes (an int64_t; TOOBIG in a table
 * whose max_msg is below 8); a key never set counts as holding 0 for them.
 * Open before fork(); children use the handle.
 */
typedef struct ipcq_shared ipcq_shared;
#define IPCQ_SHARED_KEY_MAX 64

/* Opens a table; UNSUPPORTED without IPCQ_CAP_SHARED; cfg may be NULL for defaults. */
IPCQ_API int ipcq_shared_open(const ipcq_mech *m, const ipcq_config *cfg, ipcq_shared **s);
/* Sets key to a copy of val (len <= max_msg, else TOOBIG); LIMIT when a new key finds the table full. */
IPCQ_API int ipcq_shared_set(ipcq_shared *s, const char *key, const void *val, size_t len);
/* Copies key's value into buf; EMPTY when key was never set; TOOBIG sets *len to the size needed. */
IPCQ_API int ipcq_shared_get(ipcq_shared *s, const char *key, void *buf, size_t cap, size_t *len);
/* Atomically adds delta to key's int64 value; *result (may be NULL) gets the new value. */
IPCQ_API int ipcq_shared_add(ipcq_shared *s, const char *key, int64_t delta, int64_t *result);
/* Atomically sets key's int64 value to desired if it equals expect; *swapped says whether it did. */
IPCQ_API int ipcq_shared_cas(ipcq_shared *s, const char *key, int64_t expect, int64_t desired, bool *swapped);
/* Frees this process's hold on the table; safe twice, later calls say CLOSED. */
IPCQ_API int ipcq_shared_close(ipcq_shared *s);

/* --- Pool: multiprocessing.Pool ----------------------------------------- */

/*
 * N workers running tasks: forked processes (IPCQ_POOL_PROCESS, tasks out and
 * results back over a process-capable mechanism) or threads of this process
 * (IPCQ_POOL_THREAD). A task is a function of this program plus argument
 * bytes: workers are forked, never exec'd, so the pointer means the same in
 * them. Completion callbacks run in the process (and on the thread) that
 * opened the pool, from inside its ipcq_pool_* calls: apply_async drains the
 * results that are ready, ipcq_pool_wait and ipcq_pool_join wait for them.
 * A worker that dies mid-task turns that task into an IPCQ_PEERDEAD result
 * and is replaced; no call waits forever on a dead worker. A pool is used by
 * the thread that opened it (calls are not thread-safe); its workers die with
 * that thread (PR_SET_PDEATHSIG) and inherit the descriptors open at fork.
 */
typedef struct ipcq_pool ipcq_pool;

/* Runs in a worker: reads arg[0..arg_len), writes at most *out_len bytes
 * (on entry max_out) to out and sets *out_len to what it wrote. */
typedef void (*ipcq_task_fn)(const void *arg, size_t arg_len, void *out, size_t *out_len);
/* Runs in the pool's owner once a task is done: status OK with its result, or
 * PEERDEAD (worker died), TOOBIG (result did not fit), CLOSED (terminated). */
typedef void (*ipcq_done_fn)(void *ctx, int status, const void *out, size_t out_len);

#define IPCQ_POOL_PROCESS 1u
#define IPCQ_POOL_THREAD 2u

typedef struct ipcq_pool_config {
	unsigned workers;      /* >= 1; 0 is IPCQ_INVAL */
	unsigned mode;         /* IPCQ_POOL_PROCESS or IPCQ_POOL_THREAD */
	const ipcq_mech *mech; /* PROCESS mode's transport (IPCQ_CAP_PROCESS); NULL: the fastest built in */
	size_t max_arg;        /* largest task argument; 0: 4096 */
	size_t max_out;        /* largest result; 0: 4096 */
	unsigned capacity;     /* tasks queued or running before apply_async waits; 0: 1024 */
} ipcq_pool_config;

/* Starts the workers; INVAL for workers == 0 or a bad mode, UNSUPPORTED for a mechanism without IPCQ_CAP_PROCESS in PROCESS mode. */
IPCQ_API int ipcq_pool_open(const ipcq_pool_config *cfg, ipcq_pool **p);
/* Queues fn(arg) and returns; done(ctx, ...) (may be NULL) runs later, exactly once.
 * CLOSED after close/terminate; TOOBIG (nothing queued) for len > max_arg. */
IPCQ_API int ipcq_pool_apply_async(ipcq_pool *p, ipcq_task_fn fn, const void *arg, size_t len,
                                   ipcq_done_fn done, void *ctx);
/* Runs fn(arg) on a worker and waits: the task's status, its result in out (cap bytes, *out_len set). */
IPCQ_API int ipcq_pool_apply(ipcq_pool *p, ipcq_task_fn fn, const void *arg, size_t len, void *out,
                             size_t cap, size_t *out_len);
/* n tasks, arg i at args + i*arg_len, result i at outs + i*out_cap (its length in out_lens[i]),
 * sent chunk tasks per message (fewer when they do not fit the transport's max_msg; 0: chosen
 * for n and workers, as CPython does); OK or the status of the lowest-numbered failed task. */
IPCQ_API int ipcq_pool_map(ipcq_pool *p, ipcq_task_fn fn, const void *args, size_t arg_len, size_t n,
                           size_t chunk, void *outs, size_t out_cap, size_t *out_lens);
/* Runs the callbacks of finished tasks until none is outstanding or the timeout; OK, or EMPTY at the deadline. */
IPCQ_API int ipcq_pool_wait(ipcq_pool *p, int64_t timeout_ns);
/* Done callbacks nested deeper than this (a callback waiting, whose wait runs a callback that
 * waits...) cannot take results: there apply, map and a wait that would block say IPCQ_INVAL. */
#define IPCQ_POOL_MAX_DEPTH 4
/* No more tasks; queued ones still run (Pool.close). */
IPCQ_API int ipcq_pool_close(ipcq_pool *p);
/* After close or terminate: waits for every task's callback, reaps the workers, frees the pool. */
IPCQ_API int ipcq_pool_join(ipcq_pool *p);
/* Stops the workers now (SIGKILL for processes; THREAD mode waits for running tasks to return);
 * unfinished tasks get CLOSED callbacks at join (or at an ipcq_pool_wait before it). */
IPCQ_API int ipcq_pool_terminate(ipcq_pool *p);

/* --- Pipe: multiprocessing.Pipe --------------------------------------- */

/* Two connected ends; duplex=false: a receives only, b sends only. */
IPCQ_API int ipcq_pipe(const ipcq_mech *m, const ipcq_config *cfg, bool duplex,
                       ipcq_conn **a, ipcq_conn **b);
/* Sends one message to the other end. */
IPCQ_API int ipcq_send(ipcq_conn *c, const void *msg, size_t len, int64_t timeout_ns);
/* Receives one message; EOF once the other end is closed everywhere and drained. */
IPCQ_API int ipcq_recv(ipcq_conn *c, void *buf, size_t cap, size_t *len, int64_t timeout_ns);
/* OK when a recv would not block. */
IPCQ_API int ipcq_conn_poll(ipcq_conn *c, int64_t timeout_ns);
/* Closes this end in this process; safe twice, later calls say CLOSED. */
IPCQ_API int ipcq_conn_close(ipcq_conn *c);

#ifdef __cplusplus
}
#endif
#endif /* IPCQ_H */
