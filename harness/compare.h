/* compare.h — `ipcbench compare BASE.json NEW.json`: the regression check.
 *
 * Reads two Google Benchmark JSON files (ipcbench's results.json, or any
 * benchmark binary's --benchmark_out), groups the iteration rows of each
 * benchmark over its repetitions, and per metric tests NEW against BASE:
 * Mann-Whitney U (two-sided) for "did it change", Hodges-Lehmann on the log
 * scale for "by how much" (a ratio with a distribution-free CI). A metric
 * regresses when p < alpha AND the change in the bad direction is larger
 * than its minimum effect. p is Holm-adjusted over all rows by default.
 */
#ifndef IPCB_COMPARE_H
#define IPCB_COMPARE_H

#include <stdbool.h>
#include <stdio.h>

#define IPCB_COMPARE_MIN_REPS 5

enum ipcb_compare_format { IPCB_CMP_TABLE = 0, IPCB_CMP_JSON, IPCB_CMP_MD };

/* A metric's own minimum effect (--metric-effect NAME=PCT). */
struct ipcb_metric_effect {
	char name[32];
	double pct;
};

struct ipcb_compare_opts {
	double alpha;       /* significance level, (0, 1); default 0.05 */
	double min_effect;  /* percent, >= 0; default 10 */
	struct ipcb_metric_effect effects[8];
	int neffects;
	enum ipcb_compare_format format;
	bool force;         /* compare across machines / with few repetitions */
	bool holm;          /* Holm-adjust p over all rows (default true) */
};

/* Exit statuses of compare (and of ci/gate). */
enum { IPCB_CMP_OK = 0, IPCB_CMP_REGRESSION = 1, IPCB_CMP_BADINPUT = 2 };

/* Sets the defaults above. */
void ipcb_compare_defaults(struct ipcb_compare_opts *o);

/* Compares the two files with o, the result to out and every problem (with
 * the file and the fix) to err. Returns IPCB_CMP_OK, IPCB_CMP_REGRESSION or
 * IPCB_CMP_BADINPUT. Never exits; safe on any file content. */
int ipcb_compare_files(const char *base, const char *new_, const struct ipcb_compare_opts *o, FILE *out,
                       FILE *err);

/* `ipcbench compare ...`: argv[0] is "compare". Returns the exit status. */
int ipcb_compare_main(int argc, char **argv);

#endif /* IPCB_COMPARE_H */
