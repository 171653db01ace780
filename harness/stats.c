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

/* --- two-sample tests ----------------------------------------------------- */

double ipcb_normal_sf(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

/* Null distribution of U for sample sizes m and n (no ties): cnt[u] =
 * number of the C(m+n, m) orderings giving U = u, u in 0..m*n; returns the
 * malloc'd array (m*n + 1 doubles) or NULL. Uses the recurrence
 * N(i, j, u) = N(i-1, j, u-j) + N(i, j-1, u), rolling over i: exact
 * integer sums in doubles while they fit 2^53 (C(100, 50) does not, but the
 * relative error stays near 1e-16, far below any alpha). */
static double *mwu_null_counts(size_t m, size_t n)
{
	size_t len = m * n + 1;
	double *prev = calloc((n + 1) * len, sizeof *prev);
	double *cur = calloc((n + 1) * len, sizeof *cur);
	double *out = malloc(len * sizeof *out);
	if (!prev || !cur || !out) {
		free(prev);
		free(cur);
		free(out);
		return NULL;
	}
	for (size_t j = 0; j <= n; j++)
		prev[j * len] = 1; /* i = 0: one ordering, U = 0 */
	for (size_t i = 1; i <= m; i++) {
		memset(cur, 0, (n + 1) * len * sizeof *cur);
		cur[0] = 1; /* j = 0 */
		for (size_t j = 1; j <= n; j++) {
			double *c = cur + j * len, *left = cur + (j - 1) * len, *up = prev + j * len;
			for (size_t u = 0; u <= i * j; u++)
				c[u] = left[u] + (u >= j ? up[u - j] : 0);
		}
		double *t = prev;
		prev = cur;
		cur = t;
	}
	memcpy(out, prev + n * len, len * sizeof *out);
	free(prev);
	free(cur);
	return out;
}

double ipcb_mwu_test(const double *x, size_t nx, const double *y, size_t ny, double *u, int *exact)
{
	size_t n = nx + ny;
	double *all = malloc(n * sizeof *all);
	if (!all)
		return -1;
	memcpy(all, x, nx * sizeof *all);
	memcpy(all + nx, y, ny * sizeof *all);
	ipcb_sort_doubles(all, n);
	/* Midranks: the rank sum of x from the pooled sorted sample. */
	double rx = 0, tie_term = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && all[j + 1] == all[i])
			j++;
		double t = (double)(j - i + 1), rank = (double)(i + j) / 2 + 1;
		tie_term += t * t * t - t;
		for (size_t k = 0; k < nx; k++)
			if (x[k] == all[i])
				rx += rank;
		i = j + 1;
	}
	free(all);
	double m1 = (double)nx, m2 = (double)ny;
	double ux = rx - m1 * (m1 + 1) / 2, umax = fmax(ux, m1 * m2 - ux);
	if (u)
		*u = ux;
	double p;
	if (tie_term == 0 && nx <= IPCB_MWU_EXACT_MAX && ny <= IPCB_MWU_EXACT_MAX) {
		double *cnt = mwu_null_counts(nx, ny);
		if (!cnt)
			return -1;
		double total = 0, upper = 0;
		for (size_t k = 0; k <= nx * ny; k++) {
			total += cnt[k];
			if ((double)k >= umax)
				upper += cnt[k];
		}
		free(cnt);
		p = 2 * upper / total;
		if (exact)
			*exact = 1;
	} else {
		double nn = (double)n;
		double var = m1 * m2 / 12 * ((nn + 1) - tie_term / (nn * (nn - 1)));
		double mu = m1 * m2 / 2;
		/* All values equal: no evidence of any difference. */
		p = var > 0 ? 2 * ipcb_normal_sf((umax - mu - 0.5) / sqrt(var)) : 1;
		if (exact)
			*exact = 0;
	}
	return p > 1 ? 1 : p;
}

int ipcb_hodges_lehmann(const double *x, size_t nx, const double *y, size_t ny, double alpha,
                        double *shift, double *lo, double *hi)
{
	size_t mn = nx * ny;
	double *d = mn ? malloc(mn * sizeof *d) : NULL;
	if (!d)
		return -1;
	for (size_t i = 0; i < nx; i++)
		for (size_t j = 0; j < ny; j++)
			d[i * ny + j] = y[j] - x[i];
	ipcb_sort_doubles(d, mn);
	*shift = mn % 2 ? d[mn / 2] : (d[mn / 2 - 1] + d[mn / 2]) / 2;
	/* k = number of differences cut from each end: the largest k with
	 * P(U < k) <= alpha/2 under the null. */
	size_t k = 0;
	if (nx <= IPCB_MWU_EXACT_MAX && ny <= IPCB_MWU_EXACT_MAX) {
		double *cnt = mwu_null_counts(nx, ny);
		if (!cnt) {
			free(d);
			return -1;
		}
		double total = 0, cum = 0;
		for (size_t u = 0; u <= mn; u++)
			total += cnt[u];
		while (k < mn / 2 && (cum + cnt[k]) / total <= alpha / 2)
			cum += cnt[k++];
		free(cnt);
	} else {
		/* z quantile by bisection on the survival function: no inverse erf in C11. */
		double a = 0, b = 10;
		for (int it = 0; it < 100; it++) {
			double mid = (a + b) / 2;
			if (ipcb_normal_sf(mid) > alpha / 2)
				a = mid;
			else
				b = mid;
		}
		double kk = (double)mn / 2 - a * sqrt((double)mn * (double)(nx + ny + 1) / 12);
		k = kk > 0 ? (size_t)kk : 0;
		if (k > mn / 2)
			k = mn / 2;
	}
	size_t cut = k > 0 ? k - 1 : 0;
	*lo = d[cut];
	*hi = d[mn - 1 - cut];
	free(d);
	return 0;
}
