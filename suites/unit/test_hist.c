/* test_hist.c — bucket layout, the 1% error bound, percentiles against
 * sorted samples, merge. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "stats.h"
#include "unit.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{ /* xorshift64*: deterministic samples */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* log-uniform in [lo, hi) */
static uint64_t log_uniform(double lo, double hi)
{
	double u = (double)(rng() >> 11) / (double)(1ull << 53);
	return (uint64_t)exp(log(lo) + u * (log(hi) - log(lo)));
}

static void test_layout(void)
{
	uint32_t bad = UINT32_MAX;
	for (uint32_t i = 0; i + 1 < IPCB_HIST_BUCKETS && bad == UINT32_MAX; i++) {
		uint64_t lo = ipcb_hist_bucket_low(i), hi = ipcb_hist_bucket_high(i);
		if (ipcb_hist_index(lo) != i || ipcb_hist_index(hi) != i || hi < lo ||
		    ipcb_hist_bucket_low(i + 1) != hi + 1)
			bad = i;
	}
	UT_TRUE(bad == UINT32_MAX, "bucket %u: low/high do not map back or leave a gap", bad);
	UT_EQ_LL(ipcb_hist_index(0), 0);
	UT_EQ_LL(ipcb_hist_index(255), 255);
	UT_EQ_LL(ipcb_hist_index(1ull << 40), IPCB_HIST_BUCKETS - 1);
	UT_EQ_LL(ipcb_hist_index(UINT64_MAX), IPCB_HIST_BUCKETS - 1);
	UT_EQ_LL(ipcb_hist_bucket_high(IPCB_HIST_BUCKETS - 2) + 1, 1ull << 40);
}

/* Every value from 1 ns to 100 s is reported within 1% by its bucket. */
static void test_error_bound(void)
{
	double worst = 0, worst_v = 0;
	for (double v = 1; v <= 100e9; v = v * 1.0007 + 1) {
		uint64_t x = (uint64_t)v;
		uint32_t i = ipcb_hist_index(x);
		uint64_t lo = ipcb_hist_bucket_low(i), hi = ipcb_hist_bucket_high(i);
		double mid = (double)(lo + (hi - lo) / 2);
		double err = fabs(mid - (double)x) / (double)x;
		if (err > worst)
			worst = err, worst_v = (double)x;
	}
	UT_TRUE(worst <= 0.01, "worst relative error %.5f at %.0f ns exceeds 1%%", worst, worst_v);
	/* and the bound the header promises */
	UT_TRUE(worst <= 1.0 / 256 + 1e-9, "worst relative error %.5f above 1/256", worst);
}

static void test_percentiles(void)
{
	enum { N = 200000 };
	uint64_t *s = malloc(N * sizeof *s);
	static struct ipcb_hist h;
	ipcb_hist_reset(&h);
	double sum = 0;
	for (int i = 0; i < N; i++) {
		s[i] = log_uniform(20, 1e10);
		ipcb_hist_record(&h, s[i]);
		sum += (double)s[i];
	}
	ipcb_sort_u64(s, N);
	const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999};
	for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
		uint64_t exact = ipcb_quantile_sorted_u64(s, N, qs[k]);
		uint64_t got = ipcb_hist_percentile(&h, qs[k]);
		double err = fabs((double)got - (double)exact) / (double)exact;
		/* 1% is the requirement; the midpoint promises 1/256 */
		UT_TRUE(err <= 1.0 / 256 + 1e-9,
		        "p%g: histogram %llu ns, sorted samples %llu ns (error %.4f)", qs[k] * 100,
		        (unsigned long long)got, (unsigned long long)exact, err);
	}
	UT_EQ_LL(ipcb_hist_percentile(&h, 0), s[0]);
	UT_EQ_LL(ipcb_hist_percentile(&h, 1), s[N - 1]);
	UT_EQ_LL(ipcb_hist_min(&h), s[0]);
	UT_EQ_LL(ipcb_hist_max(&h), s[N - 1]);
	UT_EQ_LL(ipcb_hist_count(&h), N);
	double mean = ipcb_hist_mean(&h), want = sum / N;
	UT_TRUE(fabs(mean - want) / want < 1e-9, "mean %.3f, expected %.3f", mean, want);
	free(s);
}

static void test_small_exact(void)
{
	static struct ipcb_hist h;
	ipcb_hist_reset(&h);
	for (uint64_t v = 1; v <= 100; v++)
		ipcb_hist_record(&h, v);
	/* below 256 ns every bucket is 1 ns wide: percentiles are exact */
	UT_EQ_LL(ipcb_hist_percentile(&h, 0.5), 50);
	UT_EQ_LL(ipcb_hist_percentile(&h, 0.9), 90);
	UT_EQ_LL(ipcb_hist_percentile(&h, 0.99), 99);
	UT_EQ_LL(ipcb_hist_percentile(&h, 0.001), 1);
}

static void test_empty_and_huge(void)
{
	static struct ipcb_hist h;
	ipcb_hist_reset(&h);
	UT_EQ_LL(ipcb_hist_count(&h), 0);
	UT_EQ_LL(ipcb_hist_percentile(&h, 0.5), 0);
	UT_EQ_LL(ipcb_hist_min(&h), 0);
	UT_EQ_LL(ipcb_hist_max(&h), 0);
	UT_TRUE(ipcb_hist_mean(&h) == 0, "mean of empty is %g", ipcb_hist_mean(&h));
	uint64_t huge = (1ull << 42) + 12345;
	ipcb_hist_record(&h, 1000);
	ipcb_hist_record(&h, huge);
	UT_EQ_LL(ipcb_hist_max(&h), huge);
	UT_EQ_LL(ipcb_hist_percentile(&h, 1), huge);
	UT_EQ_LL(ipcb_hist_percentile(&h, 0.99), huge); /* top bucket clamps to max */
	ipcb_hist_reset(&h);
	UT_EQ_LL(ipcb_hist_count(&h), 0);
}

static void test_merge_and_record_n(void)
{
	static struct ipcb_hist a, b, all, m, n1, n2;
	ipcb_hist_reset(&a), ipcb_hist_reset(&b), ipcb_hist_reset(&all), ipcb_hist_reset(&m);
	for (int i = 0; i < 50000; i++) {
		uint64_t v = log_uniform(1, 1e9);
		ipcb_hist_record(i % 3 ? &a : &b, v);
		ipcb_hist_record(&all, v);
	}
	ipcb_hist_merge(&m, &a); /* into an empty one */
	ipcb_hist_merge(&m, &b);
	UT_EQ_LL(m.count, all.count);
	UT_EQ_LL(m.sum, all.sum);
	UT_EQ_LL(m.min, all.min);
	UT_EQ_LL(m.max, all.max);
	UT_TRUE(memcmp(m.buckets, all.buckets, sizeof m.buckets) == 0,
	        "merged buckets differ from recording everything into one histogram");
	ipcb_hist_reset(&n1), ipcb_hist_reset(&n2);
	ipcb_hist_record_n(&n1, 777777, 1000);
	for (int i = 0; i < 1000; i++)
		ipcb_hist_record(&n2, 777777);
	UT_TRUE(memcmp(&n1, &n2, sizeof n1) == 0, "record_n(v, 1000) differs from 1000 records");
	ipcb_hist_record_n(&n1, 5, 0);
	UT_EQ_LL(n1.count, 1000);
}

int ut_add_hist(void)
{
	CU_pSuite s = CU_add_suite("hist", NULL, NULL);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "layout", test_layout) ||
	    !CU_add_test(s, "error bound 1ns..100s", test_error_bound) ||
	    !CU_add_test(s, "percentiles vs sorted samples", test_percentiles) ||
	    !CU_add_test(s, "small values exact", test_small_exact) ||
	    !CU_add_test(s, "empty and huge", test_empty_and_huge) ||
	    !CU_add_test(s, "merge and record_n", test_merge_and_record_n))
		return CU_get_error();
	return CUE_SUCCESS;
}
