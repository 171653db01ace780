/*
 * clock.c - deadlines on CLOCK_MONOTONIC, and a poll() that keeps one
 * deadline across EINTR so a signal never shortens or stretches a wait.
 */
#include "mech.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int64_t ipcq__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ipcq__env_ns(const char *var, int64_t def, int64_t lo, int64_t hi)
{
	const char *v = getenv(var);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long long ns = strtoll(v, &end, 10);
	if (errno || *end || ns < lo)
		return def;
	return ns > hi ? hi : ns;
}

int64_t ipcq__remaining_ns(ipcq_deadline dl)
{
	if (dl == IPCQ__NEVER)
		return -1;
	if (dl == IPCQ__NOW)
		return 0;
	int64_t left = dl - ipcq__now_ns();
	return left > 0 ? left : 0;
}

int ipcq__poll(struct pollfd *fds, nfds_t n, ipcq_deadline dl)
{
	for (;;) {
		int64_t left = ipcq__remaining_ns(dl);
		struct timespec ts, *tsp = NULL;
		if (left >= 0) {
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		int r = ppoll(fds, n, tsp, NULL);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -1;
		if (left == 0)
			return 0;
	}
}
