/*
 * tests_basic.c - the registry, statuses, configuration, arguments, and the
 * bytes and boundaries of messages: round trip, all byte values, FIFO,
 * no merge/no split, zero length, max_msg, TOOBIG both ways, 16 MiB+1, qsize.
 */
#include "mech.h" /* default_capacity/default_max_msg: the battery holds a mechanism to them */
#include "tests.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIB ((size_t)1 << 20)

/* --- Registry, statuses, configuration, arguments ------------------------------------ */

void t_registry_consistent(const struct ct_ctx *c)
{
	size_t n = ipcq_mech_count(), seen = 0;
	CT_TRUE(n >= 1, "no mechanism registered");
	CT_TRUE(ipcq_mech_at(n) == NULL, "ipcq_mech_at(count) is not NULL");
	for (size_t i = 0; i < n; i++) {
		const ipcq_mech *m = ipcq_mech_at(i);
		CT_TRUE(m != NULL, "ipcq_mech_at(%zu) is NULL below count %zu", i, n);
		seen += m == c->mech;
		for (size_t j = 0; j < i; j++)
			CT_TRUE(strcmp(ipcq_mech_name(m), ipcq_mech_name(ipcq_mech_at(j))) != 0,
			        "two mechanisms are called '%s'", ipcq_mech_name(m));
	}
	CT_EQ(seen, 1);
	CT_TRUE(ipcq_mech_find(c->name) == c->mech, "ipcq_mech_find(\"%s\") is not the mechanism", c->name);
	CT_TRUE(ipcq_mech_find("no-such-mechanism") == NULL, "an unknown name was found");
	const char *sum = ipcq_mech_summary(c->mech);
	CT_TRUE(sum && *sum, "%s has no summary", c->name);
	CT_EQ(ipcq_mech_caps(c->mech), c->caps);
	char caps[256] = "";
	ipcq_caps_format(c->caps, caps, sizeof caps);
	CT_TRUE(!c->caps || caps[0], "ipcq_caps_format(0x%x) wrote nothing", c->caps);

	ipcq *q = ct_open(c, 0, 0);
	CT_TRUE(ipcq_mechanism(q) == c->mech, "ipcq_mechanism(q) is not the mechanism opened");
	CT_OK(ipcq_close(q), q);
}

void t_strstatus_names_every_status(const struct ct_ctx *c)
{
	(void)c;
	static const char *const want[] = {
#define CT_NAME(name, text) "IPCQ_" #name,
		IPCQ_STATUS_MAP(CT_NAME)
#undef CT_NAME
	};
	CT_EQ(sizeof want / sizeof want[0], IPCQ_STATUS_COUNT);
	for (int s = 0; s < IPCQ_STATUS_COUNT; s++) {
		const char *got = ipcq_strstatus(s);
		CT_TRUE(got && strcmp(got, want[s]) == 0, "ipcq_strstatus(%d) is \"%s\", expected \"%s\"", s,
		        got ? got : "(null)", want[s]);
	}
	const int bad[] = {-1, IPCQ_STATUS_COUNT, 1000, -1000};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *got = ipcq_strstatus(bad[i]);
		CT_TRUE(got != NULL, "ipcq_strstatus(%d) is NULL", bad[i]);
		for (int s = 0; s < IPCQ_STATUS_COUNT; s++)
			CT_TRUE(strcmp(got, want[s]) != 0, "ipcq_strstatus(%d) names a real status: %s", bad[i], got);
	}
}

void t_config_defaults(const struct ct_ctx *c)
{
	ipcq *q = NULL;
	CT_OK(ipcq_open(c->mech, NULL, &q), NULL);
	ipcq_config cfg;
	memset(&cfg, 0xff, sizeof cfg);
	CT_OK(ipcq_get_config(q, &cfg), q);
	CT_EQ(cfg.capacity, ipcq__default_capacity(c->mech, c->mech->default_max_msg));
	CT_EQ(cfg.max_msg, c->mech->default_max_msg);
	CT_TRUE(cfg.max_msg > 0, "the default max_msg is 0");
	CT_TRUE(cfg.name == NULL, "a private queue reports a name");
	CT_EQ(cfg.flags, 0);
	CT_OK(ipcq_close(q), q);

	/* An all-zero config is the same as none. */
	ipcq_config zero = {0};
	CT_OK(ipcq_open(c->mech, &zero, &q), NULL);
	CT_OK(ipcq_get_config(q, &cfg), q);
	CT_EQ(cfg.capacity, ipcq__default_capacity(c->mech, cfg.max_msg));
	CT_EQ(cfg.max_msg, c->mech->default_max_msg);
	CT_OK(ipcq_close(q), q);

	/* Where slots are max_msg bytes each, a default capacity of large messages keeps within default_bytes. */
	if (c->mech->default_bytes) {
		ipcq_config big = { .max_msg = c->mech->default_bytes / 4 };
		CT_OK(ipcq_open(c->mech, &big, &q), NULL);
		CT_OK(ipcq_get_config(q, &cfg), q);
		CT_EQ(cfg.capacity, IPCQ__MIN_DEFAULT_CAPACITY);
		CT_OK(ipcq_close(q), q);
	}
}

void t_config_explicit_honoured(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 7, 3000);
	ipcq_config cfg;
	CT_OK(ipcq_get_config(q, &cfg), q);
	CT_EQ(cfg.capacity, 7);
	CT_EQ(cfg.max_msg, 3000);
	CT_PUT_MSG(q, 1, 1, 3000, IPCQ_NOWAIT);
	CT_GET_MSG(q, 1, 1, 3000, IPCQ_NOWAIT);
	char b[3001] = {0};
	CT_ST(ipcq_put(q, b, 3001, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_OK(ipcq_close(q), q);
}

void t_big_config_honoured_or_limit(const struct ct_ctx *c)
{
	/*
	 * 1000 x 1 MiB is above the default fs.mqueue limits but below the
	 * kernel's hard ones: given exactly, or refused as LIMIT with the way
	 * out in the message; never clamped.
	 */
	ipcq_config want = {.capacity = 1000, .max_msg = MIB}, got;
	ipcq *q = NULL;
	int st = ipcq_open(c->mech, &want, &q);
	if (st == IPCQ_LIMIT) {
		const char *m = ipcq_errmsg(NULL);
		CT_TRUE(q == NULL, "a refused open left a handle");
		CT_TRUE(strlen(m) > 20 && (strcasestr(m, "raise") || strcasestr(m, "sysctl") ||
		                           strcasestr(m, "ulimit") || strcasestr(m, "smaller")),
		        "the LIMIT message does not say what to do: \"%s\"", m);
		return;
	}
	CT_TRUE(st == IPCQ_OK, "`ipcq_open(capacity 1000, max_msg 1 MiB)` -> %s, expected IPCQ_OK or IPCQ_LIMIT (errmsg: %s)",
	        ipcq_strstatus(st), ipcq_errmsg(NULL));
	CT_OK(ipcq_get_config(q, &got), q);
	CT_EQ(got.capacity, want.capacity);
	CT_EQ(got.max_msg, want.max_msg);
	CT_PUT_MSG(q, 2, 0, 100, IPCQ_NOWAIT);
	CT_GET_MSG(q, 2, 0, 100, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

void t_inval_bad_args(const struct ct_ctx *c)
{
	char buf[64] = "x";
	size_t n = 0;
	ipcq *q = ct_open(c, 4, 64);
	CT_ST(ipcq_put(NULL, buf, 1, IPCQ_NOWAIT), IPCQ_INVAL, NULL);
	CT_ST(ipcq_get(NULL, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_INVAL, NULL);
	CT_ST(ipcq_poll(NULL, IPCQ_NOWAIT), IPCQ_INVAL, NULL);
	CT_ST(ipcq_qsize(NULL, &n), IPCQ_INVAL, NULL);
	CT_ST(ipcq_release(NULL, IPCQ_PRODUCER), IPCQ_INVAL, NULL);
	CT_ST(ipcq_get(q, NULL, 64, &n, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_get(q, buf, sizeof buf, NULL, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_put(q, NULL, 5, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_ST(ipcq_release(q, 4u), IPCQ_INVAL, q);
	CT_ST(ipcq_get_config(q, NULL), IPCQ_INVAL, q);

	ipcq *q2 = (ipcq *)&n;
	ipcq_config flags = {.flags = 1};
	CT_ST(ipcq_open(c->mech, &flags, &q2), IPCQ_INVAL, NULL);
	CT_TRUE(q2 == NULL, "a refused open left *q set");
	CT_ST(ipcq_open(NULL, NULL, &q2), IPCQ_INVAL, NULL);
	CT_ST(ipcq_open(c->mech, NULL, NULL), IPCQ_INVAL, NULL);
	ipcq_conn *a = NULL, *b = NULL;
	CT_ST(ipcq_pipe(c->mech, NULL, true, NULL, &b), IPCQ_INVAL, NULL);
	CT_ST(ipcq_pipe(c->mech, &flags, false, &a, &b), IPCQ_INVAL, NULL);
	CT_ST(ipcq_send(NULL, buf, 1, IPCQ_NOWAIT), IPCQ_INVAL, NULL);
	CT_ST(ipcq_recv(NULL, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_INVAL, NULL);
	CT_OK(ipcq_close(NULL), NULL); /* what a failed open leaves must be safe to close */

	/* None of that queued anything or broke the queue. */
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_PUT_MSG(q, 3, 3, 33, IPCQ_NOWAIT);
	CT_GET_MSG(q, 3, 3, 33, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

void t_errmsg_after_failure(const struct ct_ctx *c)
{
	char buf[200] = {0};
	size_t n;
	ipcq *q = ct_open(c, 4, 100);
	CT_ST(ipcq_get(q, NULL, 10, &n, IPCQ_NOWAIT), IPCQ_INVAL, q);
	CT_TRUE(strlen(ipcq_errmsg(q)) > 10, "errmsg after INVAL is \"%s\"", ipcq_errmsg(q));
	CT_ST(ipcq_put(q, buf, 101, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	const char *m = ipcq_errmsg(q);
	CT_TRUE(strlen(m) > 10 && strstr(m, "100"), "errmsg after TOOBIG does not name max_msg 100: \"%s\"", m);
	ipcq_config flags = {.flags = 2};
	ipcq *bad = NULL;
	CT_ST(ipcq_open(c->mech, &flags, &bad), IPCQ_INVAL, NULL);
	CT_TRUE(strlen(ipcq_errmsg(NULL)) > 10, "errmsg after a failed open is \"%s\"", ipcq_errmsg(NULL));
	CT_OK(ipcq_close(q), q);
	CT_ST(ipcq_put(q, buf, 1, IPCQ_NOWAIT), IPCQ_CLOSED, q);
	CT_TRUE(strlen(ipcq_errmsg(q)) > 10, "errmsg after CLOSED is \"%s\"", ipcq_errmsg(q));
}

/* --- Bytes and boundaries ---------------------------------------------------------------- */

void t_round_trip(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, 0);
	unsigned char buf[64];
	memset(buf, 0xa5, sizeof buf);
	size_t n = 12345;
	CT_OK(ipcq_put(q, "hello", 5, IPCQ_NOWAIT), q);
	CT_OK(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), q);
	CT_EQ(n, 5);
	CT_MEM(buf, "hello", 5);
	for (size_t i = 5; i < sizeof buf; i++)
		CT_TRUE(buf[i] == 0xa5, "get wrote byte %zu past a 5-byte message", i);
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

static const unsigned char t_tricky[][8] = {
	{0, 0, 0, 0, 0, 0, 0, 0},             /* a zero length prefix */
	{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* a huge one */
	{4, 0, 0, 0, 'a', 'b', 'c', 'd'},     /* a whole little-endian frame */
	{0, 0, 0, 4, 'a', 'b', 'c', 'd'},     /* and big-endian */
};

static void t_bytes_producer(void *arg)
{
	ipcq *q = arg;
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	CT_OK(ipcq_put(q, all, sizeof all, CT_LONG), q);
	for (int i = 0; i < 256; i++)
		CT_OK(ipcq_put(q, &all[i], 1, CT_LONG), q);
	for (size_t i = 0; i < sizeof t_tricky / sizeof t_tricky[0]; i++)
		for (size_t len = 1; len <= 8; len++)
			CT_OK(ipcq_put(q, t_tricky[i], len, CT_LONG), q);
}

void t_bytes_all_256_values(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, 0);
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_bytes_producer, q);
	unsigned char buf[512], all[256];
	size_t n;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	CT_OK(ipcq_get(q, buf, sizeof buf, &n, CT_LONG), q);
	CT_EQ(n, 256);
	CT_MEM(buf, all, 256);
	for (int i = 0; i < 256; i++) {
		CT_OK(ipcq_get(q, buf, sizeof buf, &n, CT_LONG), q);
		CT_EQ(n, 1);
		CT_TRUE(buf[0] == i, "one-byte message %d arrived as 0x%02x", i, buf[0]);
	}
	for (size_t i = 0; i < sizeof t_tricky / sizeof t_tricky[0]; i++)
		for (size_t len = 1; len <= 8; len++) {
			CT_OK(ipcq_get(q, buf, sizeof buf, &n, CT_LONG), q);
			CT_EQ(n, len);
			CT_MEM(buf, t_tricky[i], len);
		}
	ct_join(a);
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

#define T_FIFO_N 1000
static size_t t_fifo_len(uint32_t s)
{
	return 1 + (s * 37) % 500;
}

static void t_fifo_producer(void *arg)
{
	ipcq *q = arg;
	for (uint32_t s = 0; s < T_FIFO_N; s++)
		CT_PUT_MSG(q, 5, s, t_fifo_len(s), CT_LONG);
}

void t_fifo_order(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, 0);
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_fifo_producer, q);
	for (uint32_t s = 0; s < T_FIFO_N; s++)
		CT_GET_MSG(q, 5, s, t_fifo_len(s), CT_LONG);
	ct_join(a);
	CT_OK(ipcq_close(q), q);
}

static const size_t t_sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 511, 512, 513, 1000,
                                 4095, 4096, 4097, 5000, 8191, 8192, 1, 8192, 2, 4097, 3};
#define T_NSIZES (sizeof t_sizes / sizeof t_sizes[0])

static void t_sizes_producer(void *arg)
{
	ipcq *q = arg;
	for (uint32_t round = 0; round < 3; round++)
		for (uint32_t i = 0; i < T_NSIZES; i++) {
			/* Twice in a row: two adjacent frames are where a merge would show. */
			CT_PUT_MSG(q, round, 2 * i, t_sizes[i], CT_LONG);
			CT_PUT_MSG(q, round, 2 * i + 1, t_sizes[i], CT_LONG);
		}
}

void t_no_merge_no_split(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, 8192);
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_sizes_producer, q);
	ct_sleep(20 * CT_MS); /* let the producer run ahead so frames pile up */
	for (uint32_t round = 0; round < 3; round++)
		for (uint32_t i = 0; i < T_NSIZES; i++) {
			CT_GET_MSG(q, round, 2 * i, t_sizes[i], CT_LONG);
			CT_GET_MSG(q, round, 2 * i + 1, t_sizes[i], CT_LONG);
		}
	ct_join(a);
	/* And in one process, three small messages queued at once stay three. */
	CT_PUT_MSG(q, 9, 0, 3, IPCQ_NOWAIT);
	CT_PUT_MSG(q, 9, 1, 5, IPCQ_NOWAIT);
	CT_PUT_MSG(q, 9, 2, 7, IPCQ_NOWAIT);
	CT_GET_MSG(q, 9, 0, 3, IPCQ_NOWAIT);
	CT_GET_MSG(q, 9, 1, 5, IPCQ_NOWAIT);
	CT_GET_MSG(q, 9, 2, 7, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

void t_zerolen_round_trip(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 64);
	unsigned char buf[64];
	size_t n = 999;
	CT_OK(ipcq_put(q, NULL, 0, IPCQ_NOWAIT), q);
	CT_OK(ipcq_put(q, "x", 0, IPCQ_NOWAIT), q);
	CT_OK(ipcq_poll(q, IPCQ_NOWAIT), q);
	CT_OK(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), q);
	CT_EQ(n, 0);
	n = 999;
	CT_OK(ipcq_get(q, NULL, 0, &n, IPCQ_NOWAIT), q); /* a zero-length message fits no buffer */
	CT_EQ(n, 0);
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	/* Mixed with others, each keeps its length. */
	const size_t lens[] = {0, 1, 0, 5, 0, 0, 2};
	for (uint32_t i = 0; i < 7; i++)
		CT_PUT_MSG(q, 4, i, lens[i], IPCQ_NOWAIT);
	for (uint32_t i = 0; i < 7; i++)
		CT_GET_MSG(q, 4, i, lens[i], IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

void t_zerolen_not_eof(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 8, 64);
	char buf[8];
	size_t n = 999;
	CT_OK(ipcq_put(q, NULL, 0, IPCQ_NOWAIT), q);
	CT_OK(ipcq_put(q, NULL, 0, IPCQ_NOWAIT), q);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	/* Both are messages, not the end of the stream; then comes the real EOF. */
	CT_OK(ipcq_poll(q, IPCQ_NOWAIT), q);
	CT_OK(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), q);
	CT_EQ(n, 0);
	n = 999;
	CT_OK(ipcq_get(q, buf, sizeof buf, &n, CT_SEC), q);
	CT_EQ(n, 0);
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, CT_SEC), IPCQ_EOF, q);
	CT_OK(ipcq_close(q), q);
}

void t_max_msg_exact(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 5000);
	CT_PUT_MSG(q, 6, 0, 5000, IPCQ_NOWAIT);
	unsigned char *buf = malloc(5001), want[5000];
	size_t n = 0;
	ct_pattern(want, 5000, 6, 0);
	CT_OK(ipcq_get(q, buf, 5000, &n, IPCQ_NOWAIT), q); /* a buffer of exactly max_msg */
	CT_EQ(n, 5000);
	CT_MEM(buf, want, 5000);
	CT_ST(ipcq_put(q, buf, 5001, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_ST(ipcq_put(q, buf, 5001, CT_SEC), IPCQ_TOOBIG, q);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	free(buf);
	CT_OK(ipcq_close(q), q);
}

void t_put_toobig_nothing_queued(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 1000);
	char big[1001] = {0};
	CT_PUT_MSG(q, 7, 0, 1, IPCQ_NOWAIT);
	CT_ST(ipcq_put(q, big, sizeof big, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_ST(ipcq_put(q, big, SIZE_MAX / 2, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_PUT_MSG(q, 7, 1, 1, IPCQ_NOWAIT);
	if (c->caps & IPCQ_CAP_QSIZE) {
		size_t n = 99;
		CT_OK(ipcq_qsize(q, &n), q);
		CT_EQ(n, 2);
	}
	CT_GET_MSG(q, 7, 0, 1, IPCQ_NOWAIT);
	CT_GET_MSG(q, 7, 1, 1, IPCQ_NOWAIT);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

void t_get_toobig_keeps_message(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 1000);
	unsigned char buf[200];
	size_t n = 0;
	CT_PUT_MSG(q, 8, 0, 100, IPCQ_NOWAIT);
	CT_PUT_MSG(q, 8, 1, 10, IPCQ_NOWAIT);
	CT_ST(ipcq_get(q, buf, 10, &n, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_EQ(n, 100);
	n = 0;
	CT_ST(ipcq_get(q, buf, 99, &n, CT_SEC), IPCQ_TOOBIG, q);
	CT_EQ(n, 100);
	n = 0;
	CT_ST(ipcq_get(q, NULL, 0, &n, IPCQ_NOWAIT), IPCQ_TOOBIG, q); /* asking the size */
	CT_EQ(n, 100);
	CT_OK(ipcq_poll(q, IPCQ_NOWAIT), q);
	CT_GET_MSG(q, 8, 0, 100, IPCQ_NOWAIT);
	unsigned char want[10];
	ct_pattern(want, 10, 8, 1);
	CT_OK(ipcq_get(q, buf, 10, &n, IPCQ_NOWAIT), q); /* exactly its size */
	CT_EQ(n, 10);
	CT_MEM(buf, want, 10);
	CT_OK(ipcq_close(q), q);
}

static void t_toobig_child(void *arg)
{
	ipcq *q = arg;
	char buf[16];
	size_t n = 0;
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, CT_SEC), IPCQ_TOOBIG, q);
	CT_EQ(n, 3000);
}

void t_toobig_leaves_message_for_other_process(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 4000);
	CT_PUT_MSG(q, 9, 0, 3000, IPCQ_NOWAIT);
	ct_join(ct_spawn_process(q, IPCQ_PRODUCER, t_toobig_child, q));
	CT_GET_MSG(q, 9, 0, 3000, IPCQ_NOWAIT);
	CT_OK(ipcq_close(q), q);
}

struct t_big {
	ipcq *q;
	size_t len;
	uint32_t count;
};

static void t_big_producer(void *arg)
{
	struct t_big *b = arg;
	for (uint32_t i = 0; i < b->count; i++)
		CT_PUT_MSG(b->q, 10, i, b->len, CT_LONG);
}

void t_max_msg_default_size(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, 0);
	ipcq_config cfg;
	CT_OK(ipcq_get_config(q, &cfg), q);
	CT_TRUE(cfg.max_msg <= 64 * MIB, "default max_msg %zu is too large to test whole", cfg.max_msg);
	struct t_big *b = ct_shared(sizeof *b);
	*b = (struct t_big){.q = q, .len = cfg.max_msg, .count = 2};
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_big_producer, b);
	CT_GET_MSG(q, 10, 0, cfg.max_msg, CT_LONG);
	CT_GET_MSG(q, 10, 1, cfg.max_msg, CT_LONG);
	ct_join(a);
	void *over = ct_map(cfg.max_msg + 1);
	CT_ST(ipcq_put(q, over, cfg.max_msg + 1, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	ct_unmap(over, cfg.max_msg + 1);
	CT_OK(ipcq_close(q), q);
}

#define T_HUGE (16 * MIB + 1)

void t_huge_16mib_plus_1(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, T_HUGE);
	struct t_big *b = ct_shared(sizeof *b);
	*b = (struct t_big){.q = q, .len = T_HUGE, .count = 2};
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_big_producer, b);
	CT_GET_MSG(q, 10, 0, T_HUGE, CT_LONG);
	CT_GET_MSG(q, 10, 1, T_HUGE, CT_LONG);
	ct_join(a);
	void *over = ct_map(T_HUGE + 1);
	CT_ST(ipcq_put(q, over, T_HUGE + 1, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	ct_unmap(over, T_HUGE + 1);
	CT_OK(ipcq_close(q), q);
}

void t_huge_toobig_then_whole(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 0, T_HUGE);
	struct t_big *b = ct_shared(sizeof *b);
	*b = (struct t_big){.q = q, .len = T_HUGE, .count = 1};
	/* The producer is still in the middle of writing when the consumer asks. */
	struct ct_actor *a = ct_spawn(c, q, IPCQ_CONSUMER, t_big_producer, b);
	char small[4096];
	size_t n = 0;
	CT_ST(ipcq_get(q, small, sizeof small, &n, CT_LONG), IPCQ_TOOBIG, q);
	CT_EQ(n, T_HUGE);
	CT_GET_MSG(q, 10, 0, T_HUGE, CT_LONG);
	ct_join(a);
	CT_OK(ipcq_close(q), q);
}

/* --- qsize ------------------------------------------------------------------------------ */

static void t_expect_qsize(ipcq *q, size_t want)
{
	size_t n = 12345;
	CT_OK(ipcq_qsize(q, &n), q);
	CT_EQ(n, want);
}

void t_qsize_quiescent(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 100);
	t_expect_qsize(q, 0);
	CT_TRUE(ipcq_empty(q), "ipcq_empty is false on an empty queue");
	for (uint32_t i = 0; i < 3; i++)
		CT_PUT_MSG(q, 11, i, 10 + i, IPCQ_NOWAIT);
	t_expect_qsize(q, 3);
	CT_TRUE(!ipcq_empty(q), "ipcq_empty is true with 3 messages queued");
	CT_GET_MSG(q, 11, 0, 10, IPCQ_NOWAIT);
	t_expect_qsize(q, 2);
	char buf[4];
	size_t n;
	CT_ST(ipcq_get(q, buf, sizeof buf, &n, IPCQ_NOWAIT), IPCQ_TOOBIG, q);
	t_expect_qsize(q, 2); /* TOOBIG took nothing */
	if (c->caps & IPCQ_CAP_BOUNDED) {
		CT_TRUE(!ipcq_full(q), "ipcq_full with 2 of 5");
		for (uint32_t i = 3; i < 6; i++)
			CT_PUT_MSG(q, 11, i, 10, IPCQ_NOWAIT);
		t_expect_qsize(q, 5);
		CT_TRUE(ipcq_full(q), "ipcq_full is false with 5 of 5");
	}
	CT_OK(ipcq_close(q), q);
}

static void t_qsize_child(void *arg)
{
	ipcq *q = arg;
	for (uint32_t i = 0; i < 3; i++)
		CT_PUT_MSG(q, 12, i, 50, CT_LONG);
}

void t_qsize_across_processes(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 5, 100);
	ct_join(ct_spawn_process(q, IPCQ_CONSUMER, t_qsize_child, q));
	t_expect_qsize(q, 3);
	CT_GET_MSG(q, 12, 0, 50, IPCQ_NOWAIT);
	t_expect_qsize(q, 2);
	CT_OK(ipcq_close(q), q);
}

void t_capacity_exact(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 100);
	CT_EQ(ct_fill(q, 16, 100000), 4);
	CT_ST(ipcq_put(q, "x", 1, IPCQ_NOWAIT), IPCQ_FULL, q);
	ipcq_close(q);
	q = ct_open(c, 1, 100);
	CT_EQ(ct_fill(q, 100, 100000), 1);
	CT_OK(ipcq_close(q), q);
}
