/*
 * runner.h - from a suite and the command line's filters to benchmark rows:
 * the plan (which cases run, which are skipped and why), the run through
 * Google Benchmark, and the output folder.
 */
#ifndef IPCB_RUNNER_H
#define IPCB_RUNNER_H

#include "suite.h"

#include <stdio.h>

/* Command-line filters; a have_* false means "no filter". */
struct ipcb_filter {
	bool have_mechs, have_modes, have_places, have_sizes, have_workloads;
	uint64_t mechs;
	unsigned modes, places;
	size_t sizes[IPCB_MAX_SIZES];
	unsigned nsizes;
	unsigned workloads; /* bit i: ipcb_workload_at(i) */
	unsigned rows;      /* limit rows kept when "limit/<row>" was named; all if only "limit" */
};

/* Parses a --workload list: pingpong, stream, limit, limit/c2c ... 0 or -1 with err. */
int ipcb_parse_workloads(const char *list, struct ipcb_filter *f, char *err, size_t errlen);

struct ipcb_plan {
	struct ipcb_case *cases;
	size_t n, cap;
	char (*skips)[256]; /* one line per distinct reason */
	size_t nskips, capskips;
};

/* Expands suite s through filter f on topo into plan p (zeroed by the caller).
 * Returns 0 or -1 on allocation failure. */
int ipcb_plan_build(const struct ipcb_suite *s, const struct ipcb_filter *f, hwloc_topology_t topo,
                    struct ipcb_plan *p);
void ipcb_plan_free(struct ipcb_plan *p);

struct ipcb_run_opts {
	const char *suite;      /* built-in name or path; NULL = quick */
	struct ipcb_filter filter;
	const char *out_root;   /* NULL = "results" */
	int repetitions;        /* > 0 overrides the suite */
	bool gb_display;        /* the user chose --benchmark_format: leave Google Benchmark's output on stdout */
	bool gb_min_time;       /* --benchmark_min_time given: it beats the suite's min_time */
	bool gb_repetitions;    /* --benchmark_repetitions given: it beats the suite's repetitions */
	const char *peer;       /* ADDR[:PORT] of an `ipcbench agent`: run pingpong/stream rows against it */
	const char *command;    /* the command line as typed, shell-quoted: context "command" (report's reproduce line) */
};

/* Runs a suite; returns the process exit status (0 ran, 1 could not write results, 2 usage). */
int ipcb_run(const struct ipcb_run_opts *o);

/* Copies a Google Benchmark row name without the option segments it appends
 * ("/min_time:0.100", "/repeats:3", "/manual_time"...), keeping "_mean" etc. */
void ipcb_clean_name(const char *in, char *out, size_t len);

/* Prints `ipcbench list suites`: each suite, what it is for and what it runs. */
int ipcb_list_suites(FILE *f);

#endif
