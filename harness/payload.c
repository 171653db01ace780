/*
 * payload.c - message pattern and its check (see payload.h).
 */
#include "payload.h"

#include <stdbool.h>
#include <string.h>

/*
 * The body repeats with a prime period so it can be checked with memcmp
 * against one small table; only a shift by a multiple of the period
 * (4093 bytes) would go unseen, and the trailer catches any truncation.
 */
#define PERIOD 4093
static uint8_t body_ref[PERIOD];

/* Built before main, so a check (on every message) never asks whether it is built. */
__attribute__((constructor)) static void body_build(void)
{
	for (size_t i = 0; i < PERIOD; i++) {
		uint64_t x = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
		body_ref[i] = (uint8_t)((x >> 56) ^ (x >> 29));
	}
}

static uint64_t trailer_of(uint64_t seq)
{
	return ~seq * 0xD1B54A32D192ED03ull;
}

static void put64(void *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

void ipcb_payload_init(void *buf, size_t n)
{
	uint8_t *b = buf;
	for (size_t off = 0; off < n;) {
		size_t at = off % PERIOD, len = PERIOD - at;
		if (len > n - off)
			len = n - off;
		memcpy(b + off, body_ref + at, len);
		off += len;
	}
}

void ipcb_payload_stamp(void *buf, size_t n, uint64_t seq)
{
	uint8_t *b = buf;
	if (n >= 8)
		put64(b, seq);
	if (n >= 16)
		put64(b + n - 8, trailer_of(seq));
}

uint64_t ipcb_payload_seq(const void *buf)
{
	return get64(buf);
}

static long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* The first byte where an 8-byte word differs from v, or -1. */
static long word_diff(const uint8_t *p, uint64_t v)
{
	uint8_t want[8];
	if (get64(p) == v)
		return -1;
	put64(want, v);
	return first_diff(p, want, 8);
}

typedef uint64_t v2u64 __attribute__((vector_size(16)));

static inline v2u64 vload(const void *p)
{
	v2u64 v;
	memcpy(&v, p, 16);
	return v;
}

/*
 * True when a message of n bytes (40..PERIOD) is right - the usual answer,
 * in a few vector ops; the word checks below then find where a wrong one
 * differs. 16-byte XORs against the body table, whose first and last words
 * are corrected to the sequence number and the trailer (x ^ ref ^ (ref ^
 * want) == x ^ want). Chunks may overlap: from 40 bytes on, only the first
 * covers the sequence number and only the last the trailer. Copy and check
 * of 64 B: 5.3 -> 3.5 ns.
 */
static inline bool whole(const uint8_t *b, size_t n, uint64_t seq)
{
	const uint8_t *r = body_ref;
	v2u64 head = { get64(r) ^ seq, 0 };
	v2u64 tail = { 0, get64(r + n - 8) ^ trailer_of(seq) };
	v2u64 acc = (vload(b) ^ vload(r) ^ head) | (vload(b + n - 16) ^ vload(r + n - 16) ^ tail) |
	            (vload(b + n - 32) ^ vload(r + n - 32));
	for (size_t i = 16; i + 32 < n; i += 16)
		acc |= vload(b + i) ^ vload(r + i);
	return (acc[0] | acc[1]) == 0;
}

/* whole() for the common sizes, else word compares and one memcmp for a body
 * shorter than the period: at tens of millions of messages a second, the
 * check must not be the bottleneck. */
long ipcb_payload_check(const void *buf, size_t n, uint64_t seq)
{
	const uint8_t *b = buf;
	if (n >= 40 && n <= 264 && whole(b, n, seq))
		return -1;
	if (n >= 8) {
		long d = word_diff(b, seq);
		if (d >= 0)
			return d;
	}
	size_t body_end = n >= 16 ? n - 8 : n;
	if (body_end > 8 && body_end <= PERIOD) {
		if (memcmp(b + 8, body_ref + 8, body_end - 8) != 0)
			return 8 + first_diff(b + 8, body_ref + 8, body_end - 8);
	} else if (body_end > 8) {
		for (size_t off = 8; off < body_end;) {
			size_t at = off % PERIOD, len = PERIOD - at;
			if (len > body_end - off)
				len = body_end - off;
			if (memcmp(b + off, body_ref + at, len) != 0)
				return (long)off + first_diff(b + off, body_ref + at, len);
			off += len;
		}
	}
	if (n >= 16) {
		long d = word_diff(b + n - 8, trailer_of(seq));
		if (d >= 0)
			return (long)(n - 8) + d;
	}
	return -1;
}
