/* test_stats.c — numeric helpers, timer cost, busy wait. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "stats.h"
#include "unit.h"
#include "wlutil.h"

static void test_numbers(void)
{
	double x[] = {5, 1, 4, 2, 3};
	UT_TRUE(ipcb_mean(x, 5) == 3, "mean %g, expected 3", ipcb_mean(x, 5));
	double sd = ipcb_stddev(x, 5);
	UT_TRUE(fabs(sd - sqrt(2.5)) < 1e-12, "stddev %g, expected %g", sd, sqrt(2.5));
	UT_TRUE(ipcb_median(x, 5) == 3, "median %g, expected 3", ipcb_median(x, 5));
	UT_TRUE(ipcb_median(x, 4) == 3, "median of 5,1,4,2 is %g, expected 3", ipcb_median(x, 4));
	UT_TRUE(x[0] == 5 && x[1] == 1, "ipcb_median changed its input");
	ipcb_sort_doubles(x, 5);
	UT_TRUE(x[0] == 1 && x[4] == 5, "sort: %g..%g", x[0], x[4]);
	UT_TRUE(ipcb_quantile_sorted(x, 5, 0.5) == 3, "q0.5 %g", ipcb_quantile_sorted(x, 5, 0.5));
	UT_TRUE(ipcb_quantile_sorted(x, 5, 0.2) == 1, "q0.2 %g", ipcb_quantile_sorted(x, 5, 0.2));
	UT_TRUE(ipcb_quantile_sorted(x, 5, 0.21) == 2, "q0.21 %g",
	        ipcb_quantile_sorted(x, 5, 0.21));
	UT_TRUE(ipcb_quantile_sorted(x, 5, 1) == 5, "q1 %g", ipcb_quantile_sorted(x, 5, 1));
	UT_TRUE(ipcb_quantile_sorted(x, 5, 0) == 1, "q0 %g", ipcb_quantile_sorted(x, 5, 0));
	UT_TRUE(ipcb_mean(x, 0) == 0 && ipcb_stddev(x, 1) == 0 && ipcb_median(x, 0) == 0,
	        "empty inputs must give 0");
	uint64_t u[] = {9, 3, 7};
	ipcb_sort_u64(u, 3);
	UT_EQ_LL(u[0], 3);
	UT_EQ_LL(ipcb_quantile_sorted_u64(u, 3, 0.5), 7);
}

static void test_timer(void)
{
	double c = ipcb_timer_cost_ns(0);
	/* sanity only: speed is for benchmarks, but 0 or absurd means a bug */
	UT_TRUE(c > 0 && c < 1e6, "timer cost %g ns is not plausible", c);
	UT_TRUE(ipcb_timer_resolution_ns() > 0, "clock_getres(CLOCK_MONOTONIC) gave 0");
	uint64_t a = ipcb_now_ns(), b = ipcb_now_ns();
	UT_TRUE(b >= a, "CLOCK_MONOTONIC went back: %llu then %llu", (unsigned long long)a,
	        (unsigned long long)b);
}

static void test_busy_wait(void)
{
	const uint64_t want[] = {0, 1000, 200000, 2000000};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		uint64_t t0 = ipcb_now_ns();
		ipcb_busy_wait_ns(want[i]);
		uint64_t took = ipcb_now_ns() - t0;
		/* waking early is the failure; lateness is the scheduler's business */
		UT_TRUE(took >= want[i], "busy wait %llu ns returned after %llu ns",
		        (unsigned long long)want[i], (unsigned long long)took);
	}
}

/* Stream batch sizing: start-up batch, growth, sizing from the fastest batch, growth while measuring. */
static void test_quota(void)
{
	struct ipcb_quota q;
	ipcb_quota_init(&q, 1025); /* a ring's lap */
	UT_EQ_LL(q.quota, 1025);
	UT_TRUE(!ipcb_quota_warm(&q, 900000000), "the start-up batch ended sizing");
	UT_EQ_LL(q.quota, 4); /* its time counts for nothing */
	/* 4 messages in 40 us: 10 us each; under half a batch, so it grows to the 10 ms size (1000) */
	UT_TRUE(!ipcb_quota_warm(&q, 40000), "a short batch ended sizing");
	UT_EQ_LL(q.quota, 1000);
	/* a stalled batch (100 us a message) does not shrink the next: the fastest (10 us) sizes it */
	UT_TRUE(!ipcb_quota_warm(&q, 100000000), "sizing ended after one sized batch");
	UT_EQ_LL(q.quota, 1000);
	UT_TRUE(ipcb_quota_warm(&q, 5000000), "two sized batches did not end sizing");
	UT_EQ_LL(q.quota, 2000); /* 5 us a message now */
	/* measuring: a batch far below 10 ms doubles the next; a long one keeps it; the cap holds */
	ipcb_quota_measured(&q, 1000000);
	UT_EQ_LL(q.quota, 4000);
	ipcb_quota_measured(&q, 9000000);
	UT_EQ_LL(q.quota, 4000);
	q.quota = IPCB_MAX_QUOTA;
	ipcb_quota_measured(&q, 1);
	UT_EQ_LL(q.quota, IPCB_MAX_QUOTA);
	/* a batch that never lasts long ends sizing after 40 rounds at most */
	ipcb_quota_init(&q, 1);
	int rounds = 0;
	while (!ipcb_quota_warm(&q, 1) && rounds < 100)
		rounds++;
	UT_TRUE(rounds < 40, "sizing took %d rounds", rounds);
}

int ut_add_stats(void)
{
	CU_pSuite s = CU_add_suite("stats", NULL, NULL);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "numbers", test_numbers) || !CU_add_test(s, "timer", test_timer) ||
	    !CU_add_test(s, "busy wait", test_busy_wait) || !CU_add_test(s, "stream batch sizing", test_quota))
		return CU_get_error();
	return CUE_SUCCESS;
}
