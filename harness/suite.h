/*
 * suite.h - benchmark suites as data, and the value lists shared with the
 * command line.
 *
 * A suite file holds one benchmark family per line:
 *
 *   # first comment line: what the suite is for (shown by `ipcbench list suites`)
 *   pingpong  mechanisms=all  modes=process,thread  placements=cross,same-pu  sizes=64,4K
 *   stream    mechanisms=all  modes=process  placements=cross  sizes=64,1M  pairs=1x1,2x2
 *   limit     rows=c2c,ring,memcpy  placements=cross  sizes=64,4K
 *
 * The first word names a workload; the rest are key=value with
 * comma-separated values. Keys and their defaults:
 *   mechanisms=all        registered mechanism names, or all; -NAME leaves one
 *                         out again (all,-tcp), and a NAME not built in is ignored
 *   modes=process,thread  process and/or thread
 *   placements=cross      cross: the nearest of cross-core, cross-l3, cross-numa,
 *                         cross-package this machine has; or same-pu smt cross-core
 *                         cross-l3 cross-numa cross-package os, or all
 *   sizes=64              bytes: 8, 4K (=4KiB = 4096), 1M (=1MiB); 8 B .. 16 MiB
 *   pairs=1x1             stream only: producers x consumers
 *   api=copy,zerocopy     pingpong, stream: ipcq_put/get (copy, the default), and/or
 *                         in place with ipcq_reserve/commit and ipcq_peek/consume
 *                         where a mechanism has IPCQ_CAP_ZEROCOPY (rows named
 *                         <workload>/<mechanism>-zc/...)
 *   rows=c2c,memcpy,ring  limit only
 *   workers=1,2,pus,2pus  cpu: pool workers (default 1,pus); shared: endpoints
 *                         (default 2); Npus = N x this machine's PUs
 *   grains=0,1us,1ms      cpu, io: task grain (cpu: hashing; io: time blocked);
 *                         a bare number is microseconds; 0 = empty tasks (cpu)
 *   idle=1s,100ms         wake only: idle gap before each timed round trip
 *                         (default 1s; samples = max(3, min_time / idle))
 *   concurrency=1,16,256  io only: tasks in flight (= pool workers)
 *   tasks=sleep,socket    io only: a timed sleep, or a blocking read from a
 *                         local socket answered after the grain
 *   min_time=SECONDS      per benchmark, instead of Google Benchmark's 0.5 s
 *   repetitions=N         per benchmark
 * pyref and zmqref (reference rows) take placements and sizes (pyref: workers).
 * '#' starts a comment anywhere on a line.
 */
#ifndef IPCB_SUITE_H
#define IPCB_SUITE_H

#include "workload.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPCB_MAX_SIZES 32
#define IPCB_MAX_PAIRS 8
#define IPCB_MAX_COUNTS 16  /* workers=, grains=, idle=, concurrency= values per line */
#define IPCB_MAX_WORKERS 1024
#define IPCB_MAX_GRAIN_US 10000000u /* 10 s */
#define IPCB_SIZE_MIN 8u
#define IPCB_SIZE_MAX (16u << 20)

struct ipcb_pairs {
	unsigned producers, consumers;
};

/* One line of a suite, or the command line's filters. */
struct ipcb_suite_line {
	unsigned lineno;
	const struct ipcb_workload *wl;
	uint64_t mechs;     /* bit i: ipcq_mech_at(i) */
	unsigned modes;     /* IPCB_MODE_* */
	unsigned places;    /* bit p: enum ipcb_place; IPCB_PLACE_CROSS_BIT: "cross" */
	unsigned rows;      /* bit r: enum ipcb_limit_row */
	size_t sizes[IPCB_MAX_SIZES];
	unsigned nsizes;
	struct ipcb_pairs pairs[IPCB_MAX_PAIRS];
	unsigned npairs;
	int workers[IPCB_MAX_COUNTS]; /* cpu: > 0 a count, < 0: -k = k x PUs */
	unsigned nworkers;
	unsigned grains[IPCB_MAX_COUNTS]; /* cpu, io: microseconds; wake: the idle= gaps */
	unsigned ngrains;
	unsigned conc[IPCB_MAX_COUNTS];   /* io */
	unsigned nconc;
	unsigned tasks;     /* io: bit k: enum ipcb_io_task */
	unsigned apis;      /* pingpong, stream: bit k: enum ipcb_api */
	double min_time;    /* 0: default */
	int repetitions;    /* 0: default */
};

struct ipcb_suite {
	char name[64];        /* "quick", or the file's name */
	char path[512];
	char about[256];      /* its first comment line */
	struct ipcb_suite_line *lines;
	size_t nlines;
};

/* Parses suite text; origin names it in messages. 0, or -1 with err ("quick.suite:3: ..."). */
int ipcb_suite_parse(const char *text, const char *origin, struct ipcb_suite *s, char *err, size_t errlen);
/* Loads a built-in suite by name (quick, full, ci) or a file by path. 0 or -1 with err. */
int ipcb_suite_load(const char *name_or_path, struct ipcb_suite *s, char *err, size_t errlen);
/* Frees what parse/load allocated. */
void ipcb_suite_free(struct ipcb_suite *s);
/* The folder holding the built-in suites. */
const char *ipcb_suite_dir(void);
/* Names of the built-in suites found in ipcb_suite_dir(), sorted; returns how many (at most max). */
size_t ipcb_suite_builtin(char names[][64], size_t max);

/* Value parsers shared by suite files and the command line: each takes a
 * comma-separated list, returns 0, or -1 with err listing the valid values. */
int ipcb_parse_size(const char *s, size_t *out, char *err, size_t errlen);
int ipcb_parse_sizes(const char *list, size_t *sizes, unsigned *n, char *err, size_t errlen);
int ipcb_parse_mechs(const char *list, uint64_t *mask, char *err, size_t errlen);
int ipcb_parse_modes(const char *list, unsigned *mask, char *err, size_t errlen);
int ipcb_parse_places(const char *list, unsigned *mask, char *err, size_t errlen);
int ipcb_parse_rows(const char *list, unsigned *mask, char *err, size_t errlen);
int ipcb_parse_pairs(const char *list, struct ipcb_pairs *pairs, unsigned *n, char *err, size_t errlen);
/* workers=: counts 1..IPCB_MAX_WORKERS, or "pus"/"Npus" stored as -N. */
int ipcb_parse_workers(const char *list, int *workers, unsigned *n, char *err, size_t errlen);
/* grains=: 0, 50, 50us, 1ms, 10ms (a bare number is microseconds), up to 10 s. */
int ipcb_parse_grains(const char *list, unsigned *grains_us, unsigned *n, char *err, size_t errlen);
/* concurrency=: counts 1..IPCB_MAX_WORKERS. */
int ipcb_parse_counts(const char *list, unsigned *counts, unsigned *n, char *err, size_t errlen);
/* tasks=: io task kinds (sleep, socket, all). */
int ipcb_parse_io_tasks(const char *list, unsigned *mask, char *err, size_t errlen);

/* 4096 -> "4K", 1048576 -> "1M", 100 -> "100". */
const char *ipcb_size_str(size_t n, char *buf, size_t len);
/* 1000000 -> "1s", 100000 -> "100ms", 50 -> "50us". */
const char *ipcb_us_str(unsigned us, char *buf, size_t len);

#endif
