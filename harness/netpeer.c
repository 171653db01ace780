/*
 * netpeer.c - benchmarks across hosts: the agent and the driver's side of
 * its rows (protocol in netpeer.h).
 *
 * Sections: addresses and sockets; lines and frames with deadlines; the
 * agent (its two endpoints, one request, the accept loop); the driver
 * (environment, results.json, pingpong, stream).
 */
#include "netpeer.h"
#include "env.h"
#include "findings.h"
#include "hist.h"
#include "payload.h"
#include "peer.h"
#include "placement.h"
#include "stats.h"
#include "suite.h"
#include "wlutil.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTO "IPCBENCH/1"
#define LINE_MAX_LEN 512
#define FRAME_ERR 0x80000000u
#define CONNECT_TIMEOUT_S 5
#define REQUEST_TIMEOUT_S 5   /* agent: the request line must come this fast */
#define AGENT_IDLE_S 60       /* agent: a benchmark silent this long is over */
#define DRIVER_WAIT_S 10      /* driver: longest wait for any answer */
#define WARMUP_MIN_ROUNDS 10
#define WARMUP_MIN_NS 5000000LL

/* --- Addresses and sockets --------------------------------------------------------- */

/* "host", "host:port", "[v6]:port", bare "v6" -> host and port (default_port if none). */
static int split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen, char *err,
                      size_t errlen)
{
	const char *h = addr, *p = NULL;
	size_t hl;
	if (*addr == '[') {
		const char *close = strchr(addr, ']');
		if (!close || (close[1] && close[1] != ':')) {
			snprintf(err, errlen, "address '%s': give [IPv6]:PORT", addr);
			return -1;
		}
		h = addr + 1;
		hl = (size_t)(close - h);
		p = close[1] ? close + 2 : NULL;
	} else {
		const char *colon = strchr(addr, ':');
		hl = colon && !strchr(colon + 1, ':') ? (size_t)(colon - addr) : strlen(addr);
		p = colon && !strchr(colon + 1, ':') ? colon + 1 : NULL;
	}
	if (hl == 0 || hl >= hlen) {
		snprintf(err, errlen, "address '%s': no host, or one too long", addr);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	if (p && (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 || atol(p) < 1 || atol(p) > 65535)) {
		snprintf(err, errlen, "address '%s': the port must be a number from 1 to 65535", addr);
		return -1;
	}
	snprintf(port, plen, "%s", p ? p : "");
	if (!p)
		snprintf(port, plen, "%d", IPCB_AGENT_PORT);
	return 0;
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Connects to ADDR[:PORT] within CONNECT_TIMEOUT_S: the fd, or -1 with err. */
static int dial(const char *addr, char *err, size_t errlen)
{
	char host[256], port[8];
	if (split_addr(addr, host, sizeof host, port, sizeof port, err, errlen) != 0)
		return -1;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		snprintf(err, errlen, "%s: %s", addr, gai_strerror(g));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen), e = errno;
		if (r < 0 && e == EINPROGRESS) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			socklen_t l = sizeof e;
			r = poll(&pf, 1, CONNECT_TIMEOUT_S * 1000);
			if (r == 0)
				e = ETIMEDOUT, r = -1;
			else if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e == 0)
				r = 0;
			else
				r = -1;
		}
		if (r < 0) {
			snprintf(err, errlen, "connecting to %s: %s", addr, strerror(e));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	/* Blocking from here: every call is bounded by SO_RCVTIMEO/SO_SNDTIMEO instead. */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	set_timeouts(fd, DRIVER_WAIT_S);
	set_nodelay(fd);
	return fd;
}

/* --- Lines and frames with deadlines ------------------------------------------------ */

/* One connection: a read-ahead buffer and the last error, as a phrase. */
struct nconn {
	int fd;
	bool eof; /* closed cleanly, between frames */
	unsigned char *rb;
	size_t cap, head, tail;
	char err[200];
};

static int conn_init(struct nconn *c, int fd, size_t max_frame)
{
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->cap = max_frame + 4 > 65536 ? max_frame + 4 : 65536;
	c->rb = malloc(c->cap);
	return c->rb ? 0 : -1;
}

static void conn_free(struct nconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->rb);
	c->fd = -1;
	c->rb = NULL;
}

static int conn_fail(struct nconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int conn_fail(struct nconn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return -1;
}

static int io_error(struct nconn *c, int e, const char *what)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		return conn_fail(c, "no %s within the deadline (the other side is stopped, or the network is)",
		                 what);
	if (e == ECONNRESET || e == EPIPE)
		return conn_fail(c, "the connection was reset while %s (the other side died or was killed)",
		                 !strcmp(what, "answer") ? "waiting for an answer" : "sending");
	return conn_fail(c, "%s: %s", what, strerror(e));
}

/* Makes n bytes available at rb + head; 0 or -1 (EOF, deadline, error) with c->err. */
static int fill_to(struct nconn *c, size_t n)
{
	if (c->tail - c->head >= n)
		return 0;
	if (c->head + n > c->cap) {
		memmove(c->rb, c->rb + c->head, c->tail - c->head);
		c->tail -= c->head;
		c->head = 0;
	}
	while (c->tail - c->head < n) {
		ssize_t r = recv(c->fd, c->rb + c->tail, c->cap - c->tail, 0);
		if (r > 0) {
			c->tail += (size_t)r;
			continue;
		}
		if (r == 0) {
			c->eof = c->tail == c->head;
			return conn_fail(c, "the connection was closed%s (the other side ended, or was killed)",
			                 c->tail > c->head ? " in the middle of a message" : "");
		}
		if (errno != EINTR)
			return io_error(c, errno, "answer");
	}
	return 0;
}

/* Next frame: *data (valid until the next read), *len, *is_err. 0 or -1 with c->err. */
static int recv_frame(struct nconn *c, unsigned char **data, size_t *len, bool *is_err)
{
	if (fill_to(c, 4) != 0)
		return -1;
	uint32_t h;
	memcpy(&h, c->rb + c->head, 4);
	h = le32toh(h);
	*is_err = h & FRAME_ERR;
	size_t n = h & ~FRAME_ERR;
	if (n + 4 > c->cap)
		return conn_fail(c, "a frame of %zu bytes, larger than any this benchmark sends", n);
	if (fill_to(c, 4 + n) != 0)
		return -1;
	*data = c->rb + c->head + 4;
	*len = n;
	c->head += 4 + n;
	if (c->head == c->tail)
		c->head = c->tail = 0;
	return 0;
}

static int send_all(struct nconn *c, struct iovec *v, int nv)
{
	while (nv > 0) {
		struct msghdr mh = { .msg_iov = v, .msg_iovlen = (size_t)nv };
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return io_error(c, errno, "send");
		}
		while (nv > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			nv--;
		}
		if (nv > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Sends one frame; buf has 4 free bytes before data (small frames go out in one piece). */
static int send_frame(struct nconn *c, unsigned char *hdr_then_data, size_t len, bool is_err)
{
	uint32_t h = htole32((uint32_t)len | (is_err ? FRAME_ERR : 0));
	memcpy(hdr_then_data, &h, 4);
	struct iovec v = { hdr_then_data, 4 + len };
	return send_all(c, &v, 1);
}

static int send_text(struct nconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_text(struct nconn *c, const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	struct iovec v = { line, n < (int)sizeof line ? (size_t)n : sizeof line - 1 };
	return send_all(c, &v, 1);
}

/* Reads one '\n'-ended line (without it) into line; 0 or -1 with c->err. */
static int recv_line(struct nconn *c, char *line, size_t len)
{
	for (size_t have = 0;;) {
		unsigned char *nl = memchr(c->rb + c->head, '\n', c->tail - c->head);
		if (nl) {
			size_t n = (size_t)(nl - (c->rb + c->head));
			if (n >= len)
				return conn_fail(c, "a line longer than %zu bytes", len - 1);
			memcpy(line, c->rb + c->head, n);
			line[n] = 0;
			c->head += n + 1;
			return 0;
		}
		have = c->tail - c->head;
		if (have >= len)
			return conn_fail(c, "a line longer than %zu bytes", len - 1);
		if (fill_to(c, have + 1) != 0)
			return -1;
	}
}

/* Sends a text error frame (mid-benchmark) and returns -1. */
static int frame_error(struct nconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int frame_error(struct nconn *c, const char *fmt, ...)
{
	unsigned char buf[4 + 300];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)buf + 4, sizeof buf - 4, fmt, ap);
	va_end(ap);
	size_t len = n < (int)(sizeof buf - 4) ? (size_t)n : sizeof buf - 5;
	fprintf(stderr, "ipcbench agent: %.*s\n", (int)len, (char *)buf + 4);
	send_frame(c, buf, len, true);
	return -1;
}

/* --- The agent ---------------------------------------------------------------------- */

static const char usage_agent[] =
	"usage: ipcbench agent [--listen ADDR[:PORT]] [--cpu N]\n"
	"\n"
	"Serves the far endpoint of pingpong and stream rows to `ipcbench run --peer ADDR`\n"
	"on another host, one benchmark at a time, until it is killed. It runs nothing\n"
	"but those two workloads, and sends the driver this host's environment.\n"
	"\n"
	"  --listen ADDR[:PORT]  address to listen on (default 127.0.0.1, port 45901);\n"
	"                        give this host's address, or 0.0.0.0, to be reachable\n"
	"                        from other hosts: anyone who can reach it can make this\n"
	"                        host run benchmarks\n"
	"  --cpu N               pin each endpoint to CPU N (default: unpinned, the\n"
	"                        scheduler chooses; results record which)\n";

struct agent {
	int cpu;              /* -1: unpinned */
	hwloc_topology_t topo;
	char *env_json;       /* the environment as sent */
	char listen[300];
};

static int agent_pingpong(struct nconn *c, size_t size, int64_t end_ns)
{
	unsigned char *out = malloc(4 + size);
	if (!out)
		return frame_error(c, "agent: malloc(%zu) failed", size);
	int rc = -1;
	for (uint64_t expect = 0;; expect++) {
		unsigned char *d;
		size_t len;
		bool e;
		if (recv_frame(c, &d, &len, &e) != 0) {
			rc = c->eof ? 0 : -1; /* the driver closing between messages ends the run */
			break;
		}
		if (len != size || e) {
			frame_error(c, "agent: message %llu is %zu bytes, expected %zu", (unsigned long long)expect,
			            len, size);
			break;
		}
		memcpy(out + 4, d, len);
		if (send_frame(c, out, len, false) != 0)
			break;
		/* Checked after the echo, off the measured path, as the local echo does. */
		long off = ipcb_payload_check(out + 4, len, expect);
		if (off >= 0) {
			frame_error(c, "agent: message %llu has a wrong byte at offset %ld", (unsigned long long)expect,
			            off);
			break;
		}
		if ((expect & 1023) == 0 && ipcb_now_ns() > (uint64_t)end_ns) {
			frame_error(c, "agent: the run asked for at most this long is over; ending it");
			break;
		}
	}
	free(out);
	return rc;
}

static int agent_stream(struct nconn *c, size_t size, int64_t end_ns)
{
	uint64_t n = 0, batch = 0;
	unsigned char reply[4 + 8];
	for (;;) {
		unsigned char *d;
		size_t len;
		bool e;
		if (recv_frame(c, &d, &len, &e) != 0)
			return c->eof ? 0 : -1;
		if (len == 0 && !e) {
			uint64_t v = htole64(batch);
			memcpy(reply + 4, &v, 8);
			if (send_frame(c, reply, 8, false) != 0)
				return -1;
			batch = 0;
			if (ipcb_now_ns() > (uint64_t)end_ns)
				return frame_error(c, "agent: the run asked for at most this long is over; ending it");
			continue;
		}
		if (len != size || e)
			return frame_error(c, "agent: message %llu is %zu bytes, expected %zu", (unsigned long long)n,
			                   len, size);
		uint64_t seq = ipcb_payload_seq(d);
		if (seq != n)
			return frame_error(c, "agent: message %llu carries sequence number %llu (lost, duplicated or "
			                   "reordered)", (unsigned long long)n, (unsigned long long)seq);
		long off = ipcb_payload_check(d, len, n);
		if (off >= 0)
			return frame_error(c, "agent: message %llu has a wrong byte at offset %ld",
			                   (unsigned long long)n, off);
		n++;
		batch++;
	}
}

/* "key=value" of a request line, or NULL. */
static const char *req_value(const char *line, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl)
		if ((p == line || p[-1] == ' ') && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " ");
			snprintf(buf, len, "%.*s", (int)n, p + kl + 1);
			return buf;
		}
	return NULL;
}

/* Serves one connection: ENV, or RUN in a child process that dies with the agent. */
static void agent_serve(struct agent *a, int fd, const char *from)
{
	struct nconn c;
	if (conn_init(&c, fd, 0) != 0) {
		close(fd);
		return;
	}
	set_timeouts(fd, REQUEST_TIMEOUT_S);
	set_nodelay(fd);
	char line[LINE_MAX_LEN], wl[32], sz[32], mode[32], maxs[32];
	if (recv_line(&c, line, sizeof line) != 0) {
		fprintf(stderr, "ipcbench agent: %s: no request: %s\n", from, c.err);
		conn_free(&c);
		return;
	}
	const char *why = NULL;
	char whybuf[300];
	if (strncmp(line, PROTO " ", strlen(PROTO) + 1) != 0) {
		why = "not a request of protocol " PROTO " (is the driver's ipcbench of another version?)";
	} else if (!strcmp(line + strlen(PROTO) + 1, "ENV")) {
		struct iovec v[3] = { { PROTO " OK\n", strlen(PROTO) + 4 }, { a->env_json, strlen(a->env_json) },
			              { "\n", 1 } };
		send_all(&c, v, 3);
		fprintf(stderr, "ipcbench agent: %s: sent the environment\n", from);
		conn_free(&c);
		return;
	} else if (strncmp(line + strlen(PROTO) + 1, "RUN ", 4) != 0) {
		why = "unknown request: this agent answers ENV and RUN";
	}
	const struct ipcb_workload *w = NULL;
	size_t size = 0;
	long max_s = 0;
	if (!why) {
		char *end;
		if (!req_value(line, "workload", wl, sizeof wl) || !(w = ipcb_workload_find(wl))) {
			snprintf(whybuf, sizeof whybuf, "workload '%s' is not one of ipcbench's",
			         req_value(line, "workload", wl, sizeof wl) ? wl : "");
			why = whybuf;
		} else if (w != &ipcb_workload_pingpong && w != &ipcb_workload_stream) {
			snprintf(whybuf, sizeof whybuf, "workload '%s' has no far endpoint an agent runs (pingpong, stream)",
			         wl);
			why = whybuf;
		} else if (!req_value(line, "size", sz, sizeof sz) || (size = strtoul(sz, &end, 10)) < IPCB_SIZE_MIN ||
		           *end || size > IPCB_SIZE_MAX) {
			snprintf(whybuf, sizeof whybuf, "size must be %u to %u bytes", IPCB_SIZE_MIN, IPCB_SIZE_MAX);
			why = whybuf;
		} else if (!req_value(line, "mode", mode, sizeof mode) || strcmp(mode, "process") != 0) {
			why = "mode must be process (the agent's endpoint is a child process of the agent)";
		} else if (!req_value(line, "max_s", maxs, sizeof maxs) || (max_s = strtol(maxs, &end, 10)) < 1 ||
		           *end || max_s > 86400) {
			why = "max_s must be 1 to 86400 seconds";
		}
	}
	if (why) {
		fprintf(stderr, "ipcbench agent: %s: refused \"%.100s\": %s\n", from, line, why);
		send_text(&c, PROTO " ERR %s\n", why);
		conn_free(&c);
		return;
	}

	pid_t agent_pid = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		send_text(&c, PROTO " ERR fork: %s\n", strerror(errno));
		conn_free(&c);
		return;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != agent_pid)
			_exit(3);
		prctl(PR_SET_NAME, "ipcb:agent");
		char e[256];
		if (a->cpu >= 0 && ipcb_bind_process(a->topo, a->cpu, e, sizeof e) != 0) {
			send_text(&c, PROTO " ERR pinning to CPU %d: %s\n", a->cpu, e);
			_exit(2);
		}
		free(c.rb); /* the driver waits for our OK before sending: nothing was read ahead */
		if (conn_init(&c, fd, size) != 0) {
			send_text(&c, PROTO " ERR malloc(%zu) failed\n", size);
			_exit(2);
		}
		char cpu[16];
		snprintf(cpu, sizeof cpu, a->cpu >= 0 ? "%d" : "unpinned", a->cpu);
		if (send_text(&c, PROTO " OK cpu=%s\n", cpu) != 0)
			_exit(2);
		set_timeouts(fd, AGENT_IDLE_S);
		int64_t end_ns = (int64_t)ipcb_now_ns() + (int64_t)max_s * 1000000000LL;
		int rc = w == &ipcb_workload_pingpong ? agent_pingpong(&c, size, end_ns) : agent_stream(&c, size, end_ns);
		if (rc != 0 && !c.eof && c.err[0])
			fprintf(stderr, "ipcbench agent: %s: %s %zu B: %s\n", from, wl, size, c.err);
		_exit(rc ? 1 : 0);
	}
	conn_free(&c);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char how[128];
	ipcb_describe_status(status, how, sizeof how);
	fprintf(stderr, "ipcbench agent: %s: %s %zu B: endpoint %s\n", from, wl, size, how);
}

int ipcb_agent_main(int argc, char **argv)
{
	struct agent a = { .cpu = -1 };
	const char *listen_addr = "127.0.0.1";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_agent, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen_addr = argv[++i];
		} else if (!strncmp(argv[i], "--listen=", 9)) {
			listen_addr = argv[i] + 9;
		} else if ((!strcmp(argv[i], "--cpu") && i + 1 < argc) || !strncmp(argv[i], "--cpu=", 6)) {
			const char *v = argv[i][5] == '=' ? argv[i] + 6 : argv[++i];
			char *end;
			long n = strtol(v, &end, 10);
			if (!*v || *end || n < 0 || n > 65535) {
				fprintf(stderr, "ipcbench agent: --cpu '%s': give a CPU number\n", v);
				return 2;
			}
			a.cpu = (int)n;
		} else {
			fprintf(stderr, "ipcbench agent: unknown argument '%s'\n%s", argv[i], usage_agent);
			return 2;
		}
	}
	char host[256], port[8], err[600];
	if (split_addr(listen_addr, host, sizeof host, port, sizeof port, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench agent: --listen %s\n", err);
		return 2;
	}
	if (ipcb_topo_open(&a.topo, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "ipcbench agent: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		fprintf(stderr, "ipcbench agent: --listen %s: %s\n", listen_addr, gai_strerror(g));
		return 2;
	}
	int lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (lfd >= 0)
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, res->ai_addr, res->ai_addrlen) != 0 || listen(lfd, 8) != 0) {
		fprintf(stderr, "ipcbench agent: listening on %s port %s: %s\n", host, port, strerror(errno));
		freeaddrinfo(res);
		return 1;
	}
	freeaddrinfo(res);
	snprintf(a.listen, sizeof a.listen, "%s port %s", host, port);

	struct ipcb_env env;
	ipcb_env_capture(&env, a.topo);
	char cpu[32];
	snprintf(cpu, sizeof cpu, a.cpu >= 0 ? "%d" : "unpinned", a.cpu);
	ipcb_env_set(&env, "agent_cpu", cpu);
	ipcb_env_set(&env, "agent_listen", a.listen);
	ipcb_env_set(&env, "agent_protocol", PROTO);
	json_t *o = json_object();
	for (size_t i = 0; i < env.n; i++)
		json_object_set_new(o, env.kv[i].key, json_string(env.kv[i].value));
	a.env_json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!a.env_json) {
		fprintf(stderr, "ipcbench agent: out of memory\n");
		return 1;
	}
	fprintf(stderr, "ipcbench agent: listening on %s (%s), endpoints %s; stop with Ctrl-C\n", a.listen, PROTO,
	        a.cpu >= 0 ? cpu : "unpinned");
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		int fd = accept4(lfd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
				if (errno != EINTR && errno != ECONNABORTED)
					sleep(1);
				continue;
			}
			fprintf(stderr, "ipcbench agent: accept: %s\n", strerror(errno));
			return 1;
		}
		char h[NI_MAXHOST] = "?", s[NI_MAXSERV] = "?", who[NI_MAXHOST + NI_MAXSERV + 4];
		getnameinfo((struct sockaddr *)&from, fl, h, sizeof h, s, sizeof s, NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(who, sizeof who, "%s port %s", h, s);
		agent_serve(&a, fd, who);
	}
}

/* --- The driver -------------------------------------------------------------------- */

static json_t *peer_env; /* the agent's environment, fetched once per run */

const char *ipcb_peer_hostname(void)
{
	const char *h = json_string_value(json_object_get(peer_env, "hostname"));
	return h ? h : "unknown";
}

int ipcb_peer_connect_env(const char *addr, char *host, size_t hostlen, char *err, size_t errlen)
{
	char port[8], e[400];
	if (split_addr(addr, host, hostlen, port, sizeof port, err, errlen) != 0)
		return -1;
	int fd = dial(addr, e, sizeof e);
	if (fd < 0) {
		snprintf(err, errlen, "cannot reach the agent: %s (is `ipcbench agent --listen ...` running there?)", e);
		return -1;
	}
	struct nconn c;
	if (conn_init(&c, fd, 1 << 20) != 0) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char line[LINE_MAX_LEN];
	static char json[1 << 16];
	int rc = -1;
	if (send_text(&c, PROTO " ENV\n") != 0 || recv_line(&c, line, sizeof line) != 0) {
		snprintf(err, errlen, "the agent at %s: %s", addr, c.err);
	} else if (strcmp(line, PROTO " OK") != 0) {
		snprintf(err, errlen, "the agent at %s answered \"%.200s\", expected \"" PROTO " OK\"", addr, line);
	} else if (recv_line(&c, json, sizeof json) != 0) {
		snprintf(err, errlen, "the agent at %s: its environment: %s", addr, c.err);
	} else {
		json_error_t je;
		json_decref(peer_env);
		peer_env = json_loads(json, 0, &je);
		if (!json_is_object(peer_env))
			snprintf(err, errlen, "the agent at %s sent an environment that is not a JSON object: %s", addr,
			         je.text);
		else
			rc = 0;
	}
	conn_free(&c);
	return rc;
}

int ipcb_peer_amend(const char *path, const char *addr, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	json_t *ctx = root ? json_object_get(root, "context") : NULL;
	if (!json_is_object(ctx) || !peer_env) {
		snprintf(err, errlen, "%s: cannot add the agent's environment: %s", path, root ? "no context" : je.text);
		json_decref(root);
		return -1;
	}
	json_t *p = json_deep_copy(peer_env);
	json_object_set_new(p, "address", json_string(addr));
	json_object_set_new(ctx, "peer", p);
	return ipcb_results_save(root, path, "the agent's environment", err, errlen);
}

/* Opens the benchmark's connection: the request, then the agent's OK with its CPU. */
static int peer_open(const struct ipcb_case *c, struct nconn *nc, char *cpu, size_t cpulen, char *err,
                     size_t errlen)
{
	char e[400], line[LINE_MAX_LEN];
	int fd = dial(c->peer, e, sizeof e);
	if (fd < 0) {
		snprintf(err, errlen, "cannot reach the agent: %s (did it die or stop?)", e);
		return -1;
	}
	if (conn_init(nc, fd, c->size) != 0) {
		close(fd);
		snprintf(err, errlen, "out of memory for %zu-byte messages", c->size);
		return -1;
	}
	/* The agent ends the benchmark itself well after Google Benchmark would have. */
	long max_s = (long)(c->min_time > 0 ? c->min_time : 0.5) * 20 + 600;
	if (send_text(nc, PROTO " RUN workload=%s size=%zu mode=process max_s=%ld\n", c->wl->name, c->size, max_s) ||
	    recv_line(nc, line, sizeof line)) {
		snprintf(err, errlen, "the agent at %s: %s", c->peer, nc->err);
		return -1;
	}
	const char *ok = PROTO " OK cpu=";
	if (strncmp(line, ok, strlen(ok)) != 0) {
		snprintf(err, errlen, "the agent at %s refused: %.300s", c->peer,
		         !strncmp(line, PROTO " ERR ", strlen(PROTO) + 5) ? line + strlen(PROTO) + 5 : line);
		return -1;
	}
	snprintf(cpu, cpulen, "%.15s", line + strlen(ok));
	return 0;
}

/* An error frame from the agent, or the connection's own failure, as a cause. */
static void peer_cause(const struct ipcb_case *c, struct nconn *nc, const unsigned char *d, size_t len, bool is_err,
                       char *buf, size_t blen)
{
	if (is_err)
		snprintf(buf, blen, "the agent at %s says: %.*s", c->peer, (int)(len < 300 ? len : 300), (const char *)d);
	else
		snprintf(buf, blen, "the agent at %s: %s", c->peer, nc->err);
}

static void label_row(ipcb_gb_state *st, const char *cpu)
{
	char label[200];
	snprintf(label, sizeof label, "agent %s cpu %s; driver unpinned", ipcb_peer_hostname(), cpu);
	ipcb_gb_set_label(st, label);
}

static void peer_pingpong(ipcb_gb_state *st, const struct ipcb_case *c, struct nconn *nc)
{
	size_t size = c->size;
	unsigned char *out = malloc(4 + size);
	struct ipcb_hist *hist = calloc(1, sizeof *hist);
	char cause[400];
	if (!out || !hist) {
		ipcb_fail(st, "pingpong: allocating buffers of %zu bytes failed", size);
		goto out;
	}
	ipcb_payload_init(out + 4, size);
	uint64_t seq = 0, start = ipcb_now_ns();
	bool measuring = false, failed = false;
	for (;;) {
		if (!measuring && seq >= WARMUP_MIN_ROUNDS && ipcb_now_ns() - start >= WARMUP_MIN_NS) {
			measuring = true;
			ipcb_hist_reset(hist);
		}
		if (measuring && !ipcb_gb_keep_running(st))
			break;
		unsigned char *d = NULL;
		size_t len = 0;
		bool is_err = false;
		ipcb_payload_stamp(out + 4, size, seq);
		uint64_t t0 = ipcb_now_ns();
		if (send_frame(nc, out, size, false) != 0 || recv_frame(nc, &d, &len, &is_err) != 0 || is_err) {
			peer_cause(c, nc, d, len, is_err, cause, sizeof cause);
			ipcb_fail(st, "%sround trip %llu: %s", measuring ? "" : "warm-up ", (unsigned long long)seq, cause);
			failed = true;
			break;
		}
		uint64_t ns = ipcb_now_ns() - t0;
		long off = len == size ? ipcb_payload_check(d, len, seq) : 0;
		if (off >= 0) {
			ipcb_fail(st, "round trip %llu: the echo is %zu bytes (sent %zu), first wrong byte at %ld",
			          (unsigned long long)seq, len, size, off);
			failed = true;
			break;
		}
		seq++;
		if (measuring) {
			ipcb_hist_record(hist, ns);
			ipcb_gb_set_iteration_time(st, (double)ns * 1e-9);
		}
	}
	if (!failed && ipcb_hist_count(hist) > 0) {
		static const struct { const char *name; double q; } pct[] = {
			{ "rtt_p50_ns", 0.5 }, { "rtt_p90_ns", 0.9 }, { "rtt_p99_ns", 0.99 }, { "rtt_p999_ns", 0.999 },
		};
		for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
			ipcb_gb_counter(st, pct[i].name, (double)ipcb_hist_percentile(hist, pct[i].q),
			                IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_max_ns", (double)ipcb_hist_max(hist), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "rtt_mean_ns", ipcb_hist_mean(hist), IPCB_GB_COUNTER_DEFAULT);
		ipcb_gb_counter(st, "timer_cost_ns", ipcb_timer_cost(), IPCB_GB_COUNTER_DEFAULT);
	}
out:
	free(out);
	free(hist);
}

/* quota messages then the end-of-batch frame; waits for the agent's count. */
static int peer_batch(const struct ipcb_case *c, struct nconn *nc, unsigned char *out, uint64_t *seq,
                      uint64_t quota, uint64_t *ns, char *err, size_t errlen)
{
	unsigned char *d = NULL, end[4];
	size_t len = 0;
	bool is_err = false;
	uint64_t t0 = ipcb_now_ns();
	for (uint64_t k = 0; k < quota; k++) {
		ipcb_payload_stamp(out + 4, c->size, (*seq)++);
		if (send_frame(nc, out, c->size, false) != 0)
			goto fail;
	}
	if (send_frame(nc, end, 0, false) != 0 || recv_frame(nc, &d, &len, &is_err) != 0 || is_err)
		goto fail;
	*ns = ipcb_now_ns() - t0;
	uint64_t got;
	if (len != 8) {
		snprintf(err, errlen, "the agent's batch reply is %zu bytes, expected 8", len);
		return -1;
	}
	memcpy(&got, d, 8);
	if (le64toh(got) != quota) {
		snprintf(err, errlen, "the agent counted %llu messages in a batch of %llu",
		         (unsigned long long)le64toh(got), (unsigned long long)quota);
		return -1;
	}
	return 0;
fail:
	peer_cause(c, nc, d, len, is_err, err, errlen);
	return -1;
}

static void peer_stream(ipcb_gb_state *st, const struct ipcb_case *c, struct nconn *nc)
{
	char err[500];
	unsigned char *out = malloc(4 + c->size);
	if (!out) {
		ipcb_fail(st, "stream: allocating %zu bytes failed", c->size);
		return;
	}
	ipcb_payload_init(out + 4, c->size);
	/* Batches sized as the local stream's are (ipcb_quota_*): ~10 ms each. */
	struct ipcb_quota qt;
	ipcb_quota_init(&qt, 4);
	uint64_t seq = 0, ns = 0;
	for (bool sized = false; !sized;) {
		if (peer_batch(c, nc, out, &seq, qt.quota, &ns, err, sizeof err) != 0) {
			ipcb_fail(st, "warm-up: %s", err);
			free(out);
			return;
		}
		sized = ipcb_quota_warm(&qt, ns);
	}
	int64_t items = 0;
	while (ipcb_gb_keep_running(st)) {
		if (peer_batch(c, nc, out, &seq, qt.quota, &ns, err, sizeof err) != 0) {
			ipcb_fail(st, "%s", err);
			free(out);
			return;
		}
		ipcb_gb_set_iteration_time(st, (double)ns * 1e-9);
		items += (int64_t)qt.quota;
		ipcb_quota_measured(&qt, ns);
	}
	ipcb_gb_set_items_processed(st, items);
	ipcb_gb_set_bytes_processed(st, items * (int64_t)c->size);
	ipcb_gb_counter(st, "batch_msgs", (double)qt.quota, IPCB_GB_COUNTER_DEFAULT);
	free(out);
}

void ipcb_peer_run(ipcb_gb_state *st, const struct ipcb_case *c)
{
	struct nconn nc = { .fd = -1 };
	char err[600], cpu[32];
	signal(SIGPIPE, SIG_IGN);
	if (peer_open(c, &nc, cpu, sizeof cpu, err, sizeof err) != 0) {
		ipcb_fail(st, "%s", err);
	} else {
		label_row(st, cpu);
		if (c->wl == &ipcb_workload_pingpong)
			peer_pingpong(st, c, &nc);
		else
			peer_stream(st, c, &nc);
	}
	conn_free(&nc);
}
