/* test_findings.c — after a run: speedup over the one-worker sibling, the
 * "What this machine says" lines (only from rows that ran), and both
 * written into results.json. Runs inside the gbench suite (Google
 * Benchmark is initialised once per process). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "findings.h"
#include "gbench.h"
#include "unit.h"

struct fake {
	const char *counter;
	double value;
	bool fail;
};

static void bm_fake(ipcb_gb_state *st, void *arg)
{
	const struct fake *f = arg;
	if (f->fail) {
		ipcb_gb_skip_with_error(st, "fake failure");
		return;
	}
	while (ipcb_gb_keep_running(st))
		;
	ipcb_gb_counter(st, f->counter, f->value, IPCB_GB_COUNTER_DEFAULT);
}

static const struct {
	const char *name;
	struct fake f;
} rows[] = {
	{ "cpu/fake/process/cross-core/grain:1000us/workers:1", { "tasks_per_second", 1000, false } },
	{ "cpu/fake/process/cross-core/grain:1000us/workers:2", { "tasks_per_second", 1900, false } },
	{ "cpu/fake/thread/cross-core/grain:1000us/workers:2", { "tasks_per_second", 1800, false } }, /* no 1-worker row */
	{ "cpu/fake/process/cross-core/grain:0us/workers:1", { "tasks_per_second", 5e6, false } },
	{ "cpu/fake/thread/cross-core/grain:0us/workers:1", { "tasks_per_second", 1e6, true } }, /* failed */
	{ "spawn/fork/process/os", { "spawn_ns", 500000, false } },
	{ "spawn/pthread_create/thread/os", { "spawn_ns", 25000, false } },
	{ "wake/fake/process/cross-core/size:64/idle:1s", { "wake_rtt_p50_ns", 300000, false } },
	{ "wake/fake/thread/cross-core/size:64/idle:1s", { "wake_rtt_p50_ns", 1, true } }, /* failed */
};
#define NROWS (sizeof rows / sizeof rows[0])

static size_t row_of(const char *name)
{
	for (size_t i = 0; i < ipcb_gb_result_count(); i++)
		if (!strcmp(ipcb_gb_result_at(i)->name, name))
			return i;
	return (size_t)-1;
}

static bool has_line(const struct ipcb_findings *f, const char *a, const char *b)
{
	for (size_t i = 0; i < f->n; i++)
		if (strstr(f->line[i], a) && (!b || strstr(f->line[i], b)))
			return true;
	return false;
}

void ut_test_findings(void)
{
	char path[64], err[512];
	snprintf(path, sizeof path, "/tmp/ipcb-unit-findings-%d.json", (int)getpid());
	ipcb_gb_clear();
	struct ipcb_gb_opts one = { .iterations = 1 };
	for (size_t i = 0; i < NROWS; i++)
		UT_EQ_LL(ipcb_gb_register(rows[i].name, bm_fake, (void *)&rows[i].f, &one), 0);
	long n = ipcb_gb_run(path, NULL);
	UT_EQ_LL(n, NROWS);
	size_t nres = ipcb_gb_result_count();
	double *sp = calloc(nres, sizeof *sp), *ef = calloc(nres, sizeof *ef);
	if (!UT_TRUE(sp && ef, "calloc"))
		goto out;
	ipcb_pool_speedups(sp, ef, nres);
	size_t w1 = row_of("cpu/fake/process/cross-core/grain:1000us/workers:1/iterations:1");
	size_t w2 = row_of("cpu/fake/process/cross-core/grain:1000us/workers:2/iterations:1");
	size_t t2 = row_of("cpu/fake/thread/cross-core/grain:1000us/workers:2/iterations:1");
	size_t bad = row_of("cpu/fake/thread/cross-core/grain:0us/workers:1/iterations:1");
	if (UT_TRUE(w1 < nres && w2 < nres && t2 < nres && bad < nres, "rows missing from the run")) {
		UT_TRUE(sp[w1] == 1.0, "workers:1 speedup %g", sp[w1]);
		UT_TRUE(fabs(sp[w2] - 1.9) < 1e-9 && fabs(ef[w2] - 0.95) < 1e-9, "speedup %g efficiency %g", sp[w2], ef[w2]);
		UT_TRUE(isnan(sp[t2]), "a speedup %g without a one-worker row", sp[t2]);
		UT_TRUE(isnan(sp[bad]), "a speedup %g for a failed row", sp[bad]);
	}

	struct ipcb_findings f;
	UT_EQ_LL(ipcb_findings_compute(sp, 2, &f), 0);
	UT_TRUE(has_line(&f, "cpu speedup over one worker at a grain of 1 ms, process pools", "fake 1.90× with 2"),
	        "no speedup line");
	UT_TRUE(!has_line(&f, "thread pools (cross-core; ideal", NULL), "a thread speedup without a one-worker row");
	UT_TRUE(has_line(&f, "Pool dispatch", "process pools (cross-core), tasks/s with 1 worker: fake 5.00M"), "no dispatch line");
	UT_TRUE(!has_line(&f, "Pool dispatch", "thread pools"), "the failed thread row made a dispatch line");
	UT_TRUE(has_line(&f, "Creating and reaping one worker (os)", "a fork costs 20.0× a thread"), "no spawn line");
	UT_TRUE(has_line(&f, "After 1s idle (process, cross-core), the first round trip takes: fake 300", NULL),
	        "no wake line");
	UT_TRUE(!has_line(&f, "After 1s idle (thread", NULL), "the failed wake row made a line");
	UT_TRUE(!has_line(&f, "io,", NULL) && !has_line(&f, "Memory per worker", NULL) &&
	        !has_line(&f, "shared counter", NULL), "a finding about rows that did not run");
	/* crossover needs both modes at two grains: the thread rows lack them */
	UT_TRUE(!has_line(&f, "keeps up", NULL) && !has_line(&f, "loses", NULL), "a crossover from one grain");

	/* The host watch: a finding only past 1.5x; each row gets its probe, the context the range. */
	size_t before = f.n;
	UT_EQ_LL(ipcb_findings_host(&f, 60, 80, 5, 0, 1), 0);
	UT_EQ_LL(f.n, before);
	UT_EQ_LL(ipcb_findings_host(&f, 60, 450, 5, 0, 1), 0);
	UT_TRUE(f.n == before + 1 && has_line(&f, "changed speed", "from 60 to 450 ns (7.5x"),
	        "no host finding for probes of 60..450 ns");
	double host[NROWS];
	for (size_t i = 0; i < NROWS; i++)
		host[i] = 100 + (double)i;
	UT_EQ_LL(ipcb_results_add_host(path, host, NROWS, "cache-line round trip test range", err, sizeof err), 0);
	UT_EQ_LL(ipcb_results_amend(path, sp, ef, &f, err, sizeof err), 0);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (UT_TRUE(root != NULL, "%s: %s", path, jerr.text)) {
		const char *text = json_string_value(json_object_get(json_object_get(root, "context"), "findings"));
		UT_TRUE(text && strstr(text, "Creating and reaping") && strchr(text, '\n'), "context findings \"%s\"",
		        text ? text : "(none)");
		json_t *b, *benches = json_object_get(root, "benchmarks");
		size_t i, with = 0;
		json_array_foreach(benches, i, b) {
			json_t *v = json_object_get(b, "speedup");
			if (!v)
				continue;
			with++;
			if (strstr(json_string_value(json_object_get(b, "name")), "process/cross-core/grain:1000us/workers:2"))
				UT_TRUE(fabs(json_number_value(v) - 1.9) < 1e-9, "JSON speedup %g", json_number_value(v));
		}
		UT_EQ_LL(with, 3); /* both workers:1 rows and the process workers:2 row */
		size_t probed = 0;
		json_array_foreach(benches, i, b)
			probed += json_number_value(json_object_get(b, "host_c2c_ns")) >= 100;
		UT_EQ_LL(probed, NROWS);
		const char *range = json_string_value(json_object_get(json_object_get(root, "context"), "host_c2c"));
		UT_TRUE(range && !strcmp(range, "cache-line round trip test range"), "context host_c2c \"%s\"",
		        range ? range : "(none)");
		json_decref(root);
	}
	ipcb_findings_free(&f);
out:
	free(sp);
	free(ef);
	unlink(path);
	ipcb_gb_clear();
}
