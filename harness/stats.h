/* stats.h — clocks and small numeric helpers for the harness.
 *
 * All times are CLOCK_MONOTONIC nanoseconds: the clock the workloads read
 * around each round trip, so its own cost is measured with the same call.
 */
#ifndef IPCB_STATS_H
#define IPCB_STATS_H

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

#endif /* IPCB_STATS_H */
