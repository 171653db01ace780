/*
 * wlutil.c - helpers shared by the workloads (see wlutil.h).
 */
#include "wlutil.h"
#include "stats.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
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

ipcq_config ipcb_queue_config(size_t max_msg)
{
	struct sigaction sa;
	bool ignored = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
	return (ipcq_config){ .max_msg = max_msg, .flags = ignored ? IPCQ_SIGPIPE_IGNORED : 0 };
}
