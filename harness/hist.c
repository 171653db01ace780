/* hist.c — log-linear histogram; layout and error bound in hist.h. */
#include "hist.h"

#include <string.h>

void ipcb_hist_reset(struct ipcb_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

void ipcb_hist_record_n(struct ipcb_hist *h, uint64_t ns, uint64_t n)
{
	if (n == 0)
		return;
	h->buckets[ipcb_hist_index(ns)] += n;
	h->count += n;
	h->sum += ns * n;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void ipcb_hist_merge(struct ipcb_hist *dst, const struct ipcb_hist *src)
{
	if (src->count == 0)
		return;
	for (uint32_t i = 0; i < IPCB_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t ipcb_hist_bucket_low(uint32_t i)
{
	if (i < IPCB_HIST_LINEAR)
		return i;
	uint32_t j = i - IPCB_HIST_LINEAR;
	unsigned e = j / IPCB_HIST_SUB + IPCB_HIST_SUB_BITS + 1; /* octave [2^e, 2^(e+1)) */
	unsigned shift = e - IPCB_HIST_SUB_BITS;
	return (uint64_t)(IPCB_HIST_SUB + j % IPCB_HIST_SUB) << shift;
}

uint64_t ipcb_hist_bucket_high(uint32_t i)
{
	if (i >= IPCB_HIST_BUCKETS - 1)
		return UINT64_MAX;
	return ipcb_hist_bucket_low(i + 1) - 1;
}

uint64_t ipcb_hist_percentile(const struct ipcb_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	double r = q * (double)h->count;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++; /* ceil without libm */
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (uint32_t i = 0; i < IPCB_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t lo = ipcb_hist_bucket_low(i), hi = ipcb_hist_bucket_high(i);
			uint64_t mid = lo + (hi - lo) / 2;
			if (mid < h->min)
				mid = h->min;
			if (mid > h->max)
				mid = h->max;
			return mid;
		}
	}
	return h->max; /* unreachable while count matches the buckets */
}

double ipcb_hist_mean(const struct ipcb_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

uint64_t ipcb_hist_min(const struct ipcb_hist *h)
{
	return h->count ? h->min : 0;
}

uint64_t ipcb_hist_max(const struct ipcb_hist *h)
{
	return h->count ? h->max : 0;
}

uint64_t ipcb_hist_count(const struct ipcb_hist *h)
{
	return h->count;
}
