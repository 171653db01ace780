/* test_gbench.c — the C shim over Google Benchmark: flags, a real run with
 * counters and errors, rows back in C, and the JSON file. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env.h"
#include "gbench.h"
#include "unit.h"

/* ---- flags: each case in a child, so the parent can still init once ---- */

static int init_in_child(const char *const *args, int nargs, int want_argc, const char *want_last)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[16];
		int argc = 0;
		argv[argc++] = (char *)"ipcb-unit";
		for (int i = 0; i < nargs; i++)
			argv[argc++] = (char *)args[i];
		argv[argc] = NULL;
		int rc = ipcb_gb_init(&argc, argv);
		if (rc == 0 &&
		    (argc != want_argc || (want_last && strcmp(argv[argc - 1], want_last))))
			_exit(3);
		_exit(rc == 0 ? 0 : 1);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void test_flags(void)
{
	const char *good[] = {"run", "--benchmark_filter=x", "--help", "--benchmark_repetitions=2"};
	UT_EQ_LL(init_in_child(good, 4, 3, "--help"), 0);
	const char *no_value[] = {"--benchmark_filter"};
	UT_EQ_LL(init_in_child(no_value, 1, 1, NULL), 1);
	const char *suffix[] = {"--benchmark_min_time=0.01s"}; /* 1.7.x takes plain seconds */
	UT_EQ_LL(init_in_child(suffix, 1, 1, NULL), 1);
	const char *format[] = {"--benchmark_format=xml"}; /* Google Benchmark would exit(0) */
	UT_EQ_LL(init_in_child(format, 1, 1, NULL), 1);
	const char *unit[] = {"--benchmark_time_unit=fortnight"};
	UT_EQ_LL(init_in_child(unit, 1, 1, NULL), 1);
	const char *bogus[] = {"--benchmark_bogus=1", "keep"};
	UT_EQ_LL(init_in_child(bogus, 2, 2, "keep"), 1);
}

/* ---- benchmarks ---------------------------------------------------------- */

static volatile uint64_t sink;

static void bm_add(ipcb_gb_state *st, void *arg)
{
	uint64_t *calls = arg, n = 0;
	(*calls)++;
	while (ipcb_gb_keep_running(st))
		sink += ++n;
	ipcb_gb_counter(st, "widgets", (double)ipcb_gb_iterations(st), IPCB_GB_COUNTER_RATE);
	ipcb_gb_counter(st, "per_iter", 3.0 * (double)ipcb_gb_iterations(st),
	                IPCB_GB_COUNTER_AVG_ITERATIONS);
	ipcb_gb_set_items_processed(st, ipcb_gb_iterations(st));
	ipcb_gb_set_bytes_processed(st, 8 * ipcb_gb_iterations(st));
	ipcb_gb_set_label(st, "hello");
}

static void bm_manual(ipcb_gb_state *st, void *arg)
{
	(void)arg;
	while (ipcb_gb_keep_running(st))
		ipcb_gb_set_iteration_time(st, 1e-6);
	ipcb_gb_counter(st, "x", 42, 0);
}

static void bm_batch(ipcb_gb_state *st, void *arg)
{
	(void)arg;
	int64_t budget = ipcb_gb_max_iterations(st);
	while (ipcb_gb_keep_running_batch(st, 10)) {
		ipcb_gb_pause_timing(st);
		ipcb_gb_resume_timing(st);
	}
	ipcb_gb_counter(st, "budget", (double)budget, 0);
}

static void bm_fail(ipcb_gb_state *st, void *arg)
{
	(void)arg;
	while (ipcb_gb_keep_running(st)) {
		ipcb_gb_skip_with_error(st, "boom on purpose");
		ipcb_gb_skip_with_error(st, "second message ignored");
		ipcb_gb_pause_timing(st); /* must be a no-op after an error */
	}
	UT_TRUE(ipcb_gb_error_occurred(st), "error_occurred false after skip_with_error");
}

static void bm_fail_early(ipcb_gb_state *st, void *arg)
{
	(void)arg;
	ipcb_gb_skip_with_error(st, "refused before the loop");
}

static void bm_reps(ipcb_gb_state *st, void *arg)
{
	(void)arg;
	while (ipcb_gb_keep_running(st))
		sink++;
}

static uint64_t add_calls;
static size_t cb_rows;
static int cb_batches;

static void on_report(size_t first, size_t n, void *user)
{
	(void)user;
	UT_EQ_LL(first, cb_rows);
	cb_rows += n;
	cb_batches++;
}

static char json_path[64];

static int gbench_init(void)
{
	char *argv[] = {(char *)"ipcb-unit", (char *)"--benchmark_min_time=0.01", NULL};
	int argc = 2;
	if (ipcb_gb_init(&argc, argv) != 0 || argc != 1)
		return 1;
	snprintf(json_path, sizeof json_path, "/tmp/ipcb-unit-%d.json", (int)getpid());
	return 0;
}

static int gbench_clean(void)
{
	unlink(json_path);
	ipcb_gb_shutdown();
	return 0;
}

static const struct ipcb_gb_result *find(const char *family, const char *agg)
{
	for (size_t i = 0; i < ipcb_gb_result_count(); i++) {
		const struct ipcb_gb_result *r = ipcb_gb_result_at(i);
		if (strcmp(r->family, family) == 0 && (agg ? strcmp(r->aggregate_name, agg) == 0
		                                           : r->run_type == IPCB_GB_RUN_ITERATION))
			return r;
	}
	return NULL;
}

static void test_register_and_run(void)
{
	UT_EQ_LL(ipcb_gb_init(NULL, NULL), -1); /* a second init is refused */
	struct ipcb_gb_opts manual = {.manual_time = true, .iterations = 100, .unit = IPCB_GB_NS};
	struct ipcb_gb_opts reps = {.iterations = 10,
	                            .repetitions = 3,
	                            .stats = IPCB_GB_STAT_MIN | IPCB_GB_STAT_MAX,
	                            .report = IPCB_GB_REPORT_ALL,
	                            .unit = IPCB_GB_US};
	struct ipcb_gb_opts bad = {.iterations = 5, .min_time = 0.1};
	UT_EQ_LL(ipcb_gb_register("unit/add", bm_add, &add_calls, NULL), 0);
	UT_EQ_LL(ipcb_gb_register("unit/manual", bm_manual, NULL, &manual), 0);
	UT_EQ_LL(ipcb_gb_register("unit/batch", bm_batch, NULL, NULL), 0);
	UT_EQ_LL(ipcb_gb_register("unit/fail", bm_fail, NULL, NULL), 0);
	UT_EQ_LL(ipcb_gb_register("unit/fail_early", bm_fail_early, NULL, NULL), 0);
	UT_EQ_LL(ipcb_gb_register("unit/reps", bm_reps, NULL, &reps), 0);
	UT_EQ_LL(ipcb_gb_register("unit/bad", bm_reps, NULL, &bad), -1);
	UT_EQ_LL(ipcb_gb_register(NULL, bm_reps, NULL, NULL), -1);

	UT_EQ_LL(ipcb_gb_add_context("ipcb_unit_key", "v1"), 0);
	UT_EQ_LL(ipcb_gb_add_context("date", "yesterday"), -1);
	static struct ipcb_env env;
	ipcb_env_capture(&env, NULL);
	UT_EQ_LL(ipcb_env_add_to_gbench(&env), 0);

	ipcb_gb_set_report_callback(on_report, NULL);
	long n = ipcb_gb_run(json_path, NULL);
	ipcb_gb_set_report_callback(NULL, NULL);
	UT_EQ_LL(n, 6);
	UT_EQ_LL(cb_rows, ipcb_gb_result_count());
	UT_TRUE(cb_batches >= 6, "%d report batches for 6 benchmarks", cb_batches);
	UT_TRUE(add_calls >= 1, "unit/add never ran");

	const struct ipcb_gb_result *r = find("unit/add", NULL);
	if (UT_TRUE(r != NULL, "no row for unit/add")) {
		double w = 0, items = 0, per = 0, bytes = 0;
		UT_TRUE(r->iterations > 0, "iterations %lld", (long long)r->iterations);
		UT_TRUE(ipcb_gb_result_counter(r, "widgets", &w) && w > 0, "widgets %g", w);
		UT_TRUE(ipcb_gb_result_counter(r, "items_per_second", &items) &&
		                fabs(items - w) <= 1e-9 * w,
		        "items_per_second %g should equal the widgets rate %g", items, w);
		UT_TRUE(ipcb_gb_result_counter(r, "bytes_per_second", &bytes) &&
		                fabs(bytes - 8 * w) <= 1e-9 * w,
		        "bytes_per_second %g, expected %g", bytes, 8 * w);
		UT_TRUE(ipcb_gb_result_counter(r, "per_iter", &per) && per == 3.0,
		        "per_iter %g, expected 3 (average over iterations)", per);
		UT_EQ_STR(r->label, "hello");
		UT_TRUE(!r->error_occurred, "unexpected error: %s", r->error_message);
		/* rate = iterations / seconds, seconds = real or cpu time * iterations */
		double secs = r->cpu_time * (double)r->iterations * 1e-9;
		UT_TRUE(fabs(w * secs - (double)r->iterations) <= 0.01 * (double)r->iterations,
		        "widgets rate %g x %g s != %lld iterations", w, secs,
		        (long long)r->iterations);
		UT_TRUE(!ipcb_gb_result_counter(r, "nope", NULL), "found a counter never set");
	}
	r = find("unit/manual", NULL);
	if (UT_TRUE(r != NULL, "no row for unit/manual")) {
		double x = 0;
		UT_EQ_LL(r->iterations, 100);
		UT_TRUE(fabs(r->real_time - 1000) < 1e-6,
		        "manual time per iteration %g ns, expected 1000", r->real_time);
		UT_EQ_STR(r->time_unit, "ns");
		UT_EQ_STR(r->name, "unit/manual/iterations:100/manual_time");
		UT_TRUE(ipcb_gb_result_counter(r, "x", &x) && x == 42, "x %g", x);
	}
	r = find("unit/batch", NULL);
	if (UT_TRUE(r != NULL, "no row for unit/batch")) {
		double budget = 0;
		UT_TRUE(ipcb_gb_result_counter(r, "budget", &budget) && budget > 0, "budget %g",
		        budget);
		UT_TRUE(r->iterations >= (int64_t)budget && r->iterations % 10 == 0,
		        "batch of 10: %lld iterations for a budget of %g", (long long)r->iterations,
		        budget);
	}
	r = find("unit/fail", NULL);
	if (UT_TRUE(r != NULL, "no row for unit/fail")) {
		UT_TRUE(r->error_occurred, "unit/fail is not an error row");
		UT_EQ_STR(r->error_message, "boom on purpose");
	}
	r = find("unit/fail_early", NULL);
	if (UT_TRUE(r != NULL, "no row for unit/fail_early")) {
		UT_TRUE(r->error_occurred, "unit/fail_early is not an error row");
		UT_EQ_STR(r->error_message, "refused before the loop");
	}
	int reps_rows = 0;
	for (size_t i = 0; i < ipcb_gb_result_count(); i++) {
		const struct ipcb_gb_result *x = ipcb_gb_result_at(i);
		if (strcmp(x->family, "unit/reps") == 0 && x->run_type == IPCB_GB_RUN_ITERATION) {
			reps_rows++;
			UT_EQ_LL(x->repetitions, 3);
			UT_EQ_STR(x->time_unit, "us");
		}
	}
	UT_EQ_LL(reps_rows, 3);
	const char *aggs[] = {"mean", "median", "stddev", "cv", "min", "max"};
	for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
		UT_TRUE(find("unit/reps", aggs[i]) != NULL, "no %s aggregate for unit/reps",
		        aggs[i]);
	r = find("unit/reps", "cv");
	UT_TRUE(r && r->aggregate_is_percentage, "cv should be flagged as a percentage");
	r = find("unit/reps", "min");
	const struct ipcb_gb_result *mx = find("unit/reps", "max");
	UT_TRUE(r && mx && r->real_time <= mx->real_time, "min aggregate above max");
	UT_TRUE(ipcb_gb_result_at(ipcb_gb_result_count()) == NULL, "row past the end");
}

static void test_json(void)
{
	json_error_t jerr;
	json_t *root = json_load_file(json_path, 0, &jerr);
	if (!UT_TRUE(root != NULL, "%s does not parse: %s line %d", json_path, jerr.text,
	             jerr.line))
		return;
	json_t *ctx = json_object_get(root, "context");
	UT_EQ_STR(json_string_value(json_object_get(ctx, "ipcb_unit_key")), "v1");
	UT_TRUE(json_string_value(json_object_get(ctx, "machine_id")) != NULL,
	        "machine_id missing from the JSON context");
	UT_TRUE(json_string_value(json_object_get(ctx, "host_name")) != NULL,
	        "Google Benchmark's own context missing");
	json_t *b = json_object_get(root, "benchmarks");
	UT_EQ_LL(json_array_size(b), ipcb_gb_result_count());
	bool saw_error = false, saw_counter = false;
	for (size_t i = 0; i < json_array_size(b); i++) {
		json_t *row = json_array_get(b, i);
		const struct ipcb_gb_result *r = ipcb_gb_result_at(i);
		UT_EQ_STR(json_string_value(json_object_get(row, "name")), r ? r->name : "");
		json_t *rt = json_object_get(row, "real_time");
		if (r && rt) /* includes cv rows, which are fractions, not per-iteration times */
			UT_TRUE(fabs(json_number_value(rt) - r->real_time) <=
			                1e-9 * fabs(r->real_time) + 1e-12,
			        "%s: JSON real_time %.17g, row %.17g", r->name,
			        json_number_value(rt), r->real_time);
		if (json_is_true(json_object_get(row, "error_occurred"))) {
			saw_error = true;
			UT_EQ_STR(json_string_value(json_object_get(row, "error_message")),
			          r->error_message);
		}
		if (json_is_number(json_object_get(row, "widgets")))
			saw_counter = true;
	}
	UT_TRUE(saw_error, "no error row in the JSON");
	UT_TRUE(saw_counter, "counter \"widgets\" missing from the JSON");
	json_decref(root);
}

static void test_filter_and_rerun(void)
{
	UT_TRUE(ipcb_gb_filter_matches("unit/add", "unit/"), "unit/ should match unit/add");
	UT_TRUE(!ipcb_gb_filter_matches("unit/add", "-unit"), "-unit should exclude unit/add");
	UT_TRUE(ipcb_gb_filter_matches("unit/add", "all"), "all should match");
	UT_TRUE(ipcb_gb_filter_matches("unit/add", NULL), "empty --benchmark_filter matches all");
	UT_TRUE(!ipcb_gb_filter_matches("unit/add", "("), "an invalid regex matches nothing");
	UT_TRUE(ipcb_gb_filter_matches("unit/manual", "^unit/(man|x)"), "extended regex");
	long n = ipcb_gb_run(NULL, "^unit/manual");
	UT_EQ_LL(n, 1);
	UT_EQ_LL(ipcb_gb_result_count(), 1);
	UT_EQ_LL(ipcb_gb_run("/nonexistent-dir/x.json", "^unit/manual"), -1);
	ipcb_gb_clear();
	UT_EQ_LL(ipcb_gb_run(NULL, NULL), 0);
	UT_EQ_LL(ipcb_gb_result_count(), 0);
}

int ut_add_gbench(void)
{
	CU_pSuite f = CU_add_suite("gbench flags", NULL, NULL);
	if (!f || !CU_add_test(f, "init flags", test_flags))
		return CU_get_error();
	CU_pSuite s = CU_add_suite("gbench", gbench_init, gbench_clean);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "register and run", test_register_and_run) ||
	    !CU_add_test(s, "JSON file", test_json) ||
	    !CU_add_test(s, "filter and rerun", test_filter_and_rerun) ||
	    !CU_add_test(s, "pool speedups and findings", ut_test_findings))
		return CU_get_error();
	return CUE_SUCCESS;
}
