/* hist.h — log-linear latency histogram in nanoseconds (HdrHistogram-like).
 *
 * Values 0..255 ns have 1 ns buckets; above, every power of two [2^e, 2^e+1)
 * is cut into 128 equal buckets, so a bucket is at most 1/128 of its lower
 * bound wide and the value reported for it (its midpoint, clamped to the
 * recorded min/max) is within 0.4% of any value it holds. Range: 0 ..
 * 2^40 ns (~18 minutes); larger values land in one overflow bucket
 * (reported as max) and still count exactly in max and mean. Memory is
 * fixed (the struct, ~35 KiB, with no pointers, so it may live in shared
 * memory between processes); nothing allocates, record is O(1).
 *
 * Not thread-safe: one writer per histogram; merge per-thread ones.
 */
#ifndef IPCB_HIST_H
#define IPCB_HIST_H

#include <stdint.h>

#define IPCB_HIST_SUB_BITS 7 /* 128 buckets per octave */
#define IPCB_HIST_SUB (1u << IPCB_HIST_SUB_BITS)
#define IPCB_HIST_MAX_EXP 40                  /* values < 2^40 ns are exact-bucketed */
#define IPCB_HIST_LINEAR (2u * IPCB_HIST_SUB) /* 0..255: 1 ns buckets */
/* linear part + 128 per octave 2^8..2^39 + one overflow bucket (>= 2^40) */
#define IPCB_HIST_BUCKETS                                                                          \
	(IPCB_HIST_LINEAR + (IPCB_HIST_MAX_EXP - IPCB_HIST_SUB_BITS - 1) * IPCB_HIST_SUB + 1)

struct ipcb_hist {
	uint64_t count;
	uint64_t min; /* UINT64_MAX when empty */
	uint64_t max;
	uint64_t sum; /* ns; overflows only after ~584 years of recorded time */
	uint64_t buckets[IPCB_HIST_BUCKETS];
};

/* Bucket index of value v (ns); values >= 2^40 map to the overflow bucket. */
static inline uint32_t ipcb_hist_index(uint64_t v)
{
	if (v < IPCB_HIST_LINEAR)
		return (uint32_t)v;
	if (v >> IPCB_HIST_MAX_EXP)
		return IPCB_HIST_BUCKETS - 1;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 2^e <= v < 2^(e+1), e >= 8 */
	unsigned shift = e - IPCB_HIST_SUB_BITS;
	uint32_t sub = (uint32_t)(v >> shift) - IPCB_HIST_SUB; /* 0..127 */
	return IPCB_HIST_LINEAR + (e - IPCB_HIST_SUB_BITS - 1) * IPCB_HIST_SUB + sub;
}

/* Records one value (ns) in O(1). */
static inline void ipcb_hist_record(struct ipcb_hist *h, uint64_t ns)
{
	h->buckets[ipcb_hist_index(ns)]++;
	h->count++;
	h->sum += ns;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

/* Empties h (count 0, min UINT64_MAX). Also the initialiser. */
void ipcb_hist_reset(struct ipcb_hist *h);

/* Records value ns n times. */
void ipcb_hist_record_n(struct ipcb_hist *h, uint64_t ns, uint64_t n);

/* Adds every value of src into dst (src unchanged). */
void ipcb_hist_merge(struct ipcb_hist *dst, const struct ipcb_hist *src);

/* Lowest value that maps to bucket i. */
uint64_t ipcb_hist_bucket_low(uint32_t i);

/* Highest value that maps to bucket i (UINT64_MAX for the top bucket). */
uint64_t ipcb_hist_bucket_high(uint32_t i);

/* Value at quantile q in [0,1] (0.5 = median, 0.999 = p99.9): the bucket
 * holding the ceil(q*count)-th smallest value, reported as its midpoint
 * clamped to [min, max]; q <= 0 gives min, q >= 1 gives max. 0 if empty. */
uint64_t ipcb_hist_percentile(const struct ipcb_hist *h, double q);

/* Exact mean of recorded values (ns); 0 if empty. */
double ipcb_hist_mean(const struct ipcb_hist *h);

/* Smallest recorded value; 0 if empty. */
uint64_t ipcb_hist_min(const struct ipcb_hist *h);

/* Largest recorded value; 0 if empty. */
uint64_t ipcb_hist_max(const struct ipcb_hist *h);

/* Number of recorded values. */
uint64_t ipcb_hist_count(const struct ipcb_hist *h);

#endif /* IPCB_HIST_H */
