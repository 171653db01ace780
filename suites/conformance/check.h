/*
 * check.h - what a conformance test may use: the test table, assertions that
 * print both sides and the status names, actors (a process where the
 * mechanism has IPCQ_CAP_PROCESS, a thread otherwise), clocks and probes.
 *
 * Every test body runs in a forked child of the runner, in its own process
 * group, with a deadline. A failed assertion writes one line to the runner
 * through a pipe and _exits the process it happened in; nothing here ever
 * returns into CUnit.
 */
#ifndef IPCQ_CONFORMANCE_CHECK_H
#define IPCQ_CONFORMANCE_CHECK_H

#include "ipcq.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a test knows about the mechanism under test. */
struct ct_ctx {
	const ipcq_mech *mech;
	const char *name;
	unsigned caps;
};

typedef void (*ct_fn)(const struct ct_ctx *c);

/*
 * One row of the battery: run fn against every mechanism having all of caps;
 * where it lacks one, CUnit reports the test inactive. avail, when set, says
 * whether this machine (and its set-up for mechanism m: a server to reach,
 * say) lets the test observe what it checks (false: inactive, with the
 * reason printed), and runs in a throw-away child, once per mechanism.
 */
struct ct_test {
	const char *name;
	unsigned caps;
	ct_fn fn;
	const char *summary;
	bool (*avail)(const ipcq_mech *m, char *why, size_t cap);
};

/* The battery, in run order (tests.c). */
extern const struct ct_test ct_tests[];
extern const size_t ct_test_count;

/* --- Timing ----------------------------------------------------------------- */

#define CT_MS ((int64_t)1000000)
#define CT_SEC ((int64_t)1000000000)
/* How long an actor's "should succeed" wait may take before it is a failure. */
#define CT_LONG (10 * CT_SEC)

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t ct_now(void);
/* Sleeps ns on CLOCK_MONOTONIC, across signals. */
void ct_sleep(int64_t ns);

/* --- Failure reporting -------------------------------------------------------- */

/* Reports one failure to the runner and _exits this process with status 1. */
void ct_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
/* " (errmsg: ...)" for handle when st is an error status and there is a message, else "". */
const char *ct_errmsg_suffix(const void *handle, int st);

#define CT_FAIL(...) ct_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* `call` must return status want; h is the handle whose errmsg explains it (or NULL). */
#define CT_ST(call, want, h)                                                                    \
	do {                                                                                    \
		int ct_st_ = (call);                                                            \
		int ct_want_ = (want);                                                          \
		if (ct_st_ != ct_want_)                                                         \
			CT_FAIL("`%s` -> %s, expected %s%s", #call, ipcq_strstatus(ct_st_),     \
			        ipcq_strstatus(ct_want_), ct_errmsg_suffix((h), ct_st_));       \
	} while (0)
#define CT_OK(call, h) CT_ST(call, IPCQ_OK, h)

/* Unsigned / signed equality, printing both values. */
#define CT_EQ(a, b)                                                                             \
	do {                                                                                    \
		unsigned long long ct_a_ = (unsigned long long)(a);                             \
		unsigned long long ct_b_ = (unsigned long long)(b);                             \
		if (ct_a_ != ct_b_)                                                             \
			CT_FAIL("`%s` is %llu, expected `%s` = %llu", #a, ct_a_, #b, ct_b_);    \
	} while (0)
#define CT_EQ_I(a, b)                                                                           \
	do {                                                                                    \
		long long ct_a_ = (long long)(a);                                               \
		long long ct_b_ = (long long)(b);                                               \
		if (ct_a_ != ct_b_)                                                             \
			CT_FAIL("`%s` is %lld, expected `%s` = %lld", #a, ct_a_, #b, ct_b_);    \
	} while (0)

/* A condition, with a printf-style explanation of what was seen. */
#define CT_TRUE(cond, ...)                                                                      \
	do {                                                                                    \
		if (!(cond))                                                                    \
			ct_fail_at(__FILE__, __LINE__, "`" #cond "` is false: " __VA_ARGS__);  \
	} while (0)

/* n bytes of got must equal want; names the first differing offset. */
#define CT_MEM(got, want, n) ct_mem_at(__FILE__, __LINE__, #got, (got), (want), (n))
void ct_mem_at(const char *file, int line, const char *what, const void *got, const void *want,
               size_t n);

/*
 * `call` (a blocking call given timeout t ns) must return want, never before t
 * has passed and at most max(50 ms, t/4) after it.
 */
#define CT_TIMED(call, want, t, h)                                                              \
	do {                                                                                    \
		int64_t ct_t0_ = ct_now();                                                      \
		CT_ST(call, want, h);                                                           \
		ct_check_elapsed(__FILE__, __LINE__, #call, ct_now() - ct_t0_, (t));            \
	} while (0)
void ct_check_elapsed(const char *file, int line, const char *what, int64_t elapsed, int64_t t);

/* --- Queues ------------------------------------------------------------------- */

/* Opens a queue of c's mechanism (0 = default) or fails the test. */
ipcq *ct_open(const struct ct_ctx *c, size_t capacity, size_t max_msg);
/* ct_open with cfg.flags set too. */
ipcq *ct_open_flags(const struct ct_ctx *c, size_t capacity, size_t max_msg, unsigned flags);
/* Puts NOWAIT messages of len bytes until FULL; returns how many fitted (fails past limit). */
size_t ct_fill(ipcq *q, size_t len, size_t limit);
/* Puts ct_pattern(who, seq) of len bytes with timeout t, or fails the test. */
#define CT_PUT_MSG(q, who, seq, len, t) ct_put_msg_at(__FILE__, __LINE__, q, who, seq, len, t)
/* Gets one message (timeout t): it must be exactly ct_pattern(who, seq) of len bytes. */
#define CT_GET_MSG(q, who, seq, len, t) ct_get_msg_at(__FILE__, __LINE__, q, who, seq, len, t)
void ct_put_msg_at(const char *file, int line, ipcq *q, uint32_t who, uint32_t seq, size_t len,
                   int64_t t);
void ct_get_msg_at(const char *file, int line, ipcq *q, uint32_t who, uint32_t seq, size_t len,
                   int64_t t);
/* A deterministic byte pattern for message (who, seq), len bytes long. */
void ct_pattern(void *buf, size_t len, uint32_t who, uint32_t seq);
/* Memory shared by every actor of the test, process or thread (zeroed). */
void *ct_shared(size_t size);
/* A private zeroed buffer for large messages; freed with ct_unmap. */
void *ct_map(size_t size);
void ct_unmap(void *p, size_t size);

/* --- Actors --------------------------------------------------------------------- */

struct ct_actor;
typedef void (*ct_actor_fn)(void *arg);

/*
 * Starts fn(arg) as a forked process where c has IPCQ_CAP_PROCESS, else as a
 * thread. A process first releases drop_roles on q (q may be NULL); a thread
 * shares the process's roles and runs with every signal blocked, so signals
 * meant for the test's own thread land there.
 */
struct ct_actor *ct_spawn(const struct ct_ctx *c, ipcq *q, unsigned drop_roles, ct_actor_fn fn,
                          void *arg);
/* Always a process (for tests that need IPCQ_CAP_PROCESS). */
struct ct_actor *ct_spawn_process(ipcq *q, unsigned drop_roles, ct_actor_fn fn, void *arg);
/* Waits for the actor (20 s at most); fails the test if it failed, crashed or hung. */
void ct_join(struct ct_actor *a);
/* Waits for a process actor (20 s at most) and returns its raw wait status. */
int ct_join_status(struct ct_actor *a);
/* SIGKILLs a process actor and reaps it. */
void ct_kill(struct ct_actor *a);
/* Its pid (process) or tid (thread). */
pid_t ct_actor_id(const struct ct_actor *a);
bool ct_actor_is_process(const struct ct_actor *a);
/*
 * Waits (5 s at most) until the actor sleeps in the kernel: state 'S' in
 * /proc/<pid>/stat or /proc/self/task/<tid>/stat, as LTP's
 * TST_PROCESS_STATE_WAIT does. Fails the test otherwise.
 */
void ct_wait_sleeping(const struct ct_actor *a);
/* Waits (5 s at most) until *flag becomes nonzero. */
void ct_wait_flag(atomic_int *flag);

/*
 * Runner use only: `ipcq-conformance --named-peer ...` runs this instead of
 * the battery: a process unrelated to the test (spawned, not forked) that
 * opens a queue by name and follows steps (tests_named.c).
 */
int ct_named_peer_main(int argc, char **argv);
/* Runner use only: sets up reporting to report_fd and the actor table in a new test process. */
void ct__child_begin(int report_fd);
/* Kills and reaps actors the test left behind; reports them as a failure. */
void ct__child_end(void);

/* --- Probes ----------------------------------------------------------------- */

/* Open descriptors of this process, counted in /proc/self/fd. */
int ct_fd_count(void);

#endif /* IPCQ_CONFORMANCE_CHECK_H */
