/*
 * tests_shared.c - shared values (ipcq_shared_*) for mechanisms with
 * IPCQ_CAP_SHARED, and UNSUPPORTED for those without: set/get round trip,
 * add/cas semantics, key and table limits, and adds from 4 processes
 * adding up exactly.
 */
#include "tests.h"

#include <string.h>

static ipcq_shared *t_shared_open(const struct ct_ctx *c, size_t keys, size_t max_msg)
{
	ipcq_config cfg = { .capacity = keys, .max_msg = max_msg };
	ipcq_shared *s = NULL;
	CT_OK(ipcq_shared_open(c->mech, &cfg, &s), NULL);
	CT_TRUE(s != NULL, "ipcq_shared_open said OK without a handle");
	return s;
}

void t_shared_unsupported_without_cap(const struct ct_ctx *c)
{
	ipcq_shared *s = NULL;
	if (c->caps & IPCQ_CAP_SHARED) {
		CT_OK(ipcq_shared_open(c->mech, NULL, &s), NULL);
		CT_OK(ipcq_shared_close(s), s);
		return;
	}
	CT_ST(ipcq_shared_open(c->mech, NULL, &s), IPCQ_UNSUPPORTED, NULL);
	CT_TRUE(s == NULL, "a refused ipcq_shared_open left a handle");
	CT_TRUE(strlen(ipcq_errmsg(NULL)) > 10, "UNSUPPORTED without a message");
}

void t_shared_set_get(const struct ct_ctx *c)
{
	ipcq_shared *s = t_shared_open(c, 8, 256);
	unsigned char v[256], buf[256];
	size_t len = 0;
	ct_pattern(v, sizeof v, 50, 1);
	CT_ST(ipcq_shared_get(s, "k", buf, sizeof buf, &len), IPCQ_EMPTY, s);
	CT_OK(ipcq_shared_set(s, "k", v, sizeof v), s);
	CT_OK(ipcq_shared_get(s, "k", buf, sizeof buf, &len), s);
	CT_EQ(len, sizeof v);
	CT_MEM(buf, v, sizeof v);
	CT_ST(ipcq_shared_get(s, "k", buf, 10, &len), IPCQ_TOOBIG, s);
	CT_EQ(len, sizeof v);
	CT_OK(ipcq_shared_set(s, "k", "ab", 2), s);
	CT_OK(ipcq_shared_get(s, "k", buf, sizeof buf, &len), s);
	CT_EQ(len, 2);
	CT_MEM(buf, "ab", 2);
	unsigned char big[257] = { 0 };
	CT_ST(ipcq_shared_set(s, "k", big, sizeof big), IPCQ_TOOBIG, s);
	CT_OK(ipcq_shared_close(s), s);
	CT_ST(ipcq_shared_close(s), IPCQ_CLOSED, s);
}

void t_shared_add_cas(const struct ct_ctx *c)
{
	ipcq_shared *s = t_shared_open(c, 8, 64);
	int64_t v = 0;
	bool sw = false;
	CT_OK(ipcq_shared_add(s, "n", 3, &v), s);
	CT_EQ_I(v, 3);
	CT_OK(ipcq_shared_add(s, "n", -5, &v), s);
	CT_EQ_I(v, -2);
	CT_OK(ipcq_shared_cas(s, "n", 7, 1, &sw), s);
	CT_TRUE(!sw, "cas swapped with the wrong expected value");
	CT_OK(ipcq_shared_cas(s, "n", -2, 40, &sw), s);
	CT_TRUE(sw, "cas did not swap with the right expected value");
	size_t len = 0;
	CT_OK(ipcq_shared_get(s, "n", &v, sizeof v, &len), s);
	CT_EQ(len, 8);
	CT_EQ_I(v, 40);
	CT_OK(ipcq_shared_set(s, "str", "abc", 3), s);
	CT_ST(ipcq_shared_add(s, "str", 1, &v), IPCQ_INVAL, s);
	CT_OK(ipcq_shared_close(s), s);
	/* A table of values below 8 bytes holds no int64: refused, and it stays usable. */
	s = t_shared_open(c, 4, 4);
	CT_ST(ipcq_shared_add(s, "n", 1, &v), IPCQ_TOOBIG, s);
	CT_TRUE(strstr(ipcq_errmsg(s), "max_msg") != NULL, "the message does not name max_msg: %s", ipcq_errmsg(s));
	CT_ST(ipcq_shared_cas(s, "n", 0, 1, &sw), IPCQ_TOOBIG, s);
	CT_OK(ipcq_shared_set(s, "n", "abcd", 4), s);
	CT_OK(ipcq_shared_close(s), s);
}

void t_shared_key_and_table_limits(const struct ct_ctx *c)
{
	ipcq_shared *s = t_shared_open(c, 2, 16);
	char key[IPCQ_SHARED_KEY_MAX + 2];
	memset(key, 'k', sizeof key);
	key[IPCQ_SHARED_KEY_MAX] = '\0';
	CT_OK(ipcq_shared_set(s, key, "x", 1), s);
	key[IPCQ_SHARED_KEY_MAX] = 'k';
	key[IPCQ_SHARED_KEY_MAX + 1] = '\0';
	CT_ST(ipcq_shared_set(s, key, "x", 1), IPCQ_INVAL, s);
	CT_TRUE(strstr(ipcq_errmsg(s), "64") != NULL, "the long-key message does not name the limit: %s",
	        ipcq_errmsg(s));
	CT_OK(ipcq_shared_set(s, "b", "y", 1), s);
	int st = ipcq_shared_set(s, "c", "z", 1);
	CT_TRUE(st == IPCQ_LIMIT || st == IPCQ_FULL, "a third key in a 2-key table -> %s", ipcq_strstatus(st));
	CT_TRUE(strstr(ipcq_errmsg(s), "capacity") != NULL, "the full-table message does not say to raise capacity: %s",
	        ipcq_errmsg(s));
	CT_OK(ipcq_shared_set(s, "b", "yy", 2), s); /* existing keys still change */
	CT_OK(ipcq_shared_close(s), s);
}

struct t_adders {
	ipcq_shared *s;
};

#define T_ADDS 5000

static void t_adder(void *arg)
{
	struct t_adders *a = arg;
	for (int i = 0; i < T_ADDS; i++)
		CT_OK(ipcq_shared_add(a->s, "sum", 1, NULL), a->s);
}

void t_shared_add_across_fork(const struct ct_ctx *c)
{
	struct t_adders *a = ct_shared(sizeof *a);
	a->s = t_shared_open(c, 4, 8);
	struct ct_actor *p[4];
	for (int i = 0; i < 4; i++)
		p[i] = ct_spawn_process(NULL, 0, t_adder, a);
	for (int i = 0; i < 4; i++)
		ct_join(p[i]);
	int64_t v = 0;
	size_t len = 0;
	CT_OK(ipcq_shared_get(a->s, "sum", &v, sizeof v, &len), a->s);
	CT_EQ_I(v, 4 * T_ADDS);
	CT_OK(ipcq_shared_close(a->s), a->s);
}
