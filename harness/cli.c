/*
 * cli.c - `ipcbench` subcommands: list, topology, run, conformance,
 * agent (netpeer.c), report (report.c), compare (compare.c), help and version.
 *
 * Sections: help texts; list; topology; conformance; run; main.
 */
#include "cli.h"
#include "compare.h"
#include "netpeer.h"
#include "report.h"
#include "runner.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IPCB_VERSION
#define IPCB_VERSION "unknown"
#endif

static const char usage_main[] =
	"usage: ipcbench <command> [options]\n"
	"\n"
	"Benchmarks and checks inter-process communication mechanisms on this machine.\n"
	"\n"
	"commands:\n"
	"  list [mechanisms|workloads|placements|suites]   what can be measured\n"
	"  topology                     this machine and the CPUs each placement uses\n"
	"  run [options]                run a benchmark suite (default: quick)\n"
	"  agent [--listen ADDR[:PORT]] serve the far endpoint of `run --peer` rows on this host\n"
	"  conformance [--mechanism L]  the conformance battery (ipcq-conformance)\n"
	"  report DIR                   charts, report.md and index.html from a results folder\n"
	"  report --compare A B         two runs on the same charts\n"
	"  compare BASE.json NEW.json   regression check: exit 1 on a significant slowdown\n"
	"  --version                    print the version\n"
	"\n"
	"`ipcbench <command> --help` explains each command.\n";

static const char usage_list[] =
	"usage: ipcbench list [mechanisms|workloads|placements|suites]\n"
	"\n"
	"  mechanisms   registered mechanisms and their capabilities\n"
	"  workloads    what each workload measures\n"
	"  placements   placement names and what they mean\n"
	"  suites       the built-in suites, what each runs and how many benchmarks\n"
	"Without an argument, lists all four.\n";

static const char usage_topology[] =
	"usage: ipcbench topology [--synthetic DESC]\n"
	"\n"
	"Prints the machine as hwloc sees it (packages, NUMA nodes, L3s, cores, PUs,\n"
	"caches) and the two CPUs each placement resolves to, or why it is absent.\n"
	"  --synthetic DESC   a hwloc synthetic topology instead of this machine,\n"
	"                     e.g. \"pack:2 numa:2 l3:2 core:4 pu:2\"\n";

static const char usage_run[] =
	"usage: ipcbench run [--suite quick|full|ci|FILE] [--mechanism L] [--workload L]\n"
	"                    [--mode L] [--placement L] [--size L] [--out DIR]\n"
	"                    [--repetitions N] [--peer ADDR[:PORT]] [--benchmark_* ...]\n"
	"\n"
	"Runs a suite and writes DIR/<UTC time>/results.json (Google Benchmark's JSON,\n"
	"the environment in its context), results.csv, and DIR/latest -> that folder.\n"
	"A summary table goes to stdout; a progress line to stderr when it is a terminal.\n"
	"\n"
	"  --suite S        built-in suite (quick, full, ci: see `ipcbench list suites`)\n"
	"                   or a path to your own .suite file; default quick\n"
	"  --mechanism L    only these mechanisms (comma-separated; `ipcbench list mechanisms`)\n"
	"  --workload L     only these workloads: pingpong, wake, stream, shared, cpu, io,\n"
	"                   spawn, pyref, zmqref, limit, limit/c2c, ...\n"
	"  --mode L         process, thread\n"
	"  --placement L    same-pu, smt, cross-core, cross-l3, cross-numa, cross-package, os,\n"
	"                   cross (= the nearest of the cross-* this machine has)\n"
	"  --size L         message sizes: 8, 64, 4K (=4KiB), 1M (=1MiB)\n"
	"  --out DIR        results root (default ./results)\n"
	"  --repetitions N  repeat each benchmark N times (mean, median, stddev, cv rows)\n"
	"  --peer ADDR[:PORT]  run the suite's pingpong and stream rows (1x1) over TCP\n"
	"                   against `ipcbench agent` at ADDR (port 45901 by default), which\n"
	"                   runs the far endpoint on its host: rows are named\n"
	"                   <workload>/tcp/peer/<ADDR>/size:<bytes>, labelled with the agent's\n"
	"                   host and CPU; results.json gets its environment as context \"peer\".\n"
	"                   Only those rows run; --mode and --placement do not apply.\n"
	"  --benchmark_*    Google Benchmark's own flags, e.g. --benchmark_filter=REGEX,\n"
	"                   --benchmark_min_time=0.2, --benchmark_enable_random_interleaving=true,\n"
	"                   --benchmark_format=console|json|csv (then its table is printed too),\n"
	"                   --benchmark_out=FILE\n"
	"Filters intersect with the suite: a size the suite lacks selects nothing.\n"
	"Mechanism and mode filters leave the limit rows in (they have neither);\n"
	"--workload pingpong,stream drops them. Spawn rows have no mechanism (a mechanism\n"
	"filter leaves them in); cpu, io and spawn rows have no size (--size leaves them in).\n"
	"\n"
	"Benchmark names: <workload>/<mechanism>/<mode>/<placement>/size:<bytes>, with\n"
	"/pairs:NxM for stream with N producers and M consumers; limit/c2c/<placement>,\n"
	"limit/memcpy/size:<bytes>, limit/ring/<placement>/size:64;\n"
	"pools: cpu/<mechanism>/<mode>/<placement>/grain:<us>us/workers:<N> (grain 0: empty\n"
	"tasks, the dispatch cost), io/<mechanism>/<mode>/<placement>/task:sleep|socket/\n"
	"grain:<us>us/concurrency:<N>; spawn/fork|posix_spawn|pthread_create/<mode>/<placement>;\n"
	"wake/<mechanism>/<mode>/<placement>/size:<bytes>/idle:<gap> (the first round trip\n"
	"after the echo side idled blocked for the gap, and its CPU share while blocked).\n"
	"A pool's owner runs on the placement's CPU A, its workers on B, A, B, ... (same-pu:\n"
	"all on A; os: unpinned). cpu rows get speedup (over workers:1) and efficiency after\n"
	"the run; the summary is followed by \"What this machine says\", findings computed\n"
	"from this run's figures, also in results.json (context \"findings\").\n";

static const char usage_conformance[] =
	"usage: ipcbench conformance [--mechanism L] [--test S] [--list]\n"
	"\n"
	"Runs the conformance battery (the ipcq-conformance program built next to\n"
	"ipcbench) against the given mechanisms (default: all). Exit status 0 when\n"
	"every test ran passed, 1 when one failed.\n";

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

/* --- list --------------------------------------------------------------------- */

static void list_mechanisms(void)
{
	printf("mechanisms:\n");
	for (size_t i = 0; i < ipcq_mech_count(); i++) {
		const ipcq_mech *m = ipcq_mech_at(i);
		char caps[512];
		ipcq_caps_format(ipcq_mech_caps(m), caps, sizeof caps);
		printf("  %-12s %s\n  %-12s caps: %s\n", ipcq_mech_name(m), ipcq_mech_summary(m), "", caps);
	}
#ifdef IPCB_MECHANISMS_UNAVAILABLE
	/* Mechanisms whose library this build did not find (set by CMake). */
	printf("unavailable:\n  %s\n", IPCB_MECHANISMS_UNAVAILABLE);
#endif
}

static void list_workloads(void)
{
	printf("workloads:\n");
	for (size_t i = 0; i < ipcb_workload_count(); i++) {
		const struct ipcb_workload *w = ipcb_workload_at(i);
		printf("  %-10s %s\n", w->name, w->summary);
	}
}

static void list_placements(void)
{
	printf("placements (CPUs on this machine: `ipcbench topology`):\n");
	for (int p = 0; p < IPCB_PLACE_COUNT; p++)
		printf("  %-14s %s\n", ipcb_placement_name(p), ipcb_placement_summary(p));
	printf("  %-14s %s\n", IPCB_PLACE_CROSS_NAME,
	       "the nearest pair of different cores this machine has: cross-core, else cross-l3, else cross-numa, "
	       "else cross-package (results carry that name)");
}

static int cmd_list(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && is_help(argv[1]))) {
		fputs(usage_list, argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : 2;
	}
	const char *what = argc == 2 ? argv[1] : NULL;
	if (!what) {
		list_mechanisms();
		printf("\n");
		list_workloads();
		printf("\n");
		list_placements();
		printf("\nsuites:\n");
		return ipcb_list_suites(stdout);
	}
	if (!strcmp(what, "mechanisms"))
		list_mechanisms();
	else if (!strcmp(what, "workloads"))
		list_workloads();
	else if (!strcmp(what, "placements"))
		list_placements();
	else if (!strcmp(what, "suites"))
		return ipcb_list_suites(stdout);
	else {
		fprintf(stderr, "ipcbench list: unknown list '%s': valid lists are mechanisms, workloads, placements, suites\n",
		        what);
		return 2;
	}
	return 0;
}

/* --- topology --------------------------------------------------------------------- */

static int cmd_topology(int argc, char **argv)
{
	const char *synthetic = NULL;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(usage_topology, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--synthetic") && i + 1 < argc) {
			synthetic = argv[++i];
		} else if (!strncmp(argv[i], "--synthetic=", 12)) {
			synthetic = argv[i] + 12;
		} else {
			fprintf(stderr, "ipcbench topology: unknown argument '%s'\n%s", argv[i], usage_topology);
			return 2;
		}
	}
	hwloc_topology_t topo;
	char err[512];
	if (ipcb_topo_open(&topo, synthetic, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench topology: %s\n", err);
		return synthetic ? 2 : 1;
	}
	ipcb_topo_print(topo, stdout);
	ipcb_topo_close(topo);
	return 0;
}

/* --- conformance -------------------------------------------------------------------- */

static int find_conformance(char *path, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = 0;
	static const char *const rel[] = { "ipcq-conformance", "../suites/conformance/ipcq-conformance" };
	for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
		snprintf(path, len, "%s/%s", self, rel[i]);
		if (access(path, X_OK) == 0)
			return 0;
	}
	snprintf(path, len, "%s/ipcq-conformance or %s/../suites/conformance/ipcq-conformance", self, self);
	return -1;
}

static int cmd_conformance(int argc, char **argv)
{
	char err[600];
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(usage_conformance, stdout);
			return 0;
		}
		const char *list = NULL;
		if (!strcmp(argv[i], "--mechanism") && i + 1 < argc)
			list = argv[++i];
		else if (!strncmp(argv[i], "--mechanism=", 12))
			list = argv[i] + 12;
		else if (!strcmp(argv[i], "--test") && i + 1 < argc)
			i++;
		else if (strncmp(argv[i], "--test=", 7) && strcmp(argv[i], "--list")) {
			fprintf(stderr, "ipcbench conformance: unknown argument '%s'\n%s", argv[i], usage_conformance);
			return 2;
		}
		uint64_t mask;
		if (list && ipcb_parse_mechs(list, &mask, err, sizeof err) != 0) {
			fprintf(stderr, "ipcbench conformance: %s\n", err);
			return 2;
		}
	}
	char path[2 * PATH_MAX + 64];
	if (find_conformance(path, sizeof path) != 0) {
		fprintf(stderr,
		        "ipcbench conformance: the conformance battery is not built: no %s.\n"
		        "Build it with `cmake --build <build dir>` (target ipcq-conformance), or run `ci/test`.\n",
		        path);
		return 1;
	}
	fflush(NULL);
	argv[0] = path;
	execv(path, argv);
	fprintf(stderr, "ipcbench conformance: execv %s: %s\n", path, strerror(errno));
	return 1;
}

/* --- run ------------------------------------------------------------------------- */

static size_t mech_index(const ipcq_mech *m)
{
	size_t i = 0;
	while (i < ipcq_mech_count() && ipcq_mech_at(i) != m)
		i++;
	return i;
}

/* Takes "--opt VALUE" or "--opt=VALUE"; advances *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);
	if (!strncmp(argv[*i], opt, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (!strcmp(argv[*i], opt)) {
		if (*i + 1 >= argc)
			return "";
		return argv[++*i];
	}
	return NULL;
}

/* The command line as a shell would take it back: args outside [A-Za-z0-9_./=,:+@%-] single-quoted. */
static void shell_join(char *buf, size_t len, const char *prog, int argc, char **argv)
{
	size_t o = (size_t)snprintf(buf, len, "%s", prog);
	for (int i = 0; i < argc && o < len; i++) {
		const char *a = argv[i];
		bool plain = *a != 0;
		for (const char *p = a; *p; p++)
			plain &= !!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=,:+@%-", *p);
		o += (size_t)snprintf(buf + o, len - o, plain ? " %s" : " '", a);
		if (plain)
			continue;
		for (const char *p = a; *p && o < len; p++)
			o += (size_t)snprintf(buf + o, len - o, *p == '\'' ? "'\\''" : "%c", *p);
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "'");
	}
}

static int cmd_run(int argc, char **argv, char *prog)
{
	struct ipcb_run_opts o = { 0 };
	char err[1200], command[4096];
	shell_join(command, sizeof command, prog, argc, argv);
	o.command = command;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(usage_run, stdout);
			return 0;
		}
		/* Flags the user typed beat the suite's per-benchmark settings. */
		if (!strncmp(argv[i], "--benchmark_format", 18))
			o.gb_display = true;
		if (!strncmp(argv[i], "--benchmark_min_time", 20))
			o.gb_min_time = true;
		if (!strncmp(argv[i], "--benchmark_repetitions", 23))
			o.gb_repetitions = true;
	}
	argv[0] = prog; /* Google Benchmark records it as the "executable" */
	if (ipcb_gb_init(&argc, argv) != 0)
		return 2;
	struct ipcb_filter *f = &o.filter;
	for (int i = 1; i < argc; i++) {
		const char *v;
		int rc = 0;
		if ((v = opt_value(argc, argv, &i, "--suite")))
			o.suite = v;
		else if ((v = opt_value(argc, argv, &i, "--mechanism")))
			rc = ipcb_parse_mechs(v, &f->mechs, err, sizeof err), f->have_mechs = true;
		else if ((v = opt_value(argc, argv, &i, "--workload")))
			rc = ipcb_parse_workloads(v, f, err, sizeof err);
		else if ((v = opt_value(argc, argv, &i, "--mode")))
			rc = ipcb_parse_modes(v, &f->modes, err, sizeof err), f->have_modes = true;
		else if ((v = opt_value(argc, argv, &i, "--placement")))
			rc = ipcb_parse_places(v, &f->places, err, sizeof err), f->have_places = true;
		else if ((v = opt_value(argc, argv, &i, "--size")))
			rc = ipcb_parse_sizes(v, f->sizes, &f->nsizes, err, sizeof err), f->have_sizes = true;
		else if ((v = opt_value(argc, argv, &i, "--out")))
			o.out_root = v;
		else if ((v = opt_value(argc, argv, &i, "--peer")))
			o.peer = v;
		else if ((v = opt_value(argc, argv, &i, "--repetitions"))) {
			char *end;
			long n = strtol(v, &end, 10);
			if (!*v || *end || n < 1 || n > 1000) {
				snprintf(err, sizeof err, "--repetitions '%s': give a whole number from 1 to 1000", v);
				rc = -1;
			}
			o.repetitions = (int)n;
		} else {
			fprintf(stderr, "ipcbench run: unknown argument '%s' (see ipcbench run --help)\n", argv[i]);
			return 2;
		}
		if (rc == 0 && v && !*v) {
			snprintf(err, sizeof err, "%s needs a value", argv[i]);
			rc = -1;
		}
		if (rc != 0) {
			fprintf(stderr, "ipcbench run: %s\n", err);
			return 2;
		}
	}
	if (o.peer && (f->have_modes || f->have_places)) {
		fprintf(stderr, "ipcbench run: --mode and --placement do not apply to --peer rows (the agent's "
		                "endpoint is a process on its host; pin it there with `ipcbench agent --cpu N`)\n");
		return 2;
	}
	const ipcq_mech *tcp = ipcq_mech_find("tcp");
	if (o.peer && f->have_mechs && !(tcp && (f->mechs & (1ull << mech_index(tcp))))) {
		fprintf(stderr, "ipcbench run: --peer rows are tcp rows: --mechanism must include tcp\n");
		return 2;
	}
	if (o.out_root && !*o.out_root) {
		fprintf(stderr, "ipcbench run: --out needs a folder\n");
		return 2;
	}
	int rc = ipcb_run(&o);
	ipcb_gb_shutdown();
	return rc;
}

/* --- main ----------------------------------------------------------------------- */

int ipcb_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	char *prog = argv[0];
	argc--;
	argv++;
	if (is_help(cmd)) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("ipcbench %s\n", IPCB_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list(argc, argv);
	if (!strcmp(cmd, "topology"))
		return cmd_topology(argc, argv);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc, argv, prog);
	if (!strcmp(cmd, "agent"))
		return ipcb_agent_main(argc, argv);
	if (!strcmp(cmd, "conformance"))
		return cmd_conformance(argc, argv);
	if (!strcmp(cmd, "report"))
		return ipcb_report_main(argc, argv);
	if (!strcmp(cmd, "compare"))
		return ipcb_compare_main(argc, argv);
	fprintf(stderr, "ipcbench: unknown command '%s'\n%s", cmd, usage_main);
	return 2;
}
