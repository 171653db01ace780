/*
 * wlutil.c - helpers shared by the workloads (see wlutil.h).
 */
#include "wlutil.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ipcb_pin_self(struct ipcb_pin *pin, hwloc_topology_t topo, int cpu, char *err, size_t errlen)
{
	pin->have_saved = pthread_getaffinity_np(pthread_self(), sizeof pin->saved, &pin->saved) == 0;
	if (cpu < 0)
		return 0;
	return ipcb_bind_thread(topo, cpu, err, errlen);
}

void ipcb_unpin_self(struct ipcb_pin *pin)
{
	if (pin->have_saved)
		pthread_setaffinity_np(pthread_self(), sizeof pin->saved, &pin->saved);
	pin->have_saved = false;
}

void ipcb_fail(ipcb_gb_state *st, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!ipcb_gb_error_occurred(st))
		ipcb_gb_skip_with_error(st, msg);
}

double ipcb_timer_cost(void)
{
	static double cost = -1;
	if (cost < 0)
		cost = ipcb_timer_cost_ns(0);
	return cost;
}

const char *ipcb_status_text(int status, const void *handle, char *buf, size_t len)
{
	/* NULL asks about a failed open, whose handle never existed. */
	const char *m = ipcq_errmsg(handle);
	if (m && *m && strcmp(m, ipcq_strstatus(status)) != 0)
		snprintf(buf, len, "%s: %s", ipcq_strstatus(status), m);
	else
		snprintf(buf, len, "%s", ipcq_strstatus(status));
	return buf;
}

void ipcb_quota_init(struct ipcb_quota *q, uint64_t first)
{
	*q = (struct ipcb_quota){ .quota = first ? first : 1 };
}

bool ipcb_quota_warm(struct ipcb_quota *q, uint64_t ns)
{
	if (q->round++ == 0) { /* the start-up batch: page faults, first wake-ups */
		q->quota = 4;
		return false;
	}
	double p = (double)(ns ? ns : 1) / (double)q->quota;
	if (q->per_msg == 0 || p < q->per_msg)
		q->per_msg = p;
	double want = IPCB_BATCH_NS / q->per_msg;
	uint64_t next = want < 1 ? 1 : want > IPCB_MAX_QUOTA ? IPCB_MAX_QUOTA : (uint64_t)want;
	if (ns < IPCB_BATCH_NS / 2 && q->quota < IPCB_MAX_QUOTA && q->round < 40) {
		uint64_t grown = q->quota * 4 > IPCB_MAX_QUOTA ? IPCB_MAX_QUOTA : q->quota * 4;
		q->quota = next > grown ? next : grown;
		return false;
	}
	q->quota = next;
	return ++q->sized >= 2 || q->round >= 40;
}

void ipcb_quota_measured(struct ipcb_quota *q, uint64_t ns)
{
	if (ns < IPCB_BATCH_NS / 4 && q->quota < IPCB_MAX_QUOTA)
		q->quota = q->quota * 2 > IPCB_MAX_QUOTA ? IPCB_MAX_QUOTA : q->quota * 2;
}

uint64_t ipcb_queue_lap(ipcq *q)
{
	ipcq_config cfg;
	if (!(ipcq_mech_caps(ipcq_mechanism(q)) & IPCQ_CAP_BOUNDED) || ipcq_get_config(q, &cfg) != IPCQ_OK)
		return 0;
	return cfg.capacity > 65536 ? 65536 : cfg.capacity;
}

ipcq_config ipcb_queue_config(size_t max_msg)
{
	struct sigaction sa;
	bool ignored = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
	return (ipcq_config){ .max_msg = max_msg, .flags = ignored ? IPCQ_SIGPIPE_IGNORED : 0 };
}

/* "[MECH:]NS" -> mech ("" = all) and ns; 0 or -1. */
static int test_delay_parse(const char *s, char *mech, size_t mechlen, uint64_t *ns)
{
	const char *colon = strchr(s, ':');
	const char *num = colon ? colon + 1 : s;
	snprintf(mech, mechlen, "%.*s", colon ? (int)(colon - s) : 0, s);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(num, &end, 10);
	if (!*num || *end || errno || *num == '-' || v > 1000000000ULL)
		return -1;
	*ns = v;
	return 0;
}

int ipcb_test_delay_check(const char **value, char *err, size_t errlen)
{
	const char *s = getenv("IPCB_TEST_DELAY");
	char mech[64];
	uint64_t ns;
	*value = s;
	if (!s)
		return 0;
	if (test_delay_parse(s, mech, sizeof mech, &ns) == 0 && (!*mech || ipcq_mech_find(mech)))
		return 0;
	snprintf(err, errlen,
	         "IPCB_TEST_DELAY='%s': give [MECHANISM:]NANOSECONDS (at most 1e9), e.g. pipe:20000, "
	         "with a mechanism from `ipcbench list mechanisms`; it is for tests only, unset it otherwise",
	         s);
	return -1;
}

uint64_t ipcb_test_delay_ns(const ipcq_mech *m)
{
	const char *s = getenv("IPCB_TEST_DELAY");
	char mech[64];
	uint64_t ns;
	if (!s || test_delay_parse(s, mech, sizeof mech, &ns) != 0)
		return 0;
	return !*mech || (m && !strcmp(mech, ipcq_mech_name(m))) ? ns : 0;
}
