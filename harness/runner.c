/*
 * runner.c - plan, run and record a suite (see runner.h).
 *
 * Sections: the workload table; the plan (suite x filters x this machine);
 * progress line and summary table; benchmark names; results folder, CSV
 * and `latest`; ipcb_run itself; `list suites`.
 */
#include "runner.h"
#include "findings.h"
#include "units.h"
#include "env.h"
#include "netpeer.h"
#include "wlutil.h"

#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- workloads ------------------------------------------------------------ */

static const struct ipcb_workload *const workloads[] = {
	&ipcb_workload_pingpong,
	&ipcb_workload_wake,
	&ipcb_workload_stream,
	&ipcb_workload_limit,
	&ipcb_workload_shared,
	&ipcb_workload_cpu,
	&ipcb_workload_io,
	&ipcb_workload_spawn,
	&ipcb_workload_pyref,
	&ipcb_workload_zmqref,
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

size_t ipcb_workload_count(void)
{
	return N_WORKLOADS;
}

const struct ipcb_workload *ipcb_workload_at(size_t i)
{
	return i < N_WORKLOADS ? workloads[i] : NULL;
}

const struct ipcb_workload *ipcb_workload_find(const char *name)
{
	for (size_t i = 0; i < N_WORKLOADS; i++)
		if (name && !strcmp(workloads[i]->name, name))
			return workloads[i];
	return NULL;
}

static size_t workload_index(const struct ipcb_workload *w)
{
	for (size_t i = 0; i < N_WORKLOADS; i++)
		if (workloads[i] == w)
			return i;
	return 0;
}

int ipcb_parse_workloads(const char *list, struct ipcb_filter *f, char *err, size_t errlen)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", list);
	f->have_workloads = true;
	f->workloads = 0;
	f->rows = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct ipcb_workload *w = ipcb_workload_find(t);
		int row = -1;
		if (!w && !strncmp(t, "limit/", 6) && (row = ipcb_limit_row_from_name(t + 6)) >= 0)
			w = &ipcb_workload_limit;
		if (!w) {
			snprintf(err, errlen,
			         "unknown workload '%s': valid workloads are pingpong, stream, shared, cpu, io, spawn, "
			         "limit (or one limit row: limit/c2c, limit/memcpy, limit/ring)", t);
			return -1;
		}
		f->workloads |= 1u << workload_index(w);
		if (w == &ipcb_workload_limit)
			f->rows |= row >= 0 ? 1u << row : (1u << IPCB_LIMIT_COUNT) - 1;
	}
	if (!f->workloads) {
		snprintf(err, errlen, "--workload: empty list");
		return -1;
	}
	return 0;
}

/* --- plan ----------------------------------------------------------------- */

struct resolved {
	bool ok;
	int a, b;
	char why[200];
};

static int add_skip(struct ipcb_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_skip(struct ipcb_plan *p, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < p->nskips; i++)
		if (!strcmp(p->skips[i], line))
			return 0;
	if (p->nskips == p->capskips) {
		size_t cap = p->capskips ? p->capskips * 2 : 16;
		void *n = realloc(p->skips, cap * sizeof *p->skips);
		if (!n)
			return -1;
		p->skips = n;
		p->capskips = cap;
	}
	snprintf(p->skips[p->nskips++], sizeof p->skips[0], "%s", line);
	return 0;
}

static int add_case(struct ipcb_plan *p, const struct ipcb_case *c)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->cases[i].name, c->name))
			return 0; /* two suite lines asked for the same row */
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		void *n = realloc(p->cases, cap * sizeof *p->cases);
		if (!n)
			return -1;
		p->cases = n;
		p->cap = cap;
	}
	p->cases[p->n++] = *c;
	return 0;
}

static bool size_wanted(const struct ipcb_filter *f, size_t size)
{
	if (!f->have_sizes)
		return true;
	for (unsigned i = 0; i < f->nsizes; i++)
		if (f->sizes[i] == size)
			return true;
	return false;
}

static int plan_limit(struct ipcb_plan *p, const struct ipcb_suite_line *l, unsigned rows, unsigned places,
                      const struct resolved *rs, hwloc_topology_t topo, const struct ipcb_filter *f)
{
	struct ipcb_case c = { .wl = l->wl, .topo = topo, .producers = 1, .consumers = 1,
		               .min_time = l->min_time, .repetitions = l->repetitions };
	for (int r = 0; r < IPCB_LIMIT_COUNT; r++) {
		if (!(rows & (1u << r)))
			continue;
		c.row = r;
		if (r == IPCB_LIMIT_MEMCPY) {
			/* One CPU: the first CPU of the line's first placement this machine has. */
			int place = -1;
			for (int pl = 0; pl < IPCB_PLACE_COUNT && place < 0; pl++)
				if ((places & (1u << pl)) && rs[pl].ok)
					place = pl;
			if (place < 0)
				continue;
			c.place = (enum ipcb_place)place;
			c.cpu_a = c.cpu_b = rs[place].a;
			for (unsigned s = 0; s < l->nsizes; s++) {
				if (!size_wanted(f, l->sizes[s]))
					continue;
				c.size = l->sizes[s];
				snprintf(c.name, sizeof c.name, "limit/memcpy/size:%zu", c.size);
				if (add_case(p, &c))
					return -1;
			}
			continue;
		}
		if (r == IPCB_LIMIT_RING && !size_wanted(f, 64))
			continue;
		for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++) {
			if (!(places & (1u << pl)) || !rs[pl].ok)
				continue;
			c.place = (enum ipcb_place)pl;
			c.cpu_a = rs[pl].a;
			c.cpu_b = rs[pl].b;
			c.size = 64;
			if (r == IPCB_LIMIT_C2C)
				snprintf(c.name, sizeof c.name, "limit/c2c/%s", ipcb_placement_name(pl));
			else
				snprintf(c.name, sizeof c.name, "limit/ring/%s/size:64", ipcb_placement_name(pl));
			if (add_case(p, &c))
				return -1;
		}
	}
	return 0;
}

/* spawn rows: fork and posix_spawn in process mode, pthread_create in thread mode; no mechanism. */
static int plan_spawn(struct ipcb_plan *p, const struct ipcb_suite_line *l, unsigned modes, unsigned places,
                      const struct resolved *rs, hwloc_topology_t topo)
{
	for (int k = 0; k < IPCB_SPAWN_COUNT; k++) {
		unsigned mode = k == IPCB_SPAWN_PTHREAD ? IPCB_MODE_THREAD : IPCB_MODE_PROCESS;
		if (!(modes & mode))
			continue;
		for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++) {
			if (!(places & (1u << pl)) || !rs[pl].ok)
				continue;
			struct ipcb_case c = { .wl = l->wl, .row = -1, .mode = mode, .variant = k,
			                       .place = (enum ipcb_place)pl, .cpu_a = rs[pl].a, .cpu_b = rs[pl].b,
			                       .producers = 1, .consumers = 1, .topo = topo,
			                       .min_time = l->min_time, .repetitions = l->repetitions };
			snprintf(c.name, sizeof c.name, "spawn/%s/%s/%s", ipcb_spawn_kind_name(k),
			         mode == IPCB_MODE_PROCESS ? "process" : "thread", ipcb_placement_name(pl));
			if (add_case(p, &c))
				return -1;
		}
	}
	return 0;
}

/* pyref rows: Python's Queue and Pipe at each size, its Pool at each worker count; skipped without python3. */
static int plan_pyref(struct ipcb_plan *p, const struct ipcb_suite_line *l, unsigned places, const struct resolved *rs,
                      hwloc_topology_t topo, const struct ipcb_filter *f)
{
	char python[4096];
	if (!ipcb_pyref_python(python, sizeof python))
		return add_skip(p, "skip: pyref (Python multiprocessing reference rows): python3 is not on PATH "
		                   "(apt-get install python3)");
	if (access(ipcb_pyref_script(), R_OK) != 0)
		return add_skip(p, "skip: pyref: cannot read %s (%s); set IPCB_PY_MP to the script's path",
		                ipcb_pyref_script(), strerror(errno));
	int pus = ipcb_topo_pu_count(topo);
	for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++) {
		if (!(places & (1u << pl)) || !rs[pl].ok)
			continue;
		const char *place = ipcb_placement_name(pl);
		struct ipcb_case c = { .wl = l->wl, .row = -1, .mode = IPCB_MODE_PROCESS, .place = (enum ipcb_place)pl,
		                       .cpu_a = rs[pl].a, .cpu_b = rs[pl].b, .producers = 1, .consumers = 1,
		                       .topo = topo, .min_time = l->min_time, .repetitions = l->repetitions };
		for (int r = 0; r < IPCB_PYREF_COUNT; r++) {
			c.variant = r;
			if (r == IPCB_PYREF_POOL) {
				for (unsigned wi = 0; wi < l->nworkers; wi++) {
					int w = l->workers[wi] < 0 ? -l->workers[wi] * (pus > 0 ? pus : 1) : l->workers[wi];
					c.workers = (unsigned)w;
					c.size = 0;
					snprintf(c.name, sizeof c.name, "cpu/%s/process/%s/grain:0us/workers:%d", ipcb_pyref_mech(r),
					         place, w);
					if (add_case(p, &c))
						return -1;
				}
				continue;
			}
			for (unsigned si = 0; si < l->nsizes; si++) {
				if (!size_wanted(f, l->sizes[si]))
					continue;
				c.size = l->sizes[si];
				c.workers = 0;
				snprintf(c.name, sizeof c.name, "%s/%s/process/%s/size:%zu", ipcb_pyref_workload(r),
				         ipcb_pyref_mech(r), place, c.size);
				if (add_case(p, &c))
					return -1;
			}
		}
	}
	return 0;
}

/* zmqref rows: plain libzmq round trip and stream at each size; skipped without libzmq. */
static int plan_zmqref(struct ipcb_plan *p, const struct ipcb_suite_line *l, unsigned places,
                       const struct resolved *rs, hwloc_topology_t topo, const struct ipcb_filter *f)
{
	if (!ipcb_zmqref_available())
		return add_skip(p, "skip: zmqref (plain libzmq reference rows): ipcbench was built without libzmq "
		                   "(apt-get install libzmq3-dev, then rebuild)");
	for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++) {
		if (!(places & (1u << pl)) || !rs[pl].ok)
			continue;
		for (int r = 0; r < IPCB_ZMQREF_COUNT; r++)
			for (unsigned si = 0; si < l->nsizes; si++) {
				if (!size_wanted(f, l->sizes[si]))
					continue;
				struct ipcb_case c = { .wl = l->wl, .row = -1, .variant = r, .mode = IPCB_MODE_PROCESS,
				                       .place = (enum ipcb_place)pl, .cpu_a = rs[pl].a, .cpu_b = rs[pl].b,
				                       .size = l->sizes[si], .producers = 1, .consumers = 1, .topo = topo,
				                       .min_time = l->min_time, .repetitions = l->repetitions };
				snprintf(c.name, sizeof c.name, "%s/zeromq-native/process/%s/size:%zu",
				         r == IPCB_ZMQREF_PINGPONG ? "pingpong" : "stream", ipcb_placement_name(pl), c.size);
				if (add_case(p, &c))
					return -1;
			}
	}
	return 0;
}

/* cpu and io rows of one mechanism and mode: placements x grains x workers (cpu) or
 * tasks x grains x concurrency (io). Pools need IPCQ_CAP_EOF across processes and
 * IPCQ_CAP_MPMC beyond one worker (ipcq_pool_open says so too). */
static int plan_pool(struct ipcb_plan *p, const struct ipcb_suite_line *l, const ipcq_mech *m, unsigned mode,
                     unsigned places, const struct resolved *rs, hwloc_topology_t topo)
{
	bool cpu = l->wl == &ipcb_workload_cpu;
	unsigned caps = ipcq_mech_caps(m);
	const char *mname = ipcq_mech_name(m), *modename = mode == IPCB_MODE_PROCESS ? "process" : "thread";
	if (mode == IPCB_MODE_PROCESS && !(caps & IPCQ_CAP_EOF))
		return add_skip(p, "skip: %s pools over %s in process mode: it lacks IPCQ_CAP_EOF (workers could not "
		                   "tell the pool closed)", l->wl->name, mname);
	int pus = ipcb_topo_pu_count(topo);
	for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++) {
		if (!(places & (1u << pl)) || !rs[pl].ok)
			continue;
		for (unsigned gi = 0; gi < l->ngrains; gi++) {
			if (!cpu && l->grains[gi] == 0) {
				if (add_skip(p, "skip: io with grain 0: an io task must block for some time"))
					return -1;
				continue;
			}
			unsigned nk = cpu ? 1 : IPCB_IO_COUNT, nv = cpu ? l->nworkers : l->nconc;
			for (unsigned k = 0; k < nk; k++) {
				if (!cpu && !(l->tasks & (1u << k)))
					continue;
				for (unsigned vi = 0; vi < nv; vi++) {
					int w = cpu ? l->workers[vi] : (int)l->conc[vi];
					if (w < 0)
						w = -w * (pus > 0 ? pus : 1);
					if (w > IPCB_MAX_WORKERS)
						w = IPCB_MAX_WORKERS;
					if (w > 1 && !(caps & IPCQ_CAP_MPMC)) {
						if (add_skip(p, "skip: %s pools of more than one worker over %s: it lacks IPCQ_CAP_MPMC",
						             l->wl->name, mname))
							return -1;
						continue;
					}
					struct ipcb_case c = { .wl = l->wl, .mech = m, .row = -1, .mode = mode,
					                       .place = (enum ipcb_place)pl, .cpu_a = rs[pl].a, .cpu_b = rs[pl].b,
					                       .producers = 1, .consumers = 1, .workers = (unsigned)w,
					                       .grain_us = l->grains[gi], .variant = (int)k, .topo = topo,
					                       .min_time = l->min_time, .repetitions = l->repetitions };
					if (cpu)
						snprintf(c.name, sizeof c.name, "cpu/%s/%s/%s/grain:%uus/workers:%d", mname, modename,
						         ipcb_placement_name(pl), c.grain_us, w);
					else
						snprintf(c.name, sizeof c.name, "io/%s/%s/%s/task:%s/grain:%uus/concurrency:%d", mname,
						         modename, ipcb_placement_name(pl), ipcb_io_task_name((int)k), c.grain_us, w);
					if (add_case(p, &c))
						return -1;
				}
			}
		}
	}
	return 0;
}

/*
 * Whether m can open a queue on this machine at all: one probe open per
 * mechanism, remembered. A mechanism that needs something not installed
 * (redis without redis-server) answers UNSUPPORTED with the line to run.
 */
static bool mech_usable(size_t mi, const ipcq_mech *m, char *why, size_t len)
{
	static signed char known[64]; /* 0 unknown, 1 usable, -1 not */
	static char whys[64][256];
	if (!known[mi]) {
		ipcq *q = NULL;
		int st = ipcq_open(m, NULL, &q);
		known[mi] = st == IPCQ_UNSUPPORTED ? -1 : 1;
		if (st == IPCQ_UNSUPPORTED)
			snprintf(whys[mi], sizeof whys[mi], "%s", ipcq_errmsg(NULL));
		if (st == IPCQ_OK)
			ipcq_close(q);
	}
	snprintf(why, len, "%s", whys[mi]);
	return known[mi] > 0;
}

/* A placement mask with the alias "cross" replaced by the placement it means here (nearest < 0: by none). */
static unsigned cross_to_nearest(unsigned mask, int nearest)
{
	if (!(mask & IPCB_PLACE_CROSS_BIT))
		return mask;
	mask &= ~IPCB_PLACE_CROSS_BIT;
	return nearest < 0 ? mask : mask | 1u << nearest;
}

/* The placements both the suite line and the filter name, the alias "cross"
 * standing for any cross-* the other names: an absent one gets a skip line
 * (the alias itself resolves to a present placement, or is skipped as one). */
static unsigned asked_places(unsigned line, const struct ipcb_filter *f)
{
	if (!f->have_places)
		return line & ~IPCB_PLACE_CROSS_BIT;
	unsigned any_cross = 0, want = f->places;
	for (size_t i = 0; i < sizeof ipcb_cross_order / sizeof ipcb_cross_order[0]; i++)
		any_cross |= 1u << ipcb_cross_order[i];
	if (line & IPCB_PLACE_CROSS_BIT)
		line |= want & any_cross;
	if (want & IPCB_PLACE_CROSS_BIT)
		want |= line & any_cross;
	return line & want & ~IPCB_PLACE_CROSS_BIT;
}

int ipcb_plan_build(const struct ipcb_suite *s, const struct ipcb_filter *f, hwloc_topology_t topo,
                    struct ipcb_plan *p)
{
	struct resolved rs[IPCB_PLACE_COUNT];
	for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++)
		rs[pl].ok = ipcb_placement_resolve(topo, (enum ipcb_place)pl, &rs[pl].a, &rs[pl].b, rs[pl].why,
		                                   sizeof rs[pl].why);
	char nearest_why[256];
	int nearest = ipcb_placement_nearest_cross(topo, nearest_why, sizeof nearest_why);

	for (size_t li = 0; li < s->nlines; li++) {
		const struct ipcb_suite_line *l = &s->lines[li];
		if (f->have_workloads && !(f->workloads & (1u << workload_index(l->wl))))
			continue;
		unsigned places = cross_to_nearest(l->places, nearest) &
		                  (f->have_places ? cross_to_nearest(f->places, nearest) : ~0u);
		if (nearest < 0 && (l->places & IPCB_PLACE_CROSS_BIT) &&
		    (!f->have_places || (f->places & IPCB_PLACE_CROSS_BIT)) &&
		    add_skip(p, "skip: placement %s is absent on this machine (%s)", IPCB_PLACE_CROSS_NAME, nearest_why))
			return -1;
		unsigned asked = asked_places(l->places, f);
		for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++)
			if ((asked & (1u << pl)) && !rs[pl].ok &&
			    add_skip(p, "skip: placement %s is absent on this machine (%s)", ipcb_placement_name(pl),
			             rs[pl].why))
				return -1;
		if (l->wl == &ipcb_workload_limit) {
			unsigned rows = l->rows & (f->have_workloads ? f->rows : ~0u);
			if (plan_limit(p, l, rows, places, rs, topo, f))
				return -1;
			continue;
		}
		uint64_t mechs = l->mechs & (f->have_mechs ? f->mechs : ~0ull);
		unsigned modes = l->modes & (f->have_modes ? f->modes : ~0u);
		if (l->wl == &ipcb_workload_spawn) {
			if (plan_spawn(p, l, modes, places, rs, topo))
				return -1;
			continue;
		}
		if (l->wl == &ipcb_workload_pyref) {
			if (plan_pyref(p, l, places, rs, topo, f))
				return -1;
			continue;
		}
		if (l->wl == &ipcb_workload_zmqref) {
			if (plan_zmqref(p, l, places, rs, topo, f))
				return -1;
			continue;
		}
		bool pool = l->wl == &ipcb_workload_cpu || l->wl == &ipcb_workload_io;
		for (size_t mi = 0; mi < ipcq_mech_count() && mi < 64; mi++) {
			if (!(mechs & (1ull << mi)))
				continue;
			const ipcq_mech *m = ipcq_mech_at(mi);
			unsigned caps = ipcq_mech_caps(m);
			char why[256];
			if (!mech_usable(mi, m, why, sizeof why)) {
				size_t nl = strlen(ipcq_mech_name(m));
				bool named = !strncmp(why, ipcq_mech_name(m), nl) && why[nl] == ':';
				if (add_skip(p, "skip: %s%s%s", named ? "" : ipcq_mech_name(m), named ? "" : ": ", why))
					return -1;
				continue;
			}
			if (l->wl == &ipcb_workload_shared && !(caps & IPCQ_CAP_SHARED)) {
				if (add_skip(p, "skip: shared over %s: it lacks IPCQ_CAP_SHARED", ipcq_mech_name(m)))
					return -1;
				continue;
			}
			for (unsigned mode = IPCB_MODE_PROCESS; mode <= IPCB_MODE_THREAD; mode <<= 1) {
				if (!(modes & mode))
					continue;
				if (mode == IPCB_MODE_PROCESS && !(caps & IPCQ_CAP_PROCESS)) {
					if (add_skip(p, "skip: %s in process mode: it lacks IPCQ_CAP_PROCESS (threads only)",
					             ipcq_mech_name(m)))
						return -1;
					continue;
				}
				if (pool) {
					if (plan_pool(p, l, m, mode, places, rs, topo))
						return -1;
					continue;
				}
				for (unsigned pi = 0; pi < l->npairs; pi++) {
					struct ipcb_pairs pr = l->pairs[pi];
					bool multi = pr.producers > 1 || pr.consumers > 1;
					if (multi && !(caps & IPCQ_CAP_MPMC)) {
						if (add_skip(p, "skip: %s %ux%u over %s: it lacks IPCQ_CAP_MPMC", l->wl->name,
						             pr.producers, pr.consumers, ipcq_mech_name(m)))
							return -1;
						continue;
					}
					for (int api = 0; api < IPCB_API_COUNT; api++) {
						if (!(l->apis & (1u << api)))
							continue;
						/* zero copy: its own series, <mechanism>-zc, so reports and baselines keep copy rows apart */
						if (api == IPCB_API_ZEROCOPY && !(caps & IPCQ_CAP_ZEROCOPY)) {
							if (pi == 0 && mode == (modes & -modes) &&
							    add_skip(p, "skip: %s api=zerocopy over %s: it lacks IPCQ_CAP_ZEROCOPY", l->wl->name,
							             ipcq_mech_name(m)))
								return -1;
							continue;
						}
						/* api=many: <mechanism>-many, every mechanism (the core batches for those without a path of their own) */
						char mname[64];
						snprintf(mname, sizeof mname, "%s%s", ipcq_mech_name(m),
						         api == IPCB_API_ZEROCOPY ? "-zc" : api == IPCB_API_MANY ? "-many" : "");
						for (int pl = 0; pl < IPCB_PLACE_COUNT; pl++) {
							if (!(places & (1u << pl)) || !rs[pl].ok)
								continue;
							/* shared: one row per endpoint count (workers=, default 2); wake: per idle gap */
							bool shared = l->wl == &ipcb_workload_shared, wake = l->wl == &ipcb_workload_wake;
							unsigned per_size = shared ? l->nworkers : wake ? l->ngrains : 1;
							for (unsigned si = 0; si < l->nsizes * per_size; si++) {
								size_t size = l->sizes[si % l->nsizes];
								int w = shared ? l->workers[si / l->nsizes] : 0;
								unsigned idle_us = wake ? l->grains[si / l->nsizes] : 0;
								if (!size_wanted(f, size))
									continue;
								if (w < 0)
									w = -w * ipcb_topo_pu_count(topo);
								struct ipcb_case c = {
									.wl = l->wl, .mech = m, .row = -1, .mode = mode,
									.place = (enum ipcb_place)pl, .cpu_a = rs[pl].a, .cpu_b = rs[pl].b,
									.size = size, .producers = pr.producers,
									.consumers = pr.consumers, .workers = (unsigned)w, .grain_us = idle_us,
									.topo = topo,
									.min_time = l->min_time, .repetitions = l->repetitions, .variant = api,
								};
								int n = snprintf(c.name, sizeof c.name, "%s/%s/%s/%s/size:%zu", l->wl->name,
								                 mname, mode == IPCB_MODE_PROCESS ? "process" : "thread",
								                 ipcb_placement_name(pl), c.size);
								if (multi)
									snprintf(c.name + n, sizeof c.name - (size_t)n, "/pairs:%ux%u",
									         pr.producers, pr.consumers);
								else if (shared && w != 2)
									snprintf(c.name + n, sizeof c.name - (size_t)n, "/workers:%d", w);
								else if (wake) {
									char gap[24];
									snprintf(c.name + n, sizeof c.name - (size_t)n, "/idle:%s",
									         ipcb_us_str(idle_us, gap, sizeof gap));
								}
								if (add_case(p, &c))
									return -1;
							}
						}
					}
				}
			}
		}
	}
	return 0;
}

/*
 * --peer: the suite's pingpong and stream rows (1x1) with the far endpoint on
 * the agent: <workload>/tcp/peer/<host>/size:<bytes>. This side is unpinned;
 * the agent pins its endpoint or not, and says which (the row's label).
 */
static int plan_peer(const struct ipcb_suite *s, const struct ipcb_filter *f, const char *peer, const char *host,
                     hwloc_topology_t topo, struct ipcb_plan *p)
{
	for (size_t li = 0; li < s->nlines; li++) {
		const struct ipcb_suite_line *l = &s->lines[li];
		if (f->have_workloads && !(f->workloads & (1u << workload_index(l->wl))))
			continue;
		if (l->wl != &ipcb_workload_pingpong && l->wl != &ipcb_workload_stream) {
			if (add_skip(p, "skip: %s rows with --peer: only pingpong and stream have a far endpoint an agent runs",
			             l->wl->name))
				return -1;
			continue;
		}
		for (unsigned pi = 0; pi < l->npairs; pi++) {
			if (l->pairs[pi].producers != 1 || l->pairs[pi].consumers != 1) {
				if (add_skip(p, "skip: stream %ux%u with --peer: one producer and one consumer only",
				             l->pairs[pi].producers, l->pairs[pi].consumers))
					return -1;
				continue;
			}
			for (unsigned si = 0; si < l->nsizes; si++) {
				if (!size_wanted(f, l->sizes[si]))
					continue;
				struct ipcb_case c = {
					.wl = l->wl, .mech = ipcq_mech_find("tcp"), .row = -1, .mode = IPCB_MODE_PROCESS,
					.place = IPCB_PLACE_OS, .cpu_a = -1, .cpu_b = -1, .size = l->sizes[si],
					.producers = 1, .consumers = 1, .topo = topo, .min_time = l->min_time,
					.repetitions = l->repetitions, .peer = peer,
				};
				snprintf(c.name, sizeof c.name, "%s/tcp/peer/%.120s/size:%zu", l->wl->name, host, c.size);
				if (add_case(p, &c))
					return -1;
			}
		}
	}
	return 0;
}

void ipcb_plan_free(struct ipcb_plan *p)
{
	free(p->cases);
	free(p->skips);
	memset(p, 0, sizeof *p);
}

/* --- host watch ------------------------------------------------------------ */

/*
 * This machine's host changes speed while a run goes on: the cache-line
 * round trip read 59-79 ns in some stretches and 435-522 ns in others,
 * minutes apart, and every figure moved 2-4x with it. A row is only
 * comparable with rows measured in the same state, its limit rows included.
 * So before a benchmark (at most every PROBE_EVERY_NS) the runner bounces
 * limit/c2c's line on one pair of CPUs for about a millisecond: each result
 * row keeps the probe taken before its benchmark's last run (host_c2c_ns),
 * the context the range, and a finding says when the range passes 1.5x.
 */
#define PROBE_EVERY_NS 250000000ull

static struct {
	hwloc_topology_t topo;
	int cpu_a, cpu_b;   /* -1: no probe (one PU, or nothing pinned) */
	uint64_t last_ns;   /* when the last probe ended (0: none yet) */
	double last, lo, hi; /* round trips in ns; last 0 until one worked */
	unsigned n;
	char err[300];      /* the first probe failure, said once */
	double *row;        /* per result row: the probe before its benchmark's last run (0: none) */
	size_t nrow;
} watch;

/* The pair the probe uses: limit/c2c's first pinned pair, else any case's two CPUs. */
static void watch_open(const struct ipcb_plan *p, hwloc_topology_t topo)
{
	memset(&watch, 0, sizeof watch);
	watch.topo = topo;
	watch.cpu_a = watch.cpu_b = -1;
	for (int pass = 0; pass < 2 && watch.cpu_a < 0; pass++)
		for (size_t i = 0; i < p->n; i++) {
			const struct ipcb_case *c = &p->cases[i];
			if ((pass == 0 && c->row != IPCB_LIMIT_C2C) || c->peer || c->cpu_a < 0 || c->cpu_b < 0 ||
			    c->cpu_a == c->cpu_b)
				continue;
			watch.cpu_a = c->cpu_a;
			watch.cpu_b = c->cpu_b;
			break;
		}
}

static void watch_probe(void)
{
	if (watch.cpu_a < 0 || (watch.last_ns && ipcb_now_ns() - watch.last_ns < PROBE_EVERY_NS))
		return;
	double ns;
	char err[300];
	if (ipcb_limit_probe_c2c(watch.topo, watch.cpu_a, watch.cpu_b, &ns, err, sizeof err) == 0) {
		watch.last = ns;
		watch.lo = watch.n && watch.lo < ns ? watch.lo : ns;
		watch.hi = watch.hi > ns ? watch.hi : ns;
		watch.n++;
	} else if (!watch.err[0]) {
		snprintf(watch.err, sizeof watch.err, "%s", err);
	}
	watch.last_ns = ipcb_now_ns(); /* after a failure too: the next try no sooner than a probe */
}

/* Rows first..first+n-1 were just reported: they keep the last probe. */
static void watch_rows(size_t first, size_t n)
{
	if (first + n > watch.nrow) {
		double *r = realloc(watch.row, (first + n) * sizeof *r);
		if (!r)
			return;
		memset(r + watch.nrow, 0, (first + n - watch.nrow) * sizeof *r);
		watch.row = r, watch.nrow = first + n;
	}
	for (size_t i = first; i < first + n; i++)
		watch.row[i] = watch.last;
}

/* The rows' host_c2c_ns and the context's host_c2c (and its finding, when the host moved), into results.json. */
static int watch_amend(const char *path, struct ipcb_findings *f, char *err, size_t errlen)
{
	if (watch.err[0])
		fprintf(stderr, "ipcbench run: the host probe (cache-line round trip on CPUs %d,%d) failed: %s\n",
		        watch.cpu_a, watch.cpu_b, watch.err);
	if (!watch.hi)
		return 0;
	if (ipcb_findings_host(f, watch.lo, watch.hi, watch.n, watch.cpu_a, watch.cpu_b) != 0) {
		snprintf(err, errlen, "out of memory for the findings");
		return -1;
	}
	char text[200];
	snprintf(text, sizeof text, "cache-line round trip on CPUs %d,%d from %.1f to %.1f ns over %u probes (%.2fx)",
	         watch.cpu_a, watch.cpu_b, watch.lo, watch.hi, watch.n, watch.hi / watch.lo);
	return ipcb_results_add_host(path, watch.row, watch.nrow, text, err, errlen);
}

/* --- progress and summary ---------------------------------------------------- */

static struct {
	bool tty;           /* stderr is a terminal */
	FILE *out;          /* summary table (the real stdout) */
	uint64_t start_ns;
	size_t started;     /* cases begun */
	size_t total;
	size_t errors;
	bool header;
	char current[192];
	const struct ipcb_plan *plan;
} ui;

static void fmt_duration(double s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void progress_draw(void)
{
	if (!ui.tty || !ui.current[0])
		return;
	char eta[32] = "?";
	double elapsed = (double)(ipcb_now_ns() - ui.start_ns) / 1e9;
	if (ui.started > 1)
		fmt_duration(elapsed / (double)(ui.started - 1) * (double)(ui.total - ui.started + 1), eta, sizeof eta);
	fprintf(stderr, "\r\033[K[%zu/%zu] %s … eta %s", ui.started, ui.total, ui.current, eta);
	fflush(stderr);
}

static void progress_clear(void)
{
	if (ui.tty) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

void ipcb_case_started(const struct ipcb_case *c)
{
	if (strcmp(ui.current, c->name) == 0)
		return; /* Google Benchmark calls a benchmark several times */
	snprintf(ui.current, sizeof ui.current, "%s", c->name);
	ui.started++;
	progress_draw();
}

static void human_ns(double ns, char *buf, size_t len)
{
	if (isnan(ns))
		snprintf(buf, len, "-");
	else if (ns >= 1e6)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else if (ns >= 1e3)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else
		snprintf(buf, len, "%.0fns", ns);
}

static void human_bytes(double v, char *buf, size_t len)
{
	if (v >= 1073741824.0)
		snprintf(buf, len, "%.2f GiB/s", v / 1073741824.0);
	else if (v >= 1048576.0)
		snprintf(buf, len, "%.1f MiB/s", v / 1048576.0);
	else
		snprintf(buf, len, "%.1f KiB/s", v / 1024.0);
}

/* The row's key figures as one readable cell. */
static void summary_cell(const struct ipcb_gb_result *r, char *buf, size_t len)
{
	double p50, p99, mean, ips, bps, ops, aops, lops, tps, v, w;
	char a[32], b[32], c[32], d[32];
	if (r->error_occurred) {
		snprintf(buf, len, "ERROR: %s", r->error_message);
	} else if (ipcb_gb_result_counter(r, "spawn_ns", &mean)) {
		p99 = NAN;
		ipcb_gb_result_counter(r, "spawn_p99_ns", &p99);
		human_ns(mean, a, sizeof a);
		human_ns(p99, b, sizeof b);
		snprintf(buf, len, "spawn mean %-8s p99 %s", a, b);
	} else if (ipcb_gb_result_counter(r, "tasks_per_second", &tps) && ipcb_gb_result_counter(r, "of_ideal", &v)) {
		ipcb_fmt_rate(tps, "tasks/s", a, sizeof a);
		p99 = w = NAN;
		ipcb_gb_result_counter(r, "task_p99_ns", &p99);
		human_ns(p99, b, sizeof b);
		if (ipcb_gb_result_counter(r, "mem_per_worker_bytes", &w))
			snprintf(d, sizeof d, " %.0f KiB/worker", w / 1024);
		else
			d[0] = 0;
		snprintf(buf, len, "%-14s %3.0f%% of ideal  task p99 %-8s%s", a, 100 * v, b, d);
	} else if (ipcb_gb_result_counter(r, "tasks_per_second", &tps)) {
		ipcb_fmt_rate(tps, "tasks/s", a, sizeof a);
		human_ns(1e9 / tps, b, sizeof b);
		if (ipcb_gb_result_counter(r, "task_us", &v)) {
			human_ns(v * 1e3, c, sizeof c);
			snprintf(buf, len, "%-14s %-8s per task  (one task %s)", a, b, c);
		} else {
			snprintf(buf, len, "%-14s %-8s per task  (empty tasks)", a, b);
		}
	} else if (ipcb_gb_result_counter(r, "wake_rtt_p50_ns", &p50)) {
		mean = v = NAN;
		ipcb_gb_result_counter(r, "busy_rtt_p50_ns", &mean);
		ipcb_gb_result_counter(r, "idle_cpu_pct", &v);
		human_ns(p50, a, sizeof a);
		human_ns(mean, b, sizeof b);
		snprintf(buf, len, "first rtt p50 %-8s (busy %s)  %.2f%% CPU while blocked", a, b, v);
	} else if (ipcb_gb_result_counter(r, "rtt_p50_ns", &p50) && ipcb_gb_result_counter(r, "rtt_p99_ns", &p99)) {
		ipcb_gb_result_counter(r, "rtt_mean_ns", &mean);
		human_ns(p50, a, sizeof a);
		human_ns(p99, b, sizeof b);
		human_ns(mean, c, sizeof c);
		snprintf(buf, len, "rtt p50 %-8s p99 %-8s mean %s", a, b, c);
	} else if (ipcb_gb_result_counter(r, "ops_per_second", &ops)) {
		ipcb_fmt_rate(ops, "ops/s", a, sizeof a);
		aops = lops = NAN;
		ipcb_gb_result_counter(r, "atomic_ops_per_second", &aops);
		ipcb_gb_result_counter(r, "lock_ops_per_second", &lops);
		ipcb_fmt_rate(aops, "ops/s", b, sizeof b);
		ipcb_fmt_rate(lops, "ops/s", c, sizeof c);
		snprintf(buf, len, "%-14s plain atomic %s  shared mutex %s", a, b, c);
	} else if (ipcb_gb_result_counter(r, "items_per_second", &ips)) {
		ipcb_fmt_rate(ips, "msg/s", a, sizeof a);
		bps = 0;
		ipcb_gb_result_counter(r, "bytes_per_second", &bps);
		human_bytes(bps, b, sizeof b);
		snprintf(buf, len, "%-14s %s", a, b);
	} else if (ipcb_gb_result_counter(r, "bytes_per_second", &bps)) {
		human_bytes(bps, b, sizeof b);
		snprintf(buf, len, "copy %s", b);
	} else if (ipcb_gb_result_counter(r, "rtt_mean_ns", &mean)) {
		human_ns(mean, a, sizeof a);
		snprintf(buf, len, "rtt mean %s", a);
	} else {
		snprintf(buf, len, "%.1f %s per iteration", r->real_time, r->time_unit);
	}
}

static void on_rows(size_t first, size_t n, void *user)
{
	(void)user;
	watch_rows(first, n);
	progress_clear();
	if (!ui.header) {
		fprintf(ui.out, "%-58s %s\n", "benchmark", "result");
		ui.header = true;
	}
	for (size_t i = first; i < first + n; i++) {
		const struct ipcb_gb_result *r = ipcb_gb_result_at(i);
		if (!r)
			continue;
		if (r->error_occurred)
			ui.errors++;
		/* With repetitions, the mean and median say it; single runs show themselves. */
		if (r->run_type == IPCB_GB_RUN_AGGREGATE && strcmp(r->aggregate_name, "mean") &&
		    strcmp(r->aggregate_name, "median"))
			continue;
		if (r->run_type == IPCB_GB_RUN_ITERATION && r->repetitions > 1 && !r->error_occurred)
			continue;
		char cell[600], name[256];
		summary_cell(r, cell, sizeof cell);
		ipcb_clean_name(r->name, name, sizeof name);
		fprintf(ui.out, "%-58s %s\n", name, cell);
	}
	fflush(ui.out);
}

/* --- names ------------------------------------------------------------------ */

/*
 * Google Benchmark appends per-benchmark options to a name
 * ("/min_time:0.100/repeats:3/manual_time", then "_mean" on aggregates).
 * Our names are a contract (DESIGN.md §4) that reports and gates parse, so
 * those segments are taken out of every name we show or store.
 */
static const char *const gb_segments[] = {
	"min_time:", "min_warmup_time:", "iterations:", "repeats:", "threads:",
	"manual_time", "real_time", "process_time",
};

static size_t gb_segment_len(const char *seg, size_t len)
{
	for (size_t i = 0; i < sizeof gb_segments / sizeof *gb_segments; i++) {
		size_t n = strlen(gb_segments[i]);
		if (len < n || strncmp(seg, gb_segments[i], n))
			continue;
		if (gb_segments[i][n - 1] == ':')
			while (n < len && (seg[n] == '.' || (seg[n] >= '0' && seg[n] <= '9')))
				n++;
		return n;
	}
	return 0;
}

void ipcb_clean_name(const char *in, char *out, size_t len)
{
	size_t o = 0;
	if (!len)
		return;
	for (const char *p = in; *p;) {
		const char *slash = strchr(p + 1, '/');
		size_t seglen = slash ? (size_t)(slash - p) : strlen(p);
		size_t drop = *p == '/' ? gb_segment_len(p + 1, seglen - 1) : 0;
		if (drop) {
			/* Keep what follows the option in its segment: the aggregate's "_mean". */
			p += 1 + drop;
			seglen -= 1 + drop;
		}
		for (size_t i = 0; i < seglen && o + 1 < len; i++)
			out[o++] = p[i];
		p += seglen;
	}
	out[o] = 0;
}

/* Rewrites the "name"/"run_name" lines of Google Benchmark's JSON in place. */
static int clean_json_names(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %.900s: %s", path, strerror(errno));
		return -1;
	}
	char tmp[1300];
	snprintf(tmp, sizeof tmp, "%.1200s.tmp", path);
	FILE *o = fopen(tmp, "w");
	if (!o) {
		fclose(f);
		snprintf(err, errlen, "cannot write %.900s: %s", tmp, strerror(errno));
		return -1;
	}
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		char *k = line + strspn(line, " ");
		size_t klen = !strncmp(k, "\"name\": \"", 9) ? 9 : !strncmp(k, "\"run_name\": \"", 13) ? 13 : 0;
		char *end = klen ? strrchr(k + klen, '"') : NULL;
		if (end) {
			char name[1024], clean[1024];
			size_t n = (size_t)(end - (k + klen));
			if (n < sizeof name) {
				memcpy(name, k + klen, n);
				name[n] = 0;
				ipcb_clean_name(name, clean, sizeof clean);
				fprintf(o, "%.*s%s%s", (int)(k + klen - line), line, clean, end);
				continue;
			}
		}
		/* Google Benchmark writes a NaN counter (the cv of a counter whose mean is 0) as a bare NaN,
		 * which is not JSON: null says "no value" to every JSON reader. */
		char *colon = strstr(line, "\": ");
		if (colon) {
			char *v = colon + 3;
			size_t vl = strcspn(v, ",\n");
			if ((vl == 3 && (!strncasecmp(v, "nan", 3) || !strncasecmp(v, "inf", 3))) ||
			    (vl == 4 && (!strncasecmp(v, "-nan", 4) || !strncasecmp(v, "-inf", 4)))) {
				fprintf(o, "%.*snull%s", (int)(v - line), line, v + vl);
				continue;
			}
		}
		fputs(line, o);
	}
	fclose(f);
	if (fclose(o) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "rewriting %.900s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* --- output folder -------------------------------------------------------- */

static int mkdir_p(const char *path, char *err, size_t errlen)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = buf + 1;; s++) {
		char ch = *s;
		if (ch == '/' || ch == 0) {
			*s = 0;
			if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
				snprintf(err, errlen, "mkdir %s: %s", buf, strerror(errno));
				return -1;
			}
			*s = ch;
		}
		if (!ch)
			break;
	}
	return 0;
}

static int make_run_dir(const char *root, char *dir, size_t dirlen, char *base, size_t baselen, char *err,
                        size_t errlen)
{
	if (mkdir_p(root, err, errlen) != 0)
		return -1;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char stamp[64];
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H-%M-%SZ", &tm);
	for (int i = 1; i < 100; i++) {
		if (i == 1)
			snprintf(base, baselen, "%s", stamp);
		else
			snprintf(base, baselen, "%s-%d", stamp, i);
		snprintf(dir, dirlen, "%s/%s", root, base);
		if (mkdir(dir, 0777) == 0)
			return 0;
		if (errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	snprintf(err, errlen, "mkdir %s: too many runs in one second", dir);
	return -1;
}

/* root/latest -> base, replaced atomically (a relative link survives moving root). */
static int link_latest(const char *root, const char *base, char *err, size_t errlen)
{
	char tmp[1100], latest[1100];
	snprintf(tmp, sizeof tmp, "%s/.latest.%d", root, (int)getpid());
	snprintf(latest, sizeof latest, "%s/latest", root);
	unlink(tmp);
	if (symlink(base, tmp) != 0 || rename(tmp, latest) != 0) {
		snprintf(err, errlen, "linking %.900s -> %.100s: %s", latest, base, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void csv_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
	fputc('"', f);
}

static const char *const csv_counters[] = {
	"items_per_second", "bytes_per_second", "rtt_p50_ns", "rtt_p90_ns", "rtt_p99_ns", "rtt_p999_ns",
	"rtt_max_ns", "rtt_mean_ns", "timer_cost_ns", "batch_msgs", "ops_per_second", "atomic_ops_per_second",
	"lock_ops_per_second", "tasks_per_second", "speedup", "efficiency", "task_us", "of_ideal", "task_p50_ns",
	"task_p99_ns",
	"rss_per_worker_bytes", "pss_per_worker_bytes", "mem_per_worker_bytes", "spawn_ns", "spawn_p50_ns",
	"spawn_p99_ns",
};

/* speedup and efficiency come from the runner (findings.c), the rest from the rows. */
static int write_csv(const char *path, const double *speedup, const double *efficiency, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write %.900s: %s", path, strerror(errno));
		return -1;
	}
	fputs("name,run_type,aggregate,repetition,iterations,real_time,cpu_time,time_unit", f);
	for (size_t k = 0; k < sizeof csv_counters / sizeof *csv_counters; k++)
		fprintf(f, ",%s", csv_counters[k]);
	fputs(",label,error_occurred,error_message\n", f);
	for (size_t i = 0; i < ipcb_gb_result_count(); i++) {
		const struct ipcb_gb_result *r = ipcb_gb_result_at(i);
		char name[256];
		ipcb_clean_name(r->name, name, sizeof name);
		csv_str(f, name);
		fprintf(f, ",%s,%s,%lld,%lld,%.6g,%.6g,%s", r->run_type == IPCB_GB_RUN_AGGREGATE ? "aggregate" : "iteration",
		        r->aggregate_name, (long long)r->repetition_index, (long long)r->iterations, r->real_time,
		        r->cpu_time, r->time_unit);
		for (size_t k = 0; k < sizeof csv_counters / sizeof *csv_counters; k++) {
			double v = NAN;
			if (!strcmp(csv_counters[k], "speedup") || !strcmp(csv_counters[k], "efficiency")) {
				v = csv_counters[k][0] == 's' ? speedup[i] : efficiency[i];
				if (!isnan(v))
					fprintf(f, ",%.6g", v);
				else
					fputs(",", f);
			} else if (ipcb_gb_result_counter(r, csv_counters[k], &v))
				fprintf(f, ",%.6g", v);
			else
				fputs(",", f);
		}
		fputc(',', f);
		csv_str(f, r->label);
		fprintf(f, ",%s,", r->error_occurred ? "true" : "false");
		csv_str(f, r->error_message);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		snprintf(err, errlen, "writing %.900s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* --- run ------------------------------------------------------------------ */

static void bench_fn(ipcb_gb_state *st, void *arg)
{
	const struct ipcb_case *c = arg;
	ipcb_case_started(c);
	watch_probe();
	if (c->peer)
		ipcb_peer_run(st, c);
	else
		c->wl->run(st, c);
}

/* "cross-core=0,1 same-pu=0,0 ..." and the CPUs used, for the context. */
static void describe_cpus(const struct ipcb_plan *p, char *places, size_t plen, char *cpus, size_t clen)
{
	bool seen_place[IPCB_PLACE_COUNT] = { false };
	unsigned used = 0; /* CPUs < 64 only; beyond, the placements line still says */
	size_t off = 0;
	places[0] = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct ipcb_case *c = &p->cases[i];
		if (c->cpu_a >= 0 && c->cpu_a < 32)
			used |= 1u << c->cpu_a;
		if (c->cpu_b >= 0 && c->cpu_b < 32)
			used |= 1u << c->cpu_b;
		if (seen_place[c->place] || c->row == IPCB_LIMIT_MEMCPY)
			continue;
		seen_place[c->place] = true;
		if (c->cpu_a < 0)
			off += (size_t)snprintf(places + off, off < plen ? plen - off : 0, "%s%s=unpinned", off ? " " : "",
			                        ipcb_placement_name(c->place));
		else
			off += (size_t)snprintf(places + off, off < plen ? plen - off : 0, "%s%s=%d,%d", off ? " " : "",
			                        ipcb_placement_name(c->place), c->cpu_a, c->cpu_b);
	}
	off = 0;
	cpus[0] = 0;
	for (int i = 0; i < 32; i++)
		if (used & (1u << i))
			off += (size_t)snprintf(cpus + off, off < clen ? clen - off : 0, "%s%d", off ? "," : "", i);
	if (!cpus[0])
		snprintf(cpus, clen, "unpinned");
}

int ipcb_run(const struct ipcb_run_opts *o)
{
	char err[1200];
	struct ipcb_suite suite;
	struct ipcb_plan plan = { 0 };
	hwloc_topology_t topo = NULL;
	int rc = 2;

	if (ipcb_suite_load(o->suite ? o->suite : "quick", &suite, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench run: %s\n", err);
		return 2;
	}
	if (ipcb_topo_open(&topo, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench run: %s\n", err);
		rc = 1;
		goto out;
	}
	char peer_host[256];
	if (o->peer && ipcb_peer_connect_env(o->peer, peer_host, sizeof peer_host, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench run: --peer %s: %s\n", o->peer, err);
		rc = 1;
		goto out;
	}
	if (o->peer ? plan_peer(&suite, &o->filter, o->peer, peer_host, topo, &plan) != 0
	            : ipcb_plan_build(&suite, &o->filter, topo, &plan) != 0) {
		fprintf(stderr, "ipcbench run: out of memory while planning\n");
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < plan.nskips; i++)
		fprintf(stderr, "%s\n", plan.skips[i]);

	size_t selected = 0;
	for (size_t i = 0; i < plan.n; i++) {
		struct ipcb_case *c = &plan.cases[i];
		struct ipcb_gb_opts opts = c->wl->opts;
		opts.unit = c->wl == &ipcb_workload_limit ? IPCB_GB_NS : IPCB_GB_US;
		if (c->min_time > 0 && !o->gb_min_time && opts.iterations == 0) /* pyref: its script takes min_time */
			opts.min_time = c->min_time;
		if (c->repetitions > 0 && !o->gb_repetitions)
			opts.repetitions = c->repetitions;
		if (o->repetitions > 0)
			opts.repetitions = o->repetitions;
		if (ipcb_gb_register(c->name, bench_fn, c, &opts) != 0) {
			rc = 1;
			goto out;
		}
		if (ipcb_gb_filter_matches(c->name, NULL))
			selected++;
	}
	if (!selected) {
		fprintf(stderr,
		        "ipcbench run: nothing to run: suite %s has no benchmark that matches the filters on this machine%s\n",
		        suite.name, o->suite ? "" : " (the default suite is quick; try --suite full)");
		goto out;
	}

	const char *root = o->out_root ? o->out_root : "results";
	char dir[1100], base[128], json[1200], csv[1200];
	if (make_run_dir(root, dir, sizeof dir, base, sizeof base, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench run: %s; choose another folder with --out DIR\n", err);
		rc = 1;
		goto out;
	}
	snprintf(json, sizeof json, "%s/results.json", dir);
	snprintf(csv, sizeof csv, "%s/results.csv", dir);

	/* Like most servers, the benchmark takes EPIPE as an error code rather than
	 * a signal, so pipe puts skip blocking SIGPIPE around each write. */
	signal(SIGPIPE, SIG_IGN);
	struct ipcb_env *env = calloc(1, sizeof *env);
	if (env) {
		char places[600], cpus[200];
		ipcb_env_capture(env, topo);
		describe_cpus(&plan, places, sizeof places, cpus, sizeof cpus);
		ipcb_env_set(env, "cpus_used", cpus);
		ipcb_env_set(env, "placements", places);
		ipcb_env_set(env, "suite", suite.name);
		ipcb_env_set(env, "sigpipe", "ignored; queues opened with IPCQ_SIGPIPE_IGNORED");
		if (o->peer) /* the agent's own environment goes in as context "peer" after the run */
			ipcb_env_set(env, "peer_address", o->peer);
		const char *delay; /* a run slowed on purpose must say so in its results */
		if (ipcb_test_delay_check(&delay, err, sizeof err) != 0)
			fprintf(stderr, "ipcbench run: %s (ignored)\n", err);
		else if (delay)
			fprintf(stderr, "ipcbench run: IPCB_TEST_DELAY=%s: slowed on purpose, for tests only\n", delay);
		if (delay)
			ipcb_env_set(env, "test_delay", delay);
		if (ipcb_env_add_to_gbench(env) != 0 || (o->command && ipcb_gb_add_context("command", o->command) != 0))
			fprintf(stderr, "ipcbench run: some environment keys did not reach results.json\n");
		free(env);
	}

	fprintf(stderr, "ipcbench: suite %s: %zu benchmarks -> %s\n", suite.name, selected, dir);
	memset(&ui, 0, sizeof ui);
	ui.tty = isatty(STDERR_FILENO);
	ui.total = selected;
	ui.start_ns = ipcb_now_ns();
	ui.plan = &plan;
	watch_open(&plan, topo);
	ipcb_timer_cost(); /* measured once, before any benchmark pins us */
	for (size_t i = 0; i < plan.n; i++)
		if (plan.cases[i].wl == &ipcb_workload_cpu) {
			/* Before Google Benchmark writes the context, and before any pool forks. */
			char cal[160];
			snprintf(cal, sizeof cal, "%.1f hash iterations per microsecond (cpu task grain; fastest of 15 "
			         "runs of >= 5 ms, unpinned)", ipcb_cpu_calibrate());
			if (ipcb_gb_add_context("cpu_grain_calibration", cal) != 0)
				fprintf(stderr, "ipcbench run: the cpu calibration did not reach results.json\n");
			break;
		}

	/* Google Benchmark's console table goes to stdout; ours replaces it
	 * unless the user asked for a format. Children inherit the quiet stdout. */
	fflush(stdout);
	int saved = -1;
	if (!o->gb_display) {
		saved = dup(STDOUT_FILENO);
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (saved >= 0 && null >= 0)
			dup2(null, STDOUT_FILENO);
		if (null >= 0)
			close(null);
		ui.out = saved >= 0 ? fdopen(dup(saved), "w") : NULL;
	}
	/* With Google Benchmark's own format on stdout (json, csv), ours must not mix in. */
	if (!ui.out)
		ui.out = o->gb_display ? stderr : stdout;

	ipcb_gb_set_report_callback(on_rows, NULL);
	long ran = ipcb_gb_run(json, NULL);
	ipcb_gb_set_report_callback(NULL, NULL);
	progress_clear();
	fflush(stdout);
	if (saved >= 0) {
		dup2(saved, STDOUT_FILENO);
		close(saved);
	}
	if (ui.out != stdout && ui.out != stderr)
		fclose(ui.out);
	FILE *tail = o->gb_display ? stderr : stdout;

	if (ran < 0) {
		rc = 1;
		goto out;
	}
	rc = 0;
	if (clean_json_names(json, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench run: %s\n", err);
		rc = 1;
	}
	if (o->peer && ipcb_peer_amend(json, o->peer, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench run: %s\n", err);
		rc = 1;
	}
	size_t nres = ipcb_gb_result_count();
	double *speedup = calloc(nres ? nres : 1, sizeof *speedup);
	double *efficiency = calloc(nres ? nres : 1, sizeof *efficiency);
	struct ipcb_findings findings = { 0 };
	ipcb_pool_speedups(speedup, efficiency, speedup && efficiency ? nres : 0);
	if (!speedup || !efficiency || ipcb_findings_compute(speedup, ipcb_topo_pu_count(topo), &findings) != 0) {
		fprintf(stderr, "ipcbench run: out of memory for the speedups and findings\n");
		rc = 1;
	} else {
		if (watch_amend(json, &findings, err, sizeof err) != 0) {
			fprintf(stderr, "ipcbench run: %s\n", err);
			rc = 1;
		}
		if (ipcb_results_amend(json, speedup, efficiency, &findings, err, sizeof err) != 0) {
			fprintf(stderr, "ipcbench run: %s\n", err);
			rc = 1;
		}
		if (write_csv(csv, speedup, efficiency, err, sizeof err) != 0) {
			fprintf(stderr, "ipcbench run: %s\n", err);
			rc = 1;
		}
		ipcb_findings_print(&findings, tail);
	}
	ipcb_findings_free(&findings);
	free(speedup);
	free(efficiency);
	if (link_latest(root, base, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench run: %s\n", err);
		rc = 1;
	}
	char took[32];
	fmt_duration((double)(ipcb_now_ns() - ui.start_ns) / 1e9, took, sizeof took);
	fprintf(tail, "\n%ld benchmark%s in %s", ran, ran == 1 ? "" : "s", took);
	if (ui.errors)
		fprintf(tail, ", %zu ended with an error (see ERROR rows)", ui.errors);
	fprintf(tail, ".\nresults: %s/results.json, %s/results.csv (also %s/latest)\n", dir, dir, root);
out:
	free(watch.row);
	watch.row = NULL;
	ipcb_plan_free(&plan);
	ipcb_suite_free(&suite);
	ipcb_topo_close(topo);
	return rc;
}

/* --- list suites -------------------------------------------------------------- */

static void line_summary(const struct ipcb_suite_line *l, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "%-8s", l->wl->name);
#define ADD(...) off += (size_t)snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__)
	if (l->wl == &ipcb_workload_limit) {
		ADD(" rows=");
		for (int r = 0, k = 0; r < IPCB_LIMIT_COUNT; r++)
			if (l->rows & (1u << r))
				ADD("%s%s", k++ ? "," : "", ipcb_limit_row_name(r));
	} else if (l->wl == &ipcb_workload_spawn) {
		ADD(" modes=%s%s%s", l->modes & IPCB_MODE_PROCESS ? "process(fork,posix_spawn)" : "",
		    l->modes == (IPCB_MODE_PROCESS | IPCB_MODE_THREAD) ? "," : "",
		    l->modes & IPCB_MODE_THREAD ? "thread(pthread_create)" : "");
	} else if (l->wl == &ipcb_workload_pyref) {
		ADD(" rows=py-mp-queue,py-mp-pipe(pingpong,stream),py-mp-pool(empty tasks)");
	} else if (l->wl == &ipcb_workload_zmqref) {
		ADD(" rows=zeromq-native(pingpong: PAIR, stream: PUSH/PULL)");
	} else {
		uint64_t all = ipcq_mech_count() >= 64 ? ~0ull : (1ull << ipcq_mech_count()) - 1;
		ADD(" mechanisms=");
		if ((l->mechs & all) == all)
			ADD("all");
		else
			for (size_t i = 0, k = 0; i < ipcq_mech_count() && i < 64; i++)
				if (l->mechs & (1ull << i))
					ADD("%s%s", k++ ? "," : "", ipcq_mech_name(ipcq_mech_at(i)));
		ADD(" modes=%s%s%s", l->modes & IPCB_MODE_PROCESS ? "process" : "",
		    l->modes == (IPCB_MODE_PROCESS | IPCB_MODE_THREAD) ? "," : "", l->modes & IPCB_MODE_THREAD ? "thread" : "");
	}
	ADD(" placements=");
	int k = 0;
	if (l->places & IPCB_PLACE_CROSS_BIT)
		ADD("%s", IPCB_PLACE_CROSS_NAME), k++;
	for (int p = 0; p < IPCB_PLACE_COUNT; p++)
		if (l->places & (1u << p))
			ADD("%s%s", k++ ? "," : "", ipcb_placement_name(p));
	bool pool = l->wl == &ipcb_workload_cpu || l->wl == &ipcb_workload_io;
	if (pool || l->wl == &ipcb_workload_wake) {
		ADD(" %s=", pool ? "grains" : "idle");
		for (unsigned i = 0; i < l->ngrains; i++) {
			char g[24];
			ADD("%s%s", i ? "," : "", ipcb_us_str(l->grains[i], g, sizeof g));
		}
	}
	if (!pool && l->wl != &ipcb_workload_spawn) {
		ADD(" sizes=");
		for (unsigned i = 0; i < l->nsizes; i++) {
			char s[16];
			ADD("%s%s", i ? "," : "", ipcb_size_str(l->sizes[i], s, sizeof s));
		}
	}
	bool shared_n = l->wl == &ipcb_workload_shared && !(l->nworkers == 1 && l->workers[0] == 2);
	if (l->wl == &ipcb_workload_cpu || l->wl == &ipcb_workload_pyref || shared_n) {
		ADD(" workers=");
		for (unsigned i = 0; i < l->nworkers; i++) {
			int w = l->workers[i];
			if (w > 0)
				ADD("%s%d", i ? "," : "", w);
			else if (w == -1)
				ADD("%spus", i ? "," : "");
			else
				ADD("%s%dpus", i ? "," : "", -w);
		}
	} else if (l->wl == &ipcb_workload_io) {
		ADD(" tasks=");
		for (int k = 0, j = 0; k < IPCB_IO_COUNT; k++)
			if (l->tasks & (1u << k))
				ADD("%s%s", j++ ? "," : "", ipcb_io_task_name(k));
		ADD(" concurrency=");
		for (unsigned i = 0; i < l->nconc; i++)
			ADD("%s%u", i ? "," : "", l->conc[i]);
	}
	if (l->apis != 1u << IPCB_API_COPY) {
		static const char *const api_names[IPCB_API_COUNT] = { "copy", "zerocopy", "many" };
		ADD(" api=");
		for (int k = 0, j = 0; k < IPCB_API_COUNT; k++)
			if (l->apis & (1u << k))
				ADD("%s%s", j++ ? "," : "", api_names[k]);
	}
	if (l->wl == &ipcb_workload_stream) {
		ADD(" pairs=");
		for (unsigned i = 0; i < l->npairs; i++)
			ADD("%s%ux%u", i ? "," : "", l->pairs[i].producers, l->pairs[i].consumers);
	}
	if (l->min_time > 0)
		ADD(" min_time=%g", l->min_time);
	if (l->repetitions > 0)
		ADD(" repetitions=%d", l->repetitions);
#undef ADD
}

int ipcb_list_suites(FILE *f)
{
	char names[32][64], err[1200];
	size_t n = ipcb_suite_builtin(names, 32);
	hwloc_topology_t topo = NULL;
	if (ipcb_topo_open(&topo, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench list suites: %s\n", err);
		return 1;
	}
	if (!n)
		fprintf(f, "no suites found in %s (set IPCB_SUITE_DIR to the folder holding *.suite)\n", ipcb_suite_dir());
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct ipcb_suite s;
		if (ipcb_suite_load(names[i], &s, err, sizeof err) != 0) {
			fprintf(f, "%s: BROKEN: %s\n", names[i], err);
			rc = 1;
			continue;
		}
		struct ipcb_plan plan = { 0 };
		struct ipcb_filter none = { 0 };
		ipcb_plan_build(&s, &none, topo, &plan);
		size_t per[N_WORKLOADS] = { 0 };
		for (size_t k = 0; k < plan.n; k++)
			per[workload_index(plan.cases[k].wl)]++;
		fprintf(f, "%s — %s\n  %zu benchmarks on this machine (", s.name, s.about[0] ? s.about : "(no description)",
		        plan.n);
		for (size_t w = 0, k = 0; w < N_WORKLOADS; w++)
			if (per[w])
				fprintf(f, "%s%zu %s", k++ ? ", " : "", per[w], workloads[w]->name);
		fprintf(f, ")%s; file %s\n", plan.nskips ? ", after the skips below" : "", s.path);
		for (size_t k = 0; k < s.nlines; k++) {
			char line[800];
			line_summary(&s.lines[k], line, sizeof line);
			fprintf(f, "    %s\n", line);
		}
		for (size_t k = 0; k < plan.nskips; k++)
			fprintf(f, "    (%s)\n", plan.skips[k]);
		ipcb_plan_free(&plan);
		ipcb_suite_free(&s);
	}
	fprintf(f, "Run one with `ipcbench run --suite NAME`, or your own with `ipcbench run --suite FILE`.\n");
	ipcb_topo_close(topo);
	return rc;
}
