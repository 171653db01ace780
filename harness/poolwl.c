/*
 * poolwl.c - placement, start-up and memory of pool workloads (see poolwl.h).
 */
#include "poolwl.h"
#include "placement.h"
#include "stats.h"
#include "wlutil.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#define SETUP_TIMEOUT_NS 20000000000LL /* 256 forked workers on a busy machine start slowly */

void ipcb_pool_cpus(const struct ipcb_case *c, struct ipcb_pool_setup *s, unsigned n, char *desc, size_t desclen)
{
	s->n = n;
	for (unsigned i = 0; i < n; i++) {
		if (c->cpu_a < 0)
			s->cpu[i] = -1;
		else if (c->place == IPCB_PLACE_SAME_PU)
			s->cpu[i] = c->cpu_a;
		else
			s->cpu[i] = i % 2 == 0 ? c->cpu_b : c->cpu_a;
	}
	if (c->cpu_a < 0)
		snprintf(desc, desclen, "unpinned");
	else if (c->place == IPCB_PLACE_SAME_PU || n == 1)
		snprintf(desc, desclen, "owner %d, workers %d", c->cpu_a, s->cpu[0]);
	else
		snprintf(desc, desclen, "owner %d, workers %d,%d", c->cpu_a, c->cpu_b, c->cpu_a);
}

struct setup_arg {
	struct ipcb_pool_setup *s;
};

struct setup_out {
	int rc; /* 0, or an errno */
	unsigned index;
};

/* A setup task: holds its worker until every worker has one, then pins it. */
static void setup_task(const void *arg, size_t len, void *out, size_t *out_len)
{
	struct setup_arg a;
	struct setup_out o = { 0, 0 };
	if (len != sizeof a || *out_len < sizeof o) {
		*out_len = 0;
		return;
	}
	memcpy(&a, arg, sizeof a);
	struct ipcb_pool_setup *s = a.s;
	unsigned i = atomic_fetch_add(&s->arrived, 1);
	o.index = i;
	if (i >= s->n) {
		o.rc = ERANGE;
		goto out;
	}
	s->pid[i] = getpid();
	s->tid[i] = (pid_t)syscall(SYS_gettid);
	uint64_t end = ipcb_now_ns() + SETUP_TIMEOUT_NS;
	while (atomic_load(&s->arrived) < s->n) {
		if (ipcb_now_ns() > end) {
			o.rc = ETIMEDOUT;
			goto out;
		}
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
	if (s->cpu[i] >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(s->cpu[i], &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) /* 0: the calling thread */
			o.rc = errno;
	}
out:
	if (o.rc)
		atomic_fetch_add(&s->failed, 1);
	memcpy(out, &o, sizeof o);
	*out_len = sizeof o;
}

struct setup_ctx {
	unsigned done, bad;
	char why[200];
};

static void setup_done(void *ctx, int status, const void *out, size_t len)
{
	struct setup_ctx *x = ctx;
	struct setup_out o;
	x->done++;
	if (status != IPCQ_OK || len != sizeof o) {
		if (!x->bad++)
			snprintf(x->why, sizeof x->why, "a setup task ended %s with %zu bytes", ipcq_strstatus(status), len);
		return;
	}
	memcpy(&o, out, sizeof o);
	if (o.rc && !x->bad++)
		snprintf(x->why, sizeof x->why, "worker %u: %s", o.index,
		         o.rc == ETIMEDOUT ? "not every worker took a setup task within 20 s"
		                           : o.rc == ERANGE ? "more setup tasks than workers" : strerror(o.rc));
}

int ipcb_pool_setup_run(ipcq_pool *p, struct ipcb_pool_setup *s, unsigned n, char *err, size_t errlen)
{
	struct setup_ctx x = { 0 };
	struct setup_arg a = { s };
	atomic_store(&s->arrived, 0);
	atomic_store(&s->failed, 0);
	for (unsigned i = 0; i < n; i++) {
		int st = ipcq_pool_apply_async(p, setup_task, &a, sizeof a, setup_done, &x);
		if (st != IPCQ_OK) {
			snprintf(err, errlen, "submitting setup task %u: %s: %s", i, ipcq_strstatus(st), ipcq_errmsg(p));
			return -1;
		}
	}
	int st = ipcq_pool_wait(p, SETUP_TIMEOUT_NS + 5000000000LL);
	if (st != IPCQ_OK) {
		snprintf(err, errlen, "waiting for the setup tasks: %s: %s", ipcq_strstatus(st), ipcq_errmsg(p));
		return -1;
	}
	if (x.bad || x.done != n) {
		snprintf(err, errlen, "starting the workers: %s", x.bad ? x.why : "setup tasks went missing");
		return -1;
	}
	return 0;
}

int ipcb_proc_mem(pid_t pid, double *rss, double *pss)
{
	char path[64], line[256];
	if (pid)
		snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	else
		snprintf(path, sizeof path, "/proc/self/smaps_rollup");
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long r = -1, p = -1, v;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "Rss: %ld kB", &v) == 1)
			r = v;
		else if (sscanf(line, "Pss: %ld kB", &v) == 1)
			p = v;
	}
	fclose(f);
	if (r < 0 || p < 0)
		return -1;
	*rss = (double)r * 1024;
	*pss = (double)p * 1024;
	return 0;
}

ipcq_pool_config ipcb_pool_config(const struct ipcb_case *c, unsigned capacity, size_t max_arg, size_t max_out)
{
	return (ipcq_pool_config){
		.workers = c->workers,
		.mode = c->mode == IPCB_MODE_PROCESS ? IPCQ_POOL_PROCESS : IPCQ_POOL_THREAD,
		.mech = c->mech,
		.max_arg = max_arg,
		.max_out = max_out,
		.capacity = capacity,
	};
}

void ipcb_pool_end(ipcq_pool *p, bool healthy)
{
	if (!p)
		return;
	if (!healthy || ipcq_pool_close(p) != IPCQ_OK)
		ipcq_pool_terminate(p);
	ipcq_pool_join(p);
}

bool ipcb_pool_finish(ipcb_gb_state *st, ipcq_pool *p, const char *wl, int rc, uint64_t submitted,
                      const uint64_t *done, const uint64_t *bad, const char *why, uint64_t *t1)
{
	char err[300];
	if (rc != IPCQ_OK) {
		ipcb_fail(st, "%s: ipcq_pool_apply_async: %s", wl, ipcb_status_text(rc, p, err, sizeof err));
		return false;
	}
	/* A minute: far beyond any task here, short of a CI job's patience. */
	rc = ipcq_pool_wait(p, 60000000000LL);
	*t1 = ipcb_now_ns();
	if (rc != IPCQ_OK) {
		ipcb_fail(st, "%s: ipcq_pool_wait for the last tasks: %s", wl, ipcb_status_text(rc, p, err, sizeof err));
		return false;
	}
	if (*bad || *done != submitted) {
		ipcb_fail(st, "%s: %llu of %llu tasks failed, wrong or missing: %s", wl,
		          (unsigned long long)(*bad + submitted - *done), (unsigned long long)submitted,
		          *bad ? why : "callbacks missing");
		return false;
	}
	return true;
}
