/*
 * tests_named.c - named queues (IPCQ_CAP_NAMED): two opens of one name are
 * one queue; cfg.name is UNSUPPORTED without the cap; bad names and named
 * pipes are INVAL. Unrelated processes, crashes and leftovers are each
 * mechanism's own suite's (suites/shm for shmring).
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A fresh name, so runs and leftovers never meet. */
static void t_fresh_name(char *buf, size_t cap, const char *what)
{
	snprintf(buf, cap, "ct.%s.%d.%lld", what, (int)getpid(), (long long)(ct_now() % 1000000007));
}

static ipcq *t_open_named(const struct ct_ctx *c, const char *name)
{
	ipcq_config cfg = { .capacity = 8, .max_msg = 100, .name = name };
	ipcq *q = NULL;
	CT_OK(ipcq_open(c->mech, &cfg, &q), NULL);
	return q;
}

void t_named_unsupported_without_cap(const struct ct_ctx *c)
{
	ipcq_config cfg = { .name = "ct.named" };
	ipcq *q = NULL;
	if (c->caps & IPCQ_CAP_NAMED)
		return; /* the named_* tests cover it */
	CT_ST(ipcq_open(c->mech, &cfg, &q), IPCQ_UNSUPPORTED, NULL);
	CT_TRUE(q == NULL, "a refused named open left a handle");
}

/* Two opens of one name are one queue; the config reports the name; bad names and named pipes are INVAL. */
void t_named_two_opens_one_queue(const struct ct_ctx *c)
{
	char name[64];
	t_fresh_name(name, sizeof name, "two");
	ipcq *a = t_open_named(c, name), *b = t_open_named(c, name);
	ipcq_config cfg;
	CT_OK(ipcq_get_config(a, &cfg), a);
	CT_TRUE(cfg.name && !strcmp(cfg.name, name), "get_config reports name \"%s\"", cfg.name ? cfg.name : "(null)");
	CT_PUT_MSG(a, 70, 0, 50, IPCQ_NOWAIT);
	CT_GET_MSG(b, 70, 0, 50, IPCQ_NOWAIT);
	CT_PUT_MSG(b, 70, 1, 50, IPCQ_NOWAIT);
	CT_GET_MSG(a, 70, 1, 50, IPCQ_NOWAIT);
	/* a role is held while either handle holds it */
	CT_OK(ipcq_release(a, IPCQ_PRODUCER), a);
	CT_PUT_MSG(b, 70, 2, 50, IPCQ_NOWAIT);
	CT_GET_MSG(a, 70, 2, 50, IPCQ_NOWAIT);
	CT_ST(ipcq_poll(a, IPCQ_NOWAIT), IPCQ_EMPTY, a);
	if (c->caps & IPCQ_CAP_EOF) {
		CT_OK(ipcq_release(b, IPCQ_PRODUCER), b);
		CT_ST(ipcq_poll(a, CT_LONG), IPCQ_EOF, a);
	}
	CT_OK(ipcq_close(a), a);
	CT_OK(ipcq_close(b), b);

	const char *bad[] = { "", "a/b", ".x", "with space" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ipcq_config bc = { .name = bad[i] };
		ipcq *q = NULL;
		CT_ST(ipcq_open(c->mech, &bc, &q), IPCQ_INVAL, NULL);
		CT_TRUE(strlen(ipcq_errmsg(NULL)) > 20, "INVAL for name \"%s\" without a useful message", bad[i]);
	}
	ipcq_conn *pa, *pb;
	ipcq_config pc = { .name = name };
	CT_ST(ipcq_pipe(c->mech, &pc, true, &pa, &pb), IPCQ_INVAL, NULL);
}
