/*
 * suite.c - suite files and value lists (see suite.h).
 *
 * Sections: value parsers (sizes, mechanisms, modes, placements, rows,
 * pairs); the line parser; loading files and finding built-in suites.
 */
#include "suite.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef IPCB_SOURCE_DIR
#define IPCB_SOURCE_DIR "."
#endif

/* Calls fn on each comma-separated item of list (trimmed, non-empty). */
static int each_item(const char *list, int (*fn)(const char *item, void *ctx, char *err, size_t errlen),
                     void *ctx, const char *what, char *err, size_t errlen)
{
	char buf[1024];
	if (!list || !*list || strlen(list) >= sizeof buf) {
		snprintf(err, errlen, "%s: %s list", what, !list || !*list ? "empty" : "overlong");
		return -1;
	}
	strcpy(buf, list);
	char *save = NULL;
	int n = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		char *end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = 0;
		if (!*tok)
			continue;
		if (fn(tok, ctx, err, errlen) != 0)
			return -1;
		n++;
	}
	if (!n) {
		snprintf(err, errlen, "%s: empty list", what);
		return -1;
	}
	return 0;
}

/* --- sizes ---------------------------------------------------------------- */

int ipcb_parse_size(const char *s, size_t *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mul = 1;
	if (end == s || errno || *s == '-')
		goto bad;
	if (!strcasecmp(end, "") || !strcasecmp(end, "b"))
		mul = 1;
	else if (!strcasecmp(end, "k") || !strcasecmp(end, "kib") || !strcasecmp(end, "kb"))
		mul = 1024;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mib") || !strcasecmp(end, "mb"))
		mul = 1024 * 1024;
	else
		goto bad;
	if (v > IPCB_SIZE_MAX / mul || v * mul < IPCB_SIZE_MIN || v * mul > IPCB_SIZE_MAX) {
		snprintf(err, errlen, "size '%s' is out of range: sizes go from %u B to %u MiB", s, IPCB_SIZE_MIN,
		         IPCB_SIZE_MAX >> 20);
		return -1;
	}
	*out = (size_t)(v * mul);
	return 0;
bad:
	snprintf(err, errlen,
	         "unknown size '%s': give bytes as a number with an optional K/KiB or M/MiB suffix "
	         "(8, 64, 4K, 1M; K = 1024), from %u B to %u MiB",
	         s, IPCB_SIZE_MIN, IPCB_SIZE_MAX >> 20);
	return -1;
}

struct sizes_ctx {
	size_t *sizes;
	unsigned n;
};

static int add_size(const char *item, void *ctx, char *err, size_t errlen)
{
	struct sizes_ctx *c = ctx;
	size_t v;
	if (ipcb_parse_size(item, &v, err, errlen) != 0)
		return -1;
	for (unsigned i = 0; i < c->n; i++)
		if (c->sizes[i] == v)
			return 0;
	if (c->n >= IPCB_MAX_SIZES) {
		snprintf(err, errlen, "sizes: more than %d sizes", IPCB_MAX_SIZES);
		return -1;
	}
	c->sizes[c->n++] = v;
	return 0;
}

int ipcb_parse_sizes(const char *list, size_t *sizes, unsigned *n, char *err, size_t errlen)
{
	struct sizes_ctx c = { sizes, 0 };
	if (each_item(list, add_size, &c, "sizes", err, errlen) != 0)
		return -1;
	*n = c.n;
	return 0;
}

const char *ipcb_size_str(size_t n, char *buf, size_t len)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, len, "%zuM", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%zuK", n >> 10);
	else
		snprintf(buf, len, "%zu", n);
	return buf;
}

const char *ipcb_us_str(unsigned us, char *buf, size_t len)
{
	if (us >= 1000000u && us % 1000000u == 0)
		snprintf(buf, len, "%us", us / 1000000u);
	else if (us >= 1000u && us % 1000u == 0)
		snprintf(buf, len, "%ums", us / 1000u);
	else
		snprintf(buf, len, "%uus", us);
	return buf;
}

/* --- names ---------------------------------------------------------------- */

static void mech_names(char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	for (size_t i = 0; i < ipcq_mech_count() && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", ipcq_mech_name(ipcq_mech_at(i)));
}

static int add_mech(const char *item, void *ctx, char *err, size_t errlen)
{
	uint64_t *mask = ctx;
	if (!strcmp(item, "all")) {
		size_t n = ipcq_mech_count();
		*mask |= n >= 64 ? ~0ull : (1ull << n) - 1;
		return 0;
	}
	/* "-name" takes one out again; one this build lacks is already out (a suite
	 * saying all,-tcp must load where tcp is not built). */
	bool drop = item[0] == '-';
	for (size_t i = 0; i < ipcq_mech_count() && i < 64; i++)
		if (!strcmp(item + drop, ipcq_mech_name(ipcq_mech_at(i)))) {
			if (drop)
				*mask &= ~(1ull << i);
			else
				*mask |= 1ull << i;
			return 0;
		}
	if (drop && item[1])
		return 0;
	char names[512];
	mech_names(names, sizeof names);
	snprintf(err, errlen, "unknown mechanism '%s': valid mechanisms are all, %s (-NAME leaves one out)", item, names);
	return -1;
}

int ipcb_parse_mechs(const char *list, uint64_t *mask, char *err, size_t errlen)
{
	*mask = 0;
	return each_item(list, add_mech, mask, "mechanisms", err, errlen);
}

static int add_mode(const char *item, void *ctx, char *err, size_t errlen)
{
	unsigned *mask = ctx;
	if (!strcmp(item, "process"))
		*mask |= IPCB_MODE_PROCESS;
	else if (!strcmp(item, "thread"))
		*mask |= IPCB_MODE_THREAD;
	else if (!strcmp(item, "all"))
		*mask |= IPCB_MODE_PROCESS | IPCB_MODE_THREAD;
	else {
		snprintf(err, errlen, "unknown mode '%s': valid modes are process, thread", item);
		return -1;
	}
	return 0;
}

int ipcb_parse_modes(const char *list, unsigned *mask, char *err, size_t errlen)
{
	*mask = 0;
	return each_item(list, add_mode, mask, "modes", err, errlen);
}

static int add_place(const char *item, void *ctx, char *err, size_t errlen)
{
	unsigned *mask = ctx;
	if (!strcmp(item, "all")) {
		*mask |= (1u << IPCB_PLACE_COUNT) - 1;
		return 0;
	}
	if (!strcmp(item, IPCB_PLACE_CROSS_NAME)) {
		*mask |= IPCB_PLACE_CROSS_BIT;
		return 0;
	}
	int p = ipcb_placement_from_name(item);
	if (p < 0) {
		size_t off = (size_t)snprintf(err, errlen, "unknown placement '%s': valid placements are all", item);
		for (int i = 0; i < IPCB_PLACE_COUNT && off < errlen; i++)
			off += (size_t)snprintf(err + off, errlen - off, ", %s", ipcb_placement_name(i));
		if (off < errlen)
			snprintf(err + off, errlen - off, ", %s (the nearest pair of different cores)", IPCB_PLACE_CROSS_NAME);
		return -1;
	}
	*mask |= 1u << p;
	return 0;
}

int ipcb_parse_places(const char *list, unsigned *mask, char *err, size_t errlen)
{
	*mask = 0;
	return each_item(list, add_place, mask, "placements", err, errlen);
}

static int add_row(const char *item, void *ctx, char *err, size_t errlen)
{
	unsigned *mask = ctx;
	if (!strcmp(item, "all")) {
		*mask |= (1u << IPCB_LIMIT_COUNT) - 1;
		return 0;
	}
	int r = ipcb_limit_row_from_name(item);
	if (r < 0) {
		snprintf(err, errlen, "unknown limit row '%s': valid rows are all, c2c, memcpy, ring", item);
		return -1;
	}
	*mask |= 1u << r;
	return 0;
}

int ipcb_parse_rows(const char *list, unsigned *mask, char *err, size_t errlen)
{
	*mask = 0;
	return each_item(list, add_row, mask, "rows", err, errlen);
}

struct pairs_ctx {
	struct ipcb_pairs *p;
	unsigned n;
};

static int add_pair(const char *item, void *ctx, char *err, size_t errlen)
{
	struct pairs_ctx *c = ctx;
	unsigned a, b;
	char tail;
	if (sscanf(item, "%ux%u%c", &a, &b, &tail) != 2 || a < 1 || b < 1 || a > IPCB_MAX_PEERS ||
	    b > IPCB_MAX_PEERS) {
		snprintf(err, errlen, "bad pairs '%s': write producers x consumers as NxM, e.g. 1x1, 2x2, 4x1 (1..%d each)",
		         item, IPCB_MAX_PEERS);
		return -1;
	}
	if (c->n >= IPCB_MAX_PAIRS) {
		snprintf(err, errlen, "pairs: more than %d entries", IPCB_MAX_PAIRS);
		return -1;
	}
	c->p[c->n++] = (struct ipcb_pairs){ a, b };
	return 0;
}

int ipcb_parse_pairs(const char *list, struct ipcb_pairs *pairs, unsigned *n, char *err, size_t errlen)
{
	struct pairs_ctx c = { pairs, 0 };
	if (each_item(list, add_pair, &c, "pairs", err, errlen) != 0)
		return -1;
	*n = c.n;
	return 0;
}

/* --- pool sweeps: workers, grains, concurrency, io tasks ------------------- */

struct counts_ctx {
	int *iv;        /* workers */
	unsigned *uv;   /* grains, concurrency */
	unsigned n;
	const char *what;
};

static int counts_push(struct counts_ctx *c, long v, char *err, size_t errlen)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->iv ? c->iv[i] == v : c->uv[i] == (unsigned)v)
			return 0;
	if (c->n >= IPCB_MAX_COUNTS) {
		snprintf(err, errlen, "%s: more than %d values", c->what, IPCB_MAX_COUNTS);
		return -1;
	}
	if (c->iv)
		c->iv[c->n++] = (int)v;
	else
		c->uv[c->n++] = (unsigned)v;
	return 0;
}

static int add_worker(const char *item, void *ctx, char *err, size_t errlen)
{
	struct counts_ctx *c = ctx;
	char *end;
	long v = strtol(item, &end, 10);
	if (end == item && !strcasecmp(item, "pus"))
		return counts_push(c, -1, err, errlen);
	if (end != item && !strcasecmp(end, "pus") && v >= 1 && v <= 64)
		return counts_push(c, -v, err, errlen);
	if (end == item || *end || v < 1 || v > IPCB_MAX_WORKERS) {
		snprintf(err, errlen,
		         "bad workers '%s': give a count from 1 to %d, or pus / Npus (N times this machine's PUs), "
		         "e.g. workers=1,2,pus,2pus", item, IPCB_MAX_WORKERS);
		return -1;
	}
	return counts_push(c, v, err, errlen);
}

int ipcb_parse_workers(const char *list, int *workers, unsigned *n, char *err, size_t errlen)
{
	struct counts_ctx c = { .iv = workers, .what = "workers" };
	if (each_item(list, add_worker, &c, "workers", err, errlen) != 0)
		return -1;
	*n = c.n;
	return 0;
}

static int add_grain(const char *item, void *ctx, char *err, size_t errlen)
{
	struct counts_ctx *c = ctx;
	char *end;
	errno = 0;
	double v = strtod(item, &end);
	double mul = 1;
	if (end == item || errno || v < 0)
		goto bad;
	if (!*end || !strcasecmp(end, "us"))
		mul = 1;
	else if (!strcasecmp(end, "ms"))
		mul = 1000;
	else if (!strcasecmp(end, "s"))
		mul = 1e6;
	else
		goto bad;
	v *= mul;
	if (v > IPCB_MAX_GRAIN_US || v != (double)(unsigned)v)
		goto bad;
	return counts_push(c, (long)v, err, errlen);
bad:
	snprintf(err, errlen,
	         "bad grain '%s': give whole microseconds with an optional us/ms/s suffix (0, 50, 1ms, 10ms), "
	         "up to %u s", item, IPCB_MAX_GRAIN_US / 1000000u);
	return -1;
}

int ipcb_parse_grains(const char *list, unsigned *grains_us, unsigned *n, char *err, size_t errlen)
{
	struct counts_ctx c = { .uv = grains_us, .what = "grains" };
	if (each_item(list, add_grain, &c, "grains", err, errlen) != 0)
		return -1;
	*n = c.n;
	return 0;
}

static int add_count(const char *item, void *ctx, char *err, size_t errlen)
{
	struct counts_ctx *c = ctx;
	char *end;
	long v = strtol(item, &end, 10);
	if (end == item || *end || v < 1 || v > IPCB_MAX_WORKERS) {
		snprintf(err, errlen, "bad %s '%s': give a count from 1 to %d", c->what, item, IPCB_MAX_WORKERS);
		return -1;
	}
	return counts_push(c, v, err, errlen);
}

int ipcb_parse_counts(const char *list, unsigned *counts, unsigned *n, char *err, size_t errlen)
{
	struct counts_ctx c = { .uv = counts, .what = "concurrency" };
	if (each_item(list, add_count, &c, "concurrency", err, errlen) != 0)
		return -1;
	*n = c.n;
	return 0;
}

static int add_io_task(const char *item, void *ctx, char *err, size_t errlen)
{
	unsigned *mask = ctx;
	if (!strcmp(item, "all")) {
		*mask |= (1u << IPCB_IO_COUNT) - 1;
		return 0;
	}
	for (int k = 0; k < IPCB_IO_COUNT; k++)
		if (!strcmp(item, ipcb_io_task_name(k))) {
			*mask |= 1u << k;
			return 0;
		}
	snprintf(err, errlen, "unknown io task '%s': valid tasks are all, sleep, socket", item);
	return -1;
}

int ipcb_parse_io_tasks(const char *list, unsigned *mask, char *err, size_t errlen)
{
	*mask = 0;
	return each_item(list, add_io_task, mask, "tasks", err, errlen);
}

static int add_api(const char *item, void *ctx, char *err, size_t errlen)
{
	unsigned *mask = ctx;
	if (!strcmp(item, "copy"))
		*mask |= 1u << IPCB_API_COPY;
	else if (!strcmp(item, "zerocopy"))
		*mask |= 1u << IPCB_API_ZEROCOPY;
	else if (!strcmp(item, "many"))
		*mask |= 1u << IPCB_API_MANY;
	else {
		snprintf(err, errlen, "api '%s': valid values are copy, zerocopy and many", item);
		return -1;
	}
	return 0;
}

/* --- lines ---------------------------------------------------------------- */

static void line_defaults(struct ipcb_suite_line *l)
{
	char e[8];
	memset(l, 0, sizeof *l);
	ipcb_parse_mechs("all", &l->mechs, e, sizeof e);
	l->modes = IPCB_MODE_PROCESS | IPCB_MODE_THREAD;
	l->places = IPCB_PLACE_CROSS_BIT;
	l->rows = (1u << IPCB_LIMIT_COUNT) - 1;
	l->sizes[0] = 64;
	l->nsizes = 1;
	l->pairs[0] = (struct ipcb_pairs){ 1, 1 };
	l->npairs = 1;
	l->workers[0] = 1;
	l->workers[1] = -1; /* pus */
	l->nworkers = 2;
	l->grains[0] = 1000;
	l->ngrains = 1;
	l->conc[0] = 1;
	l->conc[1] = 16;
	l->nconc = 2;
	l->tasks = (1u << IPCB_IO_COUNT) - 1;
	l->apis = 1u << IPCB_API_COPY;
}

static int parse_line(char *text, struct ipcb_suite_line *l, char *err, size_t errlen)
{
	char *save = NULL;
	char *word = strtok_r(text, " \t", &save);
	line_defaults(l);
	l->wl = ipcb_workload_find(word);
	if (!l->wl) {
		size_t off = (size_t)snprintf(err, errlen, "unknown workload '%s': valid workloads are", word);
		for (size_t i = 0; i < ipcb_workload_count() && off < errlen; i++)
			off += (size_t)snprintf(err + off, errlen - off, "%s %s", i ? "," : "", ipcb_workload_at(i)->name);
		return -1;
	}
	bool is_stream = l->wl == &ipcb_workload_stream, is_limit = l->wl == &ipcb_workload_limit;
	bool is_cpu = l->wl == &ipcb_workload_cpu, is_io = l->wl == &ipcb_workload_io;
	bool is_spawn = l->wl == &ipcb_workload_spawn, is_shared = l->wl == &ipcb_workload_shared;
	bool is_pyref = l->wl == &ipcb_workload_pyref, is_wake = l->wl == &ipcb_workload_wake;
	bool is_zmqref = l->wl == &ipcb_workload_zmqref;
	bool workers_given = false;
	if (is_wake) /* one second idle: the gap the first wake-up is judged after */
		l->grains[0] = 1000000;
	for (char *kv = strtok_r(NULL, " \t", &save); kv; kv = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv || !eq[1]) {
			snprintf(err, errlen, "'%s': expected key=value[,value...]", kv);
			return -1;
		}
		*eq = 0;
		const char *key = kv, *val = eq + 1;
		int rc;
		if (!strcmp(key, "mechanisms") && !is_limit && !is_spawn && !is_pyref && !is_zmqref)
			rc = ipcb_parse_mechs(val, &l->mechs, err, errlen);
		else if (!strcmp(key, "modes") && !is_limit && !is_pyref && !is_zmqref)
			rc = ipcb_parse_modes(val, &l->modes, err, errlen);
		else if (!strcmp(key, "placements"))
			rc = ipcb_parse_places(val, &l->places, err, errlen);
		else if (!strcmp(key, "sizes") && !is_cpu && !is_io && !is_spawn)
			rc = ipcb_parse_sizes(val, l->sizes, &l->nsizes, err, errlen);
		else if (!strcmp(key, "workers") && (is_cpu || is_shared || is_pyref)) {
			rc = ipcb_parse_workers(val, l->workers, &l->nworkers, err, errlen);
			workers_given = true;
		} else if (!strcmp(key, "grains") && (is_cpu || is_io))
			rc = ipcb_parse_grains(val, l->grains, &l->ngrains, err, errlen);
		else if (!strcmp(key, "idle") && is_wake) {
			rc = ipcb_parse_grains(val, l->grains, &l->ngrains, err, errlen);
			for (unsigned i = 0; !rc && i < l->ngrains; i++)
				if (l->grains[i] < 1000) {
					snprintf(err, errlen, "idle '%s': give an idle gap of at least 1ms (e.g. 1s, 100ms)", val);
					rc = -1;
				}
		}
		else if (!strcmp(key, "concurrency") && is_io)
			rc = ipcb_parse_counts(val, l->conc, &l->nconc, err, errlen);
		else if (!strcmp(key, "tasks") && is_io)
			rc = ipcb_parse_io_tasks(val, &l->tasks, err, errlen);
		else if (!strcmp(key, "pairs") && is_stream)
			rc = ipcb_parse_pairs(val, l->pairs, &l->npairs, err, errlen);
		else if (!strcmp(key, "api") && (is_stream || l->wl == &ipcb_workload_pingpong)) {
			l->apis = 0;
			rc = each_item(val, add_api, &l->apis, "api", err, errlen);
			if (rc == 0 && !is_stream && (l->apis & (1u << IPCB_API_MANY))) {
				snprintf(err, errlen, "api 'many' is for stream lines (pingpong has one message in flight); "
				                      "use copy or zerocopy");
				rc = -1;
			}
		} else if (!strcmp(key, "rows") && is_limit)
			rc = ipcb_parse_rows(val, &l->rows, err, errlen);
		else if (!strcmp(key, "min_time")) {
			char *end;
			l->min_time = strtod(val, &end);
			rc = *end || l->min_time <= 0 || l->min_time > 3600 ? -1 : 0;
			if (rc)
				snprintf(err, errlen, "min_time '%s': give seconds, e.g. 0.2", val);
		} else if (!strcmp(key, "repetitions")) {
			char *end;
			long v = strtol(val, &end, 10);
			rc = *end || v < 1 || v > 1000 ? -1 : 0;
			l->repetitions = (int)v;
			if (rc)
				snprintf(err, errlen, "repetitions '%s': give a whole number from 1 to 1000", val);
		} else {
			snprintf(err, errlen, "key '%s' does not apply to %s; its keys are %s min_time repetitions", key,
			         l->wl->name,
			         is_limit    ? "rows placements sizes"
			         : is_stream ? "mechanisms modes placements sizes pairs api"
			         : is_cpu    ? "mechanisms modes placements workers grains"
			         : is_io     ? "mechanisms modes placements tasks grains concurrency"
			         : is_spawn  ? "modes placements"
			         : is_pyref  ? "placements sizes workers (pool)"
			         : is_zmqref ? "placements sizes"
			         : is_shared ? "mechanisms modes placements sizes workers"
			         : is_wake   ? "mechanisms modes placements sizes idle"
			         : l->wl == &ipcb_workload_pingpong ? "mechanisms modes placements sizes api"
			                     : "mechanisms modes placements sizes");
			return -1;
		}
		if (rc)
			return -1;
	}
	if (is_shared && !workers_given) { /* two endpoints: the placement's two CPUs */
		l->workers[0] = 2;
		l->nworkers = 1;
	}
	return 0;
}

int ipcb_suite_parse(const char *text, const char *origin, struct ipcb_suite *s, char *err, size_t errlen)
{
	s->lines = NULL; /* name and path stay as the caller set them */
	s->nlines = 0;
	s->about[0] = 0;
	size_t cap = 0;
	unsigned lineno = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		char line[2048];
		if (len >= sizeof line) {
			snprintf(err, errlen, "%s:%u: line longer than %zu characters", origin, lineno, sizeof line - 1);
			goto fail;
		}
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (nl ? 1 : 0);
		char *hash = strchr(line, '#');
		if (hash) {
			if (!s->about[0] && !s->nlines) {
				const char *a = hash + 1;
				while (*a == ' ' || *a == '\t')
					a++;
				snprintf(s->about, sizeof s->about, "%s", a);
			}
			*hash = 0;
		}
		char *t = line;
		while (isspace((unsigned char)*t))
			t++;
		if (!*t)
			continue;
		if (s->nlines == cap) {
			cap = cap ? cap * 2 : 8;
			void *n = realloc(s->lines, cap * sizeof *s->lines);
			if (!n) {
				snprintf(err, errlen, "%s: out of memory", origin);
				goto fail;
			}
			s->lines = n;
		}
		char e[700];
		if (parse_line(t, &s->lines[s->nlines], e, sizeof e) != 0) {
			snprintf(err, errlen, "%s:%u: %s", origin, lineno, e);
			goto fail;
		}
		s->lines[s->nlines++].lineno = lineno;
	}
	if (!s->nlines) {
		snprintf(err, errlen, "%s: no benchmark lines (expected e.g. 'pingpong mechanisms=all sizes=64')", origin);
		goto fail;
	}
	return 0;
fail:
	free(s->lines);
	s->lines = NULL;
	s->nlines = 0;
	return -1;
}

const char *ipcb_suite_dir(void)
{
	const char *env = getenv("IPCB_SUITE_DIR");
	return env && *env ? env : IPCB_SOURCE_DIR "/suites/bench";
}

int ipcb_suite_load(const char *name_or_path, struct ipcb_suite *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	bool is_path = strchr(name_or_path, '/') || strstr(name_or_path, ".suite");
	if (is_path)
		snprintf(s->path, sizeof s->path, "%s", name_or_path);
	else
		snprintf(s->path, sizeof s->path, "%s/%s.suite", ipcb_suite_dir(), name_or_path);
	const char *base = strrchr(s->path, '/');
	snprintf(s->name, sizeof s->name, "%.63s", base ? base + 1 : s->path);
	char *dot = strstr(s->name, ".suite");
	if (dot && !dot[6])
		*dot = 0;

	FILE *f = fopen(s->path, "r");
	if (!f) {
		if (is_path) {
			snprintf(err, errlen, "cannot open suite file %s: %s", s->path, strerror(errno));
		} else {
			char names[8][64], list[600] = "";
			size_t n = ipcb_suite_builtin(names, 8), off = 0;
			for (size_t i = 0; i < n && off < sizeof list; i++)
				off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", names[i]);
			snprintf(err, errlen, "unknown suite '%s': valid suites are %s (in %s), or a path to your own .suite file",
			         name_or_path, n ? list : "(none found)", ipcb_suite_dir());
		}
		return -1;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *t = realloc(text, cap);
			if (!t) {
				free(text);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", s->path);
				return -1;
			}
			text = t;
		}
		size_t r = fread(text + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	text[len] = 0;
	fclose(f);
	int rc = ipcb_suite_parse(text, s->path, s, err, errlen);
	free(text);
	return rc;
}

void ipcb_suite_free(struct ipcb_suite *s)
{
	free(s->lines);
	s->lines = NULL;
	s->nlines = 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

size_t ipcb_suite_builtin(char names[][64], size_t max)
{
	DIR *d = opendir(ipcb_suite_dir());
	size_t n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < max;) {
		size_t len = strlen(e->d_name);
		if (len > 6 && len < 64 && !strcmp(e->d_name + len - 6, ".suite")) {
			memcpy(names[n], e->d_name, len - 6);
			names[n][len - 6] = 0;
			n++;
		}
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_name);
	return n;
}
