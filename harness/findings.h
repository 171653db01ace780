/*
 * findings.h - after a run: each cpu row's speedup over one worker, and the
 * "What this machine says" lines, computed from the figures of that run
 * only (a finding whose rows did not run, or ended in an error, is left
 * out), then both written into results.json.
 */
#ifndef IPCB_FINDINGS_H
#define IPCB_FINDINGS_H

#include <stddef.h>
#include <stdio.h>

struct ipcb_findings {
	char (*line)[400]; /* report.c keeps findings lines of this size */
	size_t n, cap;
};

/* speedup[i] and efficiency[i] (= speedup / workers) for result row i of the
 * last ipcb_gb_run (NAN where none): a cpu row's tasks_per_second over that
 * of its sibling with workers:1 (same mechanism, mode, placement, grain, and
 * the same repetition or aggregate). stddev and cv aggregates get none. */
void ipcb_pool_speedups(double *speedup, double *efficiency, size_t n);

/* Fills f from the last run's rows (speedup from ipcb_pool_speedups; pus: this
 * machine's PUs, to tell time-slicing from a busy machine). 0 or -1 (memory). */
int ipcb_findings_compute(const double *speedup, int pus, struct ipcb_findings *f);
void ipcb_findings_free(struct ipcb_findings *f);
/* Adds the "host changed speed" finding when hi / lo (the run's host probes, ns) passes 1.5. 0 or -1 (memory). */
int ipcb_findings_host(struct ipcb_findings *f, double lo, double hi, unsigned n, int cpu_a, int cpu_b);

/* Prints the block ("What this machine says:" and one "- " line each); nothing when empty. */
void ipcb_findings_print(const struct ipcb_findings *f, FILE *out);

/* Adds the speedup and efficiency counters to the rows of results.json at
 * path and the findings to its context (key "findings": the lines joined by
 * newlines). 0, or -1 with err. */
int ipcb_results_amend(const char *path, const double *speedup, const double *efficiency,
                       const struct ipcb_findings *f, char *err, size_t errlen);
/* Adds host_c2c_ns (row_ns[i], the host probe before result row i ran; 0: none)
 * to the rows of results.json at path and range to its context as "host_c2c". 0, or -1 with err. */
int ipcb_results_add_host(const char *path, const double *row_ns, size_t nrow, const char *range, char *err,
                          size_t errlen);
struct json_t; /* jansson's json_t */
/* Writes an amended results.json (root, which it releases) over path through a
 * temporary file, so a reader never sees half of it. 0, or -1 with err naming what. */
int ipcb_results_save(struct json_t *root, const char *path, const char *what, char *err, size_t errlen);

#endif
