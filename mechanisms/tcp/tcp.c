/*
 * tcp.c - a queue over one TCP connection (TCP_NODELAY), loopback by
 * default. The core's framed-stream engine (fdq) does the framing, locking,
 * EOF and BROKEN; this file makes the connection and keeps a byte budget.
 *
 * Sections: endpoint; connecting to ourselves; the byte budget; ops.
 *
 * At open: listen on the endpoint (cfg.endpoint, else $IPCQ_TCP_ENDPOINT,
 * else tcp://127.0.0.1:0, an ephemeral port), connect to it, accept, close
 * the listener. Consumers read the accepted socket, producers write the
 * connected one. Another local process may connect to the listener in that
 * window, so a connection is taken only when its peer address is the one
 * our own connect was given; strangers are closed.
 *
 * The consumers' socket lingers 0 s: when the last consumer closes (or
 * dies) the kernel sends RST rather than FIN, so the next put fails with
 * ECONNRESET/EPIPE (BROKEN). After a FIN alone, a TCP write still succeeds
 * once and the message would vanish. Producers close normally (FIN): what
 * they sent is delivered, then consumers read EOF.
 *
 * Why a budget: TCP takes part of a write when its send buffer runs out
 * (a pipe never splits a write of up to PIPE_BUF), and fdq must then finish
 * that frame whatever the deadline - so a NOWAIT put into a full queue with
 * no reader running would wait for ever. Instead, at most TCP_BUDGET bytes
 * of frames are put and not yet got, and the send buffer is made twice that
 * (SO_SNDBUF), so a put within the budget never waits in the kernel; a put
 * beyond it is FULL, or sleeps on a shared futex that every get bumps.
 * Capacity is thus in bytes, not messages: no IPCQ_CAP_BOUNDED.
 */
#include "mech.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TCP_DEFAULT_ENDPOINT "tcp://127.0.0.1:0"
#define TCP_ACCEPT_TRIES 16 /* strangers tolerated before giving up */
#define TCP_FRAME_HDR 4     /* fdq's length prefix */
#define TCP_BUDGET (128 * 1024)
/* While a put waits for room, how often it looks for a consumer that died (BROKEN). */
#define TCP_DEATH_CHECK_NS (50 * 1000000LL)

/* Shared by every process of the queue. */
struct tcp_room {
	atomic_llong inflight; /* frame bytes put and not yet got; briefly negative in a race */
	atomic_uint seq;       /* bumped by every get: the futex word room-waiters sleep on */
	atomic_uint waiters;   /* puts asleep on seq */
};

struct tcpq {
	struct ipcq__fdq fdq; /* first: fdq's ops take a struct tcpq as their state */
	struct tcp_room *room;
};

/* --- Endpoint ---------------------------------------------------------------- */

/* "tcp://host:port", "tcp://[v6]:port" -> host and port strings. */
static int parse_endpoint(const char *spec, char *host, size_t hlen, char *port, size_t plen)
{
	const char *p = spec, *h, *hend;
	if (strncmp(p, "tcp://", 6) != 0)
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "tcp: endpoint \"%s\" is not tcp://host:port (e.g. tcp://127.0.0.1:0)", spec);
	p += 6;
	if (*p == '[') {
		h = p + 1;
		hend = strchr(h, ']');
		if (!hend)
			return ipcq__fail(IPCQ_INVAL, EINVAL, "tcp: endpoint \"%s\": ']' missing after the IPv6 address",
			                  spec);
		p = hend + 1;
	} else {
		h = p;
		hend = p + strcspn(p, ":");
		p = hend;
	}
	size_t hl = (size_t)(hend - h);
	if (hl == 0 || hl >= hlen)
		return ipcq__fail(IPCQ_INVAL, EINVAL, "tcp: endpoint \"%s\": no host, or a host too long", spec);
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (*p != ':' || !p[1] || strspn(p + 1, "0123456789") != strlen(p + 1) || strlen(p + 1) >= plen ||
	    atol(p + 1) > 65535)
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "tcp: endpoint \"%s\": give a port from 0 to 65535 after the host (0: any free port)",
		                  spec);
	snprintf(port, plen, "%s", p + 1);
	return IPCQ_OK;
}

/* --- Connecting to ourselves ---------------------------------------------------- */

static int nodelay(int fd, const char *which)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		return ipcq__sys(errno, "tcp: setsockopt TCP_NODELAY on the %s socket", which);
	return IPCQ_OK;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

/* Listens on ai, connects to it, accepts that connection: *rfd accepted, *wfd connected. */
static int connect_self(const struct addrinfo *ai, const char *spec, int *rfd, int *wfd)
{
	int lfd = -1, cfd = -1, afd = -1, st = IPCQ_OK, one = 1;
	struct sockaddr_storage la, ca, pa;
	socklen_t len;

	lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		st = ipcq__sys(errno, "tcp: socket for %s", spec);
		goto out;
	}
	/* A fixed port can be opened again while the last connection on it is in TIME_WAIT. */
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0) {
		st = ipcq__sys(errno, "tcp: bind %s (a port in use, or an address not on this host?)", spec);
		goto out;
	}
	len = sizeof la;
	if (listen(lfd, TCP_ACCEPT_TRIES) < 0 || getsockname(lfd, (struct sockaddr *)&la, &len) < 0) {
		st = ipcq__sys(errno, "tcp: listen on %s", spec);
		goto out;
	}
	cfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0) {
		st = ipcq__sys(errno, "tcp: socket for %s", spec);
		goto out;
	}
	int r;
	do
		r = connect(cfd, (struct sockaddr *)&la, len);
	while (r < 0 && errno == EINTR);
	len = sizeof ca;
	if (r < 0 || getsockname(cfd, (struct sockaddr *)&ca, &len) < 0) {
		st = ipcq__sys(errno, "tcp: connect to %s", spec);
		goto out;
	}
	/* Our connection is complete and queued, so accept finds it without waiting. */
	for (int i = 0; i < TCP_ACCEPT_TRIES && afd < 0; i++) {
		len = sizeof pa;
		int fd = accept4(lfd, (struct sockaddr *)&pa, &len, SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (fd < 0) {
			st = ipcq__sys(errno, "tcp: accept on %s", spec);
			goto out;
		}
		if (same_addr(&pa, &ca))
			afd = fd;
		else
			close(fd); /* someone else connected to our listener */
	}
	if (afd < 0) {
		st = ipcq__fail(IPCQ_SYSERR, 0, "tcp: %s: %d other connections arrived before our own; try again",
		                spec, TCP_ACCEPT_TRIES);
		goto out;
	}
	struct linger abort_on_close = { .l_onoff = 1, .l_linger = 0 };
	if (setsockopt(afd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) < 0) {
		st = ipcq__sys(errno, "tcp: setsockopt SO_LINGER on the consumers' socket");
		goto out;
	}
	if ((st = nodelay(afd, "consumers'")) != IPCQ_OK || (st = nodelay(cfd, "producers'")) != IPCQ_OK)
		goto out;
	/* The kernel doubles it for its bookkeeping: room for the whole budget in small frames. */
	int sndbuf = TCP_BUDGET;
	if (setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0) {
		st = ipcq__sys(errno, "tcp: setsockopt SO_SNDBUF %d on the producers' socket", sndbuf);
		goto out;
	}
	*rfd = afd;
	*wfd = cfd;
	afd = cfd = -1;
out:
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	if (afd >= 0)
		close(afd);
	return st;
}

/* --- The byte budget ------------------------------------------------------------- */

/* A frame fits when the budget has room, or when nothing is in flight (one larger than the budget streams). */
static bool room_for(struct tcp_room *r, long long n)
{
	long long used = atomic_load(&r->inflight);
	return used <= 0 || used + n <= TCP_BUDGET;
}

/* The last consumer is gone: its RST left the producers' socket in error. */
static bool consumers_gone(struct tcpq *t)
{
	struct pollfd p = { .fd = t->fdq.wfd, .events = POLLOUT };
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

static void futex_wait_until(atomic_uint *word, unsigned seen, ipcq_deadline until)
{
	struct timespec ts = { .tv_sec = until / 1000000000LL, .tv_nsec = until % 1000000000LL };
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time; never FUTEX_PRIVATE: shared memory. */
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, seen, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/*
 * Waits until dl at most for room for n bytes: OK (room, or no consumer left,
 * so the write will say BROKEN) or FULL. The waiter count goes up before seq
 * is read and a get bumps seq before it reads the count, so either the get
 * sees a waiter and wakes it, or the waiter sees the new seq (and the room).
 */
static int wait_room(struct tcpq *t, long long n, ipcq_deadline dl)
{
	struct tcp_room *r = t->room;
	if (room_for(r, n))
		return IPCQ_OK;
	if (dl == IPCQ__NOW)
		return consumers_gone(t) ? IPCQ_OK : IPCQ_FULL;
	atomic_fetch_add(&r->waiters, 1);
	int st;
	for (;;) {
		unsigned seen = atomic_load(&r->seq);
		if (room_for(r, n) || consumers_gone(t)) {
			st = IPCQ_OK;
			break;
		}
		int64_t now = ipcq__now_ns();
		if (now >= dl) {
			st = IPCQ_FULL;
			break;
		}
		ipcq_deadline until = now + TCP_DEATH_CHECK_NS;
		futex_wait_until(&r->seq, seen, until < dl ? until : dl);
	}
	atomic_fetch_sub(&r->waiters, 1);
	return st;
}

/* --- Ops ------------------------------------------------------------------------------ */

static int tcp_put(void *st, const void *msg, size_t len, ipcq_deadline dl)
{
	struct tcpq *t = st;
	long long n = TCP_FRAME_HDR + (long long)len;
	int rc = wait_room(t, n, dl);
	if (rc != IPCQ_OK)
		return rc;
	/* Producers racing past one check overshoot the budget by a frame each: the doubled
	 * send buffer takes that. Counting after the write means a producer killed here
	 * leaks no budget. */
	rc = ipcq__fdq_put(st, msg, len, dl);
	if (rc == IPCQ_OK)
		atomic_fetch_add(&t->room->inflight, n);
	return rc;
}

/* n bytes of frames were got: they leave the budget, and puts waiting for room look again. */
static void room_freed(struct tcpq *t, long long n)
{
	struct tcp_room *r = t->room;
	atomic_fetch_sub(&r->inflight, n);
	atomic_fetch_add(&r->seq, 1);
	if (atomic_load(&r->waiters))
		syscall(SYS_futex, (uint32_t *)&r->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int tcp_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	int rc = ipcq__fdq_get(st, buf, cap, len, dl);
	if (rc == IPCQ_OK)
		room_freed(st, TCP_FRAME_HDR + (long long)*len);
	return rc;
}

/* The frame bytes of messages v[0..k). */
static long long frame_bytes(const ipcq_msgv *v, size_t k)
{
	long long n = 0;
	for (size_t i = 0; i < k; i++)
		n += TCP_FRAME_HDR + (long long)v[i].len;
	return n;
}

/* put_many's common case: fdq's run of frames, within the budget's room, counted as tcp_put counts. */
static size_t tcp_try_put_many(void *st, const ipcq_msgv *v, size_t n)
{
	struct tcpq *t = st;
	long long used = atomic_load(&t->room->inflight), room = TCP_BUDGET - (used > 0 ? used : 0);
	if (room <= 0)
		return 0;
	size_t k = ipcq__fdq_put_run(st, v, n, (size_t)room);
	if (k)
		atomic_fetch_add(&t->room->inflight, frame_bytes(v, k));
	return k;
}

static size_t tcp_try_get_many(void *st, ipcq_msgv *v, size_t n)
{
	size_t k = ipcq__fdq_try_get_many(st, v, n);
	if (k)
		room_freed(st, frame_bytes(v, k));
	return k;
}

static int tcp_open(void *st, const ipcq_config *cfg)
{
	struct tcpq *t = st;
	const char *spec = cfg->endpoint ? cfg->endpoint : getenv("IPCQ_TCP_ENDPOINT");
	char host[256], port[8];
	t->fdq.rfd = t->fdq.wfd = -1;
	if (!spec || !*spec)
		spec = TCP_DEFAULT_ENDPOINT;
	int rc = parse_endpoint(spec, host, sizeof host, port, sizeof port);
	if (rc != IPCQ_OK)
		return rc;
	t->room = ipcq__shm_alloc(sizeof *t->room);
	if (!t->room)
		return ipcq__sys(errno, "tcp: mmap of %zu bytes of shared state", sizeof *t->room);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0)
		return ipcq__fail(IPCQ_INVAL, g == EAI_SYSTEM ? errno : EINVAL, "tcp: endpoint \"%s\": %s", spec,
		                  gai_strerror(g));
	int rfd = -1, wfd = -1;
	rc = IPCQ_SYSERR;
	for (struct addrinfo *ai = res; ai && rc != IPCQ_OK; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			rc = connect_self(ai, spec, &rfd, &wfd);
	freeaddrinfo(res);
	if (rc != IPCQ_OK)
		return rc;
	rc = ipcq__fdq_open(&t->fdq, rfd, wfd, true, cfg);
	t->fdq.cuts_writes = true; /* TCP may send part of any write: a death there must tear (fdq's write_all) */
	return rc;
}

static void tcp_close(void *st)
{
	struct tcpq *t = st;
	ipcq__fdq_close(&t->fdq);
	if (t->room)
		ipcq__shm_free(t->room, sizeof *t->room);
	t->room = NULL;
}

const struct ipcq_mech ipcq_mech_tcp = {
	.version = IPCQ_MECH_VERSION,
	.name = "tcp",
	.summary = "one TCP connection (TCP_NODELAY, loopback by default) with length-prefixed frames, "
	           "128 KiB of frames in flight",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN |
	        IPCQ_CAP_HUGE | IPCQ_CAP_FD,
	.default_capacity = 0,
	.default_max_msg = 1u << 20,
	.state_size = sizeof(struct tcpq),
	.open = tcp_open,
	.put = tcp_put,
	.get = tcp_get,
	.try_put_many = tcp_try_put_many,
	.try_get_many = tcp_try_get_many,
	.poll = ipcq__fdq_poll,
	.qsize = ipcq__fdq_qsize,
	.release = ipcq__fdq_release,
	.close = tcp_close,
};
