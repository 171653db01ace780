/*
 * pingpong.c - round-trip latency between two endpoints over two queues.
 *
 * The benchmark thread (pinned to CPU A) sends message seq on "ping" and
 * waits for it back on "pong"; the echo side (a child process or a thread,
 * pinned to CPU B) gets, echoes, then checks what it got - after echoing,
 * so the check is off the measured path; the benchmark thread checks the
 * echo outside its timestamps. Each round trip is one iteration with its
 * own time (manual time) and one histogram sample.
 *
 * Two queues rather than ipcq_pipe so that every mechanism runs the same
 * code; in process mode each side releases the roles it does not use, so a
 * dying echo process turns into IPCQ_EOF (mechanisms with IPCQ_CAP_EOF) or
 * a dead pidfd (the others), never a hang.
 *
 * api=zerocopy (rows <mechanism>-zc, mechanisms with IPCQ_CAP_ZEROCOPY): the
 * benchmark thread writes each ping whole into its slot (ipcq_reserve, body
 * and stamp, ipcq_commit) and reads the pong in place (ipcq_peek; its check
 * and ipcq_consume come after the timestamp, as the copy variant's check
 * does); the echo side copies the ping slot straight into a pong slot. One
 * copy a round trip instead of four.
 *
 * The "wake" workload runs the same two sides with an idle gap before each
 * timed round trip: the echo side has been blocked in ipcq_get for the whole
 * gap, so the round trip carries its first wake-up after idling (spinning
 * stopped long ago, the CPU may be in a deep idle state). The echo side
 * also notes the CPU time it used while blocked, so a mechanism that spins
 * too long or polls shows up as a share of a CPU.
 */
#include "hist.h"
#include "payload.h"
#include "peer.h"
#include "stats.h"
#include "wlutil.h"

#include <errno.h>
#include <math.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_SEQ UINT64_MAX
#define SLICE_NS 100000000LL       /* how often a waiting side looks at its peer */
#define WARMUP_MIN_ROUNDS 10
#define WARMUP_MIN_NS 5000000LL    /* wake-up paths, caches and page faults settle */
#define END_TIMEOUT_NS 5000000000LL

/* What the echo side saw during its last wait for a message (shared memory). */
struct blocked {
	_Atomic uint64_t cpu_ns;  /* CPU time it used while blocked in ipcq_get */
	_Atomic uint64_t wall_ns; /* how long it was blocked */
};

struct pp {
	const struct ipcb_case *c;
	bool thread;
	bool zc;                    /* api=zerocopy */
	ipcq *ping, *pong;
	struct ipcb_report *report; /* shared memory */
	struct blocked *blocked;    /* shared memory; wake only, else NULL */
	struct ipcb_peer peer;
	struct ipcb_hist hist;
	void *sbuf, *rbuf;
	const void *echo;           /* zc: the pong held in place until checked */
	struct ipcb_pin pin;
};

/* zc echo: the ping at msg copied into a pong slot; the caller consumes the ping. */
static int echo_in_place(struct pp *x, const void *msg, size_t len)
{
	void *w;
	int st = ipcq_reserve(x->pong, len, &w, IPCQ_FOREVER);
	if (st != IPCQ_OK)
		return st;
	memcpy(w, msg, len);
	return ipcq_commit(x->pong, w, len);
}

/* CPU time of the echo side: its process (mechanism threads included) or its own thread. */
static uint64_t echo_cpu_ns(bool thread)
{
	struct timespec ts;
	clock_gettime(thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int echo_main(void *arg)
{
	struct pp *x = arg;
	size_t size = x->c->size;
	char why[300];

	if (!x->thread) {
		ipcq_release(x->ping, IPCQ_PRODUCER);
		ipcq_release(x->pong, IPCQ_CONSUMER);
	}
	uint64_t delay = ipcb_test_delay_ns(x->c->mech); /* IPCB_TEST_DELAY, tests only */
	void *buf = malloc(size);
	if (!buf) {
		ipcb_report_fail(x->report, "echo side: malloc(%zu) failed", size);
		return 1;
	}
	int rc = 1;
	for (uint64_t expect = 0;; expect++) {
		size_t len = 0;
		uint64_t cpu0 = x->blocked ? echo_cpu_ns(x->thread) : 0, wall0 = x->blocked ? ipcb_now_ns() : 0;
		const void *msg = buf;
		int st = x->zc ? ipcq_peek(x->ping, &msg, &len, IPCQ_FOREVER)
		               : ipcq_get(x->ping, buf, size, &len, IPCQ_FOREVER);
		if (x->blocked) { /* published before the echo, so the benchmark side reads this wait's figures */
			atomic_store(&x->blocked->cpu_ns, echo_cpu_ns(x->thread) - cpu0);
			atomic_store(&x->blocked->wall_ns, ipcb_now_ns() - wall0);
		}
		if (st == IPCQ_EOF) {
			rc = 0; /* the benchmark side is gone: it ended this run */
			break;
		}
		if (st != IPCQ_OK) {
			ipcb_report_fail(x->report, "echo side: ipcq_get(ping) of message %llu: %s",
			                 (unsigned long long)expect, ipcb_status_text(st, x->ping, why, sizeof why));
			break;
		}
		uint64_t seq = len >= 8 ? ipcb_payload_seq(msg) : 0;
		if (seq == STOP_SEQ) {
			rc = 0;
			break;
		}
		if (delay)
			ipcb_busy_wait_ns(delay);
		st = x->zc ? echo_in_place(x, msg, len) : ipcq_put(x->pong, buf, len, IPCQ_FOREVER);
		if (st != IPCQ_OK) {
			ipcb_report_fail(x->report, "echo side: %s(pong) of message %llu: %s",
			                 x->zc ? "ipcq_reserve/commit" : "ipcq_put", (unsigned long long)expect,
			                 ipcb_status_text(st, x->pong, why, sizeof why));
			break;
		}
		if (len != size) {
			ipcb_report_fail(x->report, "echo side: message %llu is %zu bytes, sent %zu",
			                 (unsigned long long)expect, len, size);
			break;
		}
		long off = ipcb_payload_check(msg, len, expect);
		if (off >= 0) {
			ipcb_report_fail(x->report,
			                 "echo side: message %llu has a wrong byte at offset %ld (carries seq %llu)",
			                 (unsigned long long)expect, off, (unsigned long long)seq);
			break;
		}
		if (x->zc && (st = ipcq_consume(x->ping, msg)) != IPCQ_OK) {
			ipcb_report_fail(x->report, "echo side: ipcq_consume(ping) of message %llu: %s",
			                 (unsigned long long)expect, ipcb_status_text(st, x->ping, why, sizeof why));
			break;
		}
	}
	free(buf);
	return rc;
}

/* Why the peer stopped answering, for an error row. */
static void peer_cause(struct pp *x, char *buf, size_t len)
{
	ipcb_peer_cause(&x->peer, x->thread ? "echo thread" : "echo process", buf, len);
}

/* Gets the echo, watching the peer while waiting. */
static int get_echo(struct pp *x, size_t *len, char *err, size_t errlen)
{
	bool forever = !x->thread && (ipcq_mech_caps(x->c->mech) & IPCQ_CAP_EOF);
	for (;;) {
		int64_t wait = forever ? IPCQ_FOREVER : SLICE_NS;
		int st = x->zc ? ipcq_peek(x->pong, &x->echo, len, wait) : ipcq_get(x->pong, x->rbuf, x->c->size, len, wait);
		if (st == IPCQ_OK)
			return 0;
		char cause[450], t[300];
		if (st == IPCQ_EMPTY) {
			peer_cause(x, cause, sizeof cause);
			if (!cause[0])
				continue;
			snprintf(err, errlen, "%s", cause);
			return -1;
		}
		/* EOF here means the echo side died or gave up: say why if we can. */
		for (int i = 0; i < 50 && st == IPCQ_EOF; i++) {
			peer_cause(x, cause, sizeof cause);
			if (cause[0])
				break;
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
		peer_cause(x, cause, sizeof cause);
		snprintf(err, errlen, "%s(pong): %s%s%s", x->zc ? "ipcq_peek" : "ipcq_get",
		         ipcb_status_text(st, x->pong, t, sizeof t),
		         cause[0] ? "; " : "", cause);
		return -1;
	}
}

/* One round trip of message seq; *ns gets its time. */
static int round_trip(struct pp *x, uint64_t seq, uint64_t *ns, char *err, size_t errlen)
{
	size_t size = x->c->size, len = 0;
	char t[300];
	if (!x->zc)
		ipcb_payload_stamp(x->sbuf, size, seq);
	uint64_t t0 = ipcb_now_ns();
	int st;
	void *w = x->sbuf;
	/* A thread cannot turn into BROKEN by dying: look at it while waiting. */
	while ((st = x->zc ? ipcq_reserve(x->ping, size, &w, x->thread ? SLICE_NS : IPCQ_FOREVER)
	                   : ipcq_put(x->ping, x->sbuf, size, x->thread ? SLICE_NS : IPCQ_FOREVER)) == IPCQ_FULL &&
	       !ipcb_report_failed(x->report) && !atomic_load(&x->peer.done))
		;
	if (st == IPCQ_OK && x->zc) { /* the whole message written in the slot: see the top of the file */
		ipcb_payload_init(w, size);
		ipcb_payload_stamp(w, size, seq);
		st = ipcq_commit(x->ping, w, size);
	}
	if (st != IPCQ_OK) {
		char cause[450];
		peer_cause(x, cause, sizeof cause);
		snprintf(err, errlen, "round trip %llu: %s(ping): %s%s%s", (unsigned long long)seq,
		         x->zc ? "ipcq_reserve/commit" : "ipcq_put", ipcb_status_text(st, x->ping, t, sizeof t),
		         cause[0] ? "; " : "", cause);
		return -1;
	}
	char e[512];
	if (get_echo(x, &len, e, sizeof e) != 0) {
		snprintf(err, errlen, "round trip %llu: %s", (unsigned long long)seq, e);
		return -1;
	}
	*ns = ipcb_now_ns() - t0;
	if (len != size) {
		snprintf(err, errlen, "round trip %llu: echo is %zu bytes, sent %zu", (unsigned long long)seq, len, size);
		return -1;
	}
	long off = ipcb_payload_check(x->zc ? x->echo : x->rbuf, len, seq);
	if (off >= 0) {
		snprintf(err, errlen, "round trip %llu: echo has a wrong byte at offset %ld", (unsigned long long)seq, off);
		return -1;
	}
	if (x->zc && (st = ipcq_consume(x->pong, x->echo)) != IPCQ_OK) {
		snprintf(err, errlen, "round trip %llu: ipcq_consume(pong): %s", (unsigned long long)seq,
		         ipcb_status_text(st, x->pong, t, sizeof t));
		return -1;
	}
	return 0;
}

/* Ends the echo side: a stop message, then a bounded wait; kill on trouble. */
static int stop_echo(struct pp *x, bool failed, char *err, size_t errlen)
{
	char why[300];
	if (!x->peer.running)
		return 0;
	if (!failed || x->thread) {
		ipcb_payload_stamp(x->sbuf, x->c->size, STOP_SEQ);
		ipcq_put(x->ping, x->sbuf, x->c->size, 1000000000LL);
	}
	if (failed && !x->thread) {
		ipcb_peer_kill(&x->peer);
		return 0;
	}
	int r = ipcb_peer_wait(&x->peer, END_TIMEOUT_NS, why, sizeof why);
	if (r == 0)
		return 0;
	if (r < 0 && !ipcb_peer_kill(&x->peer)) {
		snprintf(err, errlen, "the echo thread did not stop (%s); it is abandoned", why);
		return -2;
	}
	if (ipcb_report_failed(x->report))
		snprintf(err, errlen, "%s", x->report->msg);
	else
		snprintf(err, errlen, "the echo %s ended: %s", x->thread ? "thread" : "process", why);
	return -1;
}

/* Opens both queues, pins this thread to CPU A and starts the echo side on
 * CPU B; NULL after ipcb_fail() names the cause. wake: also the shared
 * figures of the echo side's waits. Every non-NULL x goes to pp_close(). */
static struct pp *pp_open(ipcb_gb_state *st, const struct ipcb_case *c, bool wake)
{
	char err[600], t[300];
	struct pp *x = calloc(1, sizeof *x);
	if (!x) {
		ipcb_fail(st, "%s: out of memory", c->wl->name);
		return NULL;
	}
	x->c = c;
	x->thread = c->mode == IPCB_MODE_THREAD;
	x->zc = c->variant == IPCB_API_ZEROCOPY;
	x->sbuf = malloc(c->size);
	x->rbuf = malloc(c->size);
	x->report = ipcb_shared_alloc(sizeof *x->report, err, sizeof err);
	if (wake)
		x->blocked = ipcb_shared_alloc(sizeof *x->blocked, err, sizeof err);
	ipcb_pin_self(&x->pin, c->topo, -1, err, sizeof err);
	if (!x->sbuf || !x->rbuf || !x->report || (wake && !x->blocked)) {
		ipcb_fail(st, "%s: allocating buffers of %zu bytes failed", c->wl->name, c->size);
		return x;
	}
	ipcb_payload_init(x->sbuf, c->size);

	ipcq_config cfg = ipcb_queue_config(c->size);
	int s = ipcq_open(c->mech, &cfg, &x->ping);
	if (s == IPCQ_OK)
		s = ipcq_open(c->mech, &cfg, &x->pong);
	if (s != IPCQ_OK) {
		ipcb_fail(st, "ipcq_open(%s, max_msg=%zu): %s", ipcq_mech_name(c->mech), c->size,
		          ipcb_status_text(s, NULL, t, sizeof t));
		/* The handle is NULL on failure: the message is the thread's last one. */
		return x;
	}
	if (ipcb_pin_self(&x->pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "%s: %s", c->wl->name, err);
		return x;
	}
	if (ipcb_peer_start(&x->peer, x->thread, c->topo, c->cpu_b, ipcq_mech_name(c->mech), echo_main, x,
	                    x->report, err, sizeof err) != 0) {
		ipcb_fail(st, "%s: starting the echo side: %s", c->wl->name, err);
		return x;
	}
	if (!x->thread) {
		ipcq_release(x->ping, IPCQ_CONSUMER);
		ipcq_release(x->pong, IPCQ_PRODUCER);
	}
	return x;
}

/* True when pp_open() got as far as a running echo side. */
static bool pp_ready(const struct pp *x)
{
	return x && x->peer.running;
}

/* Page faults this process has taken so far (minor: memory touched for the first time). */
static long minor_faults(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : 0;
}

/*
 * Round trips until both sides are warm; *seq counts on. 0, or -1 after
 * ipcb_fail(). While round trips still fault in fresh memory (a bounded
 * ring's slots on its first lap), it goes on, up to one lap of the ring:
 * those faults cost a first lap of shmring at 64 KiB 840 us a round trip
 * here, against 14 us after. A ring of reused memory (redis, zeromq) stops
 * faulting at once and is not lapped for nothing.
 */
static int warm_up(ipcb_gb_state *st, struct pp *x, uint64_t *seq)
{
	char err[600];
	uint64_t ns = 0, start = ipcb_now_ns(), first = *seq, lap = ipcb_queue_lap(x->ping);
	long faults = minor_faults();
	for (;;) {
		if (round_trip(x, (*seq)++, &ns, err, sizeof err) != 0) {
			ipcb_fail(st, "warm-up %s", err);
			return -1;
		}
		uint64_t done = *seq - first;
		if (done < WARMUP_MIN_ROUNDS || ipcb_now_ns() - start < WARMUP_MIN_NS || done % 32)
			continue;
		long now = minor_faults();
		if (now == faults || done >= lap)
			return 0;
		faults = now;
	}
}

/* Stops the echo side (failed: the run already failed, so kill it), then
 * frees everything unless a thread may still use it. */
static void pp_close(ipcb_gb_state *st, struct pp *x, bool failed, uint64_t seq)
{
	char err[600];
	if (!x)
		return;
	bool leak = false;
	if (x->peer.running) {
		int r = stop_echo(x, failed, err, sizeof err);
		if (r != 0 && !failed)
			ipcb_fail(st, "after %llu round trips: %s", (unsigned long long)seq, err);
		leak = r == -2;
	}
	ipcb_unpin_self(&x->pin);
	if (leak)
		return; /* a thread may still use x, its queues and buffers */
	if (x->ping)
		ipcq_close(x->ping);
	if (x->pong)
		ipcq_close(x->pong);
	ipcb_shared_free(x->report, sizeof *x->report);
	ipcb_shared_free(x->blocked, sizeof *x->blocked);
	free(x->sbuf);
	free(x->rbuf);
	free(x);
}

static void pingpong_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[600];
	struct pp *x = pp_open(st, c, false);
	uint64_t seq = 0, ns = 0;
	bool failed = !pp_ready(x) || warm_up(st, x, &seq) != 0;
	if (!failed)
		ipcb_hist_reset(&x->hist);
	while (!failed && ipcb_gb_keep_running(st)) {
		if (round_trip(x, seq++, &ns, err, sizeof err) != 0) {
			ipcb_fail(st, "%s", err);
			failed = true;
			break;
		}
		ipcb_hist_record(&x->hist, ns);
		ipcb_gb_set_iteration_time(st, (double)ns * 1e-9);
	}
	if (!failed && ipcb_hist_count(&x->hist) > 0) {
		static const struct { const char *name; double q; } pct[] = {
			{ "rtt_p50_ns", 0.5 }, { "rtt_p90_ns", 0.9 }, { "rtt_p99_ns", 0.99 }, { "rtt_p999_ns", 0.999 },
		};
		for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
			ipcb_gb_counter(st, pct[i].name, (double)ipcb_hist_percentile(&x->hist, pct[i].q),
			                IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_max_ns", (double)ipcb_hist_max(&x->hist), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_mean_ns", ipcb_hist_mean(&x->hist), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "timer_cost_ns", ipcb_timer_cost(), IPCB_GB_COUNTER_DEFAULT);
	}
	pp_close(st, x, failed, seq);
}

const struct ipcb_workload ipcb_workload_pingpong = {
	.name = "pingpong",
	.summary = "round-trip latency between two endpoints (histogram: p50..p99.9, max, mean)",
	.run = pingpong_run,
	.opts = { .manual_time = true },
};

/* --- wake: the first round trip after an idle gap ---------------------------- */

#define WAKE_MIN_SAMPLES 3
#define WAKE_WARM_ROUNDS 1000 /* round trips timed while both sides are busy, for comparison */

/* Sleeps ns of wall time whatever signals arrive. */
static void idle_for(uint64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t end = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ns;
	ts.tv_sec = (time_t)(end / 1000000000u);
	ts.tv_nsec = (long)(end % 1000000000u);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * One iteration holds every sample: samples = max(3, min_time / idle), each
 * an idle gap of c->grain_us then one timed round trip. The row's time is
 * the median first round trip; counters give it with the busy round trip
 * beside it and the echo side's CPU share while blocked.
 */
static void wake_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	char err[600];
	uint64_t idle_ns = (uint64_t)c->grain_us * 1000u;
	double min_time = c->min_time > 0 ? c->min_time : 0.5;
	size_t n = (size_t)ceil(min_time * 1e9 / (double)idle_ns);
	if (n < WAKE_MIN_SAMPLES)
		n = WAKE_MIN_SAMPLES;
	uint64_t *wake = calloc(n, sizeof *wake);
	struct pp *x = wake ? pp_open(st, c, true) : NULL;
	if (!wake)
		ipcb_fail(st, "wake: out of memory");
	uint64_t seq = 0, ns = 0, cpu = 0, wall = 0;
	bool failed = !pp_ready(x) || warm_up(st, x, &seq) != 0;
	while (!failed && ipcb_gb_keep_running(st)) {
		ipcb_hist_reset(&x->hist);
		for (int i = 0; i < WAKE_WARM_ROUNDS && !failed; i++) {
			failed = round_trip(x, seq++, &ns, err, sizeof err) != 0;
			ipcb_hist_record(&x->hist, ns);
		}
		for (size_t i = 0; i < n && !failed; i++) {
			idle_for(idle_ns);
			failed = round_trip(x, seq++, &wake[i], err, sizeof err) != 0;
			cpu += atomic_load(&x->blocked->cpu_ns);
			wall += atomic_load(&x->blocked->wall_ns);
		}
		if (failed) {
			ipcb_fail(st, "%s", err);
			break;
		}
		qsort(wake, n, sizeof *wake, cmp_u64);
		uint64_t p50 = n % 2 ? wake[n / 2] : (wake[n / 2 - 1] + wake[n / 2]) / 2;
		ipcb_gb_set_iteration_time(st, (double)p50 * 1e-9);
		ipcb_gb_counter(st, "wake_rtt_p50_ns", (double)p50, IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "wake_rtt_max_ns", (double)wake[n - 1], IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "busy_rtt_p50_ns", (double)ipcb_hist_percentile(&x->hist, 0.5),
		                IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "idle_cpu_pct", wall ? 100.0 * (double)cpu / (double)wall : 0,
		                IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "idle_s", (double)idle_ns * 1e-9, IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "samples", (double)n, IPCB_GB_COUNTER_DEFAULT);
	}
	pp_close(st, x, failed, seq);
	free(wake);
}

const struct ipcb_workload ipcb_workload_wake = {
	.name = "wake",
	.summary = "first round trip after the echo side idled blocked (idle= gap), and the CPU it used while blocked",
	.run = wake_run,
	.opts = { .manual_time = true, .iterations = 1 },
};
