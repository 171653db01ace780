/* test_suite.c — the suite-file parser: the built-in suites, every key,
 * and errors that name the line and the bad token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"
#include "runner.h"
#include "suite.h"
#include "unit.h"

/* Parses text as "t.suite"; returns the parse result, err holds the message. */
static int parse(const char *text, struct ipcb_suite *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	err[0] = 0;
	return ipcb_suite_parse(text, "t.suite", s, err, errlen);
}

/* Expects text to fail with a message containing each of the given pieces. */
static void expect_error(const char *text, const char *a, const char *b, int line)
{
	struct ipcb_suite s;
	char err[1024];
	int rc = parse(text, &s, err, sizeof err);
	ut_check(rc == -1, __FILE__, line, "parse of \"%.60s\" -> %d, expected -1", text, rc);
	ut_check(strstr(err, a) != NULL, __FILE__, line, "error \"%s\" lacks \"%s\"", err, a);
	if (b)
		ut_check(strstr(err, b) != NULL, __FILE__, line, "error \"%s\" lacks \"%s\"", err, b);
	ut_check(s.lines == NULL && s.nlines == 0, __FILE__, line, "failed parse left %zu lines", s.nlines);
	ipcb_suite_free(&s);
}
#define EXPECT_ERROR(text, a, b) expect_error(text, a, b, __LINE__)

static void test_builtin(void)
{
	static const struct {
		const char *name;
		size_t nlines;
	} want[] = { { "ci", 4 }, { "full", 13 }, { "quick", 15 } };
	char names[8][64];
	size_t n = ipcb_suite_builtin(names, 8);
	UT_EQ_LL(n, 3);
	for (size_t i = 0; i < 3 && i < n; i++)
		UT_EQ_STR(names[i], want[i].name);
	for (size_t i = 0; i < 3; i++) {
		struct ipcb_suite s;
		char err[1024] = "";
		int rc = ipcb_suite_load(want[i].name, &s, err, sizeof err);
		UT_TRUE(rc == 0, "loading %s: %s", want[i].name, err);
		UT_EQ_LL(s.nlines, want[i].nlines);
		UT_EQ_STR(s.name, want[i].name);
		/* the about line starts with the suite's name, e.g. "quick: every mechanism ..." */
		UT_TRUE(strncmp(s.about, s.name, strlen(s.name)) == 0 && s.about[strlen(s.name)] == ':',
		        "about \"%s\" does not start with \"%s:\"", s.about, s.name);
		ipcb_suite_free(&s);
	}
	/* ci: repetitions=3 and min_time=0.05 on every line */
	struct ipcb_suite s;
	char err[1024] = "";
	if (UT_TRUE(ipcb_suite_load("ci", &s, err, sizeof err) == 0, "%s", err)) {
		for (size_t i = 0; i < s.nlines; i++) {
			UT_EQ_LL(s.lines[i].repetitions, 3);
			UT_TRUE(s.lines[i].min_time == 0.05, "ci line %u min_time %g", s.lines[i].lineno,
			        s.lines[i].min_time);
		}
		UT_EQ_LL(s.lines[0].lineno, 2);
		UT_TRUE(s.lines[0].wl == &ipcb_workload_pingpong, "ci line 2 is not pingpong");
		ipcb_suite_free(&s);
	}
	UT_TRUE(ipcb_suite_load("nosuch", &s, err, sizeof err) == -1, "unknown suite loaded");
	UT_TRUE(strstr(err, "'nosuch'") && strstr(err, "quick"), "error \"%s\"", err);
}

static void test_keys(void)
{
	struct ipcb_suite s;
	char err[1024];
	const char *text = "# about this\n"
	                   "\n"
	                   "   \t \n"
	                   "pingpong mechanisms=pipe,inproc modes=thread placements=same-pu,cross-core "
	                   "sizes=8,4K,1M,2k,64,64 min_time=0.2 repetitions=7 # trailing\n"
	                   "# comment\n"
	                   "stream\tpairs=1x2,4x4 sizes=16M api=many,copy\n"
	                   "limit rows=memcpy placements=all\n"
	                   "shared"; /* no final newline */
	int rc = parse(text, &s, err, sizeof err);
	if (!UT_TRUE(rc == 0, "parse: %s", err))
		return;
	UT_EQ_STR(s.about, "about this");
	UT_EQ_LL(s.nlines, 4);
	const struct ipcb_suite_line *l = &s.lines[0];
	UT_EQ_LL(l->lineno, 4);
	UT_TRUE(l->wl == &ipcb_workload_pingpong, "line 4 workload");
	uint64_t want = 0;
	for (size_t i = 0; i < ipcq_mech_count(); i++) {
		const char *nm = ipcq_mech_name(ipcq_mech_at(i));
		if (!strcmp(nm, "pipe") || !strcmp(nm, "inproc"))
			want |= 1ull << i;
	}
	UT_EQ_LL(l->mechs, want);
	UT_EQ_LL(__builtin_popcountll(l->mechs), 2);
	UT_EQ_LL(l->modes, IPCB_MODE_THREAD);
	UT_EQ_LL(l->places, (1u << IPCB_PLACE_SAME_PU) | (1u << IPCB_PLACE_CROSS_CORE));
	UT_EQ_LL(l->nsizes, 5); /* duplicate 64 dropped */
	static const size_t sz[] = { 8, 4096, 1 << 20, 2048, 64 };
	for (unsigned i = 0; i < 5 && i < l->nsizes; i++)
		UT_EQ_LL(l->sizes[i], sz[i]);
	UT_TRUE(l->min_time == 0.2, "min_time %g", l->min_time);
	UT_EQ_LL(l->repetitions, 7);

	l = &s.lines[1];
	UT_EQ_LL(l->lineno, 6);
	UT_TRUE(l->wl == &ipcb_workload_stream, "line 6 workload");
	UT_EQ_LL(l->npairs, 2);
	UT_EQ_LL(l->pairs[0].producers, 1); UT_EQ_LL(l->pairs[0].consumers, 2);
	UT_EQ_LL(l->pairs[1].producers, 4); UT_EQ_LL(l->pairs[1].consumers, 4);
	UT_EQ_LL(l->nsizes, 1); UT_EQ_LL(l->sizes[0], 16u << 20);
	UT_EQ_LL(l->apis, (1u << IPCB_API_MANY) | (1u << IPCB_API_COPY));
	/* defaults */
	size_t n = ipcq_mech_count();
	UT_EQ_LL(l->mechs, n >= 64 ? ~0ull : (1ull << n) - 1);
	UT_EQ_LL(l->modes, IPCB_MODE_PROCESS | IPCB_MODE_THREAD);
	UT_EQ_LL(l->places, IPCB_PLACE_CROSS_BIT);
	UT_EQ_LL(l->min_time * 1000, 0);
	UT_EQ_LL(l->repetitions, 0);

	l = &s.lines[2];
	UT_TRUE(l->wl == &ipcb_workload_limit, "line 7 workload");
	UT_EQ_LL(l->rows, 1u << IPCB_LIMIT_MEMCPY);
	UT_EQ_LL(l->places, (1u << IPCB_PLACE_COUNT) - 1);
	UT_EQ_LL(l->nsizes, 1); UT_EQ_LL(l->sizes[0], 64);

	l = &s.lines[3];
	UT_EQ_LL(l->lineno, 8);
	UT_TRUE(l->wl == &ipcb_workload_shared, "line 8 workload");
	UT_EQ_LL(l->nworkers, 1); /* shared: two endpoints unless workers= says otherwise */
	UT_EQ_LL(l->workers[0], 2);
	ipcb_suite_free(&s);
	if (UT_TRUE(parse("shared workers=1,4,pus sizes=8", &s, err, sizeof err) == 0, "%s", err)) {
		UT_EQ_LL(s.lines[0].nworkers, 3);
		UT_EQ_LL(s.lines[0].workers[2], -1);
		ipcb_suite_free(&s);
	}
	UT_TRUE(s.lines == NULL && s.nlines == 0, "free left lines");

	/* pool sweeps: workers (counts and PU multiples), grains with units, concurrency, io tasks */
	text = "cpu workers=1,2,pus,2pus,2 grains=0,1,10us,1ms,10ms,0.5ms\n"
	       "io tasks=socket grains=2ms concurrency=1,256\n"
	       "io\n"
	       "spawn modes=thread placements=os\n";
	if (UT_TRUE(parse(text, &s, err, sizeof err) == 0, "pool keys: %s", err)) {
		l = &s.lines[0];
		UT_TRUE(l->wl == &ipcb_workload_cpu, "cpu line");
		UT_EQ_LL(l->nworkers, 4); /* duplicate 2 dropped */
		static const int wk[] = { 1, 2, -1, -2 };
		for (unsigned i = 0; i < 4 && i < l->nworkers; i++)
			UT_EQ_LL(l->workers[i], wk[i]);
		UT_EQ_LL(l->ngrains, 6);
		static const unsigned gr[] = { 0, 1, 10, 1000, 10000, 500 };
		for (unsigned i = 0; i < 6 && i < l->ngrains; i++)
			UT_EQ_LL(l->grains[i], gr[i]);
		l = &s.lines[1];
		UT_TRUE(l->wl == &ipcb_workload_io, "io line");
		UT_EQ_LL(l->tasks, 1u << IPCB_IO_SOCKET);
		UT_EQ_LL(l->ngrains, 1);
		UT_EQ_LL(l->grains[0], 2000);
		UT_EQ_LL(l->nconc, 2);
		UT_EQ_LL(l->conc[1], 256);
		l = &s.lines[2]; /* defaults */
		UT_EQ_LL(l->tasks, (1u << IPCB_IO_COUNT) - 1);
		UT_EQ_LL(l->ngrains, 1);
		UT_EQ_LL(l->grains[0], 1000);
		UT_EQ_LL(l->nconc, 2);
		UT_EQ_LL(l->nworkers, 2);
		UT_EQ_LL(l->workers[1], -1);
		l = &s.lines[3];
		UT_TRUE(l->wl == &ipcb_workload_spawn, "spawn line");
		UT_EQ_LL(l->modes, IPCB_MODE_THREAD);
		UT_EQ_LL(l->places, 1u << IPCB_PLACE_OS);
		ipcb_suite_free(&s);
	}

	/* wake: idle gaps with units, 1 s by default */
	if (UT_TRUE(parse("wake idle=10s,100ms\nwake\n", &s, err, sizeof err) == 0, "wake: %s", err)) {
		UT_TRUE(s.lines[0].wl == &ipcb_workload_wake, "wake line");
		UT_EQ_LL(s.lines[0].ngrains, 2);
		UT_EQ_LL(s.lines[0].grains[0], 10000000);
		UT_EQ_LL(s.lines[0].grains[1], 100000);
		UT_EQ_LL(s.lines[1].ngrains, 1);
		UT_EQ_LL(s.lines[1].grains[0], 1000000);
		ipcb_suite_free(&s);
	}

	/* mechanisms=all covers every registered mechanism */
	if (UT_TRUE(parse("stream mechanisms=all modes=all", &s, err, sizeof err) == 0, "%s", err)) {
		UT_EQ_LL(s.lines[0].mechs, n >= 64 ? ~0ull : (1ull << n) - 1);
		UT_EQ_LL(s.lines[0].modes, IPCB_MODE_PROCESS | IPCB_MODE_THREAD);
		ipcb_suite_free(&s);
	}

	/* all,-pipe: every mechanism but pipe; a name this build lacks is already out */
	if (UT_TRUE(parse("stream mechanisms=all,-pipe,-carrier-pigeon", &s, err, sizeof err) == 0, "%s", err)) {
		uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
		size_t pipe = 0;
		while (pipe < n && strcmp(ipcq_mech_name(ipcq_mech_at(pipe)), "pipe"))
			pipe++;
		UT_EQ_LL(s.lines[0].mechs, pipe < n ? all & ~(1ull << pipe) : all);
		ipcb_suite_free(&s);
	}
}

static void test_sizes(void)
{
	char err[512];
	size_t v = 0;
	static const struct {
		const char *in;
		size_t out;
	} ok[] = { { "8", 8 }, { "64b", 64 }, { "4K", 4096 }, { "4kib", 4096 }, { "4KB", 4096 },
		   { "1M", 1 << 20 }, { "16MiB", 16u << 20 }, { "100", 100 } };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int rc = ipcb_parse_size(ok[i].in, &v, err, sizeof err);
		UT_TRUE(rc == 0 && v == ok[i].out, "size '%s' -> rc %d, %zu; expected %zu (%s)", ok[i].in, rc, v,
		        ok[i].out, rc ? err : "");
	}
	static const char *bad[] = { "", "K", "4G", "-8", "4Kx", "1.5K", "abc" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = ipcb_parse_size(bad[i], &v, err, sizeof err);
		UT_TRUE(rc == -1 && strstr(err, "unknown size"), "size '%s' -> rc %d, err \"%s\"", bad[i], rc, err);
	}
	static const char *range[] = { "4", "0", "17M", "16385K", "99999999999999999999" };
	for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
		int rc = ipcb_parse_size(range[i], &v, err, sizeof err);
		UT_TRUE(rc == -1 && (strstr(err, "out of range") || strstr(err, "unknown size")),
		        "size '%s' -> rc %d, err \"%s\"", range[i], rc, err);
	}
	char buf[32];
	UT_EQ_STR(ipcb_size_str(4096, buf, sizeof buf), "4K");
	UT_EQ_STR(ipcb_size_str(1 << 20, buf, sizeof buf), "1M");
	UT_EQ_STR(ipcb_size_str(100, buf, sizeof buf), "100");
	UT_EQ_STR(ipcb_size_str(1536, buf, sizeof buf), "1536");
	UT_EQ_STR(ipcb_us_str(1000000, buf, sizeof buf), "1s");
	UT_EQ_STR(ipcb_us_str(1500000, buf, sizeof buf), "1500ms");
	UT_EQ_STR(ipcb_us_str(100000, buf, sizeof buf), "100ms");
	UT_EQ_STR(ipcb_us_str(50, buf, sizeof buf), "50us");
}

/* "cross" becomes the nearest pair of cores each machine has, in the case
 * names too; a --placement filter of cross or of that concrete placement
 * keeps it; a machine with one core skips it with a line. */
static void test_plan_cross(void)
{
	static const struct {
		const char *synthetic;
		const char *filter; /* --placement, NULL: none */
		const char *want;   /* the one case's name, NULL: none (a skip line) */
	} cases[] = {
	        {"core:2 pu:1", NULL, "pingpong/pipe/process/cross-core/size:64"},
	        {"pack:1 l3:2 core:1 pu:1", NULL, "pingpong/pipe/process/cross-l3/size:64"},
	        {"pack:2 core:1 pu:1", NULL, "pingpong/pipe/process/cross-package/size:64"},
	        {"pack:1 l3:2 core:1 pu:1", "cross", "pingpong/pipe/process/cross-l3/size:64"},
	        {"pack:1 l3:2 core:1 pu:1", "cross-l3", "pingpong/pipe/process/cross-l3/size:64"},
	        {"pack:1 l3:2 core:1 pu:1", "cross-core", NULL},
	        {"pack:1 core:1 pu:2", NULL, NULL},
	};
	/* wake rows carry their idle gap */
	char err[1024];
	struct ipcb_suite w;
	if (UT_TRUE(parse("wake mechanisms=pipe modes=process placements=cross idle=1s,250ms", &w, err, sizeof err) == 0,
	            "%s", err)) {
		hwloc_topology_t t;
		if (UT_TRUE(ipcb_topo_open(&t, "core:2 pu:1", err, sizeof err) == 0, "%s", err)) {
			struct ipcb_filter f = { 0 };
			struct ipcb_plan p = { 0 };
			UT_EQ_LL(ipcb_plan_build(&w, &f, t, &p), 0);
			if (UT_TRUE(p.n == 2, "wake: %zu cases", p.n)) {
				UT_EQ_STR(p.cases[0].name, "wake/pipe/process/cross-core/size:64/idle:1s");
				UT_EQ_STR(p.cases[1].name, "wake/pipe/process/cross-core/size:64/idle:250ms");
				UT_EQ_LL(p.cases[1].grain_us, 250000);
			}
			ipcb_plan_free(&p);
			ipcb_topo_close(t);
		}
		ipcb_suite_free(&w);
	}
	/* zmqref rows stand beside the mechanisms' own (built with libzmq: ci/setup installs it) */
	if (ipcb_zmqref_available() &&
	    UT_TRUE(parse("zmqref placements=cross sizes=64", &w, err, sizeof err) == 0, "%s", err)) {
		hwloc_topology_t t;
		if (UT_TRUE(ipcb_topo_open(&t, "core:2 pu:1", err, sizeof err) == 0, "%s", err)) {
			struct ipcb_filter f = { 0 };
			struct ipcb_plan p = { 0 };
			UT_EQ_LL(ipcb_plan_build(&w, &f, t, &p), 0);
			if (UT_TRUE(p.n == 2, "zmqref: %zu cases", p.n)) {
				UT_EQ_STR(p.cases[0].name, "pingpong/zeromq-native/process/cross-core/size:64");
				UT_EQ_STR(p.cases[1].name, "stream/zeromq-native/process/cross-core/size:64");
			}
			ipcb_plan_free(&p);
			ipcb_topo_close(t);
		}
		ipcb_suite_free(&w);
	}
	struct ipcb_suite s;
	if (!UT_TRUE(parse("pingpong mechanisms=pipe modes=process placements=cross sizes=64", &s, err, sizeof err) == 0,
	             "%s", err))
		return;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hwloc_topology_t t;
		if (!UT_TRUE(ipcb_topo_open(&t, cases[i].synthetic, err, sizeof err) == 0, "%s", err))
			continue;
		struct ipcb_filter f = { 0 };
		if (cases[i].filter) {
			f.have_places = true;
			UT_EQ_LL(ipcb_parse_places(cases[i].filter, &f.places, err, sizeof err), 0);
		}
		struct ipcb_plan p = { 0 };
		UT_EQ_LL(ipcb_plan_build(&s, &f, t, &p), 0);
		const char *label = cases[i].synthetic;
		if (cases[i].want) {
			if (UT_TRUE(p.n == 1, "%s: %zu cases", label, p.n))
				UT_EQ_STR(p.cases[0].name, cases[i].want);
		} else {
			UT_TRUE(p.n == 0, "%s: %zu cases, expected none", label, p.n);
			UT_TRUE(p.nskips >= 1 && strstr(p.skips[0], "absent"), "%s: skip line \"%s\"", label,
			        p.nskips ? p.skips[0] : "");
		}
		ipcb_plan_free(&p);
		ipcb_topo_close(t);
	}
	ipcb_suite_free(&s);
}

static void test_errors(void)
{
	EXPECT_ERROR("pingpong sizes=64\nbogus sizes=64\n", "t.suite:2:", "unknown workload 'bogus'");
	EXPECT_ERROR("pingpong sizes=64\n\n# c\npingpong colour=red\n", "t.suite:4:", "key 'colour'");
	EXPECT_ERROR("limit mechanisms=pipe\n", "t.suite:1:", "key 'mechanisms' does not apply to limit");
	EXPECT_ERROR("pingpong pairs=2x2\n", "t.suite:1:", "key 'pairs' does not apply to pingpong");
	EXPECT_ERROR("stream rows=c2c\n", "t.suite:1:", "key 'rows'");
	EXPECT_ERROR("stream api=copy,batch\n", "t.suite:1:", "api 'batch': valid values are copy, zerocopy and many");
	EXPECT_ERROR("pingpong api=many\n", "t.suite:1:", "api 'many' is for stream lines");
	EXPECT_ERROR("pyref mechanisms=pipe\n", "t.suite:1:", "key 'mechanisms' does not apply to pyref");
	EXPECT_ERROR("pyref modes=thread\n", "t.suite:1:", "placements sizes workers");
	EXPECT_ERROR("pingpong mechanisms=pipe,carrier-pigeon\n", "t.suite:1:",
	             "unknown mechanism 'carrier-pigeon': valid mechanisms are all, ");
	EXPECT_ERROR("pingpong modes=fiber\n", "t.suite:1:", "unknown mode 'fiber'");
	EXPECT_ERROR("# x\npingpong placements=cross-core,mars\n", "t.suite:2:", "unknown placement 'mars'");
	EXPECT_ERROR("pingpong placements=mars\n", "valid placements are all", "cross-core");
	EXPECT_ERROR("limit rows=gpu\n", "t.suite:1:", "unknown limit row 'gpu'");
	EXPECT_ERROR("pingpong sizes=64,12Q\n", "t.suite:1:", "unknown size '12Q'");
	EXPECT_ERROR("pingpong sizes=32M\n", "t.suite:1:", "size '32M' is out of range");
	EXPECT_ERROR("stream pairs=2x\n", "t.suite:1:", "bad pairs '2x'");
	EXPECT_ERROR("stream pairs=0x1\n", "t.suite:1:", "bad pairs '0x1'");
	EXPECT_ERROR("stream pairs=17x1\n", "t.suite:1:", "bad pairs '17x1'");
	EXPECT_ERROR("stream pairs=2x2y\n", "t.suite:1:", "bad pairs '2x2y'");
	EXPECT_ERROR("stream pairs=2*2\n", "t.suite:1:", "bad pairs '2*2'");
	EXPECT_ERROR("stream pairs=1x1,1x1,1x1,1x1,1x1,1x1,1x1,1x1,1x1\n", "t.suite:1:", "more than 8");
	EXPECT_ERROR("pingpong sizes\n", "t.suite:1:", "'sizes': expected key=value");
	EXPECT_ERROR("pingpong sizes=\n", "t.suite:1:", "'sizes=': expected key=value");
	EXPECT_ERROR("pingpong idle=1s\n", "t.suite:1:", "key 'idle' does not apply to pingpong");
	EXPECT_ERROR("zmqref mechanisms=pipe\n", "t.suite:1:", "key 'mechanisms' does not apply to zmqref");
	EXPECT_ERROR("zmqref modes=thread\n", "t.suite:1:", "its keys are placements sizes");
	EXPECT_ERROR("wake grains=1s\n", "t.suite:1:", "mechanisms modes placements sizes idle");
	EXPECT_ERROR("wake idle=500us\n", "t.suite:1:", "at least 1ms");
	EXPECT_ERROR("wake idle=soon\n", "t.suite:1:", "bad grain 'soon'");
	EXPECT_ERROR("pingpong =64\n", "t.suite:1:", "'=64': expected key=value");
	EXPECT_ERROR("pingpong sizes=,\n", "t.suite:1:", "sizes: empty list");
	EXPECT_ERROR("pingpong min_time=fast\n", "t.suite:1:", "min_time 'fast'");
	EXPECT_ERROR("pingpong min_time=0\n", "t.suite:1:", "min_time '0'");
	EXPECT_ERROR("pingpong min_time=-1\n", "t.suite:1:", "min_time '-1'");
	EXPECT_ERROR("pingpong repetitions=0\n", "t.suite:1:", "repetitions '0'");
	EXPECT_ERROR("pingpong repetitions=2.5\n", "t.suite:1:", "repetitions '2.5'");
	EXPECT_ERROR("pingpong repetitions=1001\n", "t.suite:1:", "repetitions '1001'");
	EXPECT_ERROR("cpu workers=0\n", "t.suite:1:", "bad workers '0'");
	EXPECT_ERROR("cpu workers=1,many\n", "t.suite:1:", "bad workers 'many'");
	EXPECT_ERROR("cpu workers=1025\n", "t.suite:1:", "bad workers '1025'");
	EXPECT_ERROR("cpu grains=1h\n", "t.suite:1:", "bad grain '1h'");
	EXPECT_ERROR("cpu grains=0.5\n", "t.suite:1:", "bad grain '0.5'");
	EXPECT_ERROR("cpu grains=-1\n", "t.suite:1:", "bad grain '-1'");
	EXPECT_ERROR("cpu sizes=64\n", "t.suite:1:", "key 'sizes' does not apply to cpu");
	EXPECT_ERROR("cpu concurrency=4\n", "t.suite:1:", "key 'concurrency' does not apply to cpu");
	EXPECT_ERROR("io workers=4\n", "t.suite:1:", "key 'workers' does not apply to io");
	EXPECT_ERROR("io tasks=disk\n", "t.suite:1:", "unknown io task 'disk'");
	EXPECT_ERROR("io concurrency=0\n", "t.suite:1:", "bad concurrency '0'");
	EXPECT_ERROR("spawn mechanisms=pipe\n", "t.suite:1:", "key 'mechanisms' does not apply to spawn");
	EXPECT_ERROR("pingpong grains=1ms\n", "t.suite:1:", "key 'grains' does not apply to pingpong");
	EXPECT_ERROR("", "t.suite: no benchmark lines", NULL);
	EXPECT_ERROR("# only comments\n\n   \n", "t.suite: no benchmark lines", NULL);

	/* a 3000-character line on line 2 */
	size_t len = 3000;
	char *big = malloc(len + 32);
	if (!UT_TRUE(big != NULL, "malloc"))
		return;
	strcpy(big, "pingpong\n");
	memset(big + 9, 'x', len);
	strcpy(big + 9 + len, "\n");
	EXPECT_ERROR(big, "t.suite:2:", "line longer than 2047 characters");
	/* an overlong value list inside a line that fits */
	strcpy(big, "pingpong sizes=");
	for (size_t off = strlen(big); off < 1500; off += 3)
		memcpy(big + off, "64,", 4);
	strcat(big, "\n");
	EXPECT_ERROR(big, "t.suite:1:", "sizes: overlong list");
	free(big);
}

int ut_add_suite(void)
{
	CU_pSuite s = CU_add_suite("suite", NULL, NULL);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "built-in suites", test_builtin) || !CU_add_test(s, "every key", test_keys) ||
	    !CU_add_test(s, "sizes and suffixes", test_sizes) ||
	    !CU_add_test(s, "cross: the nearest two cores, in plans", test_plan_cross) ||
	    !CU_add_test(s, "errors name line and token", test_errors))
		return CU_get_error();
	return CUE_SUCCESS;
}
