/*
 * tests_pool.c - ipcq_pool_* over the mechanism under test: PROCESS pools
 * where it has IPCQ_CAP_PROCESS, THREAD pools everywhere. Round trips,
 * callbacks exactly once, map order and chunks, the statuses of bad use,
 * a worker SIGKILLed mid-task (PEERDEAD, replaced), terminate with tasks in
 * flight, results beyond max_out, descriptors and children after 50 pools,
 * and workers dying with their owner.
 */
#include "tests.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static ipcq_pool *t_pool_open(const struct ct_ctx *c, unsigned mode, unsigned workers, size_t max_out)
{
	ipcq_pool_config cfg = { .workers = workers, .mode = mode, .mech = c->mech, .max_out = max_out };
	ipcq_pool *p = NULL;
	CT_OK(ipcq_pool_open(&cfg, &p), NULL);
	CT_TRUE(p != NULL, "ipcq_pool_open said OK without a pool");
	return p;
}

static void t_pool_end(ipcq_pool *p)
{
	CT_OK(ipcq_pool_close(p), p);
	CT_OK(ipcq_pool_join(p), p);
}

/* No child of this process is left, zombie or not. */
static void t_no_children(void)
{
	errno = 0;
	pid_t r = waitpid(-1, NULL, WNOHANG);
	CT_TRUE(r < 0 && errno == ECHILD, "waitpid(-1, WNOHANG) -> %d (%s): a worker was left behind", (int)r,
	        strerror(errno));
}

/* --- Tasks (they run in the workers) ---------------------------------------------------- */

/* out = arg bytes reversed, then 4 bytes of arg_len */
static void t_task_reverse(const void *arg, size_t len, void *out, size_t *out_len)
{
	const unsigned char *a = arg;
	unsigned char *o = out;
	for (size_t i = 0; i < len; i++)
		o[i] = a[len - 1 - i];
	uint32_t n = (uint32_t)len;
	memcpy(o + len, &n, 4);
	*out_len = len + 4;
}

/* arg: uint64 x; out: x * 3 + 1 */
static void t_task_affine(const void *arg, size_t len, void *out, size_t *out_len)
{
	uint64_t x;
	(void)len;
	memcpy(&x, arg, 8);
	x = x * 3 + 1;
	memcpy(out, &x, 8);
	*out_len = 8;
}

/* arg: uint32 i; out: i, then the worker's pid */
static void t_task_who(const void *arg, size_t len, void *out, size_t *out_len)
{
	(void)len;
	uint32_t v[2];
	memcpy(&v[0], arg, 4);
	v[1] = (uint32_t)getpid();
	memcpy(out, v, 8);
	*out_len = 8;
}

/* arg: a pointer to shared memory: writes its pid there, then sleeps (to be killed) */
static void t_task_sleeper(const void *arg, size_t len, void *out, size_t *out_len)
{
	(void)len;
	(void)out;
	atomic_int *where;
	memcpy(&where, arg, sizeof where);
	atomic_store(where, (int)getpid());
	ct_sleep(20 * CT_SEC);
	*out_len = 0;
}

/* arg: uint32 i; task 5 kills its own worker */
static void t_task_dies_at_5(const void *arg, size_t len, void *out, size_t *out_len)
{
	uint32_t i;
	(void)len;
	memcpy(&i, arg, 4);
	if (i == 5)
		raise(SIGKILL);
	memcpy(out, &i, 4);
	*out_len = 4;
}

/* wants one byte more than the pool allows */
static void t_task_too_big(const void *arg, size_t len, void *out, size_t *out_len)
{
	(void)arg;
	(void)len;
	(void)out;
	*out_len += 1;
}

static void t_task_pid(const void *arg, size_t len, void *out, size_t *out_len)
{
	(void)arg;
	(void)len;
	pid_t me = getpid();
	memcpy(out, &me, sizeof me);
	*out_len = sizeof me;
}

/* --- Callbacks ---------------------------------------------------------------------------- */

struct t_tally {
	int *count;
	int wrong;
	int status[IPCQ_STATUS_COUNT];
	size_t last_len;
};
struct t_one {
	struct t_tally *t;
	uint64_t x;
};

static void t_done_count(void *ctx, int status, const void *out, size_t len)
{
	struct t_one *o = ctx;
	o->t->status[status >= 0 && status < IPCQ_STATUS_COUNT ? status : IPCQ_SYSERR]++;
	o->t->last_len = len;
	o->t->count[o->x]++;
	if (status == IPCQ_OK) {
		uint64_t y;
		if (len != 8 || !out)
			o->t->wrong++;
		else if (memcpy(&y, out, 8), y != o->x * 3 + 1)
			o->t->wrong++;
	}
}

/* --- Tests ------------------------------------------------------------------------------ */

void t_pool_apply_round_trip(const struct ct_ctx *c)
{
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 2, 0);
	unsigned char arg[300], out[400], want[304];
	size_t n = 0;
	for (size_t len = 0; len <= sizeof arg; len += 100) {
		ct_pattern(arg, len, 70, (uint32_t)len);
		CT_OK(ipcq_pool_apply(p, t_task_reverse, arg, len, out, sizeof out, &n), p);
		for (size_t i = 0; i < len; i++)
			want[i] = arg[len - 1 - i];
		uint32_t l32 = (uint32_t)len;
		memcpy(want + len, &l32, 4);
		CT_EQ(n, len + 4);
		CT_MEM(out, want, len + 4);
	}
	pid_t who = 0;
	CT_OK(ipcq_pool_apply(p, t_task_pid, NULL, 0, &who, sizeof who, &n), p);
	CT_TRUE(who != getpid() && who > 0, "the task ran in pid %d, the owner is %d", (int)who, (int)getpid());
	/* A buffer too small for the result: TOOBIG with the size needed. */
	ct_pattern(arg, 50, 70, 1);
	CT_ST(ipcq_pool_apply(p, t_task_reverse, arg, 50, out, 10, &n), IPCQ_TOOBIG, p);
	CT_EQ(n, 54);
	t_pool_end(p);
	t_no_children();
}

void t_pool_apply_async_callbacks(const struct ct_ctx *c)
{
	enum { N = 10000 };
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 2, 0);
	static int count[N];
	static struct t_one one[N];
	struct t_tally t = { .count = count };
	for (uint64_t i = 0; i < N; i++) {
		one[i] = (struct t_one){ &t, i };
		CT_OK(ipcq_pool_apply_async(p, t_task_affine, &i, sizeof i, t_done_count, &one[i]), p);
	}
	CT_OK(ipcq_pool_wait(p, 20 * CT_SEC), p);
	CT_EQ(t.status[IPCQ_OK], N);
	CT_EQ(t.wrong, 0);
	for (int i = 0; i < N; i++)
		CT_TRUE(count[i] == 1, "task %d's callback ran %d times", i, count[i]);
	/* wait with nothing outstanding: OK at once; NOWAIT too */
	CT_OK(ipcq_pool_wait(p, IPCQ_NOWAIT), p);
	t_pool_end(p);
	for (int i = 0; i < N; i++)
		CT_TRUE(count[i] == 1, "task %d's callback ran %d times after join", i, count[i]);
	t_no_children();
}

void t_pool_map_chunks_in_order(const struct ct_ctx *c)
{
	enum { N = 1000 };
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 2, 0);
	static uint32_t args[N], outs[N][2];
	static size_t lens[N];
	for (uint32_t i = 0; i < N; i++)
		args[i] = i;
	size_t chunks[] = { 7, 1, 0, 100 }; /* 100 tasks of 4 bytes fit any max_msg */
	for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		size_t chunk = chunks[k];
		memset(outs, 0, sizeof outs);
		CT_OK(ipcq_pool_map(p, t_task_who, args, 4, N, chunk, outs, 8, lens), p);
		for (uint32_t i = 0; i < N; i++) {
			CT_TRUE(lens[i] == 8 && outs[i][0] == i, "chunk %zu: result %u is for task %u (%zu bytes)", chunk,
			        i, outs[i][0], lens[i]);
			/* A chunk is one message: its tasks run on one worker. */
			if (chunk > 1 && i % chunk)
				CT_TRUE(outs[i][1] == outs[i - 1][1], "chunk %zu: tasks %u and %u ran on workers %u and %u",
				        chunk, i - 1, i, outs[i - 1][1], outs[i][1]);
		}
	}
	CT_OK(ipcq_pool_map(p, t_task_who, args, 4, 0, 0, outs, 8, lens), p); /* n = 0 */
	t_pool_end(p);
}

void t_pool_bad_config(const struct ct_ctx *c)
{
	ipcq_pool *p = (ipcq_pool *)&p;
	ipcq_pool_config cfg = { .workers = 0, .mode = IPCQ_POOL_THREAD, .mech = c->mech };
	CT_ST(ipcq_pool_open(&cfg, &p), IPCQ_INVAL, NULL);
	CT_TRUE(p == NULL, "a refused ipcq_pool_open left a pool");
	CT_TRUE(strstr(ipcq_errmsg(NULL), "workers") != NULL, "errmsg does not name workers: %s", ipcq_errmsg(NULL));
	cfg.workers = 1;
	cfg.mode = 7;
	CT_ST(ipcq_pool_open(&cfg, &p), IPCQ_INVAL, NULL);
	CT_ST(ipcq_pool_open(NULL, &p), IPCQ_INVAL, NULL);
	cfg.mode = IPCQ_POOL_PROCESS;
	if (!(c->caps & IPCQ_CAP_PROCESS)) {
		CT_ST(ipcq_pool_open(&cfg, &p), IPCQ_UNSUPPORTED, NULL);
		CT_TRUE(strstr(ipcq_errmsg(NULL), "IPCQ_POOL_THREAD") != NULL, "errmsg names no way out: %s",
		        ipcq_errmsg(NULL));
	}
}

void t_pool_use_after_close_closed(const struct ct_ctx *c)
{
	unsigned mode = (c->caps & IPCQ_CAP_PROCESS) ? IPCQ_POOL_PROCESS : IPCQ_POOL_THREAD;
	ipcq_pool *p = t_pool_open(c, mode, 1, 0);
	uint32_t arg = 1, out[2];
	size_t n;
	CT_ST(ipcq_pool_join(p), IPCQ_INVAL, p); /* still running */
	CT_OK(ipcq_pool_apply(p, t_task_who, &arg, 4, out, sizeof out, &n), p);
	CT_OK(ipcq_pool_close(p), p);
	CT_ST(ipcq_pool_apply_async(p, t_task_who, &arg, 4, NULL, NULL), IPCQ_CLOSED, p);
	CT_TRUE(strstr(ipcq_errmsg(p), "closed") != NULL, "errmsg: %s", ipcq_errmsg(p));
	CT_ST(ipcq_pool_apply(p, t_task_who, &arg, 4, out, sizeof out, &n), IPCQ_CLOSED, p);
	CT_ST(ipcq_pool_map(p, t_task_who, &arg, 4, 1, 0, out, 8, &n), IPCQ_CLOSED, p);
	CT_ST(ipcq_pool_close(p), IPCQ_CLOSED, p);
	CT_OK(ipcq_pool_wait(p, IPCQ_NOWAIT), p);
	CT_OK(ipcq_pool_join(p), p);
	CT_ST(ipcq_pool_apply_async(p, t_task_who, &arg, 4, NULL, NULL), IPCQ_CLOSED, p);
	CT_ST(ipcq_pool_join(p), IPCQ_CLOSED, p);
	CT_ST(ipcq_pool_terminate(p), IPCQ_CLOSED, p);
	t_no_children();
}

void t_pool_worker_sigkill_peerdead(const struct ct_ctx *c)
{
	enum { N = 200 };
	atomic_int *victim = ct_shared(sizeof *victim);
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 2, 0);
	static int count[N + 1];
	static struct t_one one[N + 1];
	struct t_tally t = { .count = count };
	one[N] = (struct t_one){ &t, N };
	CT_OK(ipcq_pool_apply_async(p, t_task_sleeper, &victim, sizeof victim, t_done_count, &one[N]), p);
	for (uint64_t i = 0; i < N / 2; i++) {
		one[i] = (struct t_one){ &t, i };
		CT_OK(ipcq_pool_apply_async(p, t_task_affine, &i, sizeof i, t_done_count, &one[i]), p);
	}
	int64_t end = ct_now() + 5 * CT_SEC;
	while (!atomic_load(victim) && ct_now() < end)
		ipcq_pool_wait(p, CT_MS);
	pid_t pid = atomic_load(victim);
	CT_TRUE(pid > 0, "the sleeping task never started");
	CT_TRUE(kill(pid, SIGKILL) == 0, "kill(%d): %s", (int)pid, strerror(errno));
	CT_OK(ipcq_pool_wait(p, 10 * CT_SEC), p);
	CT_EQ(count[N], 1);
	CT_EQ(t.status[IPCQ_PEERDEAD], 1);
	CT_EQ(t.status[IPCQ_OK], N / 2);
	/* The pool goes on with a new worker. */
	for (uint64_t i = N / 2; i < N; i++) {
		one[i] = (struct t_one){ &t, i };
		CT_OK(ipcq_pool_apply_async(p, t_task_affine, &i, sizeof i, t_done_count, &one[i]), p);
	}
	pid_t seen[8] = { 0 };
	size_t n;
	for (int i = 0; i < 8; i++)
		CT_OK(ipcq_pool_apply(p, t_task_pid, NULL, 0, &seen[i], sizeof seen[i], &n), p);
	CT_OK(ipcq_pool_wait(p, 10 * CT_SEC), p);
	CT_EQ(t.status[IPCQ_OK], N);
	CT_EQ(t.wrong, 0);
	for (int i = 0; i < 8; i++)
		CT_TRUE(seen[i] != pid, "a task ran on the killed worker %d", (int)pid);
	t_pool_end(p);
	t_no_children();
}

/* arg: uint64 x and a pointer to 64 shared pid slots; records its pid, out: x * 3 + 1 */
struct t_marked {
	uint64_t x;
	atomic_int *pids;
};
static void t_task_marked(const void *arg, size_t len, void *out, size_t *out_len)
{
	struct t_marked m;
	memcpy(&m, arg, sizeof m);
	atomic_store(&m.pids[m.x % 64], (int)getpid());
	t_task_affine(&m.x, len, out, out_len);
}

/* Our child still (pool calls, the only reapers, run on this thread): safe to kill. */
static bool t_is_my_child(pid_t pid)
{
	char path[64], text[512] = { 0 };
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	const char *paren = n ? strrchr(text, ')') : NULL;
	int ppid = 0;
	char state = 0;
	return paren && sscanf(paren + 2, "%c %d", &state, &ppid) == 2 && ppid == getpid() && state != 'Z';
}

void t_pool_kills_under_load(const struct ct_ctx *c)
{
	enum { N = 30000 };
	atomic_int *pids = ct_shared(64 * sizeof *pids);
	ipcq_pool_config cfg = { .workers = 3, .mode = IPCQ_POOL_PROCESS, .mech = c->mech, .capacity = 256 };
	ipcq_pool *p = NULL;
	CT_OK(ipcq_pool_open(&cfg, &p), NULL);
	static int count[N];
	static struct t_one one[N];
	struct t_tally t = { .count = count };
	int kills = 0;
	for (uint64_t i = 0; i < N; i++) {
		one[i] = (struct t_one){ &t, i };
		struct t_marked m = { i, pids };
		CT_OK(ipcq_pool_apply_async(p, t_task_marked, &m, sizeof m, t_done_count, &one[i]), p);
		if (i % 1500 == 750) {
			pid_t victim = atomic_load(&pids[(i / 1500) % 64]);
			if (victim > 0 && t_is_my_child(victim) && kill(victim, SIGKILL) == 0)
				kills++;
		}
	}
	CT_OK(ipcq_pool_wait(p, 20 * CT_SEC), p);
	CT_TRUE(kills >= 5, "only %d workers could be killed", kills);
	CT_EQ(t.status[IPCQ_OK] + t.status[IPCQ_PEERDEAD], N);
	CT_EQ(t.wrong, 0);
	for (int i = 0; i < N; i++)
		CT_TRUE(count[i] == 1, "task %d's callback ran %d times", i, count[i]);
	/* Afterwards every task succeeds. */
	for (uint64_t i = 0; i < 100; i++) {
		uint64_t y = 0;
		size_t n;
		CT_OK(ipcq_pool_apply(p, t_task_affine, &i, sizeof i, &y, sizeof y, &n), p);
		CT_EQ(y, i * 3 + 1);
	}
	t_pool_end(p);
	t_no_children();
}

void t_pool_worker_death_fails_chunk(const struct ct_ctx *c)
{
	enum { N = 40 };
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 2, 0);
	uint32_t args[N], outs[N];
	size_t lens[N];
	for (uint32_t i = 0; i < N; i++)
		args[i] = i;
	/* Task 5 kills its worker: its chunk (4..7) has no answer, so map says PEERDEAD. */
	CT_ST(ipcq_pool_map(p, t_task_dies_at_5, args, 4, N, 4, outs, 4, lens), IPCQ_PEERDEAD, p);
	CT_TRUE(strstr(ipcq_errmsg(p), "task 4") != NULL, "errmsg does not name task 4: %s", ipcq_errmsg(p));
	for (uint32_t i = 8; i < N; i++)
		CT_TRUE(lens[i] == 4 && outs[i] == i, "task %u: %zu bytes, %u", i, lens[i], outs[i]);
	/* Then the pool works as before. */
	for (uint32_t i = 0; i < N; i++)
		args[i] = i + 100;
	CT_OK(ipcq_pool_map(p, t_task_dies_at_5, args, 4, N, 4, outs, 4, lens), p);
	t_pool_end(p);
	t_no_children();
}

void t_pool_terminate_in_flight(const struct ct_ctx *c)
{
	enum { N = 10 };
	atomic_int *started = ct_shared(sizeof *started);
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 2, 0);
	static int count[N];
	static struct t_one one[N];
	struct t_tally t = { .count = count };
	for (uint64_t i = 0; i < N; i++) {
		one[i] = (struct t_one){ &t, i };
		CT_OK(ipcq_pool_apply_async(p, t_task_sleeper, &started, sizeof started, t_done_count, &one[i]), p);
	}
	int64_t end = ct_now() + 5 * CT_SEC;
	while (!atomic_load(started) && ct_now() < end)
		ipcq_pool_wait(p, CT_MS);
	int64_t t0 = ct_now();
	CT_OK(ipcq_pool_terminate(p), p);
	CT_ST(ipcq_pool_apply_async(p, t_task_affine, &t0, 8, NULL, NULL), IPCQ_CLOSED, p);
	CT_OK(ipcq_pool_join(p), p);
	CT_TRUE(ct_now() - t0 < 5 * CT_SEC, "terminate + join took %lld ms", (long long)((ct_now() - t0) / CT_MS));
	CT_EQ(t.status[IPCQ_CLOSED], N);
	for (int i = 0; i < N; i++)
		CT_TRUE(count[i] == 1, "task %d's callback ran %d times", i, count[i]);
	t_no_children();
}

/* out = arg */
static void t_task_echo(const void *arg, size_t len, void *out, size_t *out_len)
{
	memcpy(out, arg, len);
	*out_len = len;
}

struct t_echo_tally {
	int ok, wrong;
};
static void t_done_echo(void *ctx, int status, const void *out, size_t len)
{
	struct t_echo_tally *t = ctx;
	unsigned char want[4000];
	uint32_t seq = 0;
	if (status == IPCQ_OK && len == sizeof want)
		memcpy(&seq, (const unsigned char *)out + 3996, 4);
	ct_pattern(want, 3996, 71, seq);
	if (status == IPCQ_OK && len == sizeof want && memcmp(out, want, 3996) == 0)
		t->ok++;
	else
		t->wrong++;
}

void t_pool_big_args_flow(const struct ct_ctx *c)
{
	/* 4000-byte tasks and results both ways: more than any kernel buffer holds in flight. */
	enum { N = 3000 };
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 2, 0);
	struct t_echo_tally t = { 0 };
	static unsigned char arg[4000];
	for (uint32_t i = 0; i < N; i++) {
		ct_pattern(arg, 3996, 71, i);
		memcpy(arg + 3996, &i, 4);
		CT_OK(ipcq_pool_apply_async(p, t_task_echo, arg, sizeof arg, t_done_echo, &t), p);
	}
	CT_OK(ipcq_pool_wait(p, 20 * CT_SEC), p);
	CT_EQ(t.ok, N);
	CT_EQ(t.wrong, 0);
	t_pool_end(p);
}

void t_pool_result_toobig(const struct ct_ctx *c)
{
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 1, 64);
	static int count[2];
	static struct t_one one[2];
	struct t_tally t = { .count = count };
	one[0] = (struct t_one){ &t, 0 };
	CT_OK(ipcq_pool_apply_async(p, t_task_too_big, NULL, 0, t_done_count, &one[0]), p);
	CT_OK(ipcq_pool_wait(p, 10 * CT_SEC), p);
	CT_EQ(t.status[IPCQ_TOOBIG], 1);
	CT_EQ(t.last_len, 65);
	unsigned char out[128];
	size_t n = 0;
	CT_ST(ipcq_pool_apply(p, t_task_too_big, NULL, 0, out, sizeof out, &n), IPCQ_TOOBIG, p);
	CT_EQ(n, 65);
	CT_TRUE(strstr(ipcq_errmsg(p), "max_out") != NULL, "errmsg does not name max_out: %s", ipcq_errmsg(p));
	/* An argument beyond max_arg (4096 by default): TOOBIG, nothing queued. */
	static unsigned char big[4097];
	CT_ST(ipcq_pool_apply_async(p, t_task_pid, big, sizeof big, NULL, NULL), IPCQ_TOOBIG, p);
	CT_OK(ipcq_pool_apply(p, t_task_pid, big, 4096, out, sizeof out, &n), p);
	t_pool_end(p);
}

void t_pool_thread_tasks(const struct ct_ctx *c)
{
	enum { N = 2000 };
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_THREAD, 2, 0);
	pid_t who = 0;
	size_t n;
	CT_OK(ipcq_pool_apply(p, t_task_pid, NULL, 0, &who, sizeof who, &n), p);
	CT_TRUE(who == getpid(), "a thread pool's task ran in pid %d, the owner is %d", (int)who, (int)getpid());
	static int count[N];
	static struct t_one one[N];
	struct t_tally t = { .count = count };
	for (uint64_t i = 0; i < N; i++) {
		one[i] = (struct t_one){ &t, i };
		CT_OK(ipcq_pool_apply_async(p, t_task_affine, &i, sizeof i, t_done_count, &one[i]), p);
	}
	static uint32_t args[N], outs[N][2];
	static size_t lens[N];
	for (uint32_t i = 0; i < N; i++)
		args[i] = i;
	CT_OK(ipcq_pool_map(p, t_task_who, args, 4, N, 0, outs, 8, lens), p);
	for (uint32_t i = 0; i < N; i++)
		CT_TRUE(outs[i][0] == i, "result %u is for task %u", i, outs[i][0]);
	CT_OK(ipcq_pool_wait(p, 10 * CT_SEC), p);
	CT_EQ(t.status[IPCQ_OK], N);
	CT_EQ(t.wrong, 0);
	t_pool_end(p);
	/* terminate with nothing running */
	p = t_pool_open(c, IPCQ_POOL_THREAD, 2, 0);
	CT_OK(ipcq_pool_terminate(p), p);
	CT_OK(ipcq_pool_join(p), p);
}

void t_pool_fd_count_stable(const struct ct_ctx *c)
{
	unsigned mode = (c->caps & IPCQ_CAP_PROCESS) ? IPCQ_POOL_PROCESS : IPCQ_POOL_THREAD;
	ipcq_pool *p = t_pool_open(c, mode, 2, 0); /* the first open may set up lasting state */
	t_pool_end(p);
	int before = ct_fd_count();
	for (int i = 0; i < 50; i++) {
		p = t_pool_open(c, mode, 2, 0);
		pid_t who;
		size_t n;
		CT_OK(ipcq_pool_apply(p, t_task_pid, NULL, 0, &who, sizeof who, &n), p);
		if (i % 2) {
			t_pool_end(p);
		} else {
			CT_OK(ipcq_pool_terminate(p), p);
			CT_OK(ipcq_pool_join(p), p);
		}
	}
	int now = ct_fd_count();
	CT_TRUE(now == before, "%d descriptors open after 50 pools, %d before", now, before);
	t_no_children();
}

struct t_owner {
	const ipcq_mech *mech;
	pid_t pids[2];
};

static void t_owner_then_die(void *arg)
{
	struct t_owner *o = arg;
	ipcq_pool_config cfg = { .workers = 2, .mode = IPCQ_POOL_PROCESS, .mech = o->mech };
	ipcq_pool *p;
	if (ipcq_pool_open(&cfg, &p) != IPCQ_OK)
		_exit(2);
	/* Learn the workers' pids (both, if the tasks land on both). */
	for (int i = 0; i < 200 && (!o->pids[0] || !o->pids[1]); i++) {
		pid_t who;
		size_t n;
		if (ipcq_pool_apply(p, t_task_pid, NULL, 0, &who, sizeof who, &n) != IPCQ_OK)
			_exit(3);
		if (!o->pids[0])
			o->pids[0] = who;
		else if (who != o->pids[0])
			o->pids[1] = who;
	}
	_exit(0); /* no close, no join: the workers must not outlive us */
}

void t_pool_workers_die_with_owner(const struct ct_ctx *c)
{
	/* Orphaned workers become our children, so we can see them die and reap them. */
	CT_TRUE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	struct t_owner *o = ct_shared(sizeof *o);
	o->mech = c->mech;
	struct ct_actor *a = ct_spawn_process(NULL, 0, t_owner_then_die, o);
	int status = ct_join_status(a);
	CT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the owner ended with status 0x%x", status);
	CT_TRUE(o->pids[0] > 0, "no worker pid learnt");
	/* Every orphaned worker must end and be reaped here within 5 s. */
	int64_t end = ct_now() + 5 * CT_SEC;
	bool seen[2] = { false, false };
	for (;;) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			break;
		for (int i = 0; i < 2; i++)
			seen[i] |= r == o->pids[i];
		CT_TRUE(ct_now() < end, "a worker (pid %d or %d) outlived its owner by 5 s", (int)o->pids[0],
		        (int)o->pids[1]);
		if (r == 0)
			ct_sleep(CT_MS);
	}
	CT_TRUE(seen[0], "worker %d was never reaped here", (int)o->pids[0]);
	t_no_children();
}

/* --- Waiting inside callbacks; terminate and close under load ----------------------------- */

static ipcq_pool *t_nest_pool;
static int t_nest_depth, t_nest_max, t_nest_left = 20, t_nest_bad;

static void t_task_nothing(const void *arg, size_t len, void *out, size_t *out_len)
{
	(void)arg, (void)len, (void)out;
	*out_len = 0;
}

/* Submits another task and waits for it: the wait runs this callback one level deeper. */
static void t_done_nests(void *ctx, int status, const void *out, size_t len)
{
	(void)ctx, (void)out, (void)len;
	int d = ++t_nest_depth;
	if (d > t_nest_max)
		t_nest_max = d;
	if (status != IPCQ_OK)
		t_nest_bad++;
	if (t_nest_left-- > 0 && ipcq_pool_apply_async(t_nest_pool, t_task_nothing, NULL, 0, t_done_nests, NULL) == IPCQ_OK) {
		int st = ipcq_pool_wait(t_nest_pool, CT_LONG);
		if (st != (d <= IPCQ_POOL_MAX_DEPTH ? IPCQ_OK : IPCQ_INVAL))
			t_nest_bad++;
	}
	t_nest_depth--;
}

void t_pool_nested_wait_refused(const struct ct_ctx *c)
{
	t_nest_pool = t_pool_open(c, IPCQ_POOL_THREAD, 2, 0);
	CT_OK(ipcq_pool_apply_async(t_nest_pool, t_task_nothing, NULL, 0, t_done_nests, NULL), t_nest_pool);
	CT_OK(ipcq_pool_wait(t_nest_pool, CT_LONG), t_nest_pool);
	CT_TRUE(t_nest_bad == 0, "%d nested waits or tasks did not say OK within %d levels and INVAL beyond",
	        t_nest_bad, IPCQ_POOL_MAX_DEPTH);
	CT_TRUE(t_nest_max > IPCQ_POOL_MAX_DEPTH, "callbacks nested only %d deep", t_nest_max);
	char out[8];
	size_t n;
	CT_OK(ipcq_pool_apply(t_nest_pool, t_task_nothing, NULL, 0, out, sizeof out, &n), t_nest_pool);
	t_pool_end(t_nest_pool);
}

/* arg: microseconds to sleep */
static void t_task_sleep_us(const void *arg, size_t len, void *out, size_t *out_len)
{
	(void)len, (void)out;
	uint32_t us;
	memcpy(&us, arg, sizeof us);
	ct_sleep(us * (CT_MS / 1000));
	*out_len = 0;
}

void t_pool_terminate_results_full(const struct ct_ctx *c)
{
	ipcq_pool_config cfg = { .workers = 2, .mode = IPCQ_POOL_THREAD, .mech = c->mech, .capacity = 2000 };
	ipcq_pool *p = NULL;
	CT_OK(ipcq_pool_open(&cfg, &p), NULL);
	uint32_t us = 300; /* slow enough to go out one a message, so each answer is a result message */
	for (int i = 0; i < 2000; i++)
		CT_OK(ipcq_pool_apply_async(p, t_task_sleep_us, &us, sizeof us, NULL, NULL), p);
	ct_sleep(400 * CT_MS); /* nobody drains: the workers fill the results queue and wait for room */
	int64_t t0 = ct_now();
	CT_OK(ipcq_pool_terminate(p), p);
	CT_OK(ipcq_pool_join(p), p);
	CT_TRUE(ct_now() - t0 < 5 * CT_SEC, "terminate + join took %lld ms", (long long)((ct_now() - t0) / CT_MS));
}

static long t_forks;
static void t_count_fork(void) /* in the parent, as fork returns there */
{
	t_forks++;
}


void t_pool_close_join_no_new_workers(const struct ct_ctx *c)
{
	pthread_atfork(NULL, t_count_fork, NULL);
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 4, 0);
	uint32_t slow = 300000, quick = 1000;
	CT_OK(ipcq_pool_apply_async(p, t_task_sleep_us, &slow, sizeof slow, NULL, NULL), p);
	for (int i = 0; i < 3; i++)
		CT_OK(ipcq_pool_apply_async(p, t_task_sleep_us, &quick, sizeof quick, NULL, NULL), p);
	long before = t_forks;
	t_pool_end(p);
	long forks = t_forks - before;
	/* The idle workers see EOF and exit while the slow task runs: each replacement would too. */
	CT_TRUE(forks == 0, "%ld workers were forked during close + join of a 4-worker pool", forks);
	t_no_children();
}

/* arg: uint64 x; x == 0 ends the worker with a clean-looking exit, else out = x * 3 + 1 after 20 ms */
static void t_task_exit0_at_0(const void *arg, size_t len, void *out, size_t *out_len)
{
	uint64_t x;
	memcpy(&x, arg, sizeof x);
	ct_sleep(20 * CT_MS);
	if (x == 0)
		_exit(0);
	t_task_affine(arg, len, out, out_len);
}

/* An exit(0) is not the end of the tasks: only a worker that saw EOF holding nothing is not replaced. */
void t_pool_task_exit0_after_close(const struct ct_ctx *c)
{
	enum { N = 4 };
	ipcq_pool *p = t_pool_open(c, IPCQ_POOL_PROCESS, 1, 0);
	static int count[N];
	static struct t_one one[N];
	struct t_tally t = { .count = count };
	for (uint64_t i = 0; i < N; i++) {
		one[i] = (struct t_one){ &t, i };
		CT_OK(ipcq_pool_apply_async(p, t_task_exit0_at_0, &i, sizeof i, t_done_count, &one[i]), p);
	}
	int64_t t0 = ct_now();
	t_pool_end(p);
	CT_TRUE(ct_now() - t0 < 10 * CT_SEC, "close + join took %lld ms", (long long)((ct_now() - t0) / CT_MS));
	CT_EQ(t.status[IPCQ_PEERDEAD], 1);
	CT_EQ(t.status[IPCQ_OK], N - 1);
	CT_EQ(t.wrong, 0);
	t_no_children();
}
