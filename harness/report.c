/*
 * report.c - `ipcbench report DIR` and `ipcbench report --compare A B`
 * (see report.h).
 *
 * Sections: loading results.json (rows parsed from the benchmark names);
 * looking rows up; formatting numbers; the output folder and gnuplot; the
 * charts of one run; findings; tables; report.md and index.html; --compare;
 * the command line.
 *
 * Every figure in the report is read from results.json; a chart with nothing
 * to draw says so in the report instead of drawing an empty frame.
 */
#include "report.h"
#include "placement.h"
#include "stats.h"
#include "units.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IPCB_SOURCE_DIR
#define IPCB_SOURCE_DIR "."
#endif

/* --- loading results.json ---------------------------------------------------- */

enum counter {
	C_P50, C_P90, C_P99, C_P999, C_MAX, C_MEAN, C_IPS, C_BPS, C_TPS, C_SPEEDUP, C_MEM, C_SPAWN, C_OPS,
	C_HOST, /* not a figure: the host probe before the row ran (see runner.c, host watch) */
	C_COUNT
};
static const char *const counter_names[C_COUNT] = {
	"rtt_p50_ns", "rtt_p90_ns", "rtt_p99_ns", "rtt_p999_ns", "rtt_max_ns", "rtt_mean_ns",
	"items_per_second", "bytes_per_second", "tasks_per_second", "speedup", "mem_per_worker_bytes",
	"spawn_ns", "ops_per_second", "host_c2c_ns",
};

enum { MODE_PROC, MODE_THR, MODE_N };
static const char *const mode_names[MODE_N] = { "process", "thread" };

#define MAX_MECHS 32
#define MAX_PLACES 16
#define MAX_SIZES 32

struct row {
	char name[256];
	char wl[24];     /* pingpong, stream, limit, cpu, io ... */
	char mech[32];   /* for limit rows: c2c, memcpy, ring */
	int mode;        /* MODE_*, -1 for limit rows */
	char place[32];  /* "" when the name has none */
	size_t size;     /* 0 when the name has none */
	unsigned prod, cons;
	double workers, grain, conc; /* pool rows: NAN when the name has none */
	char task[16];   /* io rows: "sleep", "socket"; "" when the name has none */
	int prio;        /* median aggregate 3, mean 2, a single run 1 */
	bool error;
	char errmsg[400];
	double c[C_COUNT]; /* NAN when absent */
};

struct run {
	char json[PATH_MAX];
	char dir[PATH_MAX];
	char label[160];   /* the folder's name, e.g. 2026-11-28T16-20-30Z */
	json_t *root;
	json_t *ctx;
	struct row *rows;
	size_t n;
	size_t foreign;    /* rows whose names are not ipcbench's */
	char mechs[MAX_MECHS][32];
	int nmechs;
	char places[MAX_PLACES][32];
	int nplaces;
	size_t sizes[MAX_SIZES];
	int nsizes;
};

static int place_rank(const char *p)
{
	for (int i = 0; i < IPCB_PLACE_COUNT; i++)
		if (!strcmp(p, ipcb_placement_name((enum ipcb_place)i)))
			return i;
	return IPCB_PLACE_COUNT;
}

static int cmp_place(const void *a, const void *b)
{
	int d = place_rank(a) - place_rank(b);
	return d ? d : strcmp(a, b);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* "size:64" -> 64 for key "size"; false when seg is another key. */
static bool seg_value(const char *seg, const char *key, double *v)
{
	size_t n = strlen(key);
	if (strncmp(seg, key, n) || seg[n] != ':')
		return false;
	char *end;
	*v = strtod(seg + n + 1, &end);
	return end != seg + n + 1;
}

/* Fills the name fields of w from DESIGN.md §4's names; false when the name is
 * not one of ipcbench's. */
static bool parse_name(struct row *w)
{
	char buf[256], *seg[12], *save = NULL;
	int n = 0;
	snprintf(buf, sizeof buf, "%s", w->name);
	for (char *t = strtok_r(buf, "/", &save); t && n < 12; t = strtok_r(NULL, "/", &save))
		seg[n++] = t;
	if (n < 2)
		return false;
	w->mode = -1;
	w->prod = w->cons = 1;
	w->workers = w->grain = w->conc = NAN;
	snprintf(w->wl, sizeof w->wl, "%s", seg[0]);
	snprintf(w->mech, sizeof w->mech, "%s", seg[1]);
	int first_kv;
	if (!strcmp(seg[0], "limit")) {
		if (!strcmp(seg[1], "memcpy")) {
			first_kv = 2;
		} else if (!strcmp(seg[1], "c2c") || !strcmp(seg[1], "ring")) {
			if (n < 3)
				return false;
			snprintf(w->place, sizeof w->place, "%s", seg[2]);
			first_kv = 3;
		} else {
			return false;
		}
	} else {
		if (n < 4)
			return false;
		for (int m = 0; m < MODE_N; m++)
			if (!strcmp(seg[2], mode_names[m]))
				w->mode = m;
		/* <wl>/tcp/peer/<address>/...: processes on two hosts, placed as "peer:<address>" */
		bool peer = w->mode < 0 && !strcmp(seg[2], "peer");
		if (peer)
			w->mode = MODE_PROC;
		if (w->mode < 0)
			return false;
		snprintf(w->place, sizeof w->place, "%s%s", peer ? "peer:" : "", seg[3]);
		first_kv = 4;
	}
	for (int i = first_kv; i < n; i++) {
		double v;
		if (seg_value(seg[i], "size", &v))
			w->size = (size_t)v;
		else if (!strncmp(seg[i], "pairs:", 6))
			sscanf(seg[i] + 6, "%ux%u", &w->prod, &w->cons);
		else if (seg_value(seg[i], "workers", &v))
			w->workers = v;
		else if (seg_value(seg[i], "grain", &v))
			w->grain = v;
		else if (seg_value(seg[i], "concurrency", &v))
			w->conc = v;
		else if (!strncmp(seg[i], "task:", 5))
			snprintf(w->task, sizeof w->task, "%s", seg[i] + 5);
	}
	return true;
}

static void run_free(struct run *r)
{
	json_decref(r->root);
	free(r->rows);
	memset(r, 0, sizeof *r);
}

static void add_mech(struct run *r, const char *m)
{
	for (int i = 0; i < r->nmechs; i++)
		if (!strcmp(r->mechs[i], m))
			return;
	if (r->nmechs < MAX_MECHS)
		snprintf(r->mechs[r->nmechs++], sizeof r->mechs[0], "%s", m);
}

static void add_place(struct run *r, const char *p)
{
	for (int i = 0; i < r->nplaces; i++)
		if (!strcmp(r->places[i], p))
			return;
	if (r->nplaces < MAX_PLACES)
		snprintf(r->places[r->nplaces++], sizeof r->places[0], "%s", p);
}

static void add_size(struct run *r, size_t s)
{
	for (int i = 0; i < r->nsizes; i++)
		if (r->sizes[i] == s)
			return;
	if (r->nsizes < MAX_SIZES)
		r->sizes[r->nsizes++] = s;
}

/* Reads ARG (a results folder or a results.json) into r. Returns 0, or -1
 * with err naming the file and the problem. */
static int run_load(struct run *r, const char *arg, char *err, size_t errlen)
{
	struct stat st;
	memset(r, 0, sizeof *r);
	if (stat(arg, &st) != 0) {
		snprintf(err, errlen, "%s: %s; give a results folder written by `ipcbench run` (e.g. results/latest)",
		         arg, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(r->dir, sizeof r->dir, "%s", arg);
		snprintf(r->json, sizeof r->json, "%s/results.json", arg);
	} else {
		snprintf(r->json, sizeof r->json, "%s", arg);
		snprintf(r->dir, sizeof r->dir, "%s", arg);
		char *slash = strrchr(r->dir, '/');
		if (slash)
			*slash = 0;
		else
			snprintf(r->dir, sizeof r->dir, ".");
	}
	char real[PATH_MAX];
	const char *base = realpath(r->dir, real) ? real : r->dir;
	const char *slash = strrchr(base, '/');
	snprintf(r->label, sizeof r->label, "%.159s", slash && slash[1] ? slash + 1 : base);

	json_error_t jerr;
	r->root = json_load_file(r->json, 0, &jerr);
	if (!r->root) {
		if (access(r->json, R_OK) != 0)
			snprintf(err, errlen, "%s: %s; run `ipcbench run` first, or give the folder that holds results.json",
			         r->json, strerror(errno));
		else
			snprintf(err, errlen, "%s: not valid JSON: %s (line %d, column %d)", r->json, jerr.text, jerr.line,
			         jerr.column);
		return -1;
	}
	json_t *benches = json_object_get(r->root, "benchmarks");
	r->ctx = json_object_get(r->root, "context");
	if (!json_is_object(r->root) || !json_is_array(benches) || !json_is_object(r->ctx)) {
		snprintf(err, errlen,
		         "%s: not a Google Benchmark results file: it lacks the \"benchmarks\" array or the \"context\" "
		         "object that `ipcbench run` writes",
		         r->json);
		return -1;
	}
	size_t n = json_array_size(benches);
	r->rows = calloc(n ? n : 1, sizeof *r->rows);
	if (!r->rows) {
		snprintf(err, errlen, "%s: out of memory for %zu rows", r->json, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *b = json_array_get(benches, i);
		struct row w = { 0 };
		const char *name = json_string_value(json_object_get(b, "run_name"));
		if (!name)
			name = json_string_value(json_object_get(b, "name"));
		if (!json_is_object(b) || !name) {
			r->foreign++;
			continue;
		}
		snprintf(w.name, sizeof w.name, "%s", name);
		if (!parse_name(&w)) {
			r->foreign++;
			continue;
		}
		const char *rt = json_string_value(json_object_get(b, "run_type"));
		const char *agg = json_string_value(json_object_get(b, "aggregate_name"));
		if (rt && !strcmp(rt, "aggregate"))
			w.prio = agg && !strcmp(agg, "median") ? 3 : agg && !strcmp(agg, "mean") ? 2 : 0;
		else
			w.prio = 1;
		if (!w.prio)
			continue; /* stddev, cv: not a figure to chart */
		w.error = json_is_true(json_object_get(b, "error_occurred"));
		snprintf(w.errmsg, sizeof w.errmsg, "%s",
		         w.error && json_string_value(json_object_get(b, "error_message"))
		                 ? json_string_value(json_object_get(b, "error_message"))
		                 : "");
		for (int k = 0; k < C_COUNT; k++) {
			json_t *v = json_object_get(b, counter_names[k]);
			w.c[k] = json_is_number(v) ? json_number_value(v) : NAN;
		}
		size_t j;
		for (j = 0; j < r->n; j++)
			if (!strcmp(r->rows[j].name, w.name))
				break;
		if (j < r->n) {
			if (w.prio > r->rows[j].prio)
				r->rows[j] = w;
			continue;
		}
		r->rows[r->n++] = w;
	}
	if (!r->n) {
		snprintf(err, errlen,
		         "%s: %zu benchmark rows but none named like ipcbench's "
		         "(<workload>/<mechanism>/<mode>/<placement>/size:<bytes>, limit/...): not ipcbench results",
		         r->json, n);
		return -1;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct row *w = &r->rows[i];
		if (w->mode >= 0 && strcmp(w->wl, "spawn")) /* spawn rows name a call, not a mechanism */
			add_mech(r, w->mech);
		if (w->place[0])
			add_place(r, w->place);
		if (w->size && (!strcmp(w->wl, "pingpong") || !strcmp(w->wl, "stream")))
			add_size(r, w->size);
	}
	qsort(r->places, (size_t)r->nplaces, sizeof r->places[0], cmp_place);
	qsort(r->sizes, (size_t)r->nsizes, sizeof r->sizes[0], cmp_size);
	return 0;
}

static const char *ctx_str(const struct run *r, const char *key)
{
	return json_string_value(json_object_get(r->ctx, key));
}

static const char *ctx_or(const struct run *r, const char *key, const char *dflt)
{
	const char *v = ctx_str(r, key);
	return v ? v : dflt;
}

/* --- looking rows up ----------------------------------------------------------- */

/* The measured (not failed) 1->1 row; mode -1 / place NULL / size 0 match any. */
static const struct row *find(const struct run *r, const char *wl, const char *mech, int mode, const char *place,
                              size_t size)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct row *w = &r->rows[i];
		if (w->error || strcmp(w->wl, wl) || (mech && strcmp(w->mech, mech)) || (mode >= 0 && w->mode != mode) ||
		    (place && strcmp(w->place, place)) || (size && w->size != size) || w->prod != 1 || w->cons != 1)
			continue;
		return w;
	}
	return NULL;
}

/* A failed row with these coordinates, or NULL. */
static const struct row *find_error(const struct run *r, const char *wl, const char *mech, int mode,
                                    const char *place, size_t size)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct row *w = &r->rows[i];
		if (w->error && !strcmp(w->wl, wl) && !strcmp(w->mech, mech) && w->mode == mode &&
		    !strcmp(w->place, place) && w->size == size)
			return w;
	}
	return NULL;
}

static double val(const struct row *w, enum counter k)
{
	return w ? w->c[k] : NAN;
}

static bool have(const struct run *r, const char *wl)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->rows[i].error && !strcmp(r->rows[i].wl, wl))
			return true;
	return false;
}

/* The size and placement the headline table and the CDF use: 64 B and the
 * nearest cross-* placement measured, else the smallest size and the first
 * placement. */
static void headline(const struct run *r, size_t *size, const char **place)
{
	*size = 0;
	*place = NULL;
	for (int i = 0; i < r->nsizes; i++)
		if (r->sizes[i] == 64)
			*size = 64;
	if (!*size && r->nsizes)
		*size = r->sizes[0];
	for (int i = 0; i < r->nplaces; i++) {
		int rank = ipcb_cross_rank(r->places[i]);
		if (rank >= 0 && (!*place || rank < ipcb_cross_rank(*place)))
			*place = r->places[i];
	}
	for (int i = 0; i < r->nplaces && !*place; i++)
		if (find(r, "pingpong", NULL, -1, r->places[i], 0) || find(r, "stream", NULL, -1, r->places[i], 0))
			*place = r->places[i];
	if (!*place)
		*place = r->nplaces ? r->places[0] : "";
}

/* --- formatting numbers --------------------------------------------------------- */

static const char *fmt_size(size_t s, char *b, size_t n)
{
	if (s >= 1048576 && s % 1048576 == 0)
		snprintf(b, n, "%zu MiB", s / 1048576);
	else if (s >= 1024 && s % 1024 == 0)
		snprintf(b, n, "%zu KiB", s / 1024);
	else
		snprintf(b, n, "%zu B", s);
	return b;
}

static const char *fmt_ratio(double v, char *b, size_t n)
{
	if (isnan(v) || isinf(v))
		snprintf(b, n, "–");
	else if (v >= 100)
		snprintf(b, n, "%.0f×", v);
	else if (v >= 10)
		snprintf(b, n, "%.1f×", v);
	else
		snprintf(b, n, "%.2f×", v);
	return b;
}

/* A data-file cell: the value or gnuplot's missing mark. */
static void dat_val(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs(" ?", f);
	else
		fprintf(f, " %.6g", v);
}

/* --- the output folder and gnuplot ------------------------------------------------ */

#define MAX_CHARTS 64

struct chart {
	char base[96];      /* file name without extension, in DIR/report */
	char title[200];
	char caption[900];
	bool drawn;         /* false: caption says why there is nothing */
	bool failed;        /* gnuplot was asked and failed */
};

struct out {
	char dir[PATH_MAX];   /* where report.md and index.html go */
	char sub[PATH_MAX];   /* dir/report */
	FILE *replot;
	struct chart charts[MAX_CHARTS];
	int ncharts;
	int failures;
	char copied[16][32];  /* scripts already copied into sub */
	int ncopied;
	char gnuplot_err[300];
};

const char *ipcb_plots_dir(void)
{
	const char *env = getenv("IPCB_PLOTS_DIR");
	return env && *env ? env : IPCB_SOURCE_DIR "/plots";
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	FILE *in = fopen(from, "r");
	if (!in) {
		snprintf(err, errlen, "cannot read %s: %s (set IPCB_PLOTS_DIR to the plots/ folder of the source tree)",
		         from, strerror(errno));
		return -1;
	}
	FILE *o = fopen(to, "w");
	if (!o) {
		fclose(in);
		snprintf(err, errlen, "cannot write %s: %s", to, strerror(errno));
		return -1;
	}
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, o);
	fclose(in);
	if (fclose(o) != 0) {
		snprintf(err, errlen, "writing %s: %s", to, strerror(errno));
		return -1;
	}
	return 0;
}

static int mkdir_one(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int out_open(struct out *o, const char *dir, char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	snprintf(o->dir, sizeof o->dir, "%s", dir);
	snprintf(o->sub, sizeof o->sub, "%s/report", dir);
	if (mkdir_one(o->dir, err, errlen) || mkdir_one(o->sub, err, errlen))
		return -1;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/replot.sh", o->sub);
	o->replot = fopen(path, "w");
	if (!o->replot) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(o->replot, "#!/bin/sh\n# Redraws every chart of this report from its .dat file: the commands\n"
	                   "# `ipcbench report` ran. Edit a .gp script here and run this again.\n"
	                   "set -e\ncd \"$(dirname \"$0\")\"\n");
	snprintf(path, sizeof path, "%s/gnuplot.log", o->sub);
	unlink(path);
	return 0;
}

static FILE *dat_open(struct out *o, const char *base, const char *what)
{
	char path[PATH_MAX + 128];
	snprintf(path, sizeof path, "%s/%s.dat", o->sub, base);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "ipcbench report: cannot write %s: %s\n", path, strerror(errno));
		o->failures++;
		return NULL;
	}
	fprintf(f, "# %s\n# written by `ipcbench report`; drawn by %s/replot.sh\n", what, "report");
	return f;
}

static struct chart *chart_add(struct out *o, const char *base, const char *title)
{
	if (o->ncharts == MAX_CHARTS)
		return NULL;
	struct chart *c = &o->charts[o->ncharts++];
	memset(c, 0, sizeof *c);
	snprintf(c->base, sizeof c->base, "%s", base);
	snprintf(c->title, sizeof c->title, "%s", title);
	return c;
}

static void chart_nodata(struct out *o, const char *base, const char *title, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void chart_nodata(struct out *o, const char *base, const char *title, const char *fmt, ...)
{
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->caption, sizeof c->caption, fmt, ap);
	va_end(ap);
}

/* Runs `gnuplot -e VARS SCRIPT` in the report folder; 0 when it exited 0. */
static int gnuplot_run(struct out *o, const char *vars, const char *script)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char log[PATH_MAX + 32];
		snprintf(log, sizeof log, "%s/gnuplot.log", o->sub);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		if (chdir(o->sub) != 0)
			_exit(126);
		dprintf(STDERR_FILENO, "$ gnuplot -e \"%s\" %s\n", vars, script);
		execlp("gnuplot", "gnuplot", "-e", vars, script, (char *)NULL);
		_exit(errno == ENOENT ? 127 : 126);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		snprintf(o->gnuplot_err, sizeof o->gnuplot_err,
		         "gnuplot was not found on PATH: install it (apt-get install gnuplot-nox) and run `ipcbench report` again");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static bool nonempty(const char *sub, const char *base, const char *ext)
{
	char path[PATH_MAX + 128];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s.%s", sub, base, ext);
	return stat(path, &st) == 0 && st.st_size > 0;
}

/* Draws chart c (DIR/report/<base>.dat) with plots/<script> as SVG and PNG;
 * vars are the script's own variables ("place='cross-core'; left=1"). */
static void chart_draw(struct out *o, struct chart *c, const char *script, const char *vars)
{
	bool copied = false;
	for (int i = 0; i < o->ncopied; i++)
		copied |= !strcmp(o->copied[i], script);
	if (!copied) {
		char from[PATH_MAX + 64], to[PATH_MAX + 64], err[PATH_MAX * 2 + 200];
		snprintf(from, sizeof from, "%s/%s", ipcb_plots_dir(), script);
		snprintf(to, sizeof to, "%s/%s", o->sub, script);
		if (copy_file(from, to, err, sizeof err) != 0) {
			fprintf(stderr, "ipcbench report: %s\n", err);
			o->failures++;
			return;
		}
		if (o->ncopied < 16)
			snprintf(o->copied[o->ncopied++], sizeof o->copied[0], "%s", script);
	}
	static const char *const exts[] = { "svg", "png" };
	bool ok = true;
	for (int e = 0; e < 2; e++) {
		char all[1500];
		snprintf(all, sizeof all, "datafile='%s.dat'; out='%s.%s'%s%s", c->base, c->base, exts[e],
		         vars && *vars ? "; " : "", vars ? vars : "");
		fprintf(o->replot, "gnuplot -e \"%s\" %s\n", all, script);
		if (gnuplot_run(o, all, script) != 0 || !nonempty(o->sub, c->base, exts[e])) {
			ok = false;
			if (!o->gnuplot_err[0])
				fprintf(stderr, "ipcbench report: gnuplot failed to draw %s/%s.%s: see %s/gnuplot.log\n", o->sub,
				        c->base, exts[e], o->sub);
		}
	}
	c->drawn = ok;
	c->failed = !ok;
	if (!ok)
		o->failures++;
}

/* --- the charts of one run --------------------------------------------------------- */

/* " Not drawn (the run ended with an error): pipe process same-pu, ..." for
 * failed rows of workload wl at size, or "" when none failed. */
static void errors_at(const struct run *r, const char *wl, size_t size, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < r->n && o < len; i++) {
		const struct row *w = &r->rows[i];
		if (!w->error || strcmp(w->wl, wl) || w->size != size || w->mode < 0)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s %s %s", o ? ", " : " Not drawn (the run ended with an error): ",
		                      w->mech, mode_names[w->mode], w->place);
	}
	if (o && o + 1 < len)
		snprintf(buf + o, len - o, ".");
}

/* Throughput against size at one placement; both modes; memcpy and ring lines. */
static void chart_throughput(struct out *o, const struct run *r, const char *place)
{
	char base[96], title[200];
	snprintf(base, sizeof base, "throughput-%s", place);
	snprintf(title, sizeof title, "Throughput vs message size (%s)", place);
	bool any[MODE_N] = { false, false };
	for (int m = 0; m < r->nmechs; m++)
		for (int mode = 0; mode < MODE_N; mode++)
			any[mode] |= find(r, "stream", r->mechs[m], mode, place, 0) != NULL;
	if (!any[MODE_PROC] && !any[MODE_THR]) {
		chart_nodata(o, base, title, "No data: no 1→1 stream row at %s succeeded in this run.", place);
		return;
	}
	FILE *f = dat_open(o, base, "stream throughput (bytes/s) against message size");
	if (!f)
		return;
	/* index 0: limit/memcpy, index 1: limit/ring, then one block per mechanism */
	bool memcpy_any = false;
	for (int s = 0; s < r->nsizes; s++)
		memcpy_any |= find(r, "limit", "memcpy", -1, NULL, r->sizes[s]) != NULL;
	const char *mt = memcpy_any ? "\"limit/memcpy (1 CPU)\"" : "\"\"";
	fprintf(f, "size %s %s\n", mt, mt);
	int rows = 0;
	for (int s = 0; s < r->nsizes; s++) {
		const struct row *w = find(r, "limit", "memcpy", -1, NULL, r->sizes[s]);
		if (w) {
			fprintf(f, "%zu", r->sizes[s]);
			dat_val(f, val(w, C_BPS));
			dat_val(f, val(w, C_BPS));
			fputc('\n', f);
			rows++;
		}
	}
	if (!rows)
		fputs("? ? ?\n", f);
	const struct row *ring = find(r, "limit", "ring", -1, place, 0);
	fprintf(f, "\n\nsize ");
	if (ring)
		fprintf(f, "\"limit/ring %s\" \"limit/ring %s\"\n%zu %.6g %.6g\n", place, place, ring->size,
		        val(ring, C_BPS), val(ring, C_BPS));
	else
		fprintf(f, "\"\" \"\"\n? ? ?\n");
	char missing[600] = "";
	size_t mo = 0;
	for (int m = 0; m < r->nmechs; m++) {
		fprintf(f, "\n\nsize");
		for (int mode = 0; mode < MODE_N; mode++)
			fprintf(f, " \"%s\"", find(r, "stream", r->mechs[m], mode, place, 0) ? r->mechs[m] : "");
		fputc('\n', f);
		for (int s = 0; s < r->nsizes; s++) {
			fprintf(f, "%zu", r->sizes[s]);
			for (int mode = 0; mode < MODE_N; mode++) {
				dat_val(f, val(find(r, "stream", r->mechs[m], mode, place, r->sizes[s]), C_BPS));
				if (find_error(r, "stream", r->mechs[m], mode, place, r->sizes[s]) && mo < sizeof missing) {
					char sz[32];
					mo += (size_t)snprintf(missing + mo, sizeof missing - mo, "%s%s %s %s", mo ? ", " : "",
					                       r->mechs[m], mode_names[mode], fmt_size(r->sizes[s], sz, sizeof sz));
				}
			}
			fputc('\n', f);
		}
	}
	fclose(f);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Stream throughput (bytes/s) against message size at %s, one producer → one consumer, log–log; "
	         "processes left, threads right. Dashed black: limit/memcpy (copy bandwidth on one CPU)%s; "
	         "black cross: limit/ring (a minimal spinning ring, 64 B) on the same CPUs%s.%s%s%s",
	         place, memcpy_any ? "" : " — not measured in this run", ring ? "" : " — not measured in this run",
	         mo ? " No point where the run ended with an error: " : "", missing, mo ? "." : "");
	char vars[200];
	snprintf(vars, sizeof vars, "place='%s'; left=%d; right=%d", place, any[0], any[1]);
	chart_draw(o, c, "throughput.gp", vars);
}

/* Percentiles per mechanism and placement at one size, with limit/c2c. */
static void chart_latency(struct out *o, const struct run *r, size_t size)
{
	char base[96], title[200], sz[32];
	fmt_size(size, sz, sizeof sz);
	snprintf(base, sizeof base, "latency-%zu", size);
	snprintf(title, sizeof title, "Round-trip percentiles at %s", sz);
	FILE *f = NULL;
	int count[MODE_N] = { 0, 0 };
	for (int mode = 0; mode < MODE_N; mode++) {
		for (int m = 0; m < r->nmechs; m++)
			for (int p = 0; p < r->nplaces; p++) {
				const struct row *w = find(r, "pingpong", r->mechs[m], mode, r->places[p], size);
				if (!w || isnan(val(w, C_P50)))
					continue;
				if (!f && !(f = dat_open(o, base, "pingpong round-trip percentiles (ns)")))
					return;
				if (!count[mode])
					fprintf(f, "%s# %s\n", mode ? "\n\n" : "", mode_names[mode]);
				fprintf(f, "%d \"%s %s\"", count[mode]++, r->mechs[m], r->places[p]);
				dat_val(f, val(w, C_P50));
				dat_val(f, val(w, C_P99));
				dat_val(f, val(w, C_P999));
				dat_val(f, val(find(r, "limit", "c2c", -1, r->places[p], 0), C_MEAN));
				fputc('\n', f);
			}
		if (f && !count[mode])
			fprintf(f, "%s# %s: no rows\n? \"\" ? ? ? ?\n", mode ? "\n\n" : "", mode_names[mode]);
	}
	if (!f) {
		chart_nodata(o, base, title, "No data: no pingpong row at %s succeeded in this run.", sz);
		return;
	}
	fclose(f);
	bool c2c = have(r, "limit") && find(r, "limit", "c2c", -1, NULL, 0);
	char failed[400];
	errors_at(r, "pingpong", size, failed, sizeof failed);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Pingpong round trip at %s: p50 (circle), p99 (triangle), p99.9 (square) for each mechanism and "
	         "placement, log scale; processes left, threads right. %s%s",
	         sz,
	         c2c ? "The black bar is limit/c2c, a cache-line round trip between the same two CPUs (mean)."
	             : "limit/c2c was not measured in this run, so no floor is marked.",
	         failed);
	char vars[200];
	snprintf(vars, sizeof vars, "size='%s'; left=%d; right=%d", sz, count[0] > 0, count[1] > 0);
	chart_draw(o, c, "latency.gp", vars);
}

/* The distribution through the percentile points at one size and placement. */
static void chart_cdf(struct out *o, const struct run *r, size_t size, const char *place)
{
	char base[96], title[200], sz[32];
	fmt_size(size, sz, sizeof sz);
	snprintf(base, sizeof base, "cdf-%zu-%s", size, place);
	snprintf(title, sizeof title, "Round-trip distribution at %s, %s", sz, place);
	static const double tail[] = { 0.30103, 1, 2, 3, 4 };
	static const enum counter pk[] = { C_P50, C_P90, C_P99, C_P999, C_MAX };
	FILE *f = NULL;
	bool any[MODE_N] = { false, false };
	int blocks = 0;
	for (int m = 0; m < r->nmechs; m++) {
		const struct row *w[MODE_N];
		for (int mode = 0; mode < MODE_N; mode++) {
			w[mode] = find(r, "pingpong", r->mechs[m], mode, place, size);
			if (w[mode] && isnan(val(w[mode], C_P50)))
				w[mode] = NULL;
			any[mode] |= w[mode] != NULL;
		}
		if (!w[0] && !w[1])
			continue;
		if (!f && !(f = dat_open(o, base, "pingpong round-trip percentiles as a distribution (ns)")))
			return;
		fprintf(f, "%stail \"%s\" \"%s\"\n", blocks++ ? "\n\n" : "", w[0] ? r->mechs[m] : "",
		        w[1] ? r->mechs[m] : "");
		for (int k = 0; k < 5; k++) {
			fprintf(f, "%g", tail[k]);
			dat_val(f, val(w[0], pk[k]));
			dat_val(f, val(w[1], pk[k]));
			fputc('\n', f);
		}
	}
	if (!f) {
		chart_nodata(o, base, title, "No data: no pingpong row at %s, %s succeeded in this run.", sz, place);
		return;
	}
	fclose(f);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Round-trip distribution at %s, %s, drawn through the recorded percentiles only (p50, p90, p99, "
	         "p99.9 and the maximum): the harness stores percentiles, not the histogram, so the segments "
	         "between points are straight-line interpolation, not measurements. The y axis is a tail scale.",
	         sz, place);
	char vars[200];
	snprintf(vars, sizeof vars, "what='%s, %s'; left=%d; right=%d", sz, place, any[0], any[1]);
	chart_draw(o, c, "cdf.gp", vars);
}

/* p50 for mechanism x mode (rows) against placement (columns) at one size. */
static void chart_heatmap(struct out *o, const struct run *r, size_t size)
{
	char base[96], title[200], sz[32];
	fmt_size(size, sz, sizeof sz);
	snprintf(base, sizeof base, "heatmap-%zu", size);
	snprintf(title, sizeof title, "Placement heat-map at %s (p50)", sz);
	int cols[MAX_PLACES], ncols = 0;
	for (int p = 0; p < r->nplaces; p++)
		if (find(r, "pingpong", NULL, -1, r->places[p], size))
			cols[ncols++] = p;
	struct { int m, mode; } rowsv[MAX_MECHS * MODE_N];
	int nrows = 0;
	double lo = INFINITY, hi = 0;
	for (int m = 0; m < r->nmechs; m++)
		for (int mode = 0; mode < MODE_N; mode++) {
			bool any = false;
			for (int k = 0; k < ncols; k++) {
				double v = val(find(r, "pingpong", r->mechs[m], mode, r->places[cols[k]], size), C_P50);
				if (!isnan(v)) {
					any = true;
					lo = fmin(lo, v);
					hi = fmax(hi, v);
				}
			}
			if (any) {
				rowsv[nrows].m = m;
				rowsv[nrows++].mode = mode;
			}
		}
	if (!nrows) {
		chart_nodata(o, base, title, "No data: no pingpong row at %s succeeded in this run.", sz);
		return;
	}
	FILE *f = dat_open(o, base, "pingpong p50 (ns) by mechanism and placement");
	if (!f)
		return;
	int missing = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			fputs("\n\n", f);
		int written = 0;
		for (int i = 0; i < nrows; i++)
			for (int k = 0; k < ncols; k++) {
				const char *mech = r->mechs[rowsv[i].m], *pl = r->places[cols[k]];
				double v = val(find(r, "pingpong", mech, rowsv[i].mode, pl, size), C_P50);
				char cell[32];
				if (pass == 0 && !isnan(v)) {
					/* white text on the darker half of the (log) colour scale */
					bool dark = hi > lo && (log(v) - log(lo)) / (log(hi) - log(lo)) > 0.55;
					fprintf(f, "%d %d %.6g \"%s\" \"%s %s\" \"%s\" %d\n", k, i, v, ipcb_fmt_ns(v, cell, sizeof cell),
					        mech, mode_names[rowsv[i].mode], pl, dark);
					written++;
				} else if (pass == 1 && isnan(v)) {
					fprintf(f, "%d %d \"%s %s\" \"%s\"\n", k, i, mech, mode_names[rowsv[i].mode], pl);
					written++;
					missing++;
				}
			}
		if (!written)
			fputs(pass ? "? ? \"\" \"\"\n" : "? ? ? \"\" \"\" \"\" 0\n", f);
	}
	fclose(f);
	char failed[400];
	errors_at(r, "pingpong", size, failed, sizeof failed);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Pingpong p50 round trip at %s for each mechanism and mode (rows) at each placement (columns); "
	         "colour on a log scale%s.%s",
	         sz, missing ? "; grey n/a cells were not measured or ended with an error" : "", failed);
	char vars[200];
	snprintf(vars, sizeof vars, "size='%s'; rows=%d; cols=%d", sz, nrows, ncols);
	chart_draw(o, c, "heatmap.gp", vars);
}

/* Each mechanism against limit/ring (stream) and limit/c2c (pingpong p50). */
static void chart_efficiency(struct out *o, const struct run *r)
{
	const char *base = "efficiency", *title = "Efficiency: fraction of the machine's limit";
	const struct row *anyring = find(r, "limit", "ring", -1, NULL, 0);
	size_t size = anyring ? anyring->size : 64;
	struct { int mode, place; } series[MODE_N * MAX_PLACES];
	int ns = 0, xs[MAX_MECHS], nx = 0;
	bool left = false, right = false;
	double lo = 1, hi = 1; /* hi past 1: the host changed speed between rows (a finding says so); keep them in view */
	for (int mode = 0; mode < MODE_N; mode++)
		for (int p = 0; p < r->nplaces; p++) {
			const struct row *ring = find(r, "limit", "ring", -1, r->places[p], size);
			const struct row *c2c = find(r, "limit", "c2c", -1, r->places[p], 0);
			bool any = false;
			for (int m = 0; m < r->nmechs; m++) {
				double tp = val(find(r, "stream", r->mechs[m], mode, r->places[p], size), C_IPS) / val(ring, C_IPS);
				double lat = val(c2c, C_MEAN) / val(find(r, "pingpong", r->mechs[m], mode, r->places[p], size), C_P50);
				if (!isnan(tp) && tp > 0) {
					left = any = true;
					lo = fmin(lo, tp);
					hi = fmax(hi, tp);
				}
				if (!isnan(lat) && lat > 0) {
					right = any = true;
					lo = fmin(lo, lat);
					hi = fmax(hi, lat);
				}
			}
			if (any) {
				series[ns].mode = mode;
				series[ns++].place = p;
			}
		}
	if (!ns) {
		chart_nodata(o, base, title,
		             "No data: this needs stream or pingpong rows at %zu B together with limit/ring or limit/c2c "
		             "rows at the same placement (the quick and full suites have both).",
		             size);
		return;
	}
	FILE *f = dat_open(o, base, "fraction of the machine limit: stream/ring msgs/s, c2c/p50");
	if (!f)
		return;
	for (int m = 0; m < r->nmechs; m++) {
		bool any = false;
		for (int s = 0; s < ns; s++)
			any |= find(r, "stream", r->mechs[m], series[s].mode, r->places[series[s].place], size) ||
			       find(r, "pingpong", r->mechs[m], series[s].mode, r->places[series[s].place], size);
		if (any)
			xs[nx++] = m;
	}
	fputs("# x axis\n", f);
	for (int i = 0; i < nx; i++)
		fprintf(f, "%d \"%s\"\n", i, r->mechs[xs[i]]);
	double step = 0.8 / ns;
	for (int s = 0; s < ns; s++) {
		const char *pl = r->places[series[s].place];
		const struct row *ring = find(r, "limit", "ring", -1, pl, size);
		const struct row *c2c = find(r, "limit", "c2c", -1, pl, 0);
		bool t = false, l = false;
		for (int i = 0; i < nx; i++) {
			t |= !isnan(val(find(r, "stream", r->mechs[xs[i]], series[s].mode, pl, size), C_IPS) / val(ring, C_IPS));
			l |= !isnan(val(c2c, C_MEAN) / val(find(r, "pingpong", r->mechs[xs[i]], series[s].mode, pl, size), C_P50));
		}
		fprintf(f, "\n\nx \"%s%s%s\" \"%s%s%s\"\n", t ? mode_names[series[s].mode] : "", t ? " " : "", t ? pl : "",
		        l ? mode_names[series[s].mode] : "", l ? " " : "", l ? pl : "");
		for (int i = 0; i < nx; i++) {
			fprintf(f, "%.3f", i + (s - (ns - 1) / 2.0) * step);
			dat_val(f, val(find(r, "stream", r->mechs[xs[i]], series[s].mode, pl, size), C_IPS) / val(ring, C_IPS));
			dat_val(f, val(c2c, C_MEAN) / val(find(r, "pingpong", r->mechs[xs[i]], series[s].mode, pl, size), C_P50));
			fputc('\n', f);
		}
	}
	fclose(f);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Each mechanism as a fraction of this machine's limit at %zu B, log scale, 1 = at the limit. Left: "
	         "stream msgs/s ÷ limit/ring msgs/s at the same placement%s. Right: limit/c2c round trip ÷ pingpong "
	         "p50 at the same placement%s (the headline table gives the inverse, p50 ÷ c2c).",
	         size, left ? "" : " (no data: no stream row with a matching limit/ring row)",
	         right ? "" : " (no data: no pingpong row with a matching limit/c2c row)");
	double ymin = pow(10, floor(log10(lo))), ymax = fmax(1.5, hi * 1.5);
	char vars[200];
	snprintf(vars, sizeof vars, "ymin=%g; ymax=%g; n=%d; bw=%.3f; left=%d; right=%d", ymin, ymax, nx, step * 0.45,
	         left, right);
	chart_draw(o, c, "efficiency.gp", vars);
}

/* Pool workloads (issue 5): cpu speedup against workers, io throughput against
 * concurrency; series from the name segments grain:, workers:, concurrency:. */
static void chart_pool(struct out *o, const struct run *r, const char *wl)
{
	bool cpu = !strcmp(wl, "cpu");
	char base[64], title[200];
	snprintf(base, sizeof base, cpu ? "cpu-speedup" : "io-throughput");
	snprintf(title, sizeof title, cpu ? "cpu pool: speedup vs workers" : "io pool: throughput vs concurrency");
	size_t rows = 0, usable = 0;
	for (size_t i = 0; i < r->n; i++)
		if (!r->rows[i].error && !strcmp(r->rows[i].wl, wl)) {
			rows++;
			const struct row *w = &r->rows[i];
			usable += cpu ? !isnan(w->workers) && !isnan(val(w, C_SPEEDUP))
			              : !isnan(w->conc) && !isnan(val(w, C_TPS));
		}
	if (!rows) {
		chart_nodata(o, base, title, "No data: run a suite with the %s workload (issue 5) to fill this chart.", wl);
		return;
	}
	if (!usable) {
		chart_nodata(o, base, title,
		             "No data the report can draw: %zu %s rows, but none has both a %s segment in its name and a "
		             "%s counter.",
		             rows, wl, cpu ? "workers:N" : "concurrency:N", cpu ? "speedup" : "tasks_per_second");
		return;
	}
	FILE *f = dat_open(o, base, title);
	if (!f)
		return;
	/* one series per (mechanism, mode, grain); x sorted as the rows come */
	bool *done = calloc(r->n, sizeof *done);
	int blocks = 0;
	for (size_t i = 0; done && i < r->n; i++) {
		const struct row *a = &r->rows[i];
		if (done[i] || a->error || strcmp(a->wl, wl) || (cpu ? isnan(a->workers) : isnan(a->conc)))
			continue;
		char name[160], g[32] = "";
		if (!isnan(a->grain))
			snprintf(g, sizeof g, " grain %gus", a->grain);
		snprintf(name, sizeof name, "%s %s %s%s%s%s", a->mech, mode_names[a->mode], a->place, a->task[0] ? " " : "",
		         a->task, g);
		fprintf(f, "%sx \"%s\"\n", blocks++ ? "\n\n" : "", name);
		for (size_t j = i; j < r->n; j++) {
			const struct row *b = &r->rows[j];
			if (b->error || strcmp(b->wl, wl) || strcmp(b->mech, a->mech) || b->mode != a->mode ||
			    strcmp(b->place, a->place) || strcmp(b->task, a->task) ||
			    !(b->grain == a->grain || (isnan(b->grain) && isnan(a->grain))))
				continue;
			done[j] = true;
			double x = cpu ? b->workers : b->conc;
			if (isnan(x))
				continue;
			fprintf(f, "%g", x);
			dat_val(f, val(b, cpu ? C_SPEEDUP : C_TPS));
			fputc('\n', f);
		}
	}
	free(done);
	fclose(f);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         cpu ? "cpu pool: speedup over one worker against the number of workers, one line per mechanism, mode "
	               "and task grain; dashed: ideal (speedup = workers)."
	             : "io pool: tasks per second against concurrency, one line per mechanism and mode, log–log.");
	chart_draw(o, c, "lines.gp",
	           cpu ? "ttl='cpu pool: speedup vs workers'; xl='workers'; yl='speedup over one worker'; ideal=1"
	               : "ttl='io pool: throughput vs concurrency'; xl='concurrent tasks'; yl='tasks/s'; logx=1; logy=1");
}

/* The peers a mechanism is held against, in this order, when the run has them. */
static const char *const peer_names[] = { "pipe",        "zeromq",     "zeromq-native",
	                                  "iceoryx",     "py-mp-queue", "py-mp-pipe" };

/* True for rows that are not ours: third-party libraries and reference rows. */
static bool is_peer(const char *mech)
{
	return !strncmp(mech, "zeromq", 6) || !strncmp(mech, "iceoryx", 7) || !strncmp(mech, "py-mp-", 6);
}

/* Every mechanism and peer in processes at the headline size and placement:
 * p50 round trip and stream msgs/s side by side, ours and the peers coloured
 * apart, fastest round trip on top. */
static void chart_peers(struct out *o, const struct run *r, size_t hs, const char *hp)
{
	const char *base = "peers", *title = "Versus peers: every mechanism beside the libraries it is compared with";
	int idx[MAX_MECHS], n = 0, npeers = 0;
	for (int m = 0; m < r->nmechs; m++) {
		const struct row *pp = find(r, "pingpong", r->mechs[m], MODE_PROC, hp, hs);
		const struct row *sp = find(r, "stream", r->mechs[m], MODE_PROC, hp, hs);
		if (!pp && !sp)
			continue;
		idx[n++] = m;
		npeers += is_peer(r->mechs[m]);
	}
	char sz[32];
	if (!npeers) {
		chart_nodata(o, base, title,
		             "No data: this run has no peer (zeromq, iceoryx, Python multiprocessing: the pyref workload) in "
		             "processes at %s, %s.",
		             fmt_size(hs, sz, sizeof sz), hp);
		return;
	}
	/* fastest round trip first; rows without one last */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			double a = val(find(r, "pingpong", r->mechs[idx[j - 1]], MODE_PROC, hp, hs), C_P50);
			double b = val(find(r, "pingpong", r->mechs[idx[j]], MODE_PROC, hp, hs), C_P50);
			if (!(isnan(a) && !isnan(b)) && !(a > b))
				break;
			int t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	FILE *f = dat_open(o, base, "per mechanism: p50 round trip (us) and stream msgs/s, processes");
	if (!f)
		return;
	double lo_us = INFINITY, lo_ips = INFINITY, hi_us = 0, hi_ips = 0;
	fputs("i name p50_us p50_label msgs_per_s rate_label peer\n", f);
	for (int i = 0; i < n; i++) {
		const char *mech = r->mechs[idx[i]];
		double us = val(find(r, "pingpong", mech, MODE_PROC, hp, hs), C_P50) / 1e3;
		double ips = val(find(r, "stream", mech, MODE_PROC, hp, hs), C_IPS);
		char a[48], b[48];
		fprintf(f, "%d \"%s\"", i, mech);
		dat_val(f, us);
		fprintf(f, " \"%s\"", isnan(us) ? "" : ipcb_fmt_ns(us * 1e3, a, sizeof a));
		dat_val(f, ips);
		fprintf(f, " \"%s\" %d\n", isnan(ips) ? "" : ipcb_fmt_rate(ips, "msg/s", b, sizeof b), is_peer(mech));
		if (!isnan(us)) {
			lo_us = fmin(lo_us, us);
			hi_us = fmax(hi_us, us);
		}
		if (!isnan(ips)) {
			lo_ips = fmin(lo_ips, ips);
			hi_ips = fmax(hi_ips, ips);
		}
	}
	fclose(f);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Processes at %s, %s, log scale. Left: pingpong p50 round trip (shorter is better); right: stream "
	         "msgs/s, one producer → one consumer (longer is better). Blue: ipcbench's mechanisms; orange: peers — "
	         "third-party libraries and Python's multiprocessing (reference rows). The table \"Versus peers\" gives "
	         "the ratios.",
	         fmt_size(hs, sz, sizeof sz), hp);
	char vars[300];
	snprintf(vars, sizeof vars, "n=%d; lat_lo=%g; lat_hi=%g; tp_lo=%g; tp_hi=%g", n,
	         isinf(lo_us) ? 0.1 : pow(10, floor(log10(lo_us))), hi_us > 0 ? pow(10, ceil(log10(hi_us * 3))) : 1e6,
	         isinf(lo_ips) ? 1 : pow(10, floor(log10(lo_ips))), hi_ips > 0 ? pow(10, ceil(log10(hi_ips * 3))) : 1e9);
	chart_draw(o, c, "peers.gp", vars);
}

/* --- findings ----------------------------------------------------------------------- */

#define MAX_FINDINGS 128 /* its own and those `ipcbench run` wrote (context "findings") */
#define LIMIT_SLACK 1.1 /* a row this far past a limit of its run says the machine changed speed, not the mechanism */

struct findings {
	char line[MAX_FINDINGS][400];
	int n;
};

static void finding(struct findings *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finding(struct findings *fs, const char *fmt, ...)
{
	if (fs->n == MAX_FINDINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs->line[fs->n++], sizeof fs->line[0], fmt, ap);
	va_end(ap);
}

/* True when rows w and limit both carry host probes and those agree (see ipcb_host_apart). */
static bool host_agree(const struct row *w, const struct row *limit)
{
	double hw = val(w, C_HOST), hl = val(limit, C_HOST);
	return hw > 0 && hl > 0 && !ipcb_host_apart(hw, hl);
}

/* A warning when row w and its limit row ran in different host states. */
static void host_apart(struct findings *fs, const struct row *w, const struct row *limit, const char *what)
{
	double hw = val(w, C_HOST), hl = val(limit, C_HOST);
	if (!ipcb_host_apart(hw, hl))
		return;
	char a[48], b[48];
	finding(fs, "Warning: %s %s's ratio to %s mixes host states: the host probe read a %s cache-line round "
	            "trip before its row and %s before the limit's (host_c2c_ns); run again and read rows whose "
	            "probes agree.",
	        w->mech, mode_names[w->mode], what, ipcb_fmt_ns(hw, a, sizeof a), ipcb_fmt_ns(hl, b, sizeof b));
}

static void compute_findings(const struct run *r, struct findings *fs)
{
	size_t hs;
	const char *hp;
	headline(r, &hs, &hp);
	char a[48], b[48], c[48], sz[32];
	/* fastest and lowest-latency mechanism per size and mode at the headline placement */
	for (int s = 0; s < r->nsizes; s++)
		for (int mode = 0; mode < MODE_N; mode++) {
			const struct row *best = NULL, *second = NULL;
			for (int m = 0; m < r->nmechs; m++) {
				const struct row *w = find(r, "stream", r->mechs[m], mode, hp, r->sizes[s]);
				if (!w || isnan(val(w, C_IPS)))
					continue;
				if (!best || val(w, C_IPS) > val(best, C_IPS)) {
					second = best;
					best = w;
				} else if (!second || val(w, C_IPS) > val(second, C_IPS)) {
					second = w;
				}
			}
			if (best)
				finding(fs, "Fastest stream, %s, %s, %s: **%s** at %s%s%s%s%s%s.", mode_names[mode],
				        fmt_size(r->sizes[s], sz, sizeof sz), hp, best->mech, ipcb_fmt_rate(val(best, C_IPS), "msg/s", a, sizeof a),
				        second ? " (" : "", second ? fmt_ratio(val(best, C_IPS) / val(second, C_IPS), b, sizeof b) : "",
				        second ? " the next best, " : "", second ? second->mech : "", second ? ")" : "");
			best = second = NULL;
			for (int m = 0; m < r->nmechs; m++) {
				const struct row *w = find(r, "pingpong", r->mechs[m], mode, hp, r->sizes[s]);
				if (!w || isnan(val(w, C_P50)))
					continue;
				if (!best || val(w, C_P50) < val(best, C_P50)) {
					second = best;
					best = w;
				} else if (!second || val(w, C_P50) < val(second, C_P50)) {
					second = w;
				}
			}
			if (best)
				finding(fs, "Lowest round trip, %s, %s, %s: **%s** at p50 %s%s%s%s%s%s.", mode_names[mode],
				        fmt_size(r->sizes[s], sz, sizeof sz), hp, best->mech, ipcb_fmt_ns(val(best, C_P50), a, sizeof a),
				        second ? " (the next best, " : "", second ? second->mech : "", second ? ", takes " : "",
				        second ? fmt_ratio(val(second, C_P50) / val(best, C_P50), b, sizeof b) : "", second ? " as long)" : "");
		}
	/* process against thread, per mechanism, headline size and placement */
	for (int m = 0; m < r->nmechs; m++) {
		const struct row *pp = find(r, "pingpong", r->mechs[m], MODE_PROC, hp, hs);
		const struct row *pt = find(r, "pingpong", r->mechs[m], MODE_THR, hp, hs);
		const struct row *sp = find(r, "stream", r->mechs[m], MODE_PROC, hp, hs);
		const struct row *st = find(r, "stream", r->mechs[m], MODE_THR, hp, hs);
		double lr = val(pp, C_P50) / val(pt, C_P50), tr = val(sp, C_IPS) / val(st, C_IPS);
		if (isnan(lr) && isnan(tr))
			continue;
		finding(fs, "%s, processes vs threads (%s, %s): round-trip p50 ratio %s (process ÷ thread), stream "
		            "msgs/s ratio %s (process ÷ thread).",
		        r->mechs[m], fmt_size(hs, sz, sizeof sz), hp, fmt_ratio(lr, a, sizeof a), fmt_ratio(tr, b, sizeof b));
	}
	/* across cores (the nearest pair measured) against one PU */
	const char *cc = NULL;
	bool pu = false;
	for (int p = 0; p < r->nplaces; p++) {
		int rank = ipcb_cross_rank(r->places[p]);
		if (rank >= 0 && (!cc || rank < ipcb_cross_rank(cc)))
			cc = r->places[p];
		pu |= !strcmp(r->places[p], "same-pu");
	}
	if (cc && pu)
		for (int m = 0; m < r->nmechs; m++)
			for (int mode = 0; mode < MODE_N; mode++) {
				double x = val(find(r, "pingpong", r->mechs[m], mode, cc, hs), C_P50);
				double y = val(find(r, "pingpong", r->mechs[m], mode, "same-pu", hs), C_P50);
				if (isnan(x) || isnan(y))
					continue;
				finding(fs, "%s %s, %s vs same-pu (%s): p50 %s vs %s, ratio %s.", r->mechs[m], mode_names[mode], cc,
				        fmt_size(hs, sz, sizeof sz), ipcb_fmt_ns(x, a, sizeof a), ipcb_fmt_ns(y, b, sizeof b),
				        fmt_ratio(x / y, c, sizeof c));
			}
	/* the closest to the machine's limits */
	const struct row *ring = find(r, "limit", "ring", -1, hp, 0), *c2c = find(r, "limit", "c2c", -1, hp, 0);
	const struct row *bt = NULL, *bl = NULL;
	for (int m = 0; m < r->nmechs; m++)
		for (int mode = 0; mode < MODE_N; mode++) {
			const struct row *w = ring ? find(r, "stream", r->mechs[m], mode, hp, ring->size) : NULL;
			if (w && !isnan(val(w, C_IPS)) && (!bt || val(w, C_IPS) > val(bt, C_IPS)))
				bt = w;
			w = c2c ? find(r, "pingpong", r->mechs[m], mode, hp, hs) : NULL;
			if (w && !isnan(val(w, C_P50)) && (!bl || val(w, C_P50) < val(bl, C_P50)))
				bl = w;
		}
	if (bt)
		finding(fs, "Closest to limit/ring (%s, %s at %s): %s %s at %.1f%% of its msgs/s.", hp,
		        ipcb_fmt_rate(val(ring, C_IPS), "msg/s", a, sizeof a), fmt_size(ring->size, sz, sizeof sz), bt->mech,
		        mode_names[bt->mode], 100 * val(bt, C_IPS) / val(ring, C_IPS));
	if (bl)
		finding(fs, "Closest to limit/c2c (%s, %s round trip): %s %s, whose p50 is %s the cache-line round trip.", hp,
		        ipcb_fmt_ns(val(c2c, C_MEAN), a, sizeof a), bl->mech, mode_names[bl->mode],
		        fmt_ratio(val(bl, C_P50) / val(c2c, C_MEAN), b, sizeof b));
	/*
	 * A mechanism well past a limit of the same run is no result: the host
	 * changed speed between the rows (a shared host does, for minutes at a
	 * time), and every ratio to that limit in this run is off with it.
	 */
	if (bt && val(bt, C_IPS) > LIMIT_SLACK * val(ring, C_IPS)) {
		if (host_agree(bt, ring))
			finding(fs, "Note: %s %s's stream (%s) is above limit/ring (%s) at %s although the host probes say "
			            "both ran in the same state: that run of limit/ring fell short of a ceiling (its rate "
			            "swings from run to run on some hosts); read ratios to it as approximate.",
			        bt->mech, mode_names[bt->mode], ipcb_fmt_rate(val(bt, C_IPS), "msg/s", a, sizeof a),
			        ipcb_fmt_rate(val(ring, C_IPS), "msg/s", b, sizeof b), hp);
		else
			finding(fs, "Warning: %s %s's stream (%s) is above limit/ring (%s) at %s, which no queue can pass: "
			            "the machine ran at another speed when the limit rows ran. Ratios to limit/ring in this "
			            "run are not to be trusted; run again and compare runs whose limit rows agree.",
			        bt->mech, mode_names[bt->mode], ipcb_fmt_rate(val(bt, C_IPS), "msg/s", a, sizeof a),
			        ipcb_fmt_rate(val(ring, C_IPS), "msg/s", b, sizeof b), hp);
	}
	if (bl && val(bl, C_P50) * LIMIT_SLACK < val(c2c, C_MEAN)) {
		if (host_agree(bl, c2c))
			finding(fs, "Note: %s %s's round-trip p50 (%s) is below limit/c2c's mean (%s) at %s although the host "
			            "probes say both ran in the same state: the round trip varies within a run on this host; "
			            "read ratios to limit/c2c as approximate.",
			        bl->mech, mode_names[bl->mode], ipcb_fmt_ns(val(bl, C_P50), a, sizeof a),
			        ipcb_fmt_ns(val(c2c, C_MEAN), b, sizeof b), hp);
		else
			finding(fs, "Warning: %s %s's round-trip p50 (%s) is below limit/c2c (%s) at %s, faster than a cache "
			            "line can go and come back: the machine ran at another speed when the limit rows ran. "
			            "Ratios to limit/c2c in this run are not to be trusted; run again and compare runs whose "
			            "limit rows agree.",
			        bl->mech, mode_names[bl->mode], ipcb_fmt_ns(val(bl, C_P50), a, sizeof a),
			        ipcb_fmt_ns(val(c2c, C_MEAN), b, sizeof b), hp);
	}
	/*
	 * Within the slack, a ratio can still mix host states: the host watch
	 * says in which the row and its limit ran.
	 */
	if (bt)
		host_apart(fs, bt, ring, "limit/ring");
	if (bl)
		host_apart(fs, bl, c2c, "limit/c2c");
	/* modes a mechanism was not measured in */
	for (int m = 0; m < r->nmechs; m++)
		for (int mode = 0; mode < MODE_N; mode++) {
			bool any = false;
			for (size_t i = 0; i < r->n; i++)
				any |= !strcmp(r->rows[i].mech, r->mechs[m]) && r->rows[i].mode == mode;
			if (any || !strncmp(r->mechs[m], "py-mp-", 6)) /* Python's reference rows are processes only */
				continue;
			if (!strcmp(mode_names[mode], "process"))
				finding(fs, "%s has no process rows in this run (a mechanism without IPCQ_CAP_PROCESS runs "
				            "threads only).", r->mechs[m]);
			else
				finding(fs, "%s has no thread rows in this run (the suite or --mode left them out).", r->mechs[m]);
		}
	/* what `ipcbench run` concluded from the pool, spawn and shared rows (context "findings", one per line) */
	const char *run_findings = ctx_str(r, "findings");
	for (const char *p = run_findings; p && *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		if (len)
			finding(fs, "%.*s", len, p);
		p += len + (nl ? 1 : 0);
	}
	size_t errors = 0;
	for (size_t i = 0; i < r->n; i++)
		errors += r->rows[i].error;
	if (errors)
		finding(fs, "%zu benchmark%s ended with an error and %s left out of the charts (see Errors).", errors,
		        errors == 1 ? "" : "s", errors == 1 ? "is" : "are");
}

/* --- tables --------------------------------------------------------------------------- */

/* A table of cells; writes markdown or HTML from the same cells. */
#define TCOLS 14
struct table {
	int ncols, nrows, cap;
	char head[TCOLS][64];
	char (*cell)[TCOLS][160];
};

static void table_rowv(struct table *t, const char *const *cells);

static void table_row(struct table *t, ...)
{
	const char *cells[TCOLS];
	va_list ap;
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++)
		cells[i] = va_arg(ap, const char *);
	va_end(ap);
	table_rowv(t, cells);
}

static void md_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '*' || *s == '_' || *s == '<' || *s == '`')
			fputc('\\', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
}

static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '"')
			fputs("&quot;", f);
		else
			fputc(*s, f);
	}
}

/* Inline **bold** of the findings as <b>. */
static void html_rich(FILE *f, const char *s)
{
	bool open = false;
	char buf[8];
	for (; *s; s++) {
		if (s[0] == '*' && s[1] == '*') {
			fputs(open ? "</b>" : "<b>", f);
			open = !open;
			s++;
			continue;
		}
		buf[0] = *s;
		buf[1] = 0;
		html_text(f, buf);
	}
	if (open)
		fputs("</b>", f);
}

static void table_md(FILE *f, const struct table *t)
{
	fputc('|', f);
	for (int i = 0; i < t->ncols; i++)
		fprintf(f, " %s |", t->head[i]);
	fputs("\n|", f);
	for (int i = 0; i < t->ncols; i++)
		fputs(i && t->ncols > 2 ? "---:|" : "---|", f); /* figures right, key/value tables left */
	fputc('\n', f);
	for (int r = 0; r < t->nrows; r++) {
		fputc('|', f);
		for (int i = 0; i < t->ncols; i++) {
			fputc(' ', f);
			md_text(f, t->cell[r][i]);
			fputs(" |", f);
		}
		fputc('\n', f);
	}
	fputc('\n', f);
}

static void table_html(FILE *f, const struct table *t)
{
	fputs("<table>\n<tr>", f);
	for (int i = 0; i < t->ncols; i++) {
		fputs("<th>", f);
		html_text(f, t->head[i]);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	for (int r = 0; r < t->nrows; r++) {
		fputs("<tr>", f);
		for (int i = 0; i < t->ncols; i++) {
			fputs(i && t->ncols > 2 ? "<td class=n>" : "<td>", f);
			html_text(f, t->cell[r][i]);
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void table_free(struct table *t)
{
	free(t->cell);
	memset(t, 0, sizeof *t);
}

static void table_heads(struct table *t, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	t->ncols = n;
	for (int i = 0; i < n; i++)
		snprintf(t->head[i], sizeof t->head[i], "%s", va_arg(ap, const char *));
	va_end(ap);
}

/* The machine and environment from the JSON context, strings and numbers. */
static void table_machine(const struct run *r, struct table *t)
{
	table_heads(t, 2, "key", "value");
	const char *key;
	json_t *v;
	json_object_foreach(r->ctx, key, v) {
		char buf[160];
		if (!strcmp(key, "findings"))
			continue; /* listed under Findings */
		if (json_is_string(v))
			snprintf(buf, sizeof buf, "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(buf, sizeof buf, "%g", json_real_value(v));
		else if (json_is_boolean(v))
			snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
		else
			continue; /* caches and load_avg arrays: cpu_caches says it in words */
		table_row(t, key, buf);
	}
}

/* Headline: each mechanism and mode at the headline size and placement. */
static void table_headline(const struct run *r, struct table *t)
{
	size_t hs;
	const char *hp;
	headline(r, &hs, &hp);
	const struct row *ring = find(r, "limit", "ring", -1, hp, hs);
	const struct row *c2c = find(r, "limit", "c2c", -1, hp, 0);
	size_t big = r->nsizes ? r->sizes[r->nsizes - 1] : 0;
	char h[64], sz[32];
	table_heads(t, 9, "mechanism", "mode", "p50", "p99", "p99.9", "stream msg/s", "", "÷ limit/ring", "p50 ÷ limit/c2c");
	snprintf(h, sizeof h, "stream at %s", fmt_size(big, sz, sizeof sz));
	snprintf(t->head[6], sizeof t->head[6], "%s", h);
	for (int m = 0; m < r->nmechs; m++)
		for (int mode = 0; mode < MODE_N; mode++) {
			const struct row *pp = find(r, "pingpong", r->mechs[m], mode, hp, hs);
			const struct row *sp = find(r, "stream", r->mechs[m], mode, hp, hs);
			const struct row *sb = find(r, "stream", r->mechs[m], mode, hp, big);
			if (!pp && !sp && !sb)
				continue;
			char a[48], b[48], c[48], d[48], e[48], f[48], g[48];
			table_row(t, r->mechs[m], mode_names[mode], ipcb_fmt_ns(val(pp, C_P50), a, sizeof a),
			          ipcb_fmt_ns(val(pp, C_P99), b, sizeof b), ipcb_fmt_ns(val(pp, C_P999), c, sizeof c),
			          ipcb_fmt_rate(val(sp, C_IPS), "msg/s", d, sizeof d), ipcb_fmt_rate(val(sb, C_BPS), "B/s", e, sizeof e),
			          isnan(val(sp, C_IPS) / val(ring, C_IPS)) ? "–" :
			          (snprintf(f, sizeof f, "%.1f%%", 100 * val(sp, C_IPS) / val(ring, C_IPS)), f),
			          fmt_ratio(val(pp, C_P50) / val(c2c, C_MEAN), g, sizeof g));
		}
}

/* Appends one row from cells[0 .. t->ncols). */
static void table_rowv(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		int cap = t->cap ? t->cap * 2 : 32;
		void *n = realloc(t->cell, (size_t)cap * sizeof *t->cell);
		if (!n)
			return;
		t->cell = n;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++)
		snprintf(t->cell[t->nrows][i], sizeof t->cell[0][0], "%s", cells[i]);
	t->nrows++;
}

#define MAX_PEERS 6 /* two columns each, beside mechanism and mode: TCOLS */

/*
 * Versus peers: each mechanism, in processes at the headline size and
 * placement, as how many times faster than each peer the run measured:
 * the peer's p50 round trip over ours, and our stream msgs/s over the
 * peer's. Above 1 is faster. Empty when the run has no peer beside them.
 */
static void table_peers(const struct run *r, struct table *t)
{
	size_t hs;
	const char *hp;
	headline(r, &hs, &hp);
	const char *peers[MAX_PEERS];
	int np = 0;
	for (size_t i = 0; i < sizeof peer_names / sizeof *peer_names && np < MAX_PEERS; i++)
		if (find(r, "pingpong", peer_names[i], 0, hp, hs) || find(r, "stream", peer_names[i], 0, hp, hs))
			peers[np++] = peer_names[i];
	if (!np || r->nmechs < 2)
		return;
	t->ncols = 2 + 2 * np;
	snprintf(t->head[0], sizeof t->head[0], "mechanism");
	snprintf(t->head[1], sizeof t->head[1], "mode");
	for (int k = 0; k < np; k++) {
		snprintf(t->head[2 + 2 * k], sizeof t->head[0], "× %s, p50", peers[k]);
		snprintf(t->head[3 + 2 * k], sizeof t->head[0], "× %s, msg/s", peers[k]);
	}
	for (int m = 0; m < r->nmechs; m++) {
		const struct row *pp = find(r, "pingpong", r->mechs[m], 0, hp, hs);
		const struct row *sp = find(r, "stream", r->mechs[m], 0, hp, hs);
		if (!pp && !sp)
			continue;
		char cells[TCOLS][48];
		const char *row[TCOLS] = { r->mechs[m], "process" };
		for (int k = 0; k < np; k++) {
			double lat = val(find(r, "pingpong", peers[k], 0, hp, hs), C_P50) / val(pp, C_P50);
			double tp = val(sp, C_IPS) / val(find(r, "stream", peers[k], 0, hp, hs), C_IPS);
			row[2 + 2 * k] = fmt_ratio(lat, cells[2 + 2 * k], sizeof cells[0]);
			row[3 + 2 * k] = fmt_ratio(tp, cells[3 + 2 * k], sizeof cells[0]);
		}
		table_rowv(t, row);
	}
}

/* Every row: name and its figures. */
static void table_all(const struct run *r, struct table *t)
{
	table_heads(t, 2, "benchmark", "result");
	for (size_t i = 0; i < r->n; i++) {
		const struct row *w = &r->rows[i];
		char cell[200], a[48], b[48], c[48];
		if (w->error)
			snprintf(cell, sizeof cell, "error: %.180s", w->errmsg);
		else if (!isnan(val(w, C_P50)))
			snprintf(cell, sizeof cell, "p50 %s, p99 %s, p99.9 %s", ipcb_fmt_ns(val(w, C_P50), a, sizeof a),
			         ipcb_fmt_ns(val(w, C_P99), b, sizeof b), ipcb_fmt_ns(val(w, C_P999), c, sizeof c));
		else if (!isnan(val(w, C_IPS)))
			snprintf(cell, sizeof cell, "%s, %s", ipcb_fmt_rate(val(w, C_IPS), "msg/s", a, sizeof a),
			         ipcb_fmt_rate(val(w, C_BPS), "B/s", b, sizeof b));
		else if (!isnan(val(w, C_BPS)))
			snprintf(cell, sizeof cell, "copy %s", ipcb_fmt_rate(val(w, C_BPS), "B/s", a, sizeof a));
		else if (!isnan(val(w, C_MEAN)))
			snprintf(cell, sizeof cell, "round trip %s (mean)", ipcb_fmt_ns(val(w, C_MEAN), a, sizeof a));
		else if (!isnan(val(w, C_TPS)) && !isnan(val(w, C_SPEEDUP)))
			snprintf(cell, sizeof cell, "%s, speedup %.2f", ipcb_fmt_rate(val(w, C_TPS), "tasks/s", a, sizeof a),
			         val(w, C_SPEEDUP));
		else if (!isnan(val(w, C_TPS)))
			snprintf(cell, sizeof cell, "%s", ipcb_fmt_rate(val(w, C_TPS), "tasks/s", a, sizeof a));
		else if (!isnan(val(w, C_SPAWN)))
			snprintf(cell, sizeof cell, "create and reap %s (mean)", ipcb_fmt_ns(val(w, C_SPAWN), a, sizeof a));
		else if (!isnan(val(w, C_OPS)))
			snprintf(cell, sizeof cell, "%s", ipcb_fmt_rate(val(w, C_OPS), "ops/s", a, sizeof a));
		else
			snprintf(cell, sizeof cell, "(no counter the report knows)");
		table_row(t, w->name, cell);
	}
}

/* --- report.md and index.html ------------------------------------------------------------- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes the file as base64; false if it cannot be read. */
static bool base64_file(FILE *out, const char *path)
{
	FILE *in = fopen(path, "rb");
	if (!in)
		return false;
	unsigned char b[3];
	size_t n;
	while ((n = fread(b, 1, 3, in)) > 0) {
		unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
		fputc(b64chars[v >> 18 & 63], out);
		fputc(b64chars[v >> 12 & 63], out);
		fputc(n > 1 ? b64chars[v >> 6 & 63] : '=', out);
		fputc(n > 2 ? b64chars[v & 63] : '=', out);
		if (n < 3)
			break;
	}
	fclose(in);
	return true;
}

struct doc {
	const char *title;
	const char *intro;            /* one paragraph, plain text */
	struct table machine, headline, all, extra;
	const char *headline_note;
	const char *extra_title;
	struct findings findings;
	char errors[16][480];
	int nerrors;
	size_t more_errors;
	char reproduce[2][1200];
	int nreproduce;
	const char *reproduce_note;
};

/* What stands in place of a chart that was not drawn: why (no data, or gnuplot's failure). */
static const char *undrawn_text(const struct out *o, const struct chart *c)
{
	if (!c->failed)
		return c->caption;
	return o->gnuplot_err[0] ? o->gnuplot_err : "Not drawn: gnuplot failed (see report/gnuplot.log).";
}

static void write_md(const struct out *o, const struct doc *d, FILE *f)
{
	fprintf(f, "# %s\n\n", d->title);
	md_text(f, d->intro);
	fputs("\n\n## Findings\n\n", f);
	for (int i = 0; i < d->findings.n; i++)
		fprintf(f, "- %s\n", d->findings.line[i]); /* bold marks are ours: written raw */
	if (!d->findings.n)
		fputs("No findings: the run has no rows to compare.\n", f);
	if (d->headline.nrows) {
		fputs("\n## Headline\n\n", f);
		if (d->headline_note)
			fprintf(f, "%s\n\n", d->headline_note);
		table_md(f, &d->headline);
	}
	if (d->extra.nrows) {
		fprintf(f, "\n## %s\n\n", d->extra_title);
		table_md(f, &d->extra);
	}
	fputs("\n## Charts\n\n", f);
	for (int i = 0; i < o->ncharts; i++) {
		const struct chart *c = &o->charts[i];
		fprintf(f, "### %s\n\n", c->title);
		if (c->drawn)
			fprintf(f, "![%s](report/%s.png)\n\n%s ([SVG](report/%s.svg), [data](report/%s.dat))\n\n", c->title,
			        c->base, c->caption, c->base, c->base);
		else
			fprintf(f, "%s\n\n", undrawn_text(o, c));
	}
	if (d->nerrors) {
		fputs("## Errors\n\n", f);
		for (int i = 0; i < d->nerrors; i++) {
			fputs("- ", f);
			md_text(f, d->errors[i]);
			fputc('\n', f);
		}
		if (d->more_errors)
			fprintf(f, "- … and %zu more (see results.json)\n", d->more_errors);
		fputc('\n', f);
	}
	fputs("## Reproduce\n\n", f);
	if (d->reproduce_note)
		fprintf(f, "%s\n\n", d->reproduce_note);
	fputs("```sh\n", f);
	for (int i = 0; i < d->nreproduce; i++)
		fprintf(f, "%s\n", d->reproduce[i]);
	fputs("```\n\nThe charts are redrawn from their data files with `sh report/replot.sh`.\n", f);
	if (d->machine.nrows) {
		fputs("\n## Machine and environment\n\n", f);
		table_md(f, &d->machine);
	}
	if (d->all.nrows) {
		fputs("## Every row\n\n", f);
		table_md(f, &d->all);
	}
}

static void write_html(const struct out *o, const struct doc *d, FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	      f);
	html_text(f, d->title);
	fputs("</title>\n<style>\n"
	      "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1300px;margin:2em auto;"
	      "padding:0 1em;color:#222;line-height:1.45}\n"
	      "h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}\n"
	      "table{border-collapse:collapse;margin:.5em 0 1em;font-size:.92em}\n"
	      "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}\n"
	      "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}\n"
	      "figure{margin:1.2em 0 2em}figure img{max-width:100%;height:auto;border:1px solid #eee}\n"
	      "figcaption{color:#444;font-size:.95em;margin-top:.3em}\n"
	      ".nodata{background:#fff8e1;border:1px solid #f0d890;padding:.6em 1em}\n"
	      "pre{background:#f6f8fa;padding:.8em;overflow-x:auto}\n"
	      "</style>\n</head>\n<body>\n<h1>",
	      f);
	html_text(f, d->title);
	fputs("</h1>\n<p>", f);
	html_text(f, d->intro);
	fputs("</p>\n<h2>Findings</h2>\n<ul>\n", f);
	for (int i = 0; i < d->findings.n; i++) {
		fputs("<li>", f);
		html_rich(f, d->findings.line[i]);
		fputs("</li>\n", f);
	}
	if (!d->findings.n)
		fputs("<li>No findings: the run has no rows to compare.</li>\n", f);
	fputs("</ul>\n", f);
	if (d->headline.nrows) {
		fputs("<h2>Headline</h2>\n", f);
		if (d->headline_note) {
			fputs("<p>", f);
			html_text(f, d->headline_note);
			fputs("</p>\n", f);
		}
		table_html(f, &d->headline);
	}
	if (d->extra.nrows) {
		fputs("<h2>", f);
		html_text(f, d->extra_title);
		fputs("</h2>\n", f);
		table_html(f, &d->extra);
	}
	fputs("<h2>Charts</h2>\n", f);
	for (int i = 0; i < o->ncharts; i++) {
		const struct chart *c = &o->charts[i];
		fputs("<h3>", f);
		html_text(f, c->title);
		fputs("</h3>\n", f);
		char path[PATH_MAX + 128];
		snprintf(path, sizeof path, "%s/%s.svg", o->sub, c->base);
		if (c->drawn) {
			fputs("<figure><img alt=\"", f);
			html_text(f, c->title);
			fputs("\" src=\"data:image/svg+xml;base64,", f);
			base64_file(f, path);
			fputs("\"><figcaption>", f);
			html_text(f, c->caption);
			fprintf(f, " (<a href=\"report/%s.svg\">SVG</a>, <a href=\"report/%s.png\">PNG</a>, "
			           "<a href=\"report/%s.dat\">data</a>)</figcaption></figure>\n",
			        c->base, c->base, c->base);
		} else {
			fputs("<p class=nodata>", f);
			html_text(f, undrawn_text(o, c));
			fputs("</p>\n", f);
		}
	}
	if (d->nerrors) {
		fputs("<h2>Errors</h2>\n<ul>\n", f);
		for (int i = 0; i < d->nerrors; i++) {
			fputs("<li>", f);
			html_text(f, d->errors[i]);
			fputs("</li>\n", f);
		}
		if (d->more_errors)
			fprintf(f, "<li>… and %zu more (see results.json)</li>\n", d->more_errors);
		fputs("</ul>\n", f);
	}
	fputs("<h2>Reproduce</h2>\n", f);
	if (d->reproduce_note) {
		fputs("<p>", f);
		html_text(f, d->reproduce_note);
		fputs("</p>\n", f);
	}
	fputs("<pre>", f);
	for (int i = 0; i < d->nreproduce; i++) {
		html_text(f, d->reproduce[i]);
		fputc('\n', f);
	}
	fputs("</pre>\n<p>The charts are redrawn from their data files with <code>sh report/replot.sh</code>.</p>\n", f);
	if (d->machine.nrows) {
		fputs("<h2>Machine and environment</h2>\n", f);
		table_html(f, &d->machine);
	}
	if (d->all.nrows) {
		fputs("<h2>Every row</h2>\n<details><summary>show all rows</summary>\n", f);
		table_html(f, &d->all);
		fputs("</details>\n", f);
	}
	fputs("</body>\n</html>\n", f);
}

/* Writes report.md and index.html into o->dir; 0 or -1 (message printed). */
static int write_docs(const struct out *o, const struct doc *d)
{
	static const char *const names[] = { "report.md", "index.html" };
	for (int k = 0; k < 2; k++) {
		char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
		snprintf(path, sizeof path, "%s/%s", o->dir, names[k]);
		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		FILE *f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, "ipcbench report: cannot write %s: %s\n", tmp, strerror(errno));
			return -1;
		}
		if (k == 0)
			write_md(o, d, f);
		else
			write_html(o, d, f);
		if (fclose(f) != 0 || rename(tmp, path) != 0) {
			fprintf(stderr, "ipcbench report: writing %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void collect_errors(const struct run *r, struct doc *d)
{
	for (size_t i = 0; i < r->n; i++) {
		if (!r->rows[i].error)
			continue;
		if (d->nerrors < 16)
			snprintf(d->errors[d->nerrors++], sizeof d->errors[0], "%.200s: %.270s", r->rows[i].name, r->rows[i].errmsg);
		else
			d->more_errors++;
	}
}

/* The command that made the run: context "command" (recorded by `ipcbench
 * run` since issue 6), else the suite it ran. */
static void reproduce_cmd(const struct run *r, struct doc *d)
{
	const char *cmd = ctx_str(r, "command");
	const char *rev = ctx_str(r, "git_revision");
	if (rev && strcmp(rev, "unknown")) {
		char clean[64];
		snprintf(clean, sizeof clean, "%s", rev);
		char *dirty = strstr(clean, "-dirty");
		if (dirty)
			*dirty = 0;
		snprintf(d->reproduce[d->nreproduce++], sizeof d->reproduce[0],
		         "git checkout %s   # the tree this run was built from%s", clean,
		         dirty ? " (it had uncommitted changes)" : "");
	}
	if (cmd) {
		snprintf(d->reproduce[d->nreproduce++], sizeof d->reproduce[0], "%s", cmd);
	} else {
		const char *suite = ctx_str(r, "suite");
		snprintf(d->reproduce[d->nreproduce++], sizeof d->reproduce[0], "ipcbench run --suite %s",
		         suite ? suite : "quick");
		d->reproduce_note = "This results file does not record its command line (runs before issue 6 did not); "
		                    "the line below reruns the same suite, without any filters the original run had.";
	}
}

/* --- one run ---------------------------------------------------------------------------- */

static int report_one(const struct run *r, const char *outdir)
{
	struct out *o = calloc(1, sizeof *o);
	struct doc *d = calloc(1, sizeof *d);
	char err[PATH_MAX + 200];
	int rc = 1;
	if (!o || !d) {
		fprintf(stderr, "ipcbench report: out of memory\n");
		goto done;
	}
	if (out_open(o, outdir, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench report: %s\n", err);
		goto done;
	}
	size_t hs;
	const char *hp;
	headline(r, &hs, &hp);

	int nplaces_tp = 0;
	for (int p = 0; p < r->nplaces; p++)
		if (find(r, "stream", NULL, -1, r->places[p], 0)) {
			chart_throughput(o, r, r->places[p]);
			nplaces_tp++;
		}
	if (!nplaces_tp)
		chart_nodata(o, "throughput", "Throughput vs message size",
		             "No data: this run has no successful 1→1 stream rows (run a suite with the stream workload).");
	bool any_pp = false;
	for (int s = 0; s < r->nsizes; s++)
		if (find(r, "pingpong", NULL, -1, NULL, r->sizes[s])) {
			chart_latency(o, r, r->sizes[s]);
			any_pp = true;
		}
	if (any_pp) {
		chart_cdf(o, r, hs, hp);
		for (int s = 0; s < r->nsizes; s++)
			if (find(r, "pingpong", NULL, -1, NULL, r->sizes[s]))
				chart_heatmap(o, r, r->sizes[s]);
	} else {
		chart_nodata(o, "latency", "Round-trip percentiles, distribution and placement heat-map",
		             "No data: this run has no successful pingpong rows (run a suite with the pingpong workload).");
	}
	chart_efficiency(o, r);
	chart_peers(o, r, hs, hp);
	chart_pool(o, r, "cpu");
	chart_pool(o, r, "io");
	fclose(o->replot);
	o->replot = NULL;

	char title[300], intro[1200], sz[32], note[300];
	snprintf(title, sizeof title, "ipcbench report: %s", r->label);
	snprintf(intro, sizeof intro,
	         "Run %s (suite %s, %zu benchmark rows) on %.100s, %s PUs, kernel %.200s, hypervisor %.100s. Measured %s. "
	         "All figures come from results.json in this folder.",
	         r->label, ctx_or(r, "suite", "?"), r->n, ctx_or(r, "cpu_model", "an unknown CPU"), ctx_or(r, "pus", "?"),
	         ctx_or(r, "kernel", "?"), ctx_or(r, "hypervisor", "?"), ctx_or(r, "date", "at an unrecorded time"));
	d->title = title;
	d->intro = intro;
	snprintf(note, sizeof note,
	         "Pingpong percentiles and stream msgs/s at %s, %s; the stream column after it is the largest size. "
	         "Round-trip figures are full round trips (ns/µs/ms).",
	         fmt_size(hs, sz, sizeof sz), hp);
	d->headline_note = note;
	compute_findings(r, &d->findings);
	table_machine(r, &d->machine);
	table_headline(r, &d->headline);
	char peers_title[200];
	snprintf(peers_title, sizeof peers_title,
	         "Versus peers (processes, %s, %s: how many times faster than the peer; above 1 is faster)",
	         fmt_size(hs, sz, sizeof sz), hp);
	d->extra_title = peers_title;
	table_peers(r, &d->extra);
	table_all(r, &d->all);
	collect_errors(r, d);
	reproduce_cmd(r, d);
	if (write_docs(o, d) != 0)
		goto done;
	if (o->gnuplot_err[0])
		fprintf(stderr, "ipcbench report: %s\n", o->gnuplot_err);
	int drawn = 0, nodata = 0;
	for (int i = 0; i < o->ncharts; i++) {
		drawn += o->charts[i].drawn;
		nodata += !o->charts[i].drawn && !o->charts[i].failed;
	}
	printf("report: %s/index.html, %s/report.md (%d chart%s in %s, %d without data)\n", o->dir, o->dir, drawn,
	       drawn == 1 ? "" : "s", o->sub, nodata);
	rc = o->failures ? 1 : 0;
done:
	if (o && o->replot)
		fclose(o->replot);
	if (d) {
		table_free(&d->machine);
		table_free(&d->headline);
		table_free(&d->all);
		table_free(&d->extra);
	}
	free(o);
	free(d);
	return rc;
}

/* --- --compare A B ---------------------------------------------------------------------------- */

/* Throughput of both runs at one placement: pairs of blocks (A dashed, B solid). */
static void compare_throughput(struct out *o, const struct run *a, const struct run *b, const char *place)
{
	char base[96], title[200];
	snprintf(base, sizeof base, "compare-throughput-%s", place);
	snprintf(title, sizeof title, "Throughput vs message size, A and B (%s)", place);
	const struct run *runs[2] = { a, b };
	size_t sizes[MAX_SIZES * 2];
	int nsizes = 0;
	for (int k = 0; k < 2; k++)
		for (int s = 0; s < runs[k]->nsizes; s++) {
			bool seen = false;
			for (int i = 0; i < nsizes; i++)
				seen |= sizes[i] == runs[k]->sizes[s];
			if (!seen)
				sizes[nsizes++] = runs[k]->sizes[s];
		}
	qsort(sizes, (size_t)nsizes, sizeof *sizes, cmp_size);
	bool any[MODE_N] = { false, false };
	for (int k = 0; k < 2; k++)
		for (int mode = 0; mode < MODE_N; mode++)
			any[mode] |= find(runs[k], "stream", NULL, mode, place, 0) != NULL;
	if (!any[0] && !any[1]) {
		chart_nodata(o, base, title, "No data: neither run has a successful 1→1 stream row at %s.", place);
		return;
	}
	FILE *f = dat_open(o, base, "stream throughput (bytes/s) of runs A and B");
	if (!f)
		return;
	const struct row *ring = find(b, "limit", "ring", -1, place, 0);
	fputs("size \"\" \"\"\n? ? ?\n\n\nsize ", f); /* the limit lines of B only, to keep the chart readable */
	if (ring)
		fprintf(f, "\"limit/ring (B)\" \"limit/ring (B)\"\n%zu %.6g %.6g\n", ring->size, val(ring, C_BPS),
		        val(ring, C_BPS));
	else
		fputs("\"\" \"\"\n? ? ?\n", f);
	/* the union of mechanisms, A's order first */
	char mechs[MAX_MECHS * 2][32];
	int nm = 0;
	for (int k = 0; k < 2; k++)
		for (int m = 0; m < runs[k]->nmechs; m++) {
			bool seen = false;
			for (int i = 0; i < nm; i++)
				seen |= !strcmp(mechs[i], runs[k]->mechs[m]);
			if (!seen)
				snprintf(mechs[nm++], sizeof mechs[0], "%s", runs[k]->mechs[m]);
		}
	for (int m = 0; m < nm; m++)
		for (int k = 0; k < 2; k++) {
			fputs("\n\nsize", f);
			for (int mode = 0; mode < MODE_N; mode++) {
				if (find(runs[k], "stream", mechs[m], mode, place, 0))
					fprintf(f, " \"%s %s\"", mechs[m], k ? "B" : "A");
				else
					fputs(" \"\"", f);
			}
			fputc('\n', f);
			for (int s = 0; s < nsizes; s++) {
				fprintf(f, "%zu", sizes[s]);
				for (int mode = 0; mode < MODE_N; mode++)
					dat_val(f, val(find(runs[k], "stream", mechs[m], mode, place, sizes[s]), C_BPS));
				fputc('\n', f);
			}
		}
	fclose(f);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Stream throughput (bytes/s) against message size at %s, log–log, run A (%s) dashed and run B (%s) "
	         "solid, same colour per mechanism; processes left, threads right; black cross: limit/ring of run B.",
	         place, a->label, b->label);
	char vars[200];
	snprintf(vars, sizeof vars, "place='%s'; left=%d; right=%d; pairs=1", place, any[0], any[1]);
	chart_draw(o, c, "throughput.gp", vars);
}

static void compare_latency(struct out *o, const struct run *a, const struct run *b, size_t size)
{
	char base[96], title[200], sz[32];
	fmt_size(size, sz, sizeof sz);
	snprintf(base, sizeof base, "compare-latency-%zu", size);
	snprintf(title, sizeof title, "Round trip at %s, A and B", sz);
	FILE *f = NULL;
	int count[MODE_N] = { 0, 0 };
	for (int mode = 0; mode < MODE_N; mode++) {
		for (int m = 0; m < b->nmechs; m++)
			for (int p = 0; p < b->nplaces; p++) {
				const struct row *wa = find(a, "pingpong", b->mechs[m], mode, b->places[p], size);
				const struct row *wb = find(b, "pingpong", b->mechs[m], mode, b->places[p], size);
				if (!wa && !wb)
					continue;
				if (!f && !(f = dat_open(o, base, "pingpong p50 and p99 (ns) of runs A and B")))
					return;
				if (!count[mode])
					fprintf(f, "%s# %s\n", mode ? "\n\n" : "", mode_names[mode]);
				fprintf(f, "%d \"%s %s\"", count[mode]++, b->mechs[m], b->places[p]);
				dat_val(f, val(wa, C_P50));
				dat_val(f, val(wa, C_P99));
				dat_val(f, val(wb, C_P50));
				dat_val(f, val(wb, C_P99));
				fputc('\n', f);
			}
		if (f && !count[mode])
			fprintf(f, "%s# %s: no rows\n? \"\" ? ? ? ?\n", mode ? "\n\n" : "", mode_names[mode]);
	}
	if (!f) {
		chart_nodata(o, base, title, "No data: neither run has a successful pingpong row at %s.", sz);
		return;
	}
	fclose(f);
	struct chart *c = chart_add(o, base, title);
	if (!c)
		return;
	snprintf(c->caption, sizeof c->caption,
	         "Pingpong round trip at %s, p50 and p99, log scale: run A (%s) hollow on the left of each column, "
	         "run B (%s) filled on the right; processes left, threads right.",
	         sz, a->label, b->label);
	char vars[300];
	snprintf(vars, sizeof vars, "size='%s'; runa='A'; runb='B'; left=%d; right=%d", sz, count[0] > 0, count[1] > 0);
	chart_draw(o, c, "compare-latency.gp", vars);
}

/* B ÷ A for every row both runs measured. */
static void table_compare(const struct run *a, const struct run *b, struct table *t)
{
	table_heads(t, 5, "benchmark", "figure", "A", "B", "B ÷ A");
	for (size_t i = 0; i < b->n; i++) {
		const struct row *wb = &b->rows[i], *wa = NULL;
		for (size_t j = 0; j < a->n && !wa; j++)
			if (!strcmp(a->rows[j].name, wb->name))
				wa = &a->rows[j];
		if (!wa || wa->error || wb->error)
			continue;
		char x[48], y[48], z[48];
		static const enum counter ks[] = { C_P50, C_P99, C_IPS, C_MEAN, C_BPS };
		for (size_t k = 0; k < sizeof ks / sizeof *ks; k++) {
			double va = val(wa, ks[k]), vb = val(wb, ks[k]);
			if (isnan(va) || isnan(vb))
				continue;
			bool time = ks[k] == C_P50 || ks[k] == C_P99 || ks[k] == C_MEAN;
			table_row(t, wb->name, counter_names[ks[k]], time ? ipcb_fmt_ns(va, x, sizeof x) : ipcb_fmt_rate(va, "/s", x, sizeof x),
			          time ? ipcb_fmt_ns(vb, y, sizeof y) : ipcb_fmt_rate(vb, "/s", y, sizeof y), fmt_ratio(vb / va, z, sizeof z));
			if (ks[k] == C_IPS || ks[k] == C_MEAN)
				break; /* one throughput figure per row is enough */
		}
	}
}

static int report_compare(const struct run *a, const struct run *b, const char *outdir)
{
	struct out *o = calloc(1, sizeof *o);
	struct doc *d = calloc(1, sizeof *d);
	char err[PATH_MAX + 200];
	int rc = 1;
	if (!o || !d) {
		fprintf(stderr, "ipcbench report: out of memory\n");
		goto done;
	}
	if (out_open(o, outdir, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench report: %s\n", err);
		goto done;
	}
	int drawn_places = 0;
	for (int p = 0; p < b->nplaces; p++)
		if (find(b, "stream", NULL, -1, b->places[p], 0) || find(a, "stream", NULL, -1, b->places[p], 0)) {
			compare_throughput(o, a, b, b->places[p]);
			drawn_places++;
		}
	if (!drawn_places)
		chart_nodata(o, "compare-throughput", "Throughput, A and B", "No data: run B has no stream rows.");
	bool any = false;
	for (int s = 0; s < b->nsizes; s++)
		if (find(b, "pingpong", NULL, -1, NULL, b->sizes[s]) || find(a, "pingpong", NULL, -1, NULL, b->sizes[s])) {
			compare_latency(o, a, b, b->sizes[s]);
			any = true;
		}
	if (!any)
		chart_nodata(o, "compare-latency", "Round trip, A and B", "No data: run B has no pingpong rows.");
	fclose(o->replot);
	o->replot = NULL;

	char title[400], intro[1600];
	const char *ma = ctx_str(a, "machine_id"), *mb = ctx_str(b, "machine_id");
	bool same = ma && mb && !strcmp(ma, mb);
	snprintf(title, sizeof title, "ipcbench: %s (A) against %s (B)", a->label, b->label);
	snprintf(intro, sizeof intro,
	         "Run A: %.500s (suite %.40s, %.40s). Run B: %.500s (suite %.40s, %.40s). %s",
	         a->json, ctx_or(a, "suite", "?"), ctx_or(a, "date", "?"), b->json, ctx_or(b, "suite", "?"),
	         ctx_or(b, "date", "?"),
	         same ? "Both ran on the same machine (equal machine_id)."
	              : "WARNING: the runs come from different machines (machine_id differs or is missing): "
	                "the ratios compare machines as much as code.");
	d->title = title;
	d->intro = intro;
	d->extra_title = "B against A, row by row";
	table_compare(a, b, &d->extra);
	table_machine(b, &d->machine);
	reproduce_cmd(b, d);
	if (write_docs(o, d) != 0)
		goto done;
	if (o->gnuplot_err[0])
		fprintf(stderr, "ipcbench report: %s\n", o->gnuplot_err);
	printf("compare report: %s/index.html, %s/report.md\n", o->dir, o->dir);
	rc = o->failures ? 1 : 0;
done:
	if (o && o->replot)
		fclose(o->replot);
	if (d) {
		table_free(&d->machine);
		table_free(&d->extra);
	}
	free(o);
	free(d);
	return rc;
}

/* --- the command line ------------------------------------------------------------------------- */

static const char usage_report[] =
	"usage: ipcbench report [--out DIR] RESULTS\n"
	"       ipcbench report --compare A B [--out DIR]\n"
	"\n"
	"Charts and a report from a results folder written by `ipcbench run`\n"
	"(RESULTS = the folder, e.g. results/latest, or its results.json):\n"
	"  RESULTS/report.md, RESULTS/index.html (self-contained: charts embedded),\n"
	"  RESULTS/report/*.svg, *.png and the *.dat each chart is drawn from, the\n"
	"  gnuplot scripts and replot.sh (the exact commands, to redraw by hand).\n"
	"\n"
	"  --compare A B   two runs on the same charts (throughput, round trip) and\n"
	"                  a table of B ÷ A for every row both measured; written to\n"
	"                  B/compare unless --out is given\n"
	"  --out DIR       write the report to DIR instead\n"
	"Needs gnuplot (apt-get install gnuplot-nox). Scripts are read from\n"
	"$IPCB_PLOTS_DIR, else the source tree's plots/ folder.\n"
	"Exit status: 0 done; 1 a chart or file could not be written; 2 bad usage or\n"
	"a results file that is unreadable or not ipcbench's.\n";

int ipcb_report_main(int argc, char **argv)
{
	const char *outdir = NULL, *pos[3] = { NULL, NULL, NULL };
	int npos = 0;
	bool compare = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
			fputs(usage_report, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--compare")) {
			compare = true;
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			outdir = argv[++i];
		} else if (!strncmp(argv[i], "--out=", 6)) {
			outdir = argv[i] + 6;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "ipcbench report: unknown option '%s'\n%s", argv[i], usage_report);
			return 2;
		} else if (npos < 3) {
			pos[npos++] = argv[i];
		} else {
			npos++;
		}
	}
	if (npos != (compare ? 2 : 1) || (outdir && !*outdir)) {
		fprintf(stderr, "ipcbench report: %s\n%s",
		        compare ? "--compare needs two results folders, A (before) and B (after)"
		                : "give one results folder (e.g. results/latest)",
		        usage_report);
		return 2;
	}
	struct run *runs = calloc(2, sizeof *runs);
	char err[PATH_MAX * 2 + 400];
	int rc = 2;
	if (!runs) {
		fprintf(stderr, "ipcbench report: out of memory\n");
		return 1;
	}
	for (int k = 0; k < npos; k++)
		if (run_load(&runs[k], pos[k], err, sizeof err) != 0) {
			fprintf(stderr, "ipcbench report: %s\n", err);
			goto done;
		}
	for (int k = 0; k < npos; k++)
		if (runs[k].foreign)
			fprintf(stderr, "ipcbench report: %s: %zu rows with names that are not ipcbench's were left out\n",
			        runs[k].json, runs[k].foreign);
	char dir[PATH_MAX + 16];
	if (compare) {
		snprintf(dir, sizeof dir, "%s/compare", runs[1].dir);
		rc = report_compare(&runs[0], &runs[1], outdir ? outdir : dir);
	} else {
		rc = report_one(&runs[0], outdir ? outdir : runs[0].dir);
	}
done:
	run_free(&runs[0]);
	run_free(&runs[1]);
	free(runs);
	return rc;
}
