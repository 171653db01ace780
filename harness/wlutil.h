/*
 * wlutil.h - what every workload needs around its loop: pinning the
 * benchmark thread (and putting it back), failing a benchmark with a
 * formatted message, and the timer cost measured once per run.
 */
#ifndef IPCB_WLUTIL_H
#define IPCB_WLUTIL_H

#include "workload.h"

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

/* The benchmark thread's CPU set before a workload pinned it. */
struct ipcb_pin {
	cpu_set_t saved;
	bool have_saved;
};

/* Pins the calling thread to cpu (-1: leaves it alone). 0, or -1 with err. */
int ipcb_pin_self(struct ipcb_pin *pin, hwloc_topology_t topo, int cpu, char *err, size_t errlen);
/* Puts the calling thread's CPU set back as it was before ipcb_pin_self. */
void ipcb_unpin_self(struct ipcb_pin *pin);

/* ipcb_gb_skip_with_error with a printf-style message (first call wins). */
void ipcb_fail(ipcb_gb_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Cost of one CLOCK_MONOTONIC read in ns, measured on first use and kept. */
double ipcb_timer_cost(void);

/* The config every workload opens its queues with: max_msg, and
 * IPCQ_SIGPIPE_IGNORED when this process ignores SIGPIPE (ipcbench run does). */
ipcq_config ipcb_queue_config(size_t max_msg);

/*
 * Messages that take q once round its slots (its capacity, at most 65536),
 * for a warm-up to cover: a bounded queue's slots are fresh memory until
 * first used, and that first lap pays a page fault per page (shmring at
 * 64 KiB: 840 us round trips on its first lap here, 16 us after). 0 for
 * mechanisms whose capacity is not a message count (the kernel's buffers
 * are reused from the start).
 */
uint64_t ipcb_queue_lap(ipcq *q);

/* "IPCQ_LIMIT: <message>" for the last failure on handle, in buf. */
const char *ipcb_status_text(int status, const void *handle, char *buf, size_t len);

/* Test-only slowdown, so tests can check the regression gate catches a slower
 * mechanism through the real pipeline without touching mechanism code:
 * environment variable IPCB_TEST_DELAY=[MECHANISM:]NANOSECONDS. The
 * pingpong echo side and each stream consumer spin that long per message
 * (for every mechanism, or only the one named). Returns the delay for m,
 * 0 when unset, malformed or for another mechanism. */
uint64_t ipcb_test_delay_ns(const ipcq_mech *m);

/* Checks IPCB_TEST_DELAY: 0 when unset (*value = NULL) or well formed
 * (*value = its text), -1 with err when malformed. */
int ipcb_test_delay_check(const char **value, char *err, size_t errlen);

#endif
