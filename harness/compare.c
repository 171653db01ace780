/*
 * compare.c - `ipcbench compare BASE.json NEW.json`, the regression gate.
 *
 * Why a test and not a ratio: throughput here varies 2-5x run to run, so a
 * bare "NEW/BASE > 1.1" both cries wolf and misses. Each benchmark is run
 * with repetitions; the repetitions of BASE and NEW are two samples.
 *   - Mann-Whitney U (two-sided; exact without ties for n <= 50, else
 *     normal with tie and continuity correction: stats.c) says whether NEW
 *     differs at all. Rank-based: one wild repetition cannot decide it.
 *   - Hodges-Lehmann on log values says by how much, as a ratio with
 *     Moses' distribution-free confidence interval (level 1 - alpha).
 *   - A regression needs both: p < alpha AND the estimated change in the
 *     bad direction (time/latency up, rate down) above the minimum effect.
 *   - p is Holm-adjusted over all rows: the ci suite makes ~70 comparisons.
 *   - real_time is skipped where a rate is reported: that iteration is a
 *     batch sized per run, so only the rate is comparable.
 *
 * Sections: metrics; loading a file; checks (machine, repetitions);
 * comparing; output (table, md, json); the command line.
 */
#include "compare.h"
#include "stats.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- metrics ------------------------------------------------------------------- */

struct metric {
	const char *name;
	bool rate;   /* higher is better (a rate), else lower is better (a time) */
};

/* real_time is converted to ns from the row's time_unit. */
static const struct metric metrics[] = {
	{"real_time", false},       {"items_per_second", true}, {"rtt_p50_ns", false},
	{"rtt_p99_ns", false},      {"tasks_per_second", true},
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

static int metric_index(const char *name)
{
	for (size_t i = 0; i < NMETRICS; i++)
		if (!strcmp(metrics[i].name, name))
			return (int)i;
	return -1;
}

/* --- loading a file ------------------------------------------------------------ */

/* One benchmark of one file: its iteration rows' values per metric. */
struct series {
	const char *name; /* owned by the file's json_t */
	double *v[NMETRICS];
	size_t n[NMETRICS];
	size_t rows;      /* iteration rows without error */
	size_t errors;    /* rows with error_occurred */
	const char *error_message;
};

struct run {
	const char *path;
	json_t *root;
	json_t *context; /* may be NULL */
	struct series *s;
	size_t ns;
	double *host;    /* the rows' host_c2c_ns (ipcbench run's host probe), when they have one */
	size_t nhost, caphost;
};

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->ns; i++)
		for (size_t m = 0; m < NMETRICS; m++)
			free(r->s[i].v[m]);
	free(r->s);
	free(r->host);
	json_decref(r->root);
	memset(r, 0, sizeof *r);
}

static const char *ctx_str(const struct run *r, const char *key)
{
	json_t *v = r->context ? json_object_get(r->context, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static struct series *series_get(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->ns; i++)
		if (!strcmp(r->s[i].name, name))
			return &r->s[i];
	return NULL;
}

static struct series *series_add(struct run *r, const char *name)
{
	struct series *s = series_get(r, name);
	if (s)
		return s;
	struct series *ns = realloc(r->s, (r->ns + 1) * sizeof *ns);
	if (!ns)
		return NULL;
	r->s = ns;
	s = &r->s[r->ns++];
	memset(s, 0, sizeof *s);
	s->name = name;
	return s;
}

static int series_push(struct series *s, size_t m, double v)
{
	double *nv = realloc(s->v[m], (s->n[m] + 1) * sizeof *nv);
	if (!nv)
		return -1;
	s->v[m] = nv;
	nv[s->n[m]++] = v;
	return 0;
}

/* ns per time_unit; 0 for an unknown unit. */
static double unit_ns(const char *u)
{
	static const struct {
		const char *u;
		double ns;
	} t[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (u && !strcmp(u, t[i].u))
			return t[i].ns;
	return 0;
}

static const char hint_gb[] =
        "give the results.json of `ipcbench run` (DIR/latest/results.json) or a Google Benchmark "
        "--benchmark_out=FILE --benchmark_out_format=json file";

/* Reads path into r. 0, or -1 after a message naming the file and the fix. */
static int run_load(struct run *r, const char *path, FILE *err)
{
	memset(r, 0, sizeof *r);
	r->path = path;
	struct stat sb;
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(err, "ipcbench compare: cannot read %s: %s; check the path (`ipcbench run` writes "
		             "DIR/<UTC time>/results.json and DIR/latest/results.json)\n",
		        path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		fprintf(err, "ipcbench compare: %s is a folder; give the results.json inside it\n", path);
		return -1;
	}
	json_error_t je;
	r->root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	long size = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
	fclose(f);
	if (!r->root) {
		bool at_end = size >= 0 && je.position >= 0 && (long)je.position >= size;
		if (size == 0)
			fprintf(err, "ipcbench compare: %s is empty; %s\n", path, hint_gb);
		else
			fprintf(err, "ipcbench compare: %s is not valid JSON (line %d, column %d: %s)%s; %s\n", path,
			        je.line, je.column, je.text,
			        at_end ? ": it ends early, as if truncated (a run killed before it finished, or a "
			                 "copy cut short)"
			               : "",
			        at_end ? "re-run `ipcbench run` or take the file of a finished run" : hint_gb);
		return -1;
	}
	json_t *benches = json_is_object(r->root) ? json_object_get(r->root, "benchmarks") : NULL;
	if (!json_is_array(benches)) {
		fprintf(err, "ipcbench compare: %s is JSON but not Google Benchmark output (no \"benchmarks\" "
		             "array at the top); %s\n",
		        path, hint_gb);
		return -1;
	}
	r->context = json_object_get(r->root, "context");
	if (!json_is_object(r->context)) {
		fprintf(err, "ipcbench compare: %s has no \"context\" object, so the machine it ran on is "
		             "unknown; %s\n",
		        path, hint_gb);
		return -1;
	}
	size_t i;
	json_t *b;
	json_array_foreach(benches, i, b) {
		json_t *name = json_object_get(b, "run_name");
		if (!json_is_string(name))
			name = json_object_get(b, "name");
		if (!json_is_object(b) || !json_is_string(name)) {
			fprintf(err, "ipcbench compare: %s: benchmarks[%zu] is not a benchmark row (an object with a "
			             "\"name\"); %s\n",
			        path, i, hint_gb);
			return -1;
		}
		json_t *rt = json_object_get(b, "run_type");
		if (json_is_string(rt) && strcmp(json_string_value(rt), "iteration"))
			continue; /* aggregates (mean, median, ...) summarise what we test ourselves */
		if (!rt && json_object_get(b, "aggregate_name"))
			continue;
		struct series *s = series_add(r, json_string_value(name));
		if (!s)
			goto nomem;
		if (json_is_true(json_object_get(b, "error_occurred"))) {
			s->errors++;
			json_t *msg = json_object_get(b, "error_message");
			if (!s->error_message && json_is_string(msg))
				s->error_message = json_string_value(msg);
			continue;
		}
		s->rows++;
		json_t *h = json_object_get(b, "host_c2c_ns");
		if (json_is_number(h) && json_number_value(h) > 0) {
			if (r->nhost == r->caphost) {
				size_t cap = r->caphost ? 2 * r->caphost : 64;
				double *p = realloc(r->host, cap * sizeof *p);
				if (!p)
					goto nomem;
				r->host = p, r->caphost = cap;
			}
			r->host[r->nhost++] = json_number_value(h);
		}
		for (size_t m = 0; m < NMETRICS; m++) {
			json_t *v = json_object_get(b, metrics[m].name);
			if (!json_is_number(v))
				continue;
			double x = json_number_value(v);
			if (m == 0) {
				double k = unit_ns(json_string_value(json_object_get(b, "time_unit")));
				x = k ? x * k : NAN;
			}
			if (isfinite(x) && series_push(s, m, x) != 0)
				goto nomem;
		}
	}
	if (r->ns == 0) {
		fprintf(err, "ipcbench compare: %s has no benchmark rows (an empty or filtered-out run); "
		             "re-run `ipcbench run` with benchmarks selected\n",
		        path);
		return -1;
	}
	return 0;
nomem:
	fprintf(err, "ipcbench compare: %s: out of memory\n", path);
	return -1;
}

/* --- checks ------------------------------------------------------------------- */

/* The machine a run came from: ipcbench's machine_id when both files have
 * one, else Google Benchmark's host_name plus CPU count (any benchmark
 * binary writes those). */
static void machine_of(const struct run *r, bool use_id, char *buf, size_t len)
{
	json_t *ncpu = json_object_get(r->context, "num_cpus");
	if (use_id)
		snprintf(buf, len, "machine_id %s", ctx_str(r, "machine_id"));
	else
		snprintf(buf, len, "host_name %s, num_cpus %lld", ctx_str(r, "host_name") ? ctx_str(r, "host_name") : "?",
		         json_is_integer(ncpu) ? (long long)json_integer_value(ncpu) : -1LL);
}

static const char *or_q(const char *s)
{
	return s ? s : "?";
}

/* 0 when both runs are from one machine (or forced), else -1 with a message. */
static int check_machine(const struct run *a, const struct run *b, bool force, FILE *err)
{
	char ma[128], mb[128];
	bool use_id = ctx_str(a, "machine_id") && ctx_str(b, "machine_id");
	machine_of(a, use_id, ma, sizeof ma);
	machine_of(b, use_id, mb, sizeof mb);
	if (!strcmp(ma, mb))
		return 0;
	fprintf(err, "ipcbench compare: %s and %s come from different machines%s:\n"
	             "  %s: %s (host %s, cpu %s, %s PUs)\n  %s: %s (host %s, cpu %s, %s PUs)\n",
	        a->path, b->path, force ? " (compared anyway: --force)" : "", a->path, ma,
	        or_q(ctx_str(a, "hostname") ? ctx_str(a, "hostname") : ctx_str(a, "host_name")),
	        or_q(ctx_str(a, "cpu_model")), or_q(ctx_str(a, "pus")), b->path, mb,
	        or_q(ctx_str(b, "hostname") ? ctx_str(b, "hostname") : ctx_str(b, "host_name")),
	        or_q(ctx_str(b, "cpu_model")), or_q(ctx_str(b, "pus")));
	if (force)
		return 0;
	fprintf(err, "  Timings from different machines differ for reasons other than the code. Compare two runs "
	             "from one machine (ci/gate keeps one baseline per machine), or pass --force.\n");
	return -1;
}

/*
 * A warning (the verdicts stand) when the two runs met the host in different
 * states: on a VM whose cache-line round trip moves 6x between spells, a 2x
 * "regression" can be the host's alone.
 */
static void check_host(const struct run *a, const struct run *b, FILE *err)
{
	if (!a->nhost || !b->nhost)
		return;
	double ha = ipcb_median(a->host, a->nhost), hb = ipcb_median(b->host, b->nhost);
	if (!ipcb_host_apart(ha, hb))
		return;
	fprintf(err,
	        "ipcbench compare: warning: the host was in another state: the cache-line round trip probed "
	        "before each benchmark was %.0f ns in %s and %.0f ns in %s (medians, %.1fx); changes may be the "
	        "host's, not the code's: run both again, close together\n",
	        ha, a->path, hb, b->path, ha > hb ? ha / hb : hb / ha);
}

/* 0 when every common benchmark has enough repetitions on both sides. */
static int check_reps(const struct run *a, const struct run *b, bool force, FILE *err)
{
	size_t few = 0;
	for (size_t i = 0; i < a->ns; i++) {
		const struct series *sb = series_get((struct run *)b, a->s[i].name);
		if (!sb || (a->s[i].rows == 0 && a->s[i].errors) || (sb->rows == 0 && sb->errors))
			continue;
		if (a->s[i].rows >= IPCB_COMPARE_MIN_REPS && sb->rows >= IPCB_COMPARE_MIN_REPS)
			continue;
		if (few++ < 5)
			fprintf(err, "ipcbench compare: %s: %zu repetitions in %s, %zu in %s\n", a->s[i].name,
			        a->s[i].rows, a->path, sb->rows, b->path);
	}
	if (!few)
		return 0;
	if (few > 5)
		fprintf(err, "ipcbench compare: ... and %zu more benchmarks\n", few - 5);
	fprintf(err, "ipcbench compare: %zu benchmarks have fewer than %d repetitions on a side%s\n", few,
	        IPCB_COMPARE_MIN_REPS, force ? " (compared anyway: --force)" : "");
	if (force)
		return 0;
	fprintf(err, "  With 3 per side no change can reach p < 0.05; the test needs repetitions. Run both with "
	             "`ipcbench run --repetitions 9` (ci/gate does), or pass --force.\n");
	return -1;
}

/* --- comparing ------------------------------------------------------------------ */

enum verdict { V_SAME, V_REGRESSION, V_IMPROVED, V_NA };

struct row {
	const char *bench;
	size_t metric;
	size_t nb, nn;
	double base_med, new_med;
	double pct, lo_pct, hi_pct; /* NEW vs BASE, percent */
	double p, u;
	double p_adj; /* Holm-adjusted over every row, or = p with --correction none */
	int exact;
	double min_effect;
	enum verdict v;
};

static double effect_for(const struct ipcb_compare_opts *o, size_t m)
{
	for (int i = 0; i < o->neffects; i++)
		if (!strcmp(o->effects[i].name, metrics[m].name))
			return o->effects[i].pct;
	return o->min_effect;
}

static int compare_metric(const struct series *a, const struct series *b, size_t m,
                          const struct ipcb_compare_opts *o, struct row *row)
{
	memset(row, 0, sizeof *row);
	row->bench = a->name;
	row->metric = m;
	row->nb = a->n[m];
	row->nn = b->n[m];
	row->base_med = ipcb_median(a->v[m], a->n[m]);
	row->new_med = ipcb_median(b->v[m], b->n[m]);
	row->min_effect = effect_for(o, m);
	size_t na = a->n[m], nb = b->n[m];
	double *la = malloc((na + nb) * sizeof *la);
	if (!la)
		return -1;
	double *lb = la + na;
	bool positive = true;
	for (size_t i = 0; i < na; i++)
		positive &= a->v[m][i] > 0, la[i] = log(a->v[m][i]);
	for (size_t i = 0; i < nb; i++)
		positive &= b->v[m][i] > 0, lb[i] = log(b->v[m][i]);
	if (!positive) {
		free(la);
		row->v = V_NA;
		row->p = NAN;
		return 0;
	}
	row->p = ipcb_mwu_test(a->v[m], na, b->v[m], nb, &row->u, &row->exact);
	double shift, lo, hi;
	int rc = ipcb_hodges_lehmann(la, na, lb, nb, o->alpha, &shift, &lo, &hi);
	free(la);
	if (row->p < 0 || rc != 0)
		return -1;
	row->pct = expm1(shift) * 100;
	row->lo_pct = expm1(lo) * 100;
	row->hi_pct = expm1(hi) * 100;
	return 0;
}

static int cmp_row_p(const void *a, const void *b)
{
	double x = (*(struct row *const *)a)->p, y = (*(struct row *const *)b)->p;
	return (x > y) - (x < y);
}

/* Holm-Bonferroni: the ci suite makes ~75 comparisons, and at alpha 0.05
 * each, unchanged code would fail the gate most days. Holm keeps the
 * chance of any false alarm in the whole run below alpha, and is uniformly
 * more powerful than plain Bonferroni. Then the verdicts. */
static int decide(struct row *rows, size_t n, const struct ipcb_compare_opts *o)
{
	struct row **by_p = malloc((n ? n : 1) * sizeof *by_p);
	if (!by_p)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		rows[i].p_adj = rows[i].p;
		if (!isnan(rows[i].p))
			by_p[k++] = &rows[i];
	}
	if (o->holm) {
		qsort(by_p, k, sizeof *by_p, cmp_row_p);
		double run_max = 0;
		for (size_t i = 0; i < k; i++) {
			double adj = fmin(1, (double)(k - i) * by_p[i]->p);
			run_max = fmax(run_max, adj); /* adjusted p-values never decrease */
			by_p[i]->p_adj = run_max;
		}
	}
	free(by_p);
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];
		if (r->v == V_NA)
			continue;
		double worse = metrics[r->metric].rate ? -r->pct : r->pct;
		bool sig = r->p_adj < o->alpha;
		r->v = sig && worse > r->min_effect ? V_REGRESSION : sig && -worse > r->min_effect ? V_IMPROVED : V_SAME;
	}
	return 0;
}

/* --- output --------------------------------------------------------------------- */

static const char *verdict_name(enum verdict v)
{
	static const char *const n[] = {"same", "REGRESSION", "improved", "n/a"};
	return n[v];
}

static void fmt_value(char *buf, size_t len, double v, size_t m)
{
	if (metrics[m].rate) {
		if (v >= 1e9)
			snprintf(buf, len, "%.3gG/s", v / 1e9);
		else if (v >= 1e6)
			snprintf(buf, len, "%.3gM/s", v / 1e6);
		else if (v >= 1e3)
			snprintf(buf, len, "%.3gk/s", v / 1e3);
		else
			snprintf(buf, len, "%.3g/s", v);
	} else if (v >= 1e9)
		snprintf(buf, len, "%.3gs", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, len, "%.3gms", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.3gus", v / 1e3);
	else
		snprintf(buf, len, "%.3gns", v);
}

static void fmt_p(char *buf, size_t len, const struct row *r)
{
	if (isnan(r->p))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, r->p_adj < 0.001 ? "%.1e%s" : "%.3f%s", r->p_adj, r->exact ? "" : "~");
}

struct result {
	struct row *rows;
	size_t nrows, regressions, improved;
};

static void print_text(const struct run *a, const struct run *b, const struct result *res,
                       const struct ipcb_compare_opts *o, bool md, FILE *out)
{
	char bv[32], nv[32], ch[32], ci[48], p[32];
	int conf = (int)lround((1 - o->alpha) * 100);
	if (md)
		fprintf(out, "| benchmark | metric | base | new | change | %d%% CI | p | verdict |\n"
		             "|---|---|---:|---:|---:|---:|---:|---|\n",
		        conf);
	else
		fprintf(out, "%-34s %11s %11s %8s %18s %8s  %s\n", "metric", "base", "new", "change", "CI", "p",
		        "verdict");
	const char *last = NULL;
	for (size_t i = 0; i < res->nrows; i++) {
		const struct row *r = &res->rows[i];
		fmt_value(bv, sizeof bv, r->base_med, r->metric);
		fmt_value(nv, sizeof nv, r->new_med, r->metric);
		fmt_p(p, sizeof p, r);
		if (r->v == V_NA) {
			snprintf(ch, sizeof ch, "-");
			snprintf(ci, sizeof ci, "(values <= 0)");
		} else {
			snprintf(ch, sizeof ch, "%+.1f%%", r->pct);
			snprintf(ci, sizeof ci, "[%+.1f, %+.1f]%%", r->lo_pct, r->hi_pct);
		}
		if (md) {
			fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s%s%s |\n", r->bench, metrics[r->metric].name,
			        bv, nv, ch, ci, p, r->v == V_REGRESSION ? "**" : "", verdict_name(r->v),
			        r->v == V_REGRESSION ? "**" : "");
			continue;
		}
		if (!last || strcmp(last, r->bench))
			fprintf(out, "%s  (n = %zu vs %zu)\n", r->bench, r->nb, r->nn);
		last = r->bench;
		fprintf(out, "  %-32s %11s %11s %8s %18s %8s  %s\n", metrics[r->metric].name, bv, nv, ch, ci, p,
		        verdict_name(r->v));
	}
	const char *pre = md ? "\n" : "";
	for (size_t i = 0; i < a->ns; i++) {
		const struct series *sa = &a->s[i], *sb = series_get((struct run *)b, sa->name);
		if (!sb)
			fprintf(out, "%snot compared: %s: only in %s\n", pre, sa->name, a->path);
		else if (sa->errors || sb->errors)
			fprintf(out, "%snot compared: %s: error rows (%zu in base, %zu in new): %s\n", pre, sa->name,
			        sa->errors, sb->errors,
			        or_q(sb->error_message ? sb->error_message : sa->error_message));
	}
	for (size_t i = 0; i < b->ns; i++)
		if (!series_get((struct run *)a, b->s[i].name))
			fprintf(out, "%snot compared: %s: only in %s\n", pre, b->s[i].name, b->path);
	const char *da = ctx_str(a, "test_delay"), *db = ctx_str(b, "test_delay");
	if (da || db)
		fprintf(out, "%snote: a run used the test-only delay IPCB_TEST_DELAY (base: %s, new: %s)\n", pre,
		        da ? da : "none", db ? db : "none");
	fprintf(out,
	        "%s%zu regression%s, %zu improvement%s in %zu comparisons (alpha %g, min effect %g%%; change = "
	        "Hodges-Lehmann estimate of NEW/BASE - 1 with its %d%% CI; p = two-sided Mann-Whitney U%s, "
	        "~ = normal approximation)\n",
	        pre, res->regressions, res->regressions == 1 ? "" : "s", res->improved,
	        res->improved == 1 ? "" : "s", res->nrows, o->alpha, o->min_effect, conf,
	        o->holm ? ", Holm-adjusted over all rows" : "");
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static void print_json(const struct run *a, const struct run *b, const struct result *res,
                       const struct ipcb_compare_opts *o, FILE *out)
{
	json_t *j = json_object(), *rows = json_array(), *nc = json_array();
	json_object_set_new(j, "base", json_string(a->path));
	json_object_set_new(j, "new", json_string(b->path));
	json_object_set_new(j, "alpha", json_real(o->alpha));
	json_object_set_new(j, "min_effect_pct", json_real(o->min_effect));
	json_object_set_new(j, "correction", json_string(o->holm ? "holm" : "none"));
	json_object_set_new(j, "regressions", json_integer((json_int_t)res->regressions));
	json_object_set_new(j, "improvements", json_integer((json_int_t)res->improved));
	for (size_t i = 0; i < res->nrows; i++) {
		const struct row *r = &res->rows[i];
		json_t *x = json_object();
		json_object_set_new(x, "benchmark", json_string(r->bench));
		json_object_set_new(x, "metric", json_string(metrics[r->metric].name));
		json_object_set_new(x, "higher_is_better", json_boolean(metrics[r->metric].rate));
		json_object_set_new(x, "base_n", json_integer((json_int_t)r->nb));
		json_object_set_new(x, "new_n", json_integer((json_int_t)r->nn));
		json_object_set_new(x, "base_median", num_or_null(r->base_med));
		json_object_set_new(x, "new_median", num_or_null(r->new_med));
		bool na = r->v == V_NA;
		json_object_set_new(x, "change_pct", na ? json_null() : num_or_null(r->pct));
		json_object_set_new(x, "ci_low_pct", na ? json_null() : num_or_null(r->lo_pct));
		json_object_set_new(x, "ci_high_pct", na ? json_null() : num_or_null(r->hi_pct));
		json_object_set_new(x, "p_value", num_or_null(r->p));
		json_object_set_new(x, "p_adjusted", num_or_null(r->p_adj));
		json_object_set_new(x, "u", na ? json_null() : json_real(r->u));
		json_object_set_new(x, "p_method", json_string(na ? "none" : r->exact ? "exact" : "normal"));
		json_object_set_new(x, "min_effect_pct", json_real(r->min_effect));
		json_object_set_new(x, "verdict", json_string(verdict_name(r->v)));
		json_array_append_new(rows, x);
	}
	for (int side = 0; side < 2; side++) {
		const struct run *p = side ? b : a, *q = side ? a : b;
		for (size_t i = 0; i < p->ns; i++) {
			const struct series *sp = &p->s[i], *sq = series_get((struct run *)q, sp->name);
			json_t *x = NULL;
			if (!sq)
				x = json_pack("{s:s, s:s}", "benchmark", sp->name, "reason",
				              side ? "only in new" : "only in base");
			else if (!side && (sp->errors || sq->errors))
				x = json_pack("{s:s, s:s, s:s}", "benchmark", sp->name, "reason", "error rows",
				              "error_message",
				              or_q(sq->error_message ? sq->error_message : sp->error_message));
			if (x)
				json_array_append_new(nc, x);
		}
	}
	json_object_set_new(j, "results", rows);
	json_object_set_new(j, "not_compared", nc);
	json_dumpf(j, out, JSON_INDENT(2));
	fputc('\n', out);
	json_decref(j);
}

/* --- the command line ---------------------------------------------------------- */

void ipcb_compare_defaults(struct ipcb_compare_opts *o)
{
	memset(o, 0, sizeof *o);
	o->alpha = 0.05;
	o->min_effect = 10;
	o->holm = true;
}

int ipcb_compare_files(const char *base, const char *new_, const struct ipcb_compare_opts *o, FILE *out,
                       FILE *err)
{
	struct run a, b;
	struct result res = {0};
	int rc = IPCB_CMP_BADINPUT;
	if (run_load(&a, base, err) != 0) {
		run_free(&a);
		return IPCB_CMP_BADINPUT;
	}
	if (run_load(&b, new_, err) != 0)
		goto done;
	size_t common = 0;
	for (size_t i = 0; i < a.ns; i++)
		common += series_get(&b, a.s[i].name) != NULL;
	if (!common) {
		fprintf(err, "ipcbench compare: %s and %s have no benchmark in common (%zu and %zu names, e.g. %s vs %s); "
		             "compare two runs of the same suite and filters\n",
		        base, new_, a.ns, b.ns, a.s[0].name, b.s[0].name);
		goto done;
	}
	if (check_machine(&a, &b, o->force, err) != 0 || check_reps(&a, &b, o->force, err) != 0)
		goto done;
	check_host(&a, &b, err);
	res.rows = calloc(common * NMETRICS, sizeof *res.rows);
	if (!res.rows) {
		fprintf(err, "ipcbench compare: out of memory\n");
		goto done;
	}
	for (size_t i = 0; i < a.ns; i++) {
		const struct series *sa = &a.s[i], *sb = series_get(&b, sa->name);
		if (!sb || sa->errors || sb->errors)
			continue;
		bool has_rate = false;
		for (size_t m = 0; m < NMETRICS; m++)
			has_rate |= metrics[m].rate && sa->n[m] && sb->n[m];
		for (size_t m = 0; m < NMETRICS; m++) {
			if (sa->n[m] == 0 || sb->n[m] == 0)
				continue;
			/* With a rate, an iteration is a batch the workload sizes per run
			 * (stream: ~10 ms of messages), so its time says nothing; the rate does. */
			if (m == 0 && has_rate)
				continue;
			struct row *r = &res.rows[res.nrows];
			if (compare_metric(sa, sb, m, o, r) != 0) {
				fprintf(err, "ipcbench compare: out of memory\n");
				goto done;
			}
			res.nrows++;
		}
	}
	if (decide(res.rows, res.nrows, o) != 0) {
		fprintf(err, "ipcbench compare: out of memory\n");
		goto done;
	}
	for (size_t i = 0; i < res.nrows; i++) {
		res.regressions += res.rows[i].v == V_REGRESSION;
		res.improved += res.rows[i].v == V_IMPROVED;
	}
	if (o->format == IPCB_CMP_JSON)
		print_json(&a, &b, &res, o, out);
	else
		print_text(&a, &b, &res, o, o->format == IPCB_CMP_MD, out);
	rc = res.regressions ? IPCB_CMP_REGRESSION : IPCB_CMP_OK;
done:
	free(res.rows);
	run_free(&a);
	run_free(&b);
	return rc;
}

static const char usage_compare[] =
        "usage: ipcbench compare BASE.json NEW.json [--alpha A] [--min-effect PCT]\n"
        "                        [--metric-effect NAME=PCT ...] [--correction holm|none]\n"
        "                        [--format table|json|md] [--force]\n"
        "\n"
        "Matches benchmarks by name and, per metric (real_time, items_per_second, rtt_p50_ns,\n"
        "rtt_p99_ns, tasks_per_second: those present; real_time not where a rate is, as its\n"
        "iteration is a batch sized per run), tests the repetitions of NEW against\n"
        "those of BASE. A regression is a two-sided Mann-Whitney U p-value (Holm-adjusted\n"
        "over all rows, so a run of many benchmarks keeps its false-alarm rate at A) below A AND a\n"
        "Hodges-Lehmann estimated change (NEW/BASE - 1, shown with its distribution-free\n"
        "confidence interval) worse than PCT: time or latency up, rate down.\n"
        "\n"
        "  --alpha A                significance level, default 0.05\n"
        "  --min-effect PCT         smallest change that counts, default 10 (%)\n"
        "  --metric-effect NAME=PCT that metric's own minimum, e.g. rtt_p99_ns=25 (repeatable)\n"
        "  --correction C           holm (default) or none: adjust p over all compared rows\n"
        "  --format F               table (default), md, or json\n"
        "  --force                  compare across machines, or with fewer than 5 repetitions\n"
        "\n"
        "Runs from different machines (context machine_id) and benchmarks with fewer than 5\n"
        "repetitions on a side are refused unless --force. Rows with an error are listed,\n"
        "not compared. When the runs' host probes (host_c2c_ns, medians) differ more than\n"
        "1.5x, a warning says the host, not the code, may have changed.\n"
        "Exit status: 0 no regression, 1 a regression, 2 bad input.\n";

static int parse_pct(const char *s, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (*end == '%')
		end++;
	if (end == s || *end || errno || !isfinite(x) || x < 0)
		return -1;
	*v = x;
	return 0;
}

int ipcb_compare_main(int argc, char **argv)
{
	struct ipcb_compare_opts o;
	ipcb_compare_defaults(&o);
	const char *files[2];
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_compare, stdout);
			return 0;
		}
		if (!strcmp(a, "--force")) {
			o.force = true;
			continue;
		}
		const char *opts[] = {"--alpha", "--min-effect", "--metric-effect", "--format", "--correction"};
		size_t k;
		for (k = 0; k < 5; k++) {
			size_t n = strlen(opts[k]);
			if (!strncmp(a, opts[k], n) && a[n] == '=') {
				v = a + n + 1;
				break;
			}
			if (!strcmp(a, opts[k])) {
				if (i + 1 >= argc) {
					fprintf(stderr, "ipcbench compare: %s needs a value\n%s", a, usage_compare);
					return 2;
				}
				v = argv[++i];
				break;
			}
		}
		if (k == 5) {
			if (a[0] == '-' && a[1]) {
				fprintf(stderr, "ipcbench compare: unknown option '%s'\n%s", a, usage_compare);
				return 2;
			}
			if (nfiles == 2) {
				fprintf(stderr, "ipcbench compare: one BASE and one NEW file; '%s' is a third\n", a);
				return 2;
			}
			files[nfiles++] = a;
			continue;
		}
		char *end;
		if (k == 0) {
			o.alpha = strtod(v, &end);
			if (end == v || *end || !(o.alpha > 0 && o.alpha < 1)) {
				fprintf(stderr, "ipcbench compare: --alpha '%s': give a number between 0 and 1, e.g. 0.05\n", v);
				return 2;
			}
		} else if (k == 1) {
			if (parse_pct(v, &o.min_effect) != 0) {
				fprintf(stderr, "ipcbench compare: --min-effect '%s': give a percentage >= 0, e.g. 10\n", v);
				return 2;
			}
		} else if (k == 2) {
			const char *eq = strchr(v, '=');
			char name[32];
			snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - v) : 0, v);
			double pct;
			if (!eq || metric_index(name) < 0 || parse_pct(eq + 1, &pct) != 0) {
				fprintf(stderr, "ipcbench compare: --metric-effect '%s': give NAME=PCT with NAME one of "
				                "real_time, items_per_second, rtt_p50_ns, rtt_p99_ns, tasks_per_second\n",
				        v);
				return 2;
			}
			int slot = 0;
			while (slot < o.neffects && strcmp(o.effects[slot].name, name))
				slot++;
			if (slot == (int)(sizeof o.effects / sizeof o.effects[0]))
				slot--;
			snprintf(o.effects[slot].name, sizeof o.effects[slot].name, "%s", name);
			o.effects[slot].pct = pct;
			if (slot == o.neffects)
				o.neffects++;
		} else if (k == 4) {
			if (strcmp(v, "holm") && strcmp(v, "none")) {
				fprintf(stderr, "ipcbench compare: --correction '%s': give holm or none\n", v);
				return 2;
			}
			o.holm = !strcmp(v, "holm");
		} else {
			if (!strcmp(v, "table"))
				o.format = IPCB_CMP_TABLE;
			else if (!strcmp(v, "json"))
				o.format = IPCB_CMP_JSON;
			else if (!strcmp(v, "md"))
				o.format = IPCB_CMP_MD;
			else {
				fprintf(stderr, "ipcbench compare: --format '%s': give table, md or json\n", v);
				return 2;
			}
		}
	}
	if (nfiles != 2) {
		fprintf(stderr, "ipcbench compare: give two files, BASE.json and NEW.json\n%s", usage_compare);
		return 2;
	}
	return ipcb_compare_files(files[0], files[1], &o, stdout, stderr);
}
