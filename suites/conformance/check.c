/*
 * check.c - the test-side half of the battery: failure lines to the runner,
 * assertions' helpers, actors (processes or threads), clocks and /proc probes.
 *
 * Sections: reporting - timing and memory - queues - actors - probes.
 */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- Reporting ------------------------------------------------------------------ */

static int ct_report_fd = -1;
static pid_t ct_test_pid;

void ct_fail_at(const char *file, int line, const char *fmt, ...)
{
	char msg[3000], rec[3600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One record per line, fields split by tabs: keep both out of the text. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	int n;
	if (getpid() != ct_test_pid)
		n = snprintf(rec, sizeof rec, "%s\t%d\t[actor pid %d] %s\n", base, line, (int)getpid(), msg);
	else if (gettid() != getpid())
		n = snprintf(rec, sizeof rec, "%s\t%d\t[actor thread %d] %s\n", base, line, (int)gettid(), msg);
	else
		n = snprintf(rec, sizeof rec, "%s\t%d\t%s\n", base, line, msg);
	if (n < 0 || (size_t)n >= sizeof rec) {
		n = (int)sizeof rec - 1;
		rec[n - 1] = '\n';
	}
	/* Below PIPE_BUF, so records from several processes never interleave. */
	if (ct_report_fd < 0 || write(ct_report_fd, rec, (size_t)n) != n)
		fprintf(stderr, "%s", rec);
	_exit(1);
}

const char *ct_errmsg_suffix(const void *handle, int st)
{
	static _Thread_local char buf[1200];
	if (!handle || st == IPCQ_OK || st == IPCQ_EMPTY || st == IPCQ_FULL || st == IPCQ_EOF)
		return "";
	const char *m = ipcq_errmsg(handle);
	if (!m || !*m)
		return "";
	snprintf(buf, sizeof buf, " (errmsg: %s)", m);
	return buf;
}

void ct_mem_at(const char *file, int line, const char *what, const void *got, const void *want,
               size_t n)
{
	const unsigned char *g = got, *w = want;
	for (size_t i = 0; i < n; i++)
		if (g[i] != w[i])
			ct_fail_at(file, line, "%s differs at byte %zu of %zu: got 0x%02x, expected 0x%02x",
			           what, i, n, g[i], w[i]);
}

void ct_check_elapsed(const char *file, int line, const char *what, int64_t elapsed, int64_t t)
{
	int64_t slack = t / 4 > 50 * CT_MS ? t / 4 : 50 * CT_MS;
	if (elapsed < t)
		ct_fail_at(file, line, "`%s` returned after %.3f ms, before its timeout of %.3f ms",
		           what, elapsed / 1e6, t / 1e6);
	if (elapsed > t + slack)
		ct_fail_at(file, line,
		           "`%s` returned after %.3f ms: more than max(50 ms, 25%%) = %.1f ms past its timeout of %.3f ms",
		           what, elapsed / 1e6, slack / 1e6, t / 1e6);
}

/* --- Timing and memory ------------------------------------------------------------ */

int64_t ct_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CT_SEC + ts.tv_nsec;
}

void ct_sleep(int64_t ns)
{
	int64_t end = ct_now() + ns;
	struct timespec ts = {.tv_sec = end / CT_SEC, .tv_nsec = end % CT_SEC};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void *ct_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		CT_FAIL("mmap(MAP_SHARED, %zu bytes): %s", size, strerror(errno));
	return p;
}

void *ct_map(size_t size)
{
	void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		CT_FAIL("mmap(%zu bytes): %s", size, strerror(errno));
	return p;
}

void ct_unmap(void *p, size_t size)
{
	munmap(p, size ? size : 1);
}

/* --- Queues --------------------------------------------------------------------- */

ipcq *ct_open(const struct ct_ctx *c, size_t capacity, size_t max_msg)
{
	return ct_open_flags(c, capacity, max_msg, 0);
}

ipcq *ct_open_flags(const struct ct_ctx *c, size_t capacity, size_t max_msg, unsigned flags)
{
	ipcq_config cfg = {.capacity = capacity, .max_msg = max_msg, .flags = flags};
	ipcq *q = NULL;
	int st = ipcq_open(c->mech, &cfg, &q);
	if (st != IPCQ_OK) /* a failed open binds its message to no handle */
		CT_FAIL("`ipcq_open(%s, capacity %zu, max_msg %zu)` -> %s, expected IPCQ_OK (errmsg: %s)",
		        c->name, capacity, max_msg, ipcq_strstatus(st), ipcq_errmsg(NULL));
	if (!q)
		CT_FAIL("`ipcq_open(%s)` -> IPCQ_OK but left the handle NULL", c->name);
	return q;
}

size_t ct_fill(ipcq *q, size_t len, size_t limit)
{
	unsigned char *buf = malloc(len ? len : 1);
	if (!buf)
		CT_FAIL("malloc(%zu) failed", len);
	for (size_t n = 0; n < limit; n++) {
		ct_pattern(buf, len, 7, (uint32_t)n);
		int st = ipcq_put(q, buf, len, IPCQ_NOWAIT);
		if (st == IPCQ_FULL) {
			free(buf);
			return n;
		}
		if (st != IPCQ_OK)
			CT_FAIL("`ipcq_put(q, buf, %zu, IPCQ_NOWAIT)` (message %zu while filling) -> %s, expected IPCQ_OK or IPCQ_FULL%s",
			        len, n, ipcq_strstatus(st), ct_errmsg_suffix(q, st));
	}
	CT_FAIL("%zu NOWAIT puts of %zu bytes never gave IPCQ_FULL: the queue is not bounded", limit, len);
}

void ct_put_msg_at(const char *file, int line, ipcq *q, uint32_t who, uint32_t seq, size_t len,
                   int64_t t)
{
	unsigned char *buf = len > 65536 ? ct_map(len) : calloc(1, len ? len : 1);
	if (!buf)
		ct_fail_at(file, line, "malloc(%zu) failed", len);
	ct_pattern(buf, len, who, seq);
	int st = ipcq_put(q, buf, len, t);
	if (st != IPCQ_OK)
		ct_fail_at(file, line, "`ipcq_put(q, msg %u/%u, %zu bytes, %lld ns)` -> %s, expected IPCQ_OK%s",
		           who, seq, len, (long long)t, ipcq_strstatus(st), ct_errmsg_suffix(q, st));
	if (len > 65536)
		ct_unmap(buf, len);
	else
		free(buf);
}

void ct_get_msg_at(const char *file, int line, ipcq *q, uint32_t who, uint32_t seq, size_t len,
                   int64_t t)
{
	/* Room to spare, pre-filled: a merged message or a write past *len both show. */
	size_t cap = len + 64;
	unsigned char *buf = len > 65536 ? ct_map(cap) : malloc(cap);
	unsigned char *want = len > 65536 ? ct_map(len) : malloc(len ? len : 1);
	if (!buf || !want)
		ct_fail_at(file, line, "malloc(%zu) failed", cap);
	memset(buf, 0xa5, cap);
	ct_pattern(want, len, who, seq);
	size_t got = (size_t)-1;
	int st = ipcq_get(q, buf, cap, &got, t);
	if (st != IPCQ_OK)
		ct_fail_at(file, line, "`ipcq_get(q, buf, %zu, &len, %lld ns)` for msg %u/%u -> %s, expected IPCQ_OK%s",
		           cap, (long long)t, who, seq, ipcq_strstatus(st), ct_errmsg_suffix(q, st));
	if (got != len)
		ct_fail_at(file, line, "`ipcq_get` for msg %u/%u gave %zu bytes, expected %zu (merged or split?)",
		           who, seq, got, len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != want[i])
			ct_fail_at(file, line, "msg %u/%u (%zu bytes) differs at byte %zu: got 0x%02x, expected 0x%02x",
			           who, seq, len, i, buf[i], want[i]);
	for (size_t i = len; i < cap; i++)
		if (buf[i] != 0xa5)
			ct_fail_at(file, line, "`ipcq_get` of a %zu-byte message wrote byte %zu of the buffer", len, i);
	if (len > 65536) {
		ct_unmap(buf, cap);
		ct_unmap(want, len);
	} else {
		free(buf);
		free(want);
	}
}

void ct_pattern(void *buf, size_t len, uint32_t who, uint32_t seq)
{
	uint64_t x = ((uint64_t)who << 32 | seq) ^ 0x9e3779b97f4a7c15ull;
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0) { /* splitmix64: every byte value occurs, no period within a message */
			x += 0x9e3779b97f4a7c15ull;
			uint64_t z = x;
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
			x = z ^ (z >> 31);
		}
		p[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

/* --- Actors ------------------------------------------------------------------------ */

#define CT_MAX_ACTORS 32

struct ct_actor {
	bool used, process, joined;
	pid_t pid;
	atomic_int tid;
	pthread_t thread;
	ct_actor_fn fn;
	void *arg;
};

/* Shared so a thread's tid written in the thread is seen by the test thread. */
static struct ct_actor *ct_actors;

void ct__child_begin(int report_fd)
{
	ct_report_fd = report_fd;
	ct_test_pid = getpid();
	ct_actors = ct_shared(sizeof(struct ct_actor) * CT_MAX_ACTORS);
}

void ct__child_end(void)
{
	int left = 0;
	for (int i = 0; i < CT_MAX_ACTORS; i++) {
		struct ct_actor *a = &ct_actors[i];
		if (!a->used || a->joined)
			continue;
		left++;
		if (a->process) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, NULL, 0);
		}
	}
	if (left)
		CT_FAIL("the test left %d actor(s) running; they were killed", left);
}

static struct ct_actor *ct_actor_new(ct_actor_fn fn, void *arg)
{
	if (!ct_actors)
		CT_FAIL("actors can only be started by a test");
	for (int i = 0; i < CT_MAX_ACTORS; i++)
		if (!ct_actors[i].used) {
			struct ct_actor *a = &ct_actors[i];
			memset(a, 0, sizeof *a);
			a->used = true;
			a->fn = fn;
			a->arg = arg;
			return a;
		}
	CT_FAIL("more than %d actors in one test", CT_MAX_ACTORS);
}

struct ct_actor *ct_spawn_process(ipcq *q, unsigned drop_roles, ct_actor_fn fn, void *arg)
{
	struct ct_actor *a = ct_actor_new(fn, arg);
	a->process = true;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		CT_FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		/* The actor never returns into the test, let alone CUnit. */
		if (q && drop_roles) {
			int st = ipcq_release(q, drop_roles);
			if (st != IPCQ_OK)
				CT_FAIL("`ipcq_release(q, %u)` in a new actor -> %s, expected IPCQ_OK%s",
				        drop_roles, ipcq_strstatus(st), ct_errmsg_suffix(q, st));
		}
		fn(arg);
		_exit(0);
	}
	a->pid = pid;
	atomic_store(&a->tid, pid);
	return a;
}

static void *ct_thread_main(void *p)
{
	struct ct_actor *a = p;
	atomic_store(&a->tid, (int)gettid());
	a->fn(a->arg);
	return NULL;
}

struct ct_actor *ct_spawn(const struct ct_ctx *c, ipcq *q, unsigned drop_roles, ct_actor_fn fn,
                          void *arg)
{
	if (c->caps & IPCQ_CAP_PROCESS)
		return ct_spawn_process(q, drop_roles, fn, arg);
	struct ct_actor *a = ct_actor_new(fn, arg);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits "all blocked" */
	int rc = pthread_create(&a->thread, NULL, ct_thread_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		CT_FAIL("pthread_create: %s", strerror(rc));
	int64_t end = ct_now() + 5 * CT_SEC;
	while (!atomic_load(&a->tid) && ct_now() < end)
		ct_sleep(100000);
	return a;
}

static const char *ct_sig_name(int sig)
{
	const char *s = sigabbrev_np(sig);
	return s ? s : "?";
}

int ct_join_status(struct ct_actor *a)
{
	if (!a->process)
		CT_FAIL("ct_join_status needs a process actor");
	int64_t end = ct_now() + 20 * CT_SEC;
	int status;
	for (;;) {
		pid_t r = waitpid(a->pid, &status, WNOHANG);
		if (r == a->pid)
			break;
		if (r < 0 && errno != EINTR)
			CT_FAIL("waitpid(actor %d): %s", (int)a->pid, strerror(errno));
		if (ct_now() > end) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, NULL, 0);
			a->joined = true;
			CT_FAIL("actor pid %d still running after 20 s; killed it", (int)a->pid);
		}
		ct_sleep(500000);
	}
	a->joined = true;
	return status;
}

void ct_join(struct ct_actor *a)
{
	if (a->process) {
		int status = ct_join_status(a);
		if (WIFSIGNALED(status))
			CT_FAIL("actor pid %d was killed by signal %d (SIG%s)", (int)a->pid,
			        WTERMSIG(status), ct_sig_name(WTERMSIG(status)));
		if (WEXITSTATUS(status) != 0)
			CT_FAIL("actor pid %d exited with status %d", (int)a->pid, WEXITSTATUS(status));
		return;
	}
	struct timespec abs;
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_sec += 20;
	int rc = pthread_timedjoin_np(a->thread, NULL, &abs);
	if (rc)
		CT_FAIL("actor thread %d did not finish in 20 s: %s", atomic_load(&a->tid), strerror(rc));
	a->joined = true;
}

void ct_kill(struct ct_actor *a)
{
	if (!a->process)
		CT_FAIL("ct_kill needs a process actor");
	kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
	a->joined = true;
}

pid_t ct_actor_id(const struct ct_actor *a)
{
	return atomic_load(&((struct ct_actor *)a)->tid);
}

bool ct_actor_is_process(const struct ct_actor *a)
{
	return a->process;
}

/* --- Probes ------------------------------------------------------------------------- */

/* The state letter in a /proc stat file ('?' when unreadable). */
static char ct_proc_state(const char *path)
{
	char buf[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: the state follows the last ')'. */
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

void ct_wait_sleeping(const struct ct_actor *a)
{
	char path[64];
	pid_t id = ct_actor_id(a);
	if (a->process)
		snprintf(path, sizeof path, "/proc/%d/stat", (int)id);
	else
		snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)id);
	int64_t end = ct_now() + 5 * CT_SEC;
	char st = '?';
	while (ct_now() < end) {
		st = ct_proc_state(path);
		if (st == 'S')
			return;
		ct_sleep(CT_MS);
	}
	CT_FAIL("%s %d never went to sleep (state 'S' in %s) within 5 s; last state '%c'",
	        a->process ? "actor process" : "actor thread", (int)id, path, st);
}

void ct_wait_flag(atomic_int *flag)
{
	int64_t end = ct_now() + 5 * CT_SEC;
	while (!atomic_load(flag)) {
		if (ct_now() > end)
			CT_FAIL("an actor did not reach its start point within 5 s");
		ct_sleep(200000);
	}
}

int ct_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		CT_FAIL("opendir(/proc/self/fd): %s", strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}
