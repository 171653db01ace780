/*
 * zmqref.c - reference rows from libzmq used the way its own users use it.
 *
 * The zeromq mechanism keeps every promise of the queue interface, so each
 * of its calls is a round trip to a broker thread; that is not the figure a
 * reader choosing zeromq expects. These rows measure plain libzmq, without
 * queue semantics, on the same CPUs and sizes as ours:
 *  - pingpong/zeromq-native: a PAIR socket each side over ipc://, the echo
 *    side a child process on CPU B; one round trip per iteration;
 *  - stream/zeromq-native: PUSH on CPU A to PULL in a child on CPU B; one
 *    iteration is a batch, timed until the consumer acknowledges its last
 *    message on a second PUSH/PULL pair; batches are sized as the stream
 *    workload's are (ipcb_quota_*: ~10 ms each).
 * The child is forked before any context exists here (libzmq contexts do
 * not survive fork, and forking beside their threads is unsafe), then each
 * side makes its own; a context's I/O thread inherits its creator's CPU.
 * The child's connect retries every few ms until the parent has bound. Every
 * message is checked (payload.h) and must arrive in order. The label says
 * these are a reference, not a mechanism of ours.
 */
#include "hist.h"
#include "payload.h"
#include "peer.h"
#include "stats.h"
#include "wlutil.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef IPCB_HAVE_ZMQ
#include <zmq.h>

#define STOP_SEQ UINT64_MAX
#define LAST_BIT (1ull << 62) /* stream: the last message of a batch, to be acknowledged */
#define SLICE_MS 100          /* how often a waiting side looks at its peer */
#define WARMUP_NS 5000000LL
#define END_TIMEOUT_NS 5000000000LL

struct zx {
	const struct ipcb_case *c;
	bool stream;
	char data[108], ack[108]; /* ipc:// endpoints */
	struct ipcb_report *report; /* shared memory */
	struct ipcb_peer peer;
	void *ctx, *sock, *back; /* this process's; the child makes its own */
	void *sbuf, *rbuf;
};

const char *ipcb_zmqref_version(char *buf, size_t len)
{
	int a, b, c;
	zmq_version(&a, &b, &c);
	snprintf(buf, len, "%d.%d.%d", a, b, c);
	return buf;
}

/* A socket of type on ctx, bound or connected to ep, with receive and send time-outs. */
static void *zsock(void *ctx, int type, const char *ep, bool bind, char *err, size_t errlen)
{
	void *s = zmq_socket(ctx, type);
	int ms = SLICE_MS, zero = 0, retry = 2;
	if (!s || zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms) || zmq_setsockopt(s, ZMQ_SNDTIMEO, &ms, sizeof ms) ||
	    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &retry, sizeof retry) || (bind ? zmq_bind(s, ep) : zmq_connect(s, ep))) {
		snprintf(err, errlen, "zmq %s %s: %s", bind ? "bind" : "connect", ep, zmq_strerror(zmq_errno()));
		if (s)
			zmq_close(s);
		return NULL;
	}
	return s;
}

/* The child: echo (pingpong) or drain and acknowledge (stream) until STOP_SEQ. */
static int far_main(void *arg)
{
	struct zx *x = arg;
	size_t size = x->c->size;
	char err[300];
	int rc = 1;
	void *ctx = zmq_ctx_new(); /* after fork: never the parent's */
	void *s = ctx ? zsock(ctx, x->stream ? ZMQ_PULL : ZMQ_PAIR, x->data, false, err, sizeof err) : NULL;
	void *back = s && x->stream ? zsock(ctx, ZMQ_PUSH, x->ack, false, err, sizeof err) : NULL;
	void *buf = malloc(size);
	if (!ctx || !s || (x->stream && !back) || !buf) {
		ipcb_report_fail(x->report, "zeromq-native far side: %s", !ctx ? "zmq_ctx_new failed" : !buf ? "out of memory" : err);
		goto out;
	}
	for (uint64_t expect = 0;;) {
		int n = zmq_recv(s, buf, size, 0);
		if (n < 0 && (zmq_errno() == EAGAIN || zmq_errno() == EINTR)) {
			if (getppid() == 1)
				break; /* the benchmark side is gone */
			continue;
		}
		if (n < 0) {
			ipcb_report_fail(x->report, "zeromq-native far side: zmq_recv: %s", zmq_strerror(zmq_errno()));
			break;
		}
		uint64_t raw = (size_t)n >= 8 ? ipcb_payload_seq(buf) : 0;
		if (raw == STOP_SEQ) {
			rc = 0;
			break;
		}
		if (!x->stream && zmq_send(s, buf, (size_t)n, 0) != n) {
			ipcb_report_fail(x->report, "zeromq-native echo: zmq_send: %s", zmq_strerror(zmq_errno()));
			break;
		}
		uint64_t seq = raw & ~LAST_BIT;
		long off = (size_t)n == size ? ipcb_payload_check(buf, size, raw) : 0;
		if (seq != expect || off >= 0) {
			ipcb_report_fail(x->report, "zeromq-native far side: message %llu: %s (carries seq %llu, %d bytes)",
			                 (unsigned long long)expect, seq != expect ? "out of order or lost" : "wrong bytes",
			                 (unsigned long long)seq, n);
			break;
		}
		expect++;
		if (x->stream && (raw & LAST_BIT) && zmq_send(back, &seq, sizeof seq, 0) != (int)sizeof seq) {
			ipcb_report_fail(x->report, "zeromq-native consumer: acknowledging: %s", zmq_strerror(zmq_errno()));
			break;
		}
	}
out:
	free(buf);
	if (back)
		zmq_close(back);
	if (s)
		zmq_close(s);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}

/* zmq_send or zmq_recv (send: len bytes of buf; recv: into buf, up to len), watching the far side. */
static int io(struct zx *x, void *s, bool send, void *buf, size_t len, char *err, size_t errlen)
{
	for (;;) {
		int n = send ? zmq_send(s, buf, len, 0) : zmq_recv(s, buf, len, 0);
		if (n >= 0)
			return n;
		int e = zmq_errno();
		char cause[450];
		ipcb_peer_cause(&x->peer, "far process", cause, sizeof cause);
		if ((e == EAGAIN || e == EINTR) && !cause[0])
			continue;
		snprintf(err, errlen, "%s: %s", send ? "zmq_send" : "zmq_recv", cause[0] ? cause : zmq_strerror(e));
		return -1;
	}
}

/* One round trip of seq; *ns gets its time. */
static int round_trip(struct zx *x, uint64_t seq, uint64_t *ns, char *err, size_t errlen)
{
	size_t size = x->c->size;
	ipcb_payload_stamp(x->sbuf, size, seq);
	uint64_t t0 = ipcb_now_ns();
	if (io(x, x->sock, true, x->sbuf, size, err, errlen) < 0)
		return -1;
	int n = io(x, x->sock, false, x->rbuf, size, err, errlen);
	*ns = ipcb_now_ns() - t0;
	if (n < 0)
		return -1;
	if ((size_t)n != size || ipcb_payload_check(x->rbuf, size, seq) >= 0) {
		snprintf(err, errlen, "round trip %llu: the echo is wrong (%d bytes, sent %zu)", (unsigned long long)seq, n,
		         size);
		return -1;
	}
	return 0;
}

/* Sends quota messages from *seq on and waits for the acknowledgement; *ns gets the batch's time. */
static int batch(struct zx *x, uint64_t quota, uint64_t *seq, uint64_t *ns, char *err, size_t errlen)
{
	size_t size = x->c->size;
	uint64_t t0 = ipcb_now_ns(), last = *seq + quota - 1, got = 0;
	for (; *seq <= last; (*seq)++) {
		ipcb_payload_stamp(x->sbuf, size, *seq == last ? *seq | LAST_BIT : *seq);
		if (io(x, x->sock, true, x->sbuf, size, err, errlen) < 0)
			return -1;
	}
	int n = io(x, x->back, false, &got, sizeof got, err, errlen);
	*ns = ipcb_now_ns() - t0;
	if (n < 0)
		return -1;
	if (n != (int)sizeof got || got != last) {
		snprintf(err, errlen, "the consumer acknowledged message %llu, the batch ended at %llu",
		         (unsigned long long)got, (unsigned long long)last);
		return -1;
	}
	return 0;
}

static void zmqref_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	static atomic_uint serial;
	char err[600];
	struct ipcb_pin pin;
	struct zx *x = calloc(1, sizeof *x);
	if (!x) {
		ipcb_fail(st, "zeromq-native: out of memory");
		return;
	}
	x->c = c;
	x->stream = c->variant == IPCB_ZMQREF_STREAM;
	unsigned k = atomic_fetch_add(&serial, 1);
	snprintf(x->data, sizeof x->data, "ipc:///tmp/ipcb-zmqref-%d-%u", (int)getpid(), k);
	snprintf(x->ack, sizeof x->ack, "ipc:///tmp/ipcb-zmqref-%d-%u.ack", (int)getpid(), k);
	x->sbuf = malloc(c->size);
	x->rbuf = malloc(c->size);
	x->report = ipcb_shared_alloc(sizeof *x->report, err, sizeof err);
	ipcb_pin_self(&pin, c->topo, -1, err, sizeof err);
	bool failed = true;
	uint64_t seq = 0, ns = 0;
	if (!x->sbuf || !x->rbuf || !x->report) {
		ipcb_fail(st, "zeromq-native: allocating buffers of %zu bytes failed", c->size);
		goto out;
	}
	ipcb_payload_init(x->sbuf, c->size);
	/* pinned first: the context's I/O thread inherits CPU A */
	if (ipcb_pin_self(&pin, c->topo, c->cpu_a, err, sizeof err) != 0) {
		ipcb_fail(st, "zeromq-native: %s", err);
		goto out;
	}
	if (ipcb_peer_start(&x->peer, false, c->topo, c->cpu_b, "zeromq-native", far_main, x, x->report, err,
	                    sizeof err) != 0) {
		ipcb_fail(st, "zeromq-native: starting the far side: %s", err);
		goto out;
	}
	x->ctx = zmq_ctx_new();
	x->sock = x->ctx ? zsock(x->ctx, x->stream ? ZMQ_PUSH : ZMQ_PAIR, x->data, true, err, sizeof err) : NULL;
	x->back = x->sock && x->stream ? zsock(x->ctx, ZMQ_PULL, x->ack, true, err, sizeof err) : NULL;
	if (!x->ctx || !x->sock || (x->stream && !x->back)) {
		ipcb_fail(st, "zeromq-native: %s", x->ctx ? err : "zmq_ctx_new failed");
		goto out;
	}
	/* warm-up: connections made, caches warm; stream: batches sized as ours are (ipcb_quota_*) */
	struct ipcb_quota qt;
	ipcb_quota_init(&qt, 64);
	uint64_t start = ipcb_now_ns();
	for (bool sized = !x->stream; !sized || ipcb_now_ns() - start < WARMUP_NS;) {
		if ((x->stream ? batch(x, qt.quota, &seq, &ns, err, sizeof err) : round_trip(x, seq++, &ns, err, sizeof err))) {
			ipcb_fail(st, "zeromq-native warm-up: %s", err);
			goto out;
		}
		if (x->stream && !sized)
			sized = ipcb_quota_warm(&qt, ns);
	}
	struct ipcb_hist *h = x->stream ? NULL : calloc(1, sizeof *h);
	if (!x->stream && !h) {
		ipcb_fail(st, "zeromq-native: out of memory");
		goto out;
	}
	int64_t items = 0;
	while (ipcb_gb_keep_running(st)) {
		if (x->stream ? batch(x, qt.quota, &seq, &ns, err, sizeof err) : round_trip(x, seq++, &ns, err, sizeof err)) {
			ipcb_fail(st, "%s", err);
			free(h);
			goto out;
		}
		if (h)
			ipcb_hist_record(h, ns);
		items += x->stream ? (int64_t)qt.quota : 1;
		ipcb_gb_set_iteration_time(st, (double)ns * 1e-9);
		if (x->stream)
			ipcb_quota_measured(&qt, ns);
	}
	if (x->stream) {
		ipcb_gb_set_items_processed(st, items);
		ipcb_gb_set_bytes_processed(st, items * (int64_t)c->size);
	} else {
		ipcb_gb_counter(st, "rtt_p50_ns", (double)ipcb_hist_percentile(h, 0.5), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_p90_ns", (double)ipcb_hist_percentile(h, 0.9), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_p99_ns", (double)ipcb_hist_percentile(h, 0.99), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_p999_ns", (double)ipcb_hist_percentile(h, 0.999), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_max_ns", (double)ipcb_hist_max(h), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_mean_ns", ipcb_hist_mean(h), IPCB_GB_COUNTER_DEFAULT);
		free(h);
	}
	char ver[32], label[160];
	snprintf(label, sizeof label, "reference: libzmq %s %s over ipc:// (no queue semantics)",
	         ipcb_zmqref_version(ver, sizeof ver), x->stream ? "PUSH/PULL" : "PAIR");
	ipcb_gb_set_label(st, label);
	failed = false;
out:
	if (x->peer.running) {
		char why[300];
		if (!failed) { /* a clean stop: STOP_SEQ, then a bounded wait */
			ipcb_payload_stamp(x->sbuf, c->size, STOP_SEQ);
			zmq_send(x->sock, x->sbuf, c->size, 0);
		}
		if (failed || ipcb_peer_wait(&x->peer, END_TIMEOUT_NS, why, sizeof why) != 0) {
			if (!failed)
				ipcb_fail(st, "zeromq-native: the far process did not end cleanly: %s", why);
			ipcb_peer_kill(&x->peer);
		}
	}
	ipcb_unpin_self(&pin);
	if (x->back)
		zmq_close(x->back);
	if (x->sock)
		zmq_close(x->sock);
	if (x->ctx)
		zmq_ctx_term(x->ctx);
	unlink(x->data + 6); /* "ipc://" */
	unlink(x->ack + 6);
	ipcb_shared_free(x->report, sizeof *x->report);
	free(x->sbuf);
	free(x->rbuf);
	free(x);
}

bool ipcb_zmqref_available(void)
{
	return true;
}

#else /* built without libzmq: the plan says so with a skip line */

static void zmqref_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	(void)c;
	ipcb_fail(st, "zeromq-native: ipcbench was built without libzmq");
}

bool ipcb_zmqref_available(void)
{
	return false;
}

const char *ipcb_zmqref_version(char *buf, size_t len)
{
	snprintf(buf, len, "none");
	return buf;
}

#endif

const struct ipcb_workload ipcb_workload_zmqref = {
	.name = "zmqref",
	.summary = "reference rows: plain libzmq (PAIR round trip, PUSH/PULL stream over ipc://), no queue semantics",
	.run = zmqref_run,
	.opts = { .manual_time = true },
};
