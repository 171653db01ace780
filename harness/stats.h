/* stats.h — clocks and small numeric helpers for the harness.
 *
 * All times are CLOCK_MONOTONIC nanoseconds: the clock the workloads read
 * around each round trip, so its own cost is measured with the same call.
 */
#ifndef IPCB_STATS_H
#define IPCB_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now, in ns. */
static inline uint64_t ipcb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Cost of one ipcb_now_ns() in ns: the median over `rounds` rounds (>= 1;
 * 0 picks 201) of 100 back-to-back reads timed together, divided by 101
 * intervals. This is what one timestamp adds to a measured interval. */
double ipcb_timer_cost_ns(unsigned rounds);

/* Resolution of CLOCK_MONOTONIC in ns (clock_getres), 0 if it fails. */
uint64_t ipcb_timer_resolution_ns(void);

/* Spins (no sleep, no syscall besides the clock) for at least ns. */
void ipcb_busy_wait_ns(uint64_t ns);

/* Arithmetic mean of x[0..n); 0 for n == 0. */
double ipcb_mean(const double *x, size_t n);

/* Sample standard deviation (n-1) of x[0..n); 0 for n < 2. */
double ipcb_stddev(const double *x, size_t n);

/* Sorts x[0..n) ascending in place. */
void ipcb_sort_doubles(double *x, size_t n);

/* Sorts x[0..n) ascending in place. */
void ipcb_sort_u64(uint64_t *x, size_t n);

/* Quantile q in [0,1] of already sorted x[0..n), nearest rank
 * (the ceil(q*n)-th smallest; q <= 0 gives x[0]); 0 for n == 0. */
double ipcb_quantile_sorted(const double *x, size_t n, double q);

/* Same as ipcb_quantile_sorted for sorted integers. */
uint64_t ipcb_quantile_sorted_u64(const uint64_t *x, size_t n, double q);

/* Median of x[0..n) without changing x (sorts a malloc'd copy; the mean
 * of the two middle values when n is even); 0 if n == 0 or malloc fails. */
double ipcb_median(const double *x, size_t n);

/* --- two-sample tests, for `ipcbench compare` ------------------------------- */

/* Largest sample size for which the exact Mann-Whitney distribution is used. */
#define IPCB_MWU_EXACT_MAX 50

/* Mann-Whitney U test of x[0..nx) against y[0..ny) (both >= 1), two-sided.
 * *u gets U of x (pairs x > y, ties counting 1/2). Without ties and with
 * nx, ny <= IPCB_MWU_EXACT_MAX the p-value is exact (scipy method="exact":
 * 2 P(U >= max(Ux, Uy)), at most 1); otherwise the normal approximation
 * with tie correction and continuity correction (scipy "asymptotic").
 * *exact says which. Returns the p-value, or -1 if malloc fails. */
double ipcb_mwu_test(const double *x, size_t nx, const double *y, size_t ny, double *u, int *exact);

/* Hodges-Lehmann shift of y against x: the median of the nx*ny differences
 * y[j] - x[i], and Moses' distribution-free confidence interval at level
 * 1 - alpha from the order statistics of those differences, the rank taken
 * from the exact U distribution (n <= IPCB_MWU_EXACT_MAX) or its normal
 * approximation. lo and hi fall back to the smallest/largest difference when
 * the samples are too small for that level. Returns 0, or -1 (malloc). */
int ipcb_hodges_lehmann(const double *x, size_t nx, const double *y, size_t ny, double alpha,
                        double *shift, double *lo, double *hi);

/* P(Z > z) for a standard normal Z. */
double ipcb_normal_sf(double z);

/*
 * True when two host probes (the runner's cache-line round trips, ns, as
 * host_c2c_ns in results.json) both exist (> 0) and are more than 1.5x
 * apart: the host was in another state for each, and figures measured
 * under them are not comparable. The runner, report and compare all ask.
 */
static inline bool ipcb_host_apart(double a, double b)
{
	return a > 0 && b > 0 && (a > b ? a / b : b / a) > 1.5;
}

#endif /* IPCB_STATS_H */
