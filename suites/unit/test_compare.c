/* test_compare.c — `ipcbench compare`: the U test against scipy, the
 * Hodges-Lehmann interval, the verdict on synthetic runs, and bad input
 * (every truncation of a valid file, random byte damage) giving status 2.
 *
 * Synthetic runs are written as small Google Benchmark JSON files in a
 * temporary folder; the noise comes from a fixed-seed generator, so every
 * run of this test sees the same numbers. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "stats.h"
#include "unit.h"

/* --- the statistics ---------------------------------------------------------- */

/* Reference values from scipy 1.10.1 (Debian python3-scipy), e.g.
 *   python3 -c 'from scipy.stats import mannwhitneyu as m;
 *               print(m([1.1,2.3,3.5,4.2,5.9],[6.1,7.4,8.8,9.0,10.5],method="exact"))'
 * "statistic" is U of the first sample, "pvalue" two-sided. */
static void check_mwu(const char *what, const double *x, size_t nx, const double *y, size_t ny, double want_u,
                      double want_p, int want_exact)
{
	double u;
	int exact;
	double p = ipcb_mwu_test(x, nx, y, ny, &u, &exact);
	UT_TRUE(fabs(u - want_u) < 1e-9, "%s: U %g, scipy says %g", what, u, want_u);
	UT_TRUE(fabs(p - want_p) < 1e-9 * want_p + 1e-12, "%s: p %.17g, scipy says %.17g", what, p, want_p);
	UT_TRUE(exact == want_exact, "%s: %s p-value, expected %s", what, exact ? "exact" : "normal",
	        want_exact ? "exact" : "normal");
}

static void test_mwu_scipy(void)
{
	/* method="exact" */
	double a[] = {1.1, 2.3, 3.5, 4.2, 5.9}, b[] = {6.1, 7.4, 8.8, 9.0, 10.5};
	check_mwu("separated 5 vs 5", a, 5, b, 5, 0, 0.007936507936507936, 1);
	check_mwu("separated 5 vs 5, swapped", b, 5, a, 5, 25, 0.007936507936507936, 1);
	double c[] = {19, 22, 16, 29, 24}, d[] = {20, 11, 17, 12};
	check_mwu("textbook 5 vs 4", c, 5, d, 4, 17, 0.1111111111111111, 1);
	double e[9], f[9];
	for (int i = 0; i < 9; i++)
		e[i] = i + 1, f[i] = i + 3.5;
	check_mwu("overlapping 9 vs 9", e, 9, f, 9, 21, 0.09391197038255862, 1);
	/* ties -> method="asymptotic" (use_continuity=True, tie-corrected) */
	double g[] = {1, 2, 2, 3, 3, 3, 4, 5}, h[] = {3, 4, 4, 5, 5, 6, 7, 7, 8};
	check_mwu("ties 8 vs 9", g, 8, h, 9, 7.5, 0.006373133838085873, 0);
	/* 60 per side is past IPCB_MWU_EXACT_MAX -> method="asymptotic" */
	double x[60], y[60];
	for (int i = 0; i < 60; i++)
		x[i] = i, y[i] = i + 10.5;
	check_mwu("60 vs 60", x, 60, y, 60, 1225, 0.0025668879435241754, 0);
	double same[] = {4, 4, 4, 4, 4};
	check_mwu("all equal", same, 5, same, 5, 12.5, 1, 0);
}

static void test_hodges_lehmann(void)
{
	/* y = x + 10: the 25 differences are 10 + (j - i), i.e. 6, 7x2, 8x3,
	 * 9x4, 10x5, 11x4, 12x3, 13x2, 14. For 5 vs 5 at alpha 0.05 the null
	 * U distribution (counts 1,1,2,3,... of 252) gives P(U <= 2) = 4/252 <=
	 * 0.025 < P(U <= 3) = 7/252, so k = 3 and the interval is the 3rd
	 * smallest and 3rd largest difference: [7, 13]. */
	double x[] = {1, 2, 3, 4, 5}, y[] = {11, 12, 13, 14, 15};
	double s, lo, hi;
	UT_EQ_LL(ipcb_hodges_lehmann(x, 5, y, 5, 0.05, &s, &lo, &hi), 0);
	UT_TRUE(s == 10 && lo == 7 && hi == 13, "HL %g [%g, %g], expected 10 [7, 13]", s, lo, hi);
	/* 2 vs 2 is too small for 95%: the interval falls back to the range. */
	UT_EQ_LL(ipcb_hodges_lehmann(x, 2, y, 2, 0.05, &s, &lo, &hi), 0);
	UT_TRUE(s == 10 && lo == 9 && hi == 11, "HL 2v2 %g [%g, %g], expected 10 [9, 11]", s, lo, hi);
}

/* --- synthetic runs ------------------------------------------------------------ */

static char dir[64];

static uint64_t rng_state;
static double uniform(void) /* [0, 1), xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

struct synth {
	const char *machine_id;
	int reps;
	double time_us;  /* real_time centre */
	double rate;     /* items_per_second centre */
	double noise;    /* +- fraction, uniform */
	uint64_t seed;
	bool error_row;  /* one more benchmark, failing */
	const char *name; /* default pingpong/pipe/process/cross-core/size:64 */
	double host_ns;   /* > 0: the rows' host_c2c_ns */
};

/* Writes a Google Benchmark JSON file as ipcbench run does (iteration rows
 * plus aggregates), returns its path in a static buffer slot. */
static const char *write_run(const char *file, const struct synth *s)
{
	static char paths[4][128];
	static int slot;
	char *path = paths[slot++ % 4];
	snprintf(path, sizeof paths[0], "%s/%s", dir, file);
	/* splitmix64 of the seed: nearby seeds must not give nearby streams */
	uint64_t z = s->seed + 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	rng_state = (z ^ (z >> 31)) | 1;
	const char *name = s->name ? s->name : "pingpong/pipe/process/cross-core/size:64";
	json_t *root = json_pack("{s:{s:s, s:s, s:i, s:s}}", "context", "host_name", "vm", "machine_id",
	                         s->machine_id ? s->machine_id : "00000000000000aa", "num_cpus", 2, "cpu_model",
	                         "AMD EPYC");
	json_t *rows = json_array();
	for (int r = 0; r < s->reps; r++) {
		double k = 1 + s->noise * (2 * uniform() - 1);
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:s, s:f, s:f}", "name",
		                                      name, "run_name", name, "run_type", "iteration", "repetitions",
		                                      s->reps, "repetition_index", r, "iterations", 1000, "real_time",
		                                      s->time_us * k, "cpu_time", 1.0, "time_unit", "us",
		                                      "rtt_p50_ns", s->time_us * k * 900, "items_per_second",
		                                      s->rate / k));
		if (s->host_ns > 0)
			json_object_set_new(json_array_get(rows, json_array_size(rows) - 1), "host_c2c_ns",
			                    json_real(s->host_ns * k));
	}
	json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:f, s:s}", "name", "x_mean", "run_name", name,
	                                      "run_type", "aggregate", "aggregate_name", "mean", "real_time", 1e9,
	                                      "time_unit", "us"));
	if (s->error_row)
		json_array_append_new(rows, json_pack("{s:s, s:s, s:b, s:s}", "name", "stream/mqueue/process/x",
		                                      "run_type", "iteration", "error_occurred", 1, "error_message",
		                                      "IPCQ_LIMIT: mqueue msg_max is 10"));
	json_object_set_new(root, "benchmarks", rows);
	if (json_dump_file(root, path, JSON_INDENT(1)) != 0)
		UT_TRUE(false, "cannot write %s", path);
	json_decref(root);
	return path;
}

/* Runs compare; the error text (if any) goes to errbuf. */
static int run_compare(const char *a, const char *b, bool force, char *errbuf, size_t len)
{
	struct ipcb_compare_opts o;
	ipcb_compare_defaults(&o);
	o.force = force;
	FILE *out = fopen("/dev/null", "w"), *err = fmemopen(errbuf, len, "w");
	memset(errbuf, 0, len);
	int rc = ipcb_compare_files(a, b, &o, out, err);
	fclose(out);
	fclose(err);
	errbuf[len - 1] = 0;
	return rc;
}

/* Runs whose host probes differ by more than 1.5x get a warning; like ones, and runs without, none. */
static void test_host_state(void)
{
	char e[4096];
	struct synth a = { .reps = 10, .time_us = 10, .rate = 1e6, .noise = 0.02, .seed = 31, .host_ns = 60 };
	struct synth b = a;
	b.seed = 32;
	b.host_ns = 450;
	int rc = run_compare(write_run("ha.json", &a), write_run("hb.json", &b), false, e, sizeof e);
	UT_TRUE(rc == IPCB_CMP_OK, "same figures, another host state: rc %d (%s)", rc, e);
	UT_TRUE(strstr(e, "another state") != NULL, "no warning for a 7.5x host change: '%s'", e);
	b.host_ns = 70;
	run_compare(write_run("ha.json", &a), write_run("hb.json", &b), false, e, sizeof e);
	UT_TRUE(!strstr(e, "another state"), "warned for a 1.17x host change: '%s'", e);
	b.host_ns = 0;
	run_compare(write_run("ha.json", &a), write_run("hb.json", &b), false, e, sizeof e);
	UT_TRUE(!strstr(e, "another state"), "warned with no probes on one side: '%s'", e);
}

static void test_regression_caught(void)
{
	char e[4096];
	struct synth base = {.reps = 9, .time_us = 40, .rate = 1e6, .noise = 0.15, .seed = 11};
	struct synth slow = base;
	slow.time_us = 40 * 1.3; /* 30% slower: time up, rate down by 1/1.3 */
	slow.rate = 1e6 / 1.3;
	slow.seed = 12;
	const char *a = write_run("base.json", &base), *b = write_run("slow.json", &slow);
	int rc = run_compare(a, b, false, e, sizeof e);
	UT_TRUE(rc == IPCB_CMP_REGRESSION, "30%% slower: compare -> %d, expected 1 (%s)", rc, e);
	/* the other way round it is an improvement, not a regression */
	rc = run_compare(b, a, false, e, sizeof e);
	UT_TRUE(rc == IPCB_CMP_OK, "30%% faster: compare -> %d, expected 0 (%s)", rc, e);

	/* the JSON output says which metrics regressed */
	struct ipcb_compare_opts o;
	ipcb_compare_defaults(&o);
	o.format = IPCB_CMP_JSON;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len), *err = fopen("/dev/null", "w");
	rc = ipcb_compare_files(a, b, &o, out, err);
	fclose(out);
	fclose(err);
	json_error_t je;
	json_t *j = json_loads(buf, 0, &je);
	UT_TRUE(j != NULL, "--format json is not JSON: %s", je.text);
	json_int_t nreg = json_integer_value(json_object_get(j, "regressions"));
	/* real_time is not compared next to a rate (a batch sized per run) */
	size_t nrows = json_array_size(json_object_get(j, "results"));
	UT_TRUE(rc == 1 && nreg == 2 && nrows == 2,
	        "json: rc %d, %lld regressions in %zu rows, expected 1 and 2 in 2 (rtt_p50_ns, items_per_second)", rc,
	        (long long)nreg, nrows);
	json_decref(j);
	free(buf);

	/* a larger --min-effect lets the same 30% through */
	ipcb_compare_defaults(&o);
	o.min_effect = 50;
	out = fopen("/dev/null", "w");
	err = fopen("/dev/null", "w");
	rc = ipcb_compare_files(a, b, &o, out, err);
	fclose(out);
	fclose(err);
	UT_TRUE(rc == IPCB_CMP_OK, "--min-effect 50: compare -> %d, expected 0", rc);
}

/* Unchanged pairs (two fixed-seed draws from one distribution) flagged as
 * regressions, out of n, with the Holm correction or without. */
static int false_alarms(double noise, int n, bool holm)
{
	struct ipcb_compare_opts o;
	ipcb_compare_defaults(&o);
	o.holm = holm;
	int flagged = 0;
	for (int i = 0; i < n; i++) {
		struct synth a = {.reps = 9, .time_us = 40, .rate = 1e6, .noise = noise, .seed = 2 * (uint64_t)i + 1000};
		struct synth b = a;
		b.seed++;
		FILE *out = fopen("/dev/null", "w");
		int rc = ipcb_compare_files(write_run("a.json", &a), write_run("b.json", &b), &o, out, out);
		fclose(out);
		UT_TRUE(rc != IPCB_CMP_BADINPUT, "unchanged pair %d: bad input?", i);
		flagged += rc == IPCB_CMP_REGRESSION;
	}
	return flagged;
}

static void test_same_not_flagged(void)
{
	/* Noise well inside the 10% minimum effect: never flagged. */
	UT_EQ_LL(false_alarms(0.05, 50, true), 0);
	/* +-15% noise: a significant 10% shift does happen by chance. In the bad
	 * direction that is at most alpha/2 of the pairs for the family (Holm)
	 * and for each of the 2 rows (rtt_p50_ns, items_per_second) without. */
	int holm = false_alarms(0.15, 300, true), none = false_alarms(0.15, 300, false);
	UT_TRUE(holm <= 300 * 0.025, "Holm: %d of 300 unchanged pairs flagged, expected <= 7.5", holm);
	UT_TRUE(none <= 2 * 300 * 0.025, "no correction: %d of 300 unchanged pairs flagged, expected <= 15", none);
	UT_TRUE(holm <= none, "Holm flagged %d, more than no correction (%d)", holm, none);
	/* and a file against itself */
	char e[4096];
	struct synth a = {.reps = 5, .time_us = 40, .rate = 1e6, .noise = 0.3, .seed = 5};
	const char *p = write_run("self.json", &a);
	UT_EQ_LL(run_compare(p, p, false, e, sizeof e), IPCB_CMP_OK);
	if (getenv("UT_VERBOSE"))
		printf("[false alarms at +-15%%: holm %d/300, none %d/300] ", holm, none);
}

/* --- refusals and bad input ---------------------------------------------------- */

static void expect_bad(const char *what, const char *a, const char *b, bool force, const char *needle)
{
	char e[4096];
	int rc = run_compare(a, b, force, e, sizeof e);
	UT_TRUE(rc == IPCB_CMP_BADINPUT, "%s: compare -> %d, expected 2", what, rc);
	UT_TRUE(strstr(e, needle) != NULL, "%s: message \"%s\" does not mention \"%s\"", what, e, needle);
}

static const char *write_text(const char *file, const char *text, size_t len)
{
	static char paths[2][128];
	static int slot;
	char *path = paths[slot++ % 2];
	snprintf(path, sizeof paths[0], "%s/%s", dir, file);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(text, 1, len, f);
		fclose(f);
	}
	return path;
}

static void test_refusals(void)
{
	char e[4096];
	struct synth s = {.reps = 9, .time_us = 40, .rate = 1e6, .noise = 0.1, .seed = 3};
	const char *good = write_run("good.json", &s);
	struct synth other = s;
	other.machine_id = "00000000000000bb";
	const char *far = write_run("far.json", &other);
	expect_bad("different machines", good, far, false, "different machines");
	UT_EQ_LL(run_compare(good, far, true, e, sizeof e), IPCB_CMP_OK);

	struct synth few = s;
	few.reps = 3;
	const char *fewp = write_run("few.json", &few);
	expect_bad("3 repetitions", good, fewp, false, "fewer than 5 repetitions");
	UT_EQ_LL(run_compare(good, fewp, true, e, sizeof e), IPCB_CMP_OK);

	struct synth renamed = s;
	renamed.name = "stream/pipe/process/cross-core/size:64";
	expect_bad("no common benchmark", good, write_run("renamed.json", &renamed), false, "no benchmark in common");

	/* error rows are listed, not compared, and do not fail the gate */
	struct synth err_a = s, err_b = s;
	err_a.error_row = err_b.error_row = true;
	err_b.seed = 4;
	const char *ea = write_run("err_a.json", &err_a), *eb = write_run("err_b.json", &err_b);
	char *buf = NULL;
	size_t len = 0;
	struct ipcb_compare_opts o;
	ipcb_compare_defaults(&o);
	FILE *out = open_memstream(&buf, &len), *errf = fopen("/dev/null", "w");
	int rc = ipcb_compare_files(ea, eb, &o, out, errf);
	fclose(out);
	fclose(errf);
	UT_TRUE(rc == IPCB_CMP_OK && strstr(buf, "not compared: stream/mqueue/process/x: error rows") &&
	                strstr(buf, "msg_max is 10"),
	        "error rows: rc %d, output:\n%s", rc, buf);
	free(buf);
}

static void test_bad_input(void)
{
	struct synth s = {.reps = 9, .time_us = 40, .rate = 1e6, .noise = 0.1, .seed = 3};
	const char *good = write_run("good.json", &s);
	char missing[160];
	snprintf(missing, sizeof missing, "%s/missing.json", dir);
	expect_bad("missing file", missing, good, false, "cannot read");
	expect_bad("folder", dir, good, false, "is a folder");
	expect_bad("empty file", good, write_text("empty.json", "", 0), false, "is empty");
	expect_bad("not JSON", good, write_text("text.json", "hello\n", 6), false, "is not valid JSON");
	expect_bad("a JSON array", good, write_text("array.json", "[1,2]", 5), false, "not Google Benchmark output");
	const char *nc = "{\"benchmarks\": []}";
	expect_bad("no context", good, write_text("noctx.json", nc, strlen(nc)), false, "no \"context\"");
	const char *nb = "{\"context\": {}, \"benchmarks\": []}";
	expect_bad("no rows", good, write_text("norows.json", nb, strlen(nb)), false, "no benchmark rows");
	const char *bad_row = "{\"context\": {}, \"benchmarks\": [42]}";
	expect_bad("a row that is a number", good, write_text("badrow.json", bad_row, strlen(bad_row)), false,
	           "benchmarks[0] is not a benchmark row");
	const char *cut = "{\"context\": {}, \"benchmarks\": [{\"name\": \"a\"";
	expect_bad("truncated", good, write_text("cut.json", cut, strlen(cut)), false, "as if truncated");
	expect_bad("message names the file", good, write_text("cut.json", cut, strlen(cut)), false, "cut.json");
}

/* Every truncation of a valid file, as BASE and as NEW, must give 2 with a
 * message naming it; random byte damage must never crash (0, 1 or 2). */
static void test_fuzz(void)
{
	struct synth s = {.reps = 5, .time_us = 40, .rate = 1e6, .noise = 0.1, .seed = 3, .error_row = true};
	const char *good = write_run("fuzz_good.json", &s);
	FILE *f = fopen(good, "rb");
	static char text[16384];
	size_t len = f ? fread(text, 1, sizeof text, f) : 0;
	if (f)
		fclose(f);
	UT_TRUE(len > 100 && len < sizeof text, "fixture is %zu bytes", len);
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--; /* cutting only trailing blanks leaves valid JSON */
	char e[4096];
	int wrong = 0;
	for (size_t cut = 0; cut < len; cut++) {
		const char *p = write_text("fuzz_cut.json", text, cut);
		int rc1 = run_compare(good, p, false, e, sizeof e);
		bool named1 = strstr(e, "fuzz_cut.json") != NULL;
		int rc2 = run_compare(p, good, false, e, sizeof e);
		bool named2 = strstr(e, "fuzz_cut.json") != NULL;
		if ((rc1 != 2 || rc2 != 2 || !named1 || !named2) && wrong++ < 3)
			UT_TRUE(false, "cut at %zu of %zu: compare -> %d/%d, file named %d/%d: %s", cut, len, rc1, rc2,
			        named1, named2, e);
	}
	UT_EQ_LL(wrong, 0);
	rng_state = 99;
	static char mut[16384];
	for (int round = 0; round < 400; round++) {
		memcpy(mut, text, len);
		static const char bytes[] = "{}[]\":,0-9e.x \n\\";
		for (int k = 0; k < 1 + round % 4; k++)
			mut[(size_t)(uniform() * (double)len)] = bytes[(size_t)(uniform() * (sizeof bytes - 1))];
		int rc = run_compare(good, write_text("fuzz_mut.json", mut, len), true, e, sizeof e);
		if (rc < 0 || rc > 2)
			UT_TRUE(false, "damaged file (round %d): compare -> %d", round, rc);
	}
}

static int setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/ipcb-unit-compare-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int ut_add_compare(void)
{
	CU_pSuite s = CU_add_suite("compare", setup, teardown);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "U test vs scipy", test_mwu_scipy) ||
	    !CU_add_test(s, "Hodges-Lehmann interval", test_hodges_lehmann) ||
	    !CU_add_test(s, "30% regression caught", test_regression_caught) ||
	    !CU_add_test(s, "host state warned", test_host_state) ||
	    !CU_add_test(s, "same distribution not flagged", test_same_not_flagged) ||
	    !CU_add_test(s, "refusals", test_refusals) || !CU_add_test(s, "bad input", test_bad_input) ||
	    !CU_add_test(s, "fuzz truncation and damage", test_fuzz))
		return CU_get_error();
	return CUE_SUCCESS;
}
