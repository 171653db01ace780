/*
 * shmmgr_tests.c - what the conformance battery cannot see in shmmgr:
 * SIGKILL of processes hammering the lock (queue puts/gets, shared sets
 * and adds; 200 rounds each), after which every call works on whole state
 * or says PEERDEAD, and never hangs; a waiter SIGKILLed in its sleep
 * (glibc's process-shared condvars hang the next signaller there); the
 * shared-values API (set/get/add/cas, TOOBIG, missing keys, long keys, a
 * full table, CLOSED); 4 processes x N adds and CAS loops giving the exact
 * total.
 *
 * Checks after a kill run in a forked checker watched with a deadline, so
 * a hang is reported as one, not as a ctest timeout. Children report
 * through their exit status and a shared message; they never return into
 * CUnit.
 */
#include "shm_tests.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEC ((int64_t)1000000000)
#define MS ((int64_t)1000000)

static const ipcq_mech *mgr(void)
{
	return ipcq_mech_find("shmmgr");
}

/* What a child says when it fails. */
struct verdict {
	char msg[600];
};

static _Noreturn void child_fail(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void child_fail(struct verdict *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof v->msg, fmt, ap);
	va_end(ap);
	_exit(1);
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / SEC, .tv_nsec = ns % SEC };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Runs fn(arg, v) in a child within timeout; false (with the reason checked) when it failed or hung. */
static bool in_child(const char *what, int64_t timeout, void (*fn)(void *, struct verdict *), void *arg)
{
	struct verdict *v = shm_shared(sizeof *v);
	pid_t pid = fork();
	if (pid == 0) {
		fn(arg, v);
		_exit(0);
	}
	int st = shm_wait(pid, timeout);
	bool ok = SHM_CHECK(st != -1, "%s: hung for %.1f s (killed)", what, timeout / 1e9) &&
	          SHM_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s (status 0x%x)", what,
	                    v->msg[0] ? v->msg : "failed", st);
	munmap(v, sizeof *v);
	return ok;
}

/* A child hammering until killed; set running once inside its loop. */
static pid_t start_victim(void (*fn)(void *, atomic_int *), void *arg, atomic_int *running)
{
	atomic_store(running, 0);
	pid_t pid = fork();
	if (pid == 0) {
		fn(arg, running);
		_exit(0);
	}
	int64_t give_up = shm_now() + 5 * SEC;
	while (!atomic_load(running) && shm_now() < give_up)
		sleep_ns(20000);
	return pid;
}

static bool kill_victim(pid_t pid, int round)
{
	kill(pid, SIGKILL);
	int ws = shm_wait(pid, 10 * SEC);
	return SHM_CHECK(ws != -1 && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
	                 "round %d: the victim did not die of SIGKILL (0x%x)", round, ws);
}

/* --- SIGKILL of a process hammering the queue -------------------------------------------- */

#define QMSG 4096

static void fill_msg(unsigned char *b, size_t len, uint32_t seq)
{
	memset(b, (int)(seq & 0xff), len);
	if (len >= 4)
		memcpy(b, &seq, 4);
}

static bool msg_whole(const unsigned char *b, size_t len)
{
	if (len < 4)
		return false;
	uint32_t seq;
	memcpy(&seq, b, 4);
	for (size_t i = 4; i < len; i++)
		if (b[i] != (unsigned char)(seq & 0xff))
			return false;
	return true;
}

static void queue_hammer(void *arg, atomic_int *running)
{
	ipcq *q = arg;
	unsigned char *b = malloc(QMSG);
	for (uint32_t seq = 0;; seq++) {
		size_t len = 4 + seq * 977 % (QMSG - 4), n;
		fill_msg(b, len, seq);
		int st = ipcq_put(q, b, len, IPCQ_NOWAIT);
		if (st != IPCQ_OK && st != IPCQ_FULL)
			_exit(3);
		if (seq % 3 == 0 && ipcq_get(q, b, QMSG, &n, IPCQ_NOWAIT) > IPCQ_EMPTY)
			_exit(4);
		atomic_store(running, 1);
	}
}

/* After the kill: the queue works on whole messages, or says PEERDEAD everywhere. */
static void queue_check(void *arg, struct verdict *v)
{
	ipcq *q = arg;
	unsigned char *b = malloc(QMSG);
	size_t n = 0, got = 0, qs = 0;
	int st = ipcq_qsize(q, &qs);
	if (st != IPCQ_OK)
		child_fail(v, "qsize -> %s", ipcq_strstatus(st));
	for (;;) {
		st = ipcq_get(q, b, QMSG, &n, IPCQ_NOWAIT);
		if (st == IPCQ_PEERDEAD)
			return; /* marked unusable: allowed, as long as it says so */
		if (st == IPCQ_EMPTY)
			break;
		if (st != IPCQ_OK)
			child_fail(v, "get after the kill -> %s: %s", ipcq_strstatus(st), ipcq_errmsg(q));
		if (!msg_whole(b, n))
			child_fail(v, "get after the kill: message %zu of %zu bytes is torn", got, n);
		got++;
	}
	if (got != qs)
		child_fail(v, "qsize said %zu before draining, %zu came out", qs, got);
	fill_msg(b, 100, 7);
	if ((st = ipcq_put(q, b, 100, SEC)) != IPCQ_OK)
		child_fail(v, "put after draining -> %s: %s", ipcq_strstatus(st), ipcq_errmsg(q));
	if ((st = ipcq_get(q, b, QMSG, &n, SEC)) != IPCQ_OK || n != 100 || !msg_whole(b, n))
		child_fail(v, "get of the message put after the kill -> %s, %zu bytes", ipcq_strstatus(st), n);
}

static void t_kill9_queue_lock_holder(void)
{
	atomic_int *running = shm_shared(sizeof *running);
	for (int round = 0; round < 200; round++) {
		ipcq_config cfg = { .capacity = 16, .max_msg = QMSG };
		ipcq *q = NULL;
		if (!SHM_CHECK(ipcq_open(mgr(), &cfg, &q) == IPCQ_OK, "open: %s", ipcq_errmsg(NULL)))
			break;
		pid_t pid = start_victim(queue_hammer, q, running);
		sleep_ns((round % 10) * 100000);
		bool ok = kill_victim(pid, round);
		char what[64];
		snprintf(what, sizeof what, "round %d: queue after the kill", round);
		ok = ok && in_child(what, 10 * SEC, queue_check, q);
		ipcq_close(q);
		if (!ok)
			break;
	}
	munmap(running, sizeof *running);
}

/* --- SIGKILL of a process hammering shared values ---------------------------------------- */

#define BLOB 65536

struct values_run {
	ipcq_shared *s;
	_Atomic int64_t acked; /* adds that returned OK */
};

static void values_hammer(void *arg, atomic_int *running)
{
	struct values_run *r = arg;
	unsigned char *b = malloc(BLOB);
	for (uint32_t i = 1;; i++) {
		int64_t now;
		if (ipcq_shared_add(r->s, "n", 1, &now) != IPCQ_OK)
			_exit(3);
		atomic_store(&r->acked, now);
		if (i % 4 == 0) {
			/* A big value keeps the lock held for a long copy: the kill often lands inside it. */
			memset(b, (int)(i & 0xff), BLOB);
			if (ipcq_shared_set(r->s, "blob", b, BLOB - (i & 0xff)) != IPCQ_OK)
				_exit(4);
		}
		atomic_store(running, 1);
	}
}

static void values_check(void *arg, struct verdict *v)
{
	struct values_run *r = arg;
	unsigned char *b = malloc(BLOB);
	int64_t acked = atomic_load(&r->acked), n = 0;
	size_t len = 0;
	int st = ipcq_shared_get(r->s, "n", &n, sizeof n, &len);
	if (st == IPCQ_PEERDEAD)
		return;
	if (st != IPCQ_OK || len != 8)
		child_fail(v, "get n -> %s (%zu bytes): %s", ipcq_strstatus(st), len, ipcq_errmsg(r->s));
	if (n != acked && n != acked + 1)
		child_fail(v, "n is %lld, but %lld adds were acknowledged", (long long)n, (long long)acked);
	st = ipcq_shared_get(r->s, "blob", b, BLOB, &len);
	if (st == IPCQ_OK) {
		for (size_t i = 1; i < len; i++)
			if (b[i] != b[0])
				child_fail(v, "blob is torn at byte %zu of %zu", i, len);
		if (len != (size_t)(BLOB - b[0]))
			child_fail(v, "blob has %zu bytes, its bytes say %d", len, BLOB - b[0]);
	} else if (st != IPCQ_EMPTY) {
		child_fail(v, "get blob -> %s: %s", ipcq_strstatus(st), ipcq_errmsg(r->s));
	}
	int64_t after;
	if ((st = ipcq_shared_add(r->s, "n", 10, &after)) != IPCQ_OK || after != n + 10)
		child_fail(v, "add after the kill -> %s, %lld (was %lld)", ipcq_strstatus(st), (long long)after,
		           (long long)n);
	bool swapped = false;
	if ((st = ipcq_shared_cas(r->s, "n", after, 5, &swapped)) != IPCQ_OK || !swapped)
		child_fail(v, "cas after the kill -> %s, swapped %d", ipcq_strstatus(st), swapped);
}

static void t_kill9_values_lock_holder(void)
{
	atomic_int *running = shm_shared(sizeof *running);
	struct values_run *r = shm_shared(sizeof *r);
	for (int round = 0; round < 200; round++) {
		ipcq_config cfg = { .capacity = 8, .max_msg = BLOB };
		if (!SHM_CHECK(ipcq_shared_open(mgr(), &cfg, &r->s) == IPCQ_OK, "shared_open: %s", ipcq_errmsg(NULL)))
			break;
		atomic_store(&r->acked, 0);
		pid_t pid = start_victim(values_hammer, r, running);
		sleep_ns((round % 10) * 100000);
		bool ok = kill_victim(pid, round);
		char what[64];
		snprintf(what, sizeof what, "round %d: values after the kill", round);
		ok = ok && in_child(what, 10 * SEC, values_check, r);
		ipcq_shared_close(r->s);
		if (!ok)
			break;
	}
	munmap(r, sizeof *r);
	munmap(running, sizeof *running);
}

/* --- SIGKILL of a sleeper ------------------------------------------------------------------ */

static void sleeping_getter(void *arg, atomic_int *running)
{
	ipcq *q = arg;
	char b[16];
	size_t n;
	atomic_store(running, 1);
	for (;;)
		if (ipcq_get(q, b, sizeof b, &n, 30 * SEC) > IPCQ_EMPTY)
			_exit(3);
}

/* Waiters come and go while wake-ups are sent: the pattern that hangs a glibc condvar with a dead waiter. */
static void sleeper_check(void *arg, struct verdict *v)
{
	ipcq *q = arg;
	atomic_int *running = shm_shared(sizeof *running);
	for (int i = 0; i < 6; i++) {
		/* Puts nobody sleeps for: the dead sleepers' counts get skipped from here on. */
		for (int k = 0; k < 3; k++) {
			char b[16];
			size_t n;
			if (ipcq_put(q, "n", 1, SEC) != IPCQ_OK || ipcq_get(q, b, sizeof b, &n, SEC) != IPCQ_OK)
				child_fail(v, "put and get %d with nobody asleep: %s", i, ipcq_errmsg(q));
		}
		pid_t w = start_victim(sleeping_getter, q, running);
		sleep_ns(20 * MS);
		int st = ipcq_put(q, "x", 1, SEC);
		if (st != IPCQ_OK) {
			kill(w, SIGKILL);
			child_fail(v, "put %d with a dead sleeper behind -> %s: %s", i, ipcq_strstatus(st), ipcq_errmsg(q));
		}
		int64_t t0 = shm_now();
		size_t left = 1;
		while (ipcq_qsize(q, &left) == IPCQ_OK && left && shm_now() - t0 < 2 * SEC)
			sleep_ns(MS);
		kill(w, SIGKILL); /* first: a failed check ends this process, and the getter would sleep on */
		waitpid(w, NULL, 0);
		if (left)
			child_fail(v, "a sleeping getter did not take put %d within 2 s (lost wake-up)", i);
	}
}

/*
 * Slices of 30 s: a wake-up lost to the dead sleepers' counts (see struct
 * mgr_wait) would leave the getter asleep far past the 2 s allowed.
 */
static void t_kill9_sleeper_then_wakeups(void)
{
	ipcq_config cfg = { .capacity = 4, .max_msg = 16 };
	ipcq *q = NULL;
	setenv("IPCQ_SHMMGR_SLICE_NS", "30000000000", 1);
	int st = ipcq_open(mgr(), &cfg, &q);
	unsetenv("IPCQ_SHMMGR_SLICE_NS");
	if (!SHM_CHECK(st == IPCQ_OK, "open: %s", ipcq_errmsg(NULL)))
		return;
	atomic_int *running = shm_shared(sizeof *running);
	for (int round = 0; round < 3; round++) {
		pid_t pid = start_victim(sleeping_getter, q, running);
		sleep_ns(20 * MS); /* asleep in the futex by now */
		if (!kill_victim(pid, round))
			break;
		if (!in_child("wake-ups after a sleeper was killed", 20 * SEC, sleeper_check, q))
			break;
	}
	munmap(running, sizeof *running);
	ipcq_close(q);
}

/* --- Shared-values semantics ---------------------------------------------------------------- */

#define ST(call, want, h)                                                                                  \
	do {                                                                                               \
		int st_ = (call);                                                                          \
		SHM_CHECK(st_ == (want), "`%s` -> %s, expected %s (%s)", #call, ipcq_strstatus(st_),      \
		          ipcq_strstatus(want), ipcq_errmsg(h));                                           \
	} while (0)

static void t_shared_semantics(void)
{
	ipcq_config cfg = { .capacity = 4, .max_msg = 32 };
	ipcq_shared *s = NULL;
	ST(ipcq_shared_open(mgr(), &cfg, &s), IPCQ_OK, NULL);
	if (!s)
		return;
	char buf[64];
	size_t len = 0;
	int64_t v = 0;
	bool sw = true;

	ST(ipcq_shared_get(s, "none", buf, sizeof buf, &len), IPCQ_EMPTY, s);
	ST(ipcq_shared_set(s, "greet", "hello", 5), IPCQ_OK, s);
	ST(ipcq_shared_get(s, "greet", buf, sizeof buf, &len), IPCQ_OK, s);
	SHM_CHECK(len == 5 && !memcmp(buf, "hello", 5), "get greet: %zu bytes", len);
	ST(ipcq_shared_set(s, "greet", "hi", 2), IPCQ_OK, s);
	ST(ipcq_shared_get(s, "greet", buf, sizeof buf, &len), IPCQ_OK, s);
	SHM_CHECK(len == 2 && !memcmp(buf, "hi", 2), "overwritten greet: %zu bytes", len);
	len = 0;
	ST(ipcq_shared_get(s, "greet", buf, 1, &len), IPCQ_TOOBIG, s);
	SHM_CHECK(len == 2, "TOOBIG get set *len to %zu, expected 2", len);
	ST(ipcq_shared_set(s, "empty", NULL, 0), IPCQ_OK, s);
	ST(ipcq_shared_get(s, "empty", NULL, 0, &len), IPCQ_OK, s);
	SHM_CHECK(len == 0, "zero-length value came back with %zu bytes", len);
	char big[33] = { 0 };
	ST(ipcq_shared_set(s, "big", big, sizeof big), IPCQ_TOOBIG, s);

	/* add and cas: a missing key holds 0 */
	ST(ipcq_shared_add(s, "ctr", 5, &v), IPCQ_OK, s);
	SHM_CHECK(v == 5, "add 5 to a new key gave %lld", (long long)v);
	ST(ipcq_shared_add(s, "ctr", -7, &v), IPCQ_OK, s);
	SHM_CHECK(v == -2, "add -7 gave %lld, expected -2", (long long)v);
	ST(ipcq_shared_add(s, "ctr", 2, NULL), IPCQ_OK, s);
	ST(ipcq_shared_get(s, "ctr", &v, sizeof v, &len), IPCQ_OK, s);
	SHM_CHECK(len == 8 && v == 0, "ctr reads %lld (%zu bytes), expected 0", (long long)v, len);
	ST(ipcq_shared_cas(s, "ctr", 1, 9, &sw), IPCQ_OK, s);
	SHM_CHECK(!sw, "cas with the wrong expected value swapped");
	ST(ipcq_shared_cas(s, "ctr", 0, 9, &sw), IPCQ_OK, s);
	SHM_CHECK(sw, "cas with the right expected value did not swap");
	ST(ipcq_shared_add(s, "ctr", 0, &v), IPCQ_OK, s);
	SHM_CHECK(v == 9, "after cas ctr is %lld, expected 9", (long long)v);
	int64_t max = INT64_MAX;
	ST(ipcq_shared_set(s, "ctr", &max, sizeof max), IPCQ_OK, s);
	ST(ipcq_shared_add(s, "ctr", 1, &v), IPCQ_OK, s);
	SHM_CHECK(v == INT64_MIN, "INT64_MAX + 1 gave %lld, expected to wrap to INT64_MIN", (long long)v);

	/* add/cas on a value that is not an int64 */
	ST(ipcq_shared_add(s, "greet", 1, &v), IPCQ_INVAL, s);
	SHM_CHECK(strstr(ipcq_errmsg(s), "8-byte") != NULL, "the INVAL message does not name the size: %s", ipcq_errmsg(s));
	ST(ipcq_shared_cas(s, "greet", 0, 1, &sw), IPCQ_INVAL, s);

	/* keys: 64 bytes pass, 65 do not */
	char key[80];
	memset(key, 'k', sizeof key);
	key[64] = '\0';
	ST(ipcq_shared_get(s, key, buf, sizeof buf, &len), IPCQ_EMPTY, s);
	key[64] = 'k';
	key[65] = '\0';
	ST(ipcq_shared_set(s, key, "x", 1), IPCQ_INVAL, s);
	SHM_CHECK(strstr(ipcq_errmsg(s), "64") != NULL, "the long-key message does not name the limit: %s", ipcq_errmsg(s));
	ST(ipcq_shared_add(s, "", 1, &v), IPCQ_INVAL, s);
	ST(ipcq_shared_get(s, NULL, buf, sizeof buf, &len), IPCQ_INVAL, s);

	/* full: greet, empty, ctr and one more; a fifth key is refused, old keys still work */
	ST(ipcq_shared_set(s, "fourth", "4", 1), IPCQ_OK, s);
	ST(ipcq_shared_set(s, "fifth", "5", 1), IPCQ_LIMIT, s);
	SHM_CHECK(strstr(ipcq_errmsg(s), "capacity") != NULL, "the full-table message does not say to raise capacity: %s",
	          ipcq_errmsg(s));
	ST(ipcq_shared_add(s, "sixth", 1, &v), IPCQ_LIMIT, s);
	ST(ipcq_shared_cas(s, "sixth", 0, 1, &sw), IPCQ_LIMIT, s);
	ST(ipcq_shared_cas(s, "sixth", 3, 1, &sw), IPCQ_OK, s); /* no swap needs no room */
	SHM_CHECK(!sw, "cas on a missing key with expect 3 swapped");
	ST(ipcq_shared_set(s, "fourth", "44", 2), IPCQ_OK, s);

	ST(ipcq_shared_close(s), IPCQ_OK, s);
	ST(ipcq_shared_close(s), IPCQ_CLOSED, s);
	ST(ipcq_shared_get(s, "greet", buf, sizeof buf, &len), IPCQ_CLOSED, s);

	/* a mechanism without IPCQ_CAP_SHARED */
	const ipcq_mech *pipe = ipcq_mech_find("pipe");
	if (pipe) {
		ipcq_shared *p = (ipcq_shared *)1;
		ST(ipcq_shared_open(pipe, NULL, &p), IPCQ_UNSUPPORTED, NULL);
		SHM_CHECK(p == NULL, "a refused shared_open left a handle");
	}
}

/* --- Across fork ------------------------------------------------------------------------------ */

#define NPROC 4
#define NADD 20000

static void adder(ipcq_shared *s, bool cas, struct verdict *v)
{
	for (int i = 0; i < NADD; i++) {
		int st;
		if (!cas) {
			st = ipcq_shared_add(s, "total", 1, NULL);
		} else {
			bool sw = false;
			do {
				int64_t now = 0;
				size_t len;
				st = ipcq_shared_get(s, "total", &now, sizeof now, &len);
				if (st == IPCQ_EMPTY)
					now = 0, st = IPCQ_OK;
				if (st == IPCQ_OK)
					st = ipcq_shared_cas(s, "total", now, now + 1, &sw);
			} while (st == IPCQ_OK && !sw);
		}
		if (st != IPCQ_OK)
			child_fail(v, "%s %d -> %s: %s", cas ? "cas" : "add", i, ipcq_strstatus(st), ipcq_errmsg(s));
	}
}

static void across_fork(bool cas)
{
	ipcq_shared *s = NULL;
	ipcq_config cfg = { .capacity = 16, .max_msg = 64 };
	ST(ipcq_shared_open(mgr(), &cfg, &s), IPCQ_OK, NULL);
	if (!s)
		return;
	struct verdict *v = shm_shared(NPROC * sizeof *v);
	pid_t pids[NPROC];
	for (int p = 0; p < NPROC; p++)
		if ((pids[p] = fork()) == 0) {
			adder(s, cas, &v[p]);
			_exit(0);
		}
	for (int p = 0; p < NPROC; p++) {
		int st = shm_wait(pids[p], 30 * SEC);
		SHM_CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "adder %d: %s (status 0x%x)", p,
		          v[p].msg[0] ? v[p].msg : "hung or died", st);
	}
	int64_t total = -1;
	size_t len = 0;
	ST(ipcq_shared_get(s, "total", &total, sizeof total, &len), IPCQ_OK, s);
	SHM_CHECK(total == (int64_t)NPROC * NADD, "%d processes x %d %s gave %lld", NPROC, NADD,
	          cas ? "CAS increments" : "adds", (long long)total);
	ipcq_shared_close(s);
	munmap(v, NPROC * sizeof *v);
}

static void t_fork_4x_adds_exact(void)
{
	across_fork(false);
}

static void t_fork_4x_cas_exact(void)
{
	across_fork(true);
}

int shm_add_shmmgr(void)
{
	CU_pSuite s = CU_add_suite("shmmgr", NULL, NULL);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "kill9_queue_lock_holder_x200", t_kill9_queue_lock_holder) ||
	    !CU_add_test(s, "kill9_values_lock_holder_x200", t_kill9_values_lock_holder) ||
	    !CU_add_test(s, "kill9_sleeper_then_wakeups", t_kill9_sleeper_then_wakeups) ||
	    !CU_add_test(s, "shared_semantics", t_shared_semantics) ||
	    !CU_add_test(s, "fork_4x20000_adds_exact", t_fork_4x_adds_exact) ||
	    !CU_add_test(s, "fork_4x20000_cas_exact", t_fork_4x_cas_exact))
		return CU_get_error();
	return CUE_SUCCESS;
}
