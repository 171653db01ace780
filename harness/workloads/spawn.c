/*
 * spawn.c - what one worker costs to create and reap: fork() + waitpid() of
 * a child that _exits at once, posix_spawn() of /bin/true + waitpid() (the
 * exec included: what starting a fresh program costs), pthread_create() +
 * pthread_join() of a thread that returns at once.
 *
 * The benchmark thread is pinned to the placement's CPU A and the new
 * process or thread inherits that CPU set (os: unpinned). Every child must
 * exit 0 and every thread must return what it was given plus one; anything
 * else fails the row. spawn_ns is the mean of create-to-reaped over the
 * measured iterations; spawn_p50_ns and spawn_p99_ns come from a histogram.
 * A fork copies the parent's page tables, so the label records the
 * parent's RSS: fork is slower from a bigger process.
 */
#include "hist.h"
#include "peer.h"
#include "stats.h"
#include "wlutil.h"

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const kind_names[IPCB_SPAWN_COUNT] = { "fork", "posix_spawn", "pthread_create" };

const char *ipcb_spawn_kind_name(int k)
{
	return k >= 0 && k < IPCB_SPAWN_COUNT ? kind_names[k] : NULL;
}

static void *thread_fn(void *arg)
{
	return (void *)((uintptr_t)arg + 1);
}

/* The program posix_spawn starts: the smallest one every Linux has. */
static const char *true_path(void)
{
	static const char *const paths[] = { "/bin/true", "/usr/bin/true" };
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Reaps pid; 0 when it exited 0, else -1 with why. */
static int reap(pid_t pid, char *why, size_t len)
{
	int status;
	pid_t r;
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r != pid) {
		snprintf(why, len, "waitpid(%d): %s", (int)pid, strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ipcb_describe_status(status, why, len);
		return -1;
	}
	return 0;
}

/* One create-and-reap; 0 or -1 with why. */
static int spawn_once(int kind, const char *prog, uintptr_t i, char *why, size_t len)
{
	if (kind == IPCB_SPAWN_FORK) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			snprintf(why, len, "fork: %s", strerror(errno));
			return -1;
		}
		return reap(pid, why, len);
	}
	if (kind == IPCB_SPAWN_POSIX_SPAWN) {
		pid_t pid;
		char *argv[] = { (char *)prog, NULL };
		int e = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
		if (e) {
			snprintf(why, len, "posix_spawn(%s): %s", prog, strerror(e));
			return -1;
		}
		return reap(pid, why, len);
	}
	pthread_t t;
	void *ret = NULL;
	int e = pthread_create(&t, NULL, thread_fn, (void *)i);
	if (e) {
		snprintf(why, len, "pthread_create: %s", strerror(e));
		return -1;
	}
	if ((e = pthread_join(t, &ret)) != 0) {
		snprintf(why, len, "pthread_join: %s", strerror(e));
		return -1;
	}
	if ((uintptr_t)ret != i + 1) {
		snprintf(why, len, "thread %llu returned %llu, expected %llu", (unsigned long long)i,
		         (unsigned long long)(uintptr_t)ret, (unsigned long long)i + 1);
		return -1;
	}
	return 0;
}

static long self_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void spawn_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[300], why[300];
	struct ipcb_pin pin = { 0 };
	const char *prog = NULL;
	if (c->variant == IPCB_SPAWN_POSIX_SPAWN && !(prog = true_path())) {
		ipcb_fail(st, "spawn: posix_spawn needs /bin/true or /usr/bin/true, and neither is executable");
		return;
	}
	struct ipcb_hist *h = malloc(sizeof *h);
	if (!h) {
		ipcb_fail(st, "spawn: out of memory for the histogram");
		return;
	}
	ipcb_hist_reset(h);
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "spawn: %s", err);
		free(h);
		return;
	}
	/* Warm-up: the first fork faults in what later ones reuse; exec caches warm. */
	for (uintptr_t i = 0; i < 3; i++)
		if (spawn_once(c->variant, prog, i, why, sizeof why) != 0) {
			ipcb_fail(st, "spawn: %s: %s", kind_names[c->variant], why);
			goto out;
		}
	uintptr_t i = 0;
	while (ipcb_gb_keep_running(st)) {
		uint64_t t0 = ipcb_now_ns();
		int rc = spawn_once(c->variant, prog, i, why, sizeof why);
		uint64_t t1 = ipcb_now_ns();
		if (rc != 0) {
			ipcb_fail(st, "spawn: %s #%llu: %s", kind_names[c->variant], (unsigned long long)i, why);
			break;
		}
		ipcb_gb_set_iteration_time(st, (double)(t1 - t0) / 1e9);
		ipcb_hist_record(h, t1 - t0);
		i++;
	}
	if (!ipcb_gb_error_occurred(st) && ipcb_hist_count(h)) {
		ipcb_gb_counter(st, "spawn_ns", ipcb_hist_mean(h), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "spawn_p50_ns", (double)ipcb_hist_percentile(h, 0.5), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "spawn_p99_ns", (double)ipcb_hist_percentile(h, 0.99), IPCB_GB_COUNTER_DEFAULT);
		char label[160];
		long rss = self_rss_kib();
		if (c->variant == IPCB_SPAWN_POSIX_SPAWN)
			snprintf(label, sizeof label, "%s; parent RSS %ld KiB", prog, rss);
		else
			snprintf(label, sizeof label, "parent RSS %ld KiB", rss);
		ipcb_gb_set_label(st, label);
	}
out:
	ipcb_unpin_self(&pin);
	free(h);
}

const struct ipcb_workload ipcb_workload_spawn = {
	.name = "spawn",
	.summary = "cost to create and reap one worker: fork, posix_spawn (of /bin/true), pthread_create (spawn_ns)",
	.run = spawn_run,
	.opts = { .manual_time = true },
};
