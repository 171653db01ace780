/*
 * pyref.c - reference rows from Python's multiprocessing, beside ours.
 *
 * Runs suites/reference/py_mp.py once per row with the row's CPUs, size or
 * workers and min_time, and reports what it printed: the Queue and Pipe
 * round trip (rtt_* counters) and stream rate, and Pool.apply_async's rate
 * with empty tasks (tasks_per_second). The rows are named like our own
 * (pingpong/py-mp-queue/..., stream/py-mp-pipe/..., cpu/py-mp-pool/...) so
 * tables, charts and compare put them side by side; the label says they
 * are a reference, measured by Python, not a mechanism of ours. One
 * iteration = one run of the script; its own clock gives the time.
 */
#include "wlutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IPCB_SOURCE_DIR
#define IPCB_SOURCE_DIR "."
#endif

extern char **environ;

#define DEFAULT_MIN_TIME 0.5
#define OUT_MAX 65536

static const struct {
	const char *mech, *kind, *workload;
} rows[IPCB_PYREF_COUNT] = {
        [IPCB_PYREF_QUEUE_PINGPONG] = {"py-mp-queue", "queue", "pingpong"},
        [IPCB_PYREF_QUEUE_STREAM] = {"py-mp-queue", "queue", "stream"},
        [IPCB_PYREF_PIPE_PINGPONG] = {"py-mp-pipe", "pipe", "pingpong"},
        [IPCB_PYREF_PIPE_STREAM] = {"py-mp-pipe", "pipe", "stream"},
        [IPCB_PYREF_POOL] = {"py-mp-pool", "pool", "cpu"},
};

const char *ipcb_pyref_mech(int row)
{
	return row >= 0 && row < IPCB_PYREF_COUNT ? rows[row].mech : NULL;
}

const char *ipcb_pyref_workload(int row)
{
	return row >= 0 && row < IPCB_PYREF_COUNT ? rows[row].workload : NULL;
}

const char *ipcb_pyref_script(void)
{
	const char *env = getenv("IPCB_PY_MP");
	return env && *env ? env : IPCB_SOURCE_DIR "/suites/reference/py_mp.py";
}

bool ipcb_pyref_python(char *path, size_t len)
{
	const char *p = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof dirs, "%s", p && *p ? p : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, len, "%s/python3", *d ? d : ".");
		if (access(path, X_OK) == 0)
			return true;
	}
	return false;
}

/* Reads fd until EOF or the deadline (CLOCK_MONOTONIC ns) into buf; -1 at the deadline. */
static int read_all(int fd, char *buf, size_t cap, size_t *len, int64_t deadline)
{
	*len = 0;
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t left = deadline - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
		if (left <= 0)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, (int)(left / 1000000 + 1));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		size_t take = (size_t)n < cap - 1 - *len ? (size_t)n : cap - 1 - *len;
		memcpy(buf + *len, tmp, take);
		*len += take;
		buf[*len] = 0;
	}
}

/*
 * Runs the script for case c; 0 with its JSON in *out, or -1 with why.
 * Its stdout and stderr come back through one pipe: on failure the last
 * line it wrote says what went wrong.
 */
static int run_script(const struct ipcb_case *c, json_t **out, char *why, size_t whylen)
{
	char python[4096], cpus[32], size[32], workers[32], min_time[32];
	if (!ipcb_pyref_python(python, sizeof python)) {
		snprintf(why, whylen, "python3 is not on PATH (apt-get install python3)");
		return -1;
	}
	double mt = c->min_time > 0 ? c->min_time : DEFAULT_MIN_TIME;
	snprintf(cpus, sizeof cpus, "%d,%d", c->cpu_a, c->cpu_b);
	snprintf(size, sizeof size, "%zu", c->size);
	snprintf(workers, sizeof workers, "%u", c->workers);
	snprintf(min_time, sizeof min_time, "%g", mt);
	const char *script = ipcb_pyref_script();
	char *argv[16];
	int n = 0;
	argv[n++] = python;
	argv[n++] = (char *)script;
	argv[n++] = "--kind";
	argv[n++] = (char *)rows[c->variant].kind;
	if (c->variant == IPCB_PYREF_POOL) {
		argv[n++] = "--workers";
		argv[n++] = workers;
	} else {
		argv[n++] = "--workload";
		argv[n++] = (char *)rows[c->variant].workload;
		argv[n++] = "--size";
		argv[n++] = size;
	}
	argv[n++] = "--cpus";
	argv[n++] = cpus;
	argv[n++] = "--min-time";
	argv[n++] = min_time;
	argv[n] = NULL;

	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe2: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	pid_t pid;
	int e = posix_spawn(&pid, python, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (e != 0) {
		close(p[0]);
		snprintf(why, whylen, "posix_spawn(%.200s): %s", python, strerror(e));
		return -1;
	}
	/* generous: Python starts, warms up and calibrates; a hang is killed, not waited for */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t deadline = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + (int64_t)((mt * 20 + 60) * 1e9);
	char *buf = malloc(OUT_MAX);
	size_t len = 0;
	int timed_out = buf ? read_all(p[0], buf, OUT_MAX, &len, deadline) : -1;
	close(p[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int rc = -1;
	if (!buf) {
		snprintf(why, whylen, "out of memory");
	} else if (timed_out) {
		snprintf(why, whylen, "%s did not finish in %.0f s: killed", script, mt * 20 + 60);
	} else {
		/* the JSON is the last line; anything before it (warnings) is passed over */
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			buf[--len] = 0;
		char *last = strrchr(buf, '\n');
		last = last ? last + 1 : buf;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			snprintf(why, whylen, "%.150s %.150s failed (%s %d): %.250s", python, script,
			         WIFEXITED(status) ? "exit" : "signal",
			         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), *last ? last : "(no output)");
		} else {
			json_error_t je;
			*out = json_loads(last, 0, &je);
			if (*out && json_is_object(*out))
				rc = 0;
			else
				snprintf(why, whylen, "%s printed no JSON object: '%.200s' (%s)", script, last, je.text);
		}
	}
	free(buf);
	return rc;
}

/* The number at key (an object's member), or -1 when absent or not a number. */
static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : -1;
}

static void pyref_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char why[600];
	json_t *j = NULL;
	if (run_script(c, &j, why, sizeof why) != 0) {
		ipcb_fail(st, "%s", why);
		return;
	}
	double seconds = num(j, "seconds");
	double ops = num(j, c->variant == IPCB_PYREF_POOL ? "tasks"
	                   : rows[c->variant].workload[0] == 'p' ? "round_trips"
	                                                          : "messages");
	json_t *rtt = json_object_get(j, "rtt_ns");
	bool pingpong = !strcmp(rows[c->variant].workload, "pingpong");
	if (seconds <= 0 || ops <= 0 || (pingpong && !json_is_object(rtt))) {
		char *text = json_dumps(j, JSON_COMPACT);
		ipcb_fail(st, "%s printed %s: no seconds, count or rtt_ns", ipcb_pyref_script(), text ? text : "?");
		free(text);
		json_decref(j);
		return;
	}
	while (ipcb_gb_keep_running(st))
		ipcb_gb_set_iteration_time(st, seconds);
	if (pingpong) {
		static const struct {
			const char *key, *counter;
		} pct[] = { { "p50", "rtt_p50_ns" }, { "p90", "rtt_p90_ns" }, { "p99", "rtt_p99_ns" },
			    { "p999", "rtt_p999_ns" }, { "max", "rtt_max_ns" }, { "mean", "rtt_mean_ns" } };
		for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
			ipcb_gb_counter(st, pct[i].counter, num(rtt, pct[i].key), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "round_trips", ops, IPCB_GB_COUNTER_DEFAULT);
	} else if (c->variant == IPCB_PYREF_POOL) {
		ipcb_gb_counter(st, "tasks_per_second", ops / seconds, IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "ns_per_task", seconds * 1e9 / ops, IPCB_GB_COUNTER_DEFAULT);
	} else {
		ipcb_gb_set_items_processed(st, (int64_t)ops);
		ipcb_gb_set_bytes_processed(st, (int64_t)ops * (int64_t)c->size);
	}
	const char *ver = json_string_value(json_object_get(j, "python"));
	char label[128];
	snprintf(label, sizeof label, "reference: Python %s multiprocessing", ver ? ver : "?");
	ipcb_gb_set_label(st, label);
	json_decref(j);
}

const struct ipcb_workload ipcb_workload_pyref = {
	.name = "pyref",
	.summary = "reference rows: Python multiprocessing Queue, Pipe (pingpong, stream) and Pool.apply_async, "
	           "measured by suites/reference/py_mp.py on the same CPUs",
	.run = pyref_run,
	.opts = { .manual_time = true, .iterations = 1 },
};
