/*
 * findings.c - speedups and "What this machine says" (see findings.h).
 *
 * Sections: names and figure rows; speedup; the findings (dispatch, grain
 * crossover, speedup, io against the ideal, memory per worker, spawn,
 * shared counters, waking after idle); writing them into results.json.
 */
#include "findings.h"
#include "gbench.h"
#include "placement.h"
#include "runner.h"
#include "stats.h"
#include "units.h"
#include "workload.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* --- names and figure rows ----------------------------------------------------- */

struct nm {
	char wl[16], mech[32], mode[16], place[32], task[16], idle[16];
	int grain, workers, conc; /* -1 when the name has none */
};

static bool seg_int(const char *seg, const char *key, int *v)
{
	size_t n = strlen(key);
	if (strncmp(seg, key, n) || seg[n] != ':')
		return false;
	*v = atoi(seg + n + 1);
	return true;
}

/* Splits a clean run name (DESIGN.md §4) into its parts; false for limit rows and foreign names. */
static bool nm_parse(const char *name, struct nm *n)
{
	char buf[256], *seg[12], *save = NULL;
	int k = 0;
	memset(n, 0, sizeof *n);
	n->grain = n->workers = n->conc = -1;
	snprintf(buf, sizeof buf, "%s", name);
	for (char *t = strtok_r(buf, "/", &save); t && k < 12; t = strtok_r(NULL, "/", &save))
		seg[k++] = t;
	if (k < 4 || !strcmp(seg[0], "limit"))
		return false;
	snprintf(n->wl, sizeof n->wl, "%s", seg[0]);
	snprintf(n->mech, sizeof n->mech, "%s", seg[1]);
	snprintf(n->mode, sizeof n->mode, "%s", seg[2]);
	snprintf(n->place, sizeof n->place, "%s", seg[3]);
	for (int i = 4; i < k; i++) {
		int v;
		if (seg_int(seg[i], "grain", &v))
			n->grain = v;
		else if (seg_int(seg[i], "workers", &v))
			n->workers = v;
		else if (seg_int(seg[i], "concurrency", &v))
			n->conc = v;
		else if (!strncmp(seg[i], "task:", 5))
			snprintf(n->task, sizeof n->task, "%s", seg[i] + 5);
		else if (!strncmp(seg[i], "idle:", 5))
			snprintf(n->idle, sizeof n->idle, "%s", seg[i] + 5);
	}
	return true;
}

static void run_name(const struct ipcb_gb_result *r, char *buf, size_t len)
{
	ipcb_clean_name(r->run_name && *r->run_name ? r->run_name : r->name, buf, len);
}

/* One figure per benchmark: its median aggregate, else its mean, else its first repetition. */
struct fig {
	size_t i; /* result row */
	int prio;
	struct nm n;
	char name[256];
};

static int row_prio(const struct ipcb_gb_result *r)
{
	if (r->run_type == IPCB_GB_RUN_AGGREGATE)
		return !strcmp(r->aggregate_name, "median") ? 3 : !strcmp(r->aggregate_name, "mean") ? 2 : 0;
	return r->repetition_index == 0 ? 1 : 0;
}

static size_t figures(struct fig **out)
{
	size_t n = ipcb_gb_result_count(), k = 0;
	struct fig *f = calloc(n ? n : 1, sizeof *f);
	*out = f;
	if (!f)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct ipcb_gb_result *r = ipcb_gb_result_at(i);
		int prio = row_prio(r);
		if (!prio || r->error_occurred)
			continue;
		char name[256];
		run_name(r, name, sizeof name);
		size_t j;
		for (j = 0; j < k && strcmp(f[j].name, name); j++)
			;
		if (j < k) {
			if (prio > f[j].prio) {
				f[j].i = i;
				f[j].prio = prio;
			}
			continue;
		}
		struct nm nm;
		if (!nm_parse(name, &nm))
			continue;
		f[k] = (struct fig){ .i = i, .prio = prio, .n = nm };
		snprintf(f[k].name, sizeof f[k].name, "%s", name);
		k++;
	}
	return k;
}

static double cnt(const struct fig *f, const char *counter)
{
	double v;
	return ipcb_gb_result_counter(ipcb_gb_result_at(f->i), counter, &v) ? v : NAN;
}

/* --- speedup ------------------------------------------------------------------------ */

void ipcb_pool_speedups(double *speedup, double *efficiency, size_t n)
{
	for (size_t i = 0; i < n; i++)
		speedup[i] = efficiency[i] = NAN;
	for (size_t i = 0; i < n && i < ipcb_gb_result_count(); i++) {
		const struct ipcb_gb_result *r = ipcb_gb_result_at(i);
		double tps, base;
		if (r->error_occurred || !ipcb_gb_result_counter(r, "tasks_per_second", &tps))
			continue;
		if (r->run_type == IPCB_GB_RUN_AGGREGATE && strcmp(r->aggregate_name, "mean") &&
		    strcmp(r->aggregate_name, "median") && strcmp(r->aggregate_name, "min") &&
		    strcmp(r->aggregate_name, "max"))
			continue;
		char name[256], want[256];
		struct nm nm;
		run_name(r, name, sizeof name);
		if (!nm_parse(name, &nm) || strcmp(nm.wl, "cpu") || nm.workers < 1)
			continue;
		/* the sibling: the same name with /workers:1 */
		const char *w = strstr(name, "/workers:");
		if (!w)
			continue;
		const char *rest = strchr(w + 1, '/');
		snprintf(want, sizeof want, "%.*s/workers:1%s", (int)(w - name), name, rest ? rest : "");
		for (size_t j = 0; j < ipcb_gb_result_count(); j++) {
			const struct ipcb_gb_result *b = ipcb_gb_result_at(j);
			char bn[256];
			if (b->error_occurred || b->run_type != r->run_type || strcmp(b->aggregate_name, r->aggregate_name) ||
			    (r->run_type == IPCB_GB_RUN_ITERATION && b->repetition_index != r->repetition_index))
				continue;
			run_name(b, bn, sizeof bn);
			if (strcmp(bn, want) || !ipcb_gb_result_counter(b, "tasks_per_second", &base) || !(base > 0))
				continue;
			speedup[i] = tps / base;
			efficiency[i] = speedup[i] / nm.workers;
			break;
		}
	}
}

/* --- findings -------------------------------------------------------------------------- */

static void add(struct ipcb_findings *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct ipcb_findings *fs, const char *fmt, ...)
{
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 16;
		void *p = realloc(fs->line, cap * sizeof *fs->line);
		if (!p)
			return;
		fs->line = p;
		fs->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs->line[fs->n++], sizeof fs->line[0], fmt, ap);
	va_end(ap);
}

static const char *fmt_grain(int us, char *buf, size_t len)
{
	if (us == 0)
		snprintf(buf, len, "empty tasks");
	else if (us >= 1000 && us % 1000 == 0)
		snprintf(buf, len, "%d ms", us / 1000);
	else
		snprintf(buf, len, "%d µs", us);
	return buf;
}

static const char *fmt_bytes(double b, char *buf, size_t len)
{
	if (isnan(b))
		snprintf(buf, len, "–");
	else if (fabs(b) >= 1048576.0)
		snprintf(buf, len, "%.1f MiB", b / 1048576.0);
	else
		snprintf(buf, len, "%.0f KiB", b / 1024.0);
	return buf;
}

static bool same_group(const struct nm *a, const struct nm *b)
{
	return !strcmp(a->wl, b->wl) && !strcmp(a->mech, b->mech) && !strcmp(a->place, b->place) &&
	       !strcmp(a->task, b->task);
}

/* The figure of workload wl like g with the given mode, grain, workers, concurrency (-2: any). */
static const struct fig *find(const struct fig *f, size_t n, const struct nm *g, const char *mode, int grain,
                              int workers, int conc)
{
	for (size_t i = 0; i < n; i++) {
		const struct nm *x = &f[i].n;
		if (same_group(x, g) && !strcmp(x->mode, mode) && (grain == -2 || x->grain == grain) &&
		    (workers == -2 || x->workers == workers) && (conc == -2 || x->conc == conc))
			return &f[i];
	}
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Distinct values of the field (grain, workers or conc) in group g, sorted. */
static int values(const struct fig *f, size_t n, const struct nm *g, int which, int *out, int max)
{
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!same_group(&f[i].n, g))
			continue;
		int v = which == 0 ? f[i].n.grain : which == 1 ? f[i].n.workers : f[i].n.conc;
		bool dup = false;
		for (int j = 0; j < k; j++)
			dup |= out[j] == v;
		if (!dup && k < max)
			out[k++] = v;
	}
	qsort(out, (size_t)k, sizeof *out, cmp_int);
	return k;
}

/* True the first time group g (by wl, mech, place, task) is seen at index i. */
static bool first_of_group(const struct fig *f, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (same_group(&f[j].n, &f[i].n))
			return false;
	return true;
}

/* The placement pool findings speak of: the nearest cross-* run, else os, else the first one run. */
static const char *pool_place(const struct fig *f, size_t n, const char *wl)
{
	const char *first = NULL, *cross = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].n.wl, wl))
			continue;
		int r = ipcb_cross_rank(f[i].n.place);
		if (r >= 0 && (!cross || r < ipcb_cross_rank(cross)))
			cross = f[i].n.place;
		if (!first || (!strcmp(f[i].n.place, "os") && strcmp(first, "os")))
			first = f[i].n.place;
	}
	return cross ? cross : first;
}

/* Appends to text at *off (bounded). */
static void cat(char *text, size_t len, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void cat(char *text, size_t len, size_t *off, const char *fmt, ...)
{
	if (*off >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(text + *off, len - *off, fmt, ap);
	va_end(ap);
	if (k > 0)
		*off += (size_t)k;
}

static const char *const mode_names[2] = { "process", "thread" };

/* Pool dispatch: empty tasks, every mechanism, tasks/s at each worker count; one line per mode. */
static void find_dispatch(struct ipcb_findings *fs, const struct fig *f, size_t n)
{
	const char *place = pool_place(f, n, "cpu");
	double best = NAN;
	const char *best_mech = NULL;
	for (int m = 0; place && m < 2; m++) {
		char text[300] = "", a[48];
		size_t off = 0;
		int wl[16], nwl = 0; /* worker counts met, for the header */
		for (size_t i = 0; i < n; i++) {
			if (strcmp(f[i].n.wl, "cpu") || strcmp(f[i].n.place, place) || !first_of_group(f, i))
				continue;
			int ws[16];
			int nw = values(f, n, &f[i].n, 1, ws, 16);
			bool any = false;
			for (int k = 0; k < nw; k++) {
				const struct fig *x = find(f, n, &f[i].n, mode_names[m], 0, ws[k], -2);
				if (!x)
					continue;
				double tps = cnt(x, "tasks_per_second");
				if (m == 0 && ws[k] == 1 && (isnan(best) || tps > best)) {
					best = tps;
					best_mech = x->n.mech;
				}
				ipcb_fmt_rate(tps, "", a, sizeof a);
				a[strcspn(a, " ")] = 0; /* no unit: "5.61M" */
				if (!any)
					cat(text, sizeof text, &off, "%s%s ", off ? ", " : "", f[i].n.mech);
				cat(text, sizeof text, &off, "%s%s", any ? " / " : "", a);
				bool seen = false;
				for (int j = 0; j < nwl; j++)
					seen |= wl[j] == ws[k];
				if (!seen && nwl < 16)
					wl[nwl++] = ws[k];
				any = true;
			}
		}
		if (!off)
			continue;
		qsort(wl, (size_t)nwl, sizeof *wl, cmp_int);
		char hdr[80] = "", tail[200] = "";
		size_t hoff = 0;
		for (int j = 0; j < nwl; j++)
			cat(hdr, sizeof hdr, &hoff, "%s%d", j ? " / " : "", wl[j]);
		if (m == 0 && best_mech)
			snprintf(tail, sizeof tail, "; the fastest one-worker process pool (%s) costs %s per task", best_mech,
			         ipcb_fmt_ns(1e9 / best, a, sizeof a));
		add(fs, "Pool dispatch, empty tasks through apply_async with a callback, %s pools (%s), tasks/s with %s "
		        "worker%s: %s%s.",
		    mode_names[m], place, hdr, nwl == 1 && wl[0] == 1 ? "" : "s", text, tail);
	}
}

/* Where a process pool stops losing to a thread pool: per mechanism, at the most workers both modes ran. */
static void find_crossover(struct ipcb_findings *fs, const struct fig *f, size_t n)
{
	const double lose = 0.9; /* "loses": more than 10% fewer tasks per second */
	const char *place = pool_place(f, n, "cpu");
	for (size_t i = 0; place && i < n; i++) {
		if (strcmp(f[i].n.wl, "cpu") || strcmp(f[i].n.place, place) || !first_of_group(f, i))
			continue;
		int gs[16], ws[16];
		int ng = values(f, n, &f[i].n, 0, gs, 16), nw = values(f, n, &f[i].n, 1, ws, 16);
		for (int k = nw - 1; k >= 0; k--) {
			double ratio[16];
			int have = 0;
			for (int g = 0; g < ng; g++) {
				const struct fig *p = find(f, n, &f[i].n, "process", gs[g], ws[k], -2);
				const struct fig *t = find(f, n, &f[i].n, "thread", gs[g], ws[k], -2);
				ratio[g] = p && t ? cnt(p, "tasks_per_second") / cnt(t, "tasks_per_second") : NAN;
				have += !isnan(ratio[g]);
			}
			if (have < 2)
				continue;
			int last_lose = -1, keep = -1, low = -1;
			for (int g = 0; g < ng; g++) {
				if (isnan(ratio[g]))
					continue;
				if (low < 0 || ratio[g] < ratio[low])
					low = g;
				if (ratio[g] < lose)
					last_lose = g;
			}
			for (int g = last_lose + 1; g < ng; g++)
				if (!isnan(ratio[g])) {
					keep = g;
					break;
				}
			char a[32], b[32];
			if (last_lose < 0)
				add(fs, "Over %s (%s, %d workers) a process pool keeps up with a thread pool at every grain measured: "
				        "its lowest tasks/s ratio, process ÷ thread, is %.2f (%s).",
				    f[i].n.mech, place, ws[k], ratio[low], fmt_grain(gs[low], a, sizeof a));
			else if (keep < 0)
				add(fs, "Over %s (%s, %d workers) a process pool loses to a thread pool at every grain measured, up "
				        "to %s: process ÷ thread %.2f there (loses: below %.2f).",
				    f[i].n.mech, place, ws[k], fmt_grain(gs[last_lose], a, sizeof a), ratio[last_lose], lose);
			else
				add(fs, "Over %s (%s, %d workers) a process pool loses to a thread pool below a grain of about %s: "
				        "process ÷ thread %.2f at %s, %.2f at %s (loses: below %.2f).",
				    f[i].n.mech, place, ws[k], fmt_grain(gs[keep], b, sizeof b), ratio[last_lose],
				    fmt_grain(gs[last_lose], a, sizeof a), ratio[keep], b, lose);
			break;
		}
	}
}

/* Speedup over one worker at 1 ms (else the largest grain), every mechanism, one line. */
static void find_speedup(struct ipcb_findings *fs, const struct fig *f, size_t n, const double *speedup, int pus)
{
	const char *place = pool_place(f, n, "cpu");
	int grain = -1;
	for (size_t i = 0; place && i < n; i++)
		if (!strcmp(f[i].n.wl, "cpu") && !strcmp(f[i].n.place, place) &&
		    (f[i].n.grain == 1000 || (grain != 1000 && f[i].n.grain > grain)))
			grain = f[i].n.grain;
	if (grain <= 0)
		return;
	char text[2][300] = { "", "" }, a[32];
	size_t off[2] = { 0, 0 };
	for (int m = 0; m < 2; m++)
		for (size_t i = 0; i < n; i++) {
			if (strcmp(f[i].n.wl, "cpu") || strcmp(f[i].n.place, place) || !first_of_group(f, i))
				continue;
			int ws[16];
			int nw = values(f, n, &f[i].n, 1, ws, 16);
			bool any = false;
			for (int k = 0; k < nw; k++) {
				const struct fig *x = find(f, n, &f[i].n, mode_names[m], grain, ws[k], -2);
				if (!x || ws[k] == 1 || isnan(speedup[x->i]))
					continue;
				if (!any)
					cat(text[m], sizeof text[m], &off[m], "%s%s ", off[m] ? ", " : "", f[i].n.mech);
				cat(text[m], sizeof text[m], &off[m], "%s%.2f× with %d", any ? " / " : "", speedup[x->i], ws[k]);
				any = true;
			}
		}
	if (!off[0] && !off[1])
		return;
	/* A task that took much longer than its grain, with no more workers than PUs, lost its
	 * CPU to something else: say so (with more workers, the pool's own time-slicing does it). */
	int slow = 0, rows = 0;
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double us = cnt(&f[i], "task_us");
		if (strcmp(f[i].n.wl, "cpu") || strcmp(f[i].n.place, place) || f[i].n.grain != grain || isnan(us) ||
		    f[i].n.workers > pus)
			continue;
		rows++;
		if (us > 1.1 * grain) {
			slow++;
			worst = us / grain > worst ? us / grain : worst;
		}
	}
	for (int m = 0; m < 2; m++)
		if (off[m])
			add(fs, "cpu speedup over one worker at a grain of %s, %s pools (%s; ideal: the number of workers, up "
			        "to the PUs): %s.", fmt_grain(grain, a, sizeof a), mode_names[m], place, text[m]);
	if (slow)
		add(fs, "Caution: in %d of the %d cpu rows at a grain of %s (%s) with no more workers than PUs, a task took "
		        "up to %.1f× its grain to hash: the CPUs were busy with something else, and those speedups are "
		        "low for it.", slow, rows, fmt_grain(grain, a, sizeof a), place, worst);
}

/* io at the highest concurrency: share of the ideal and p99, every mechanism, one line per task and grain;
 * then memory per worker for one mechanism (shmring when it ran). */
static void find_io(struct ipcb_findings *fs, const struct fig *f, size_t n)
{
	const char *place = pool_place(f, n, "io");
	if (!place)
		return;
	for (int t = 0; t < IPCB_IO_COUNT; t++) {
		const char *task = ipcb_io_task_name(t);
		int gs[16], ng = 0, cmax = 0;
		for (size_t i = 0; i < n; i++) {
			const struct nm *x = &f[i].n;
			if (strcmp(x->wl, "io") || strcmp(x->place, place) || strcmp(x->task, task))
				continue;
			bool dup = false;
			for (int g = 0; g < ng; g++)
				dup |= gs[g] == x->grain;
			if (!dup && ng < 16)
				gs[ng++] = x->grain;
			if (x->conc > cmax)
				cmax = x->conc;
		}
		qsort(gs, (size_t)ng, sizeof *gs, cmp_int);
		for (int g = 0; g < ng; g++)
			for (int m = 0; m < 2; m++) {
				char text[300] = "", a[32], b[32], gr[32];
				size_t off = 0;
				bool any = false;
				for (size_t i = 0; i < n; i++) {
					const struct nm *x = &f[i].n;
					if (strcmp(x->wl, "io") || strcmp(x->place, place) || strcmp(x->task, task) ||
					    x->grain != gs[g] || x->conc != cmax || strcmp(x->mode, mode_names[m]))
						continue;
					ipcb_fmt_rate(cnt(&f[i], "tasks_per_second"), "/s", a, sizeof a);
					a[strcspn(a, " ")] = 0;
					cat(text, sizeof text, &off, "%s%s %.0f%% (%s, p99 %s)", any ? ", " : "", x->mech,
					    100 * cnt(&f[i], "of_ideal"), a, ipcb_fmt_ns(cnt(&f[i], "task_p99_ns"), b, sizeof b));
					any = true;
				}
				if (off)
					add(fs, "io, %s tasks blocking %s, %d in flight, %s pools (%s): tasks/s as a share of the ideal "
					        "(%d / grain): %s.",
					    task, fmt_grain(gs[g], gr, sizeof gr), cmax, mode_names[m], place, cmax, text);
			}
	}
	/* memory per worker: shmring if it ran both modes, else the first mechanism that did */
	const struct fig *bp = NULL, *bt = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct nm *x = &f[i].n;
		if (strcmp(x->wl, "io") || strcmp(x->place, place) || strcmp(x->mode, "process") ||
		    isnan(cnt(&f[i], "pss_per_worker_bytes")))
			continue;
		const struct fig *t = find(f, n, x, "thread", x->grain, -2, x->conc);
		if (!t || isnan(cnt(t, "pss_per_worker_bytes")))
			continue;
		bool better = !bp || (x->conc > bp->n.conc && !strcmp(x->mech, bp->n.mech)) ||
		              (!strcmp(x->mech, "shmring") && strcmp(bp->n.mech, "shmring"));
		if (better) {
			bp = &f[i];
			bt = t;
		}
	}
	if (bp) {
		char e[32], h[32], x[32], y[32];
		add(fs, "Memory per worker (io %s, %d workers, %s): a worker process %s PSS (%s RSS, mostly shared with its "
		        "parent); a worker thread grows the process by %s PSS (%s RSS).",
		    bp->n.task, bp->n.conc, bp->n.mech, fmt_bytes(cnt(bp, "pss_per_worker_bytes"), e, sizeof e),
		    fmt_bytes(cnt(bp, "rss_per_worker_bytes"), h, sizeof h),
		    fmt_bytes(cnt(bt, "pss_per_worker_bytes"), x, sizeof x),
		    fmt_bytes(cnt(bt, "rss_per_worker_bytes"), y, sizeof y));
	}
}

static void find_spawn(struct ipcb_findings *fs, const struct fig *f, size_t n)
{
	static const struct { const char *kind, *mode; } k[3] = {
		{ "fork", "process" }, { "posix_spawn", "process" }, { "pthread_create", "thread" } };
	char places[8][32];
	int np = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].n.wl, "spawn"))
			continue;
		bool seen = false;
		for (int p = 0; p < np; p++)
			seen |= !strcmp(places[p], f[i].n.place);
		if (seen || np == 8)
			continue;
		snprintf(places[np++], sizeof places[0], "%s", f[i].n.place);
		double v[3];
		char text[300] = "", a[32];
		size_t off = 0;
		for (int j = 0; j < 3; j++) {
			v[j] = NAN;
			for (size_t x = 0; x < n; x++)
				if (!strcmp(f[x].n.wl, "spawn") && !strcmp(f[x].n.mech, k[j].kind) && !strcmp(f[x].n.mode, k[j].mode) &&
				    !strcmp(f[x].n.place, f[i].n.place))
					v[j] = cnt(&f[x], "spawn_ns");
			if (!isnan(v[j]))
				off += (size_t)snprintf(text + off, sizeof text - off, "%s%s %s", off ? ", " : "", k[j].kind,
				                        ipcb_fmt_ns(v[j], a, sizeof a));
		}
		if (!isnan(v[0]) && !isnan(v[2]) && v[2] > 0)
			snprintf(text + off, sizeof text - off, "; a fork costs %.1f× a thread", v[0] / v[2]);
		add(fs, "Creating and reaping one worker (%s): %s.", f[i].n.place, text);
	}
}

/* Shared counters at the headline placement, one line per mechanism and mode, every endpoint count. */
static void find_shared(struct ipcb_findings *fs, const struct fig *f, size_t n)
{
	const char *place = pool_place(f, n, "shared");
	for (size_t i = 0; place && i < n; i++) {
		if (strcmp(f[i].n.wl, "shared") || strcmp(f[i].n.place, place))
			continue;
		bool first = true; /* of its mechanism and mode */
		for (size_t j = 0; j < i; j++)
			first &= !(!strcmp(f[j].n.wl, "shared") && !strcmp(f[j].n.place, place) &&
			           !strcmp(f[j].n.mech, f[i].n.mech) && !strcmp(f[j].n.mode, f[i].n.mode));
		if (!first)
			continue;
		/* endpoint counts, ascending (no workers: segment = 2) */
		int ws[16], nw = 0;
		for (size_t j = i; j < n; j++) {
			const struct nm *x = &f[j].n;
			int w = x->workers < 0 ? 2 : x->workers;
			bool dup = false;
			for (int k = 0; k < nw; k++)
				dup |= ws[k] == w;
			if (!strcmp(x->wl, "shared") && !strcmp(x->place, place) && !strcmp(x->mech, f[i].n.mech) &&
			    !strcmp(x->mode, f[i].n.mode) && !dup && nw < 16)
				ws[nw++] = w;
		}
		qsort(ws, (size_t)nw, sizeof *ws, cmp_int);
		char cnts[64] = "", ops[160] = "", lock[160] = "", atom[160] = "", pct[80] = "", a[32];
		size_t oc = 0, oo = 0, ol = 0, oa = 0, op = 0;
		for (int k = 0; k < nw; k++) {
			const struct fig *x = NULL;
			for (size_t j = i; j < n && !x; j++)
				if (!strcmp(f[j].n.wl, "shared") && !strcmp(f[j].n.place, place) && !strcmp(f[j].n.mech, f[i].n.mech) &&
				    !strcmp(f[j].n.mode, f[i].n.mode) && (f[j].n.workers < 0 ? 2 : f[j].n.workers) == ws[k])
					x = &f[j];
			const char *sep = k ? " / " : "";
			double v = cnt(x, "ops_per_second"), l = cnt(x, "lock_ops_per_second");
			cat(cnts, sizeof cnts, &oc, "%s%d", sep, ws[k]);
			ipcb_fmt_rate(v, "", a, sizeof a);
			a[strcspn(a, " ")] = 0;
			cat(ops, sizeof ops, &oo, "%s%s", sep, a);
			ipcb_fmt_rate(l, "", a, sizeof a);
			a[strcspn(a, " ")] = 0;
			cat(lock, sizeof lock, &ol, "%s%s", sep, a);
			ipcb_fmt_rate(cnt(x, "atomic_ops_per_second"), "", a, sizeof a);
			a[strcspn(a, " ")] = 0;
			cat(atom, sizeof atom, &oa, "%s%s", sep, a);
			cat(pct, sizeof pct, &op, "%s%.0f%%", sep, 100 * v / l);
		}
		bool thr = !strcmp(f[i].n.mode, "thread");
		add(fs, "One shared counter, %s %s adding (%s), ops/s: through %s %s; a process-shared mutex in shared "
		        "memory %s; a plain atomic %s (%s reaches %s of the bare lock).",
		    cnts, nw == 1 && ws[0] == 1 ? (thr ? "thread" : "process") : (thr ? "threads" : "processes"), place,
		    f[i].n.mech, ops, lock, atom, f[i].n.mech, pct);
	}
}

/* wake rows: one line per placement, mode and idle gap, every mechanism in it. */
static void find_wake(struct ipcb_findings *fs, const struct fig *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct nm *g = &f[i].n;
		if (strcmp(g->wl, "wake"))
			continue;
		bool first = true; /* of its placement, mode and gap */
		for (size_t j = 0; j < i && first; j++)
			first = !(!strcmp(f[j].n.wl, "wake") && !strcmp(f[j].n.place, g->place) &&
			          !strcmp(f[j].n.mode, g->mode) && !strcmp(f[j].n.idle, g->idle));
		if (!first)
			continue;
		char rtt[400] = "", cpu[300] = "", a[32], b[32];
		size_t orr = 0, oc = 0;
		for (size_t j = i; j < n; j++) {
			const struct nm *x = &f[j].n;
			if (strcmp(x->wl, "wake") || strcmp(x->place, g->place) || strcmp(x->mode, g->mode) ||
			    strcmp(x->idle, g->idle))
				continue;
			cat(rtt, sizeof rtt, &orr, "%s%s %s (busy %s)", orr ? ", " : "", x->mech,
			    ipcb_fmt_ns(cnt(&f[j], "wake_rtt_p50_ns"), a, sizeof a),
			    ipcb_fmt_ns(cnt(&f[j], "busy_rtt_p50_ns"), b, sizeof b));
			cat(cpu, sizeof cpu, &oc, "%s%s %.2f%%", oc ? ", " : "", x->mech, cnt(&f[j], "idle_cpu_pct"));
		}
		add(fs, "After %s idle (%s, %s), the first round trip takes: %s. A consumer blocked meanwhile used, of "
		        "one CPU: %s.",
		    g->idle, g->mode, g->place, rtt, cpu);
	}
}

int ipcb_findings_compute(const double *speedup, int pus, struct ipcb_findings *fs)
{
	memset(fs, 0, sizeof *fs);
	struct fig *f;
	size_t n = figures(&f);
	if (!f)
		return -1;
	find_dispatch(fs, f, n);
	find_crossover(fs, f, n);
	find_speedup(fs, f, n, speedup, pus);
	find_io(fs, f, n);
	find_spawn(fs, f, n);
	find_shared(fs, f, n);
	find_wake(fs, f, n);
	free(f);
	return 0;
}

int ipcb_findings_host(struct ipcb_findings *f, double lo, double hi, unsigned n, int cpu_a, int cpu_b)
{
	if (!ipcb_host_apart(lo, hi))
		return 0;
	size_t before = f->n;
	add(f,
	    "the host changed speed during this run: the cache-line round trip on CPUs %d,%d went from %.0f "
	    "to %.0f ns (%.1fx, %u probes); rows from different stretches, and their ratios to the limit "
	    "rows, are not comparable: run again, or compare rows of like host_c2c_ns (results.json)",
	    cpu_a, cpu_b, lo, hi, hi / lo, n);
	return f->n > before ? 0 : -1;
}

void ipcb_findings_free(struct ipcb_findings *f)
{
	free(f->line);
	memset(f, 0, sizeof *f);
}

void ipcb_findings_print(const struct ipcb_findings *f, FILE *out)
{
	if (!f->n)
		return;
	fputs("\nWhat this machine says:\n", out);
	for (size_t i = 0; i < f->n; i++)
		fprintf(out, "- %s\n", f->line[i]);
}

/* --- results.json ------------------------------------------------------------------------ */

/* The JSON row of result r (same name, type, aggregate and repetition), or NULL. */
static json_t *json_row(json_t *benches, const struct ipcb_gb_result *r)
{
	if (!r)
		return NULL;
	char name[256];
	ipcb_clean_name(r->name, name, sizeof name);
	for (size_t j = 0; j < json_array_size(benches); j++) {
		json_t *b = json_array_get(benches, j);
		const char *raw = json_string_value(json_object_get(b, "name"));
		const char *rt = json_string_value(json_object_get(b, "run_type"));
		json_t *rep = json_object_get(b, "repetition_index");
		char bn[256];
		ipcb_clean_name(raw ? raw : "", bn, sizeof bn); /* ipcbench run has cleaned them already */
		if (!raw || strcmp(bn, name) || !rt ||
		    strcmp(rt, r->run_type == IPCB_GB_RUN_AGGREGATE ? "aggregate" : "iteration") ||
		    (r->run_type == IPCB_GB_RUN_ITERATION && json_is_integer(rep) &&
		     json_integer_value(rep) != r->repetition_index))
			continue;
		return b;
	}
	return NULL;
}

/* results.json at path with its benchmarks array and context object, or NULL with err (what: for the message). */
static json_t *results_load(const char *path, const char *what, json_t **benches, json_t **ctx, char *err,
                            size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	*benches = root ? json_object_get(root, "benchmarks") : NULL;
	*ctx = root ? json_object_get(root, "context") : NULL;
	if (!json_is_array(*benches) || !json_is_object(*ctx)) {
		snprintf(err, errlen, "%s: cannot add %s: %s", path, what,
		         root ? "no benchmarks array or context object" : jerr.text);
		json_decref(root);
		return NULL;
	}
	return root;
}

int ipcb_results_add_host(const char *path, const double *row_ns, size_t nrow, const char *range, char *err,
                          size_t errlen)
{
	json_t *benches, *ctx, *root = results_load(path, "the host probes", &benches, &ctx, err, errlen);
	if (!root)
		return -1;
	for (size_t i = 0; i < nrow && i < ipcb_gb_result_count(); i++) {
		json_t *b = row_ns[i] > 0 ? json_row(benches, ipcb_gb_result_at(i)) : NULL;
		if (b)
			json_object_set_new(b, "host_c2c_ns", json_real(round(row_ns[i] * 10) / 10));
	}
	json_object_set_new(ctx, "host_c2c", json_string(range));
	return ipcb_results_save(root, path, "the host probes", err, errlen);
}

int ipcb_results_amend(const char *path, const double *speedup, const double *efficiency,
                       const struct ipcb_findings *f, char *err, size_t errlen)
{
	bool any = f->n > 0;
	size_t nres = ipcb_gb_result_count();
	for (size_t i = 0; i < nres && !any; i++)
		any = !isnan(speedup[i]);
	if (!any)
		return 0;
	json_t *benches, *ctx, *root = results_load(path, "the speedups and findings", &benches, &ctx, err, errlen);
	if (!root)
		return -1;
	for (size_t i = 0; i < nres; i++) {
		json_t *b = isnan(speedup[i]) ? NULL : json_row(benches, ipcb_gb_result_at(i));
		if (b) {
			json_object_set_new(b, "speedup", json_real(speedup[i]));
			json_object_set_new(b, "efficiency", json_real(efficiency[i]));
		}
	}
	if (f->n) {
		size_t len = 0;
		for (size_t i = 0; i < f->n; i++)
			len += strlen(f->line[i]) + 1;
		char *text = malloc(len + 1);
		if (text) {
			size_t off = 0;
			for (size_t i = 0; i < f->n; i++)
				off += (size_t)sprintf(text + off, "%s%s", i ? "\n" : "", f->line[i]);
			json_object_set_new(ctx, "findings", json_string(text));
			free(text);
		}
	}
	return ipcb_results_save(root, path, "the speedups and findings", err, errlen);
}

int ipcb_results_save(json_t *root, const char *path, const char *what, char *err, size_t errlen)
{
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%.1000s.tmp", path);
	int rc = 0;
	if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) != 0 ||
	    rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot write %s back", path, what);
		remove(tmp);
		rc = -1;
	}
	json_decref(root);
	return rc;
}
