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

/*
 * Batch sizing for stream workloads, whose iteration is a batch of quota
 * messages: a batch should last IPCB_BATCH_NS, so its two wake-ups weigh
 * ~1%. Warm-up: after the start-up batch (which times nothing), the quota
 * grows at least 4x a batch until a batch lasts half IPCB_BATCH_NS, then two
 * more are sized from the fastest time per message seen (stalls only add
 * time, so the fastest is the steady state). Measuring: a batch far shorter
 * than wanted (warm-up met a slow spell) doubles the next.
 */
#define IPCB_BATCH_NS 10000000.0
#define IPCB_MAX_QUOTA (1u << 22)
struct ipcb_quota {
	uint64_t quota;  /* the next batch's messages */
	double per_msg;  /* fastest ns per message seen */
	int round, sized;
};
/* Starts sizing; the first batch (start-up) has quota first (>= 1). */
void ipcb_quota_init(struct ipcb_quota *q, uint64_t first);
/* Warm-up: after a batch of q->quota that took ns, sets the next quota; true once sizing is done. */
bool ipcb_quota_warm(struct ipcb_quota *q, uint64_t ns);
/* Measuring: after a batch that took ns, maybe grows the next quota. */
void ipcb_quota_measured(struct ipcb_quota *q, uint64_t ns);

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
