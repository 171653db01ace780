/* stats.c — timer cost, busy wait and small numeric helpers. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TIMER_BATCH 100

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

double ipcb_timer_cost_ns(unsigned rounds)
{
	if (rounds == 0)
		rounds = 201;
	double *cost = malloc(rounds * sizeof *cost);
	if (!cost)
		return 0;
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t t0 = ipcb_now_ns();
		for (int i = 0; i < TIMER_BATCH; i++)
			(void)ipcb_now_ns();
		uint64_t t1 = ipcb_now_ns();
		cost[r] = (double)(t1 - t0) / (TIMER_BATCH + 1);
	}
	qsort(cost, rounds, sizeof *cost, cmp_double);
	double m = cost[rounds / 2];
	free(cost);
	return m;
}

uint64_t ipcb_timer_resolution_ns(void)
{
	struct timespec ts;
	if (clock_getres(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ipcb_busy_wait_ns(uint64_t ns)
{
	uint64_t end = ipcb_now_ns() + ns;
	while (ipcb_now_ns() < end) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

double ipcb_mean(const double *x, size_t n)
{
	if (n == 0)
		return 0;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return s / (double)n;
}

double ipcb_stddev(const double *x, size_t n)
{
	if (n < 2)
		return 0;
	double m = ipcb_mean(x, n), s = 0;
	for (size_t i = 0; i < n; i++)
		s += (x[i] - m) * (x[i] - m);
	return sqrt(s / (double)(n - 1));
}

void ipcb_sort_doubles(double *x, size_t n)
{
	if (n > 1)
		qsort(x, n, sizeof *x, cmp_double);
}

void ipcb_sort_u64(uint64_t *x, size_t n)
{
	if (n > 1)
		qsort(x, n, sizeof *x, cmp_u64);
}

static size_t nearest_rank(size_t n, double q)
{
	if (q <= 0)
		return 0;
	if (q >= 1)
		return n - 1;
	double r = ceil(q * (double)n);
	size_t k = r < 1 ? 1 : (size_t)r;
	return (k > n ? n : k) - 1;
}

double ipcb_quantile_sorted(const double *x, size_t n, double q)
{
	return n ? x[nearest_rank(n, q)] : 0;
}

uint64_t ipcb_quantile_sorted_u64(const uint64_t *x, size_t n, double q)
{
	return n ? x[nearest_rank(n, q)] : 0;
}

double ipcb_median(const double *x, size_t n)
{
	if (n == 0)
		return 0;
	double *c = malloc(n * sizeof *c);
	if (!c)
		return 0;
	memcpy(c, x, n * sizeof *c);
	qsort(c, n, sizeof *c, cmp_double);
	double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}
