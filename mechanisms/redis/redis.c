/*
 * redis.c - a queue on a Redis list, and shared values in Redis hashes,
 * spoken with hiredis's protocol reader and writer over our own socket.
 *
 * hiredis only formats commands and parses replies: the socket is ours, so
 * every wait is a poll() on the core's monotonic deadline (kept across
 * EINTR), every send says MSG_NOSIGNAL, and a reply interrupted by a signal
 * is simply read on. Redis ends a blocked BLPOP only at its own timer tick
 * (1/hz, 100 ms by default), too coarse for our deadlines, so a wait that
 * reaches its deadline cancels the blocked command with CLIENT UNBLOCK from
 * a second connection and then reads its reply: an item popped meanwhile is
 * delivered, never dropped.
 *
 * Queue: put is a Lua script that pushes only below capacity (exact
 * bound); get is a script that peeks (LINDEX) before popping, so a buffer
 * too small leaves the message queued; a get that must wait uses BLPOP when
 * any message fits its buffer, else a blocking peek (BLMOVE list list LEFT
 * LEFT, which moves nothing). Every pop that frees a slot pushes a token on
 * a "room" list that full putters wait on with BLPOP.
 *
 * Who holds a role, in a private queue (cfg.name NULL): the core's
 * lifelines (pipes inherited across fork), as for every other mechanism
 * here. They are exact, include SIGKILLed processes at once and are waited
 * for in the same poll() as the socket. The processes of a private queue
 * are always the opener and its forked descendants, so a liveness key in
 * Redis would add a timer and a refresher thread and no information.
 *
 * Named queues (cfg.name set, IPCQ_CAP_NAMED): any process, on any host,
 * that opens the same name on the same server shares the queue, so nothing
 * inherited can say who holds a role; leases in Redis do. The rules:
 *  - A name is 1 to 200 characters from A-Z a-z 0-9 . _ -, not starting
 *    with '.' (the rule shmring's names follow too); its keys are
 *    ipcq:{NAME}:* (q list, r room, m config, p/c leases, e EOF wake-up).
 *  - It needs an endpoint (cfg.endpoint or $IPCQ_REDIS_ENDPOINT), else
 *    INVAL: the private server is reachable from its own process tree only.
 *  - The first opener creates it; every later opener must give the same
 *    capacity and max_msg (0 is the default, as ever), else INVAL naming
 *    both. Checked and created in one script, so two first openers agree.
 *  - Each process holding a role holds a lease on it: its id in a sorted
 *    set scored by expiry in the server's clock, IPCQ_REDIS_LEASE_MS ahead
 *    (default 3000, 30 to 3600000), extended every third of that by one
 *    refresher thread per process. Shorter: a dead or stopped holder is
 *    noticed sooner, at the cost of more refresh traffic (one script per
 *    queue per ttl/3) and of holders starved of CPU or network for a ttl
 *    being counted as gone. A SIGKILLed or SIGSTOPped process stops
 *    refreshing: its leases run out within a ttl.
 *  - EOF: the list is empty and no producer lease is live, decided in the
 *    get script itself. A put checks, in its script, that its own lease is
 *    live: so no put lands after a consumer saw EOF (EOF stays, unless a
 *    new process opens the name). A holder whose lease ran out gets CLOSED
 *    from then on, saying so. BROKEN: no consumer lease is live.
 *  - release and close drop the leases at once, and the last producer (or
 *    consumer) to go pushes a token that wakes blocked gets (or puts) now;
 *    an expiry is seen by a blocked call within ttl/2 (its server-side wait
 *    is cut to that).
 *  - fork(): the child holds the parent's roles with leases of its own,
 *    taken before fork returns (see lease_prepare for what that costs).
 *  - Keys: the last holder to close, finding no live lease, deletes them.
 *    Every key also expires 10 ttl after the last refresh, so holders that
 *    all died leave nothing behind for long, and an open finding no live
 *    lease starts the queue afresh. So a named queue lives only while some
 *    process holds it: messages put by a producer that closed before any
 *    consumer opened are gone with it.
 *  - Leases are judged by the server's clock (TIME): the hosts' clocks never
 *    meet, but a server clock stepped back revives expired leases.
 *
 * Connections: a process-wide pool per endpoint, so threads never share a
 * socket. A forked child closes the inherited sockets (pthread_atfork) and
 * dials its own: it never writes to its parent's connection.
 *
 * With no endpoint, the first open in a process starts a private
 * redis-server on a unix socket in a 0700 temporary directory; its forked
 * children use it too. A small supervisor in a session of its own stops it
 * and removes the directory when the starting process ends, however it
 * ends. It is not stopped at that process's last close: the next open would
 * pay 20-50 ms to start another.
 *
 * Sections: endpoints and connections - replies and waiting - private
 * server - queue - named queues - shared values.
 */
#include "mech.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a command that does not block may take before the server counts as gone. */
#define REDIS_IO_NS (10 * 1000000000LL)
/* Longest server-side wait of one blocking command; we cancel sooner at our deadline. */
#define REDIS_CHUNK_MS 1000
#define REDIS_KEY_MAX 224 /* ipcq:{NAME}:q with a 200-byte name */
#define REDIS_DEFAULT_CAPACITY 1024u
#define REDIS_DEFAULT_MAX_MSG (64u * 1024)

/* --- Endpoints and connections ------------------------------------------ */

struct rconn {
	int fd;
	long long id; /* CLIENT ID, for CLIENT UNBLOCK */
	unsigned discard; /* replies still due to commands whose answer nobody waits for */
	bool bad;         /* a command on it failed half-way: its stream is out of step */
	redisReader *rd;
	struct rconn *next_idle, *next_all;
};

struct rep {
	char *spec;  /* as given, or "unix:<path>" of the private server */
	bool unix_socket;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	char host[256], port[16];
	int db;
	unsigned refs; /* handles of this process using it */
	struct rconn *idle, *all;
	struct rep *next;
};

/* Taken only around list changes, never across I/O, so fork handlers can take it. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rep *endpoints;

static void conn_free(struct rconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->rd)
		redisReaderFree(c->rd);
	free(c);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&pool_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&pool_lock);
}

static void srv_fork_child(void);
static void script_fork_child(void);
/* Set around the private server's own forks: those children exec or exit, and must take no lease. */
static __thread bool srv_forking;
static pid_t srv_owner_of(const char *spec);

/* The child must not talk on its parent's sockets: close them; it dials its own. */
static void fork_child(void)
{
	srv_fork_child();
	script_fork_child();
	for (struct rep *e = endpoints; e; e = e->next) {
		for (struct rconn *c = e->all, *n; c; c = n) {
			n = c->next_all;
			conn_free(c);
		}
		e->all = e->idle = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
}

static void fork_hooks_install(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Parses "redis://host[:port][/db]" or "unix:/path" into e. */
static int ep_parse(struct rep *e, const char *spec)
{
	const char *p;
	if (!strncmp(spec, "unix:", 5)) {
		p = spec + 5;
		if (!*p || strlen(p) >= sizeof e->path)
			return ipcq__fail(IPCQ_INVAL, EINVAL,
			                  "redis: endpoint \"%s\": the socket path is empty or longer than %zu bytes",
			                  spec, sizeof e->path - 1);
		e->unix_socket = true;
		snprintf(e->path, sizeof e->path, "%s", p);
		return IPCQ_OK;
	}
	if (strncmp(spec, "redis://", 8) != 0)
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "redis: endpoint \"%s\" is neither redis://host:port/db nor unix:/path", spec);
	p = spec + 8;
	size_t hl = strcspn(p, ":/");
	if (hl == 0 || hl >= sizeof e->host)
		return ipcq__fail(IPCQ_INVAL, EINVAL, "redis: endpoint \"%s\": no host, or a host too long", spec);
	memcpy(e->host, p, hl);
	e->host[hl] = '\0';
	p += hl;
	snprintf(e->port, sizeof e->port, "6379");
	if (*p == ':') {
		size_t pl = strcspn(++p, "/");
		if (pl == 0 || pl >= sizeof e->port || strspn(p, "0123456789") != pl)
			return ipcq__fail(IPCQ_INVAL, EINVAL, "redis: endpoint \"%s\": bad port", spec);
		memcpy(e->port, p, pl);
		e->port[pl] = '\0';
		p += pl;
	}
	if (*p == '/' && p[1]) {
		char *end;
		long db = strtol(p + 1, &end, 10);
		if (*end || db < 0 || db > 1000000)
			return ipcq__fail(IPCQ_INVAL, EINVAL, "redis: endpoint \"%s\": bad database number", spec);
		e->db = (int)db;
	}
	return IPCQ_OK;
}

/* The process's entry for spec, with one more reference; NULL with the reason recorded. */
static struct rep *ep_get(const char *spec, int *rc)
{
	pthread_mutex_lock(&pool_lock);
	struct rep *e = endpoints;
	while (e && strcmp(e->spec, spec))
		e = e->next;
	if (!e) {
		e = calloc(1, sizeof *e);
		if (!e || !(e->spec = strdup(spec))) {
			free(e);
			pthread_mutex_unlock(&pool_lock);
			*rc = ipcq__sys(ENOMEM, "redis: allocating an endpoint");
			return NULL;
		}
		if ((*rc = ep_parse(e, spec)) != IPCQ_OK) {
			free(e->spec);
			free(e);
			pthread_mutex_unlock(&pool_lock);
			return NULL;
		}
		e->next = endpoints;
		endpoints = e;
	}
	e->refs++;
	pthread_mutex_unlock(&pool_lock);
	return e;
}

/* Drops a reference; the last one closes the endpoint's connections. */
static void ep_put(struct rep *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&pool_lock);
	if (--e->refs == 0) {
		for (struct rep **pp = &endpoints; *pp; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		for (struct rconn *c = e->all, *n; c; c = n) {
			n = c->next_all;
			conn_free(c);
		}
		free(e->spec);
		free(e);
	}
	pthread_mutex_unlock(&pool_lock);
}

/* Closes a connection that failed (its state is unknown) and forgets it. */
static void conn_drop(struct rep *e, struct rconn *c)
{
	pthread_mutex_lock(&pool_lock);
	for (struct rconn **pp = &e->all; *pp; pp = &(*pp)->next_all)
		if (*pp == c) {
			*pp = c->next_all;
			break;
		}
	pthread_mutex_unlock(&pool_lock);
	conn_free(c);
}

/* Returns c to the pool once an operation is done with it; one out of step is closed instead. */
static void conn_release(struct rep *e, struct rconn *c)
{
	if (c->bad) {
		conn_drop(e, c);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	c->next_idle = e->idle;
	e->idle = c;
	pthread_mutex_unlock(&pool_lock);
}

static int lost(struct rep *e, int err, const char *what)
{
	return ipcq__fail(IPCQ_SYSERR, err, "redis: %s %s: %s; is the server still running?", what, e->spec,
	                  err ? strerror(err) : "the server closed the connection");
}

/* Connects fd to e within REDIS_IO_NS; returns 0, an errno, or a (negative) getaddrinfo error. */
static int dial(struct rep *e, int *fdp)
{
	int fd = -1, err = 0;
	struct addrinfo *ai = NULL;
	if (e->unix_socket) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		memcpy(sa.sun_path, e->path, sizeof sa.sun_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return errno;
		int r;
		while ((r = connect(fd, (struct sockaddr *)&sa, sizeof sa)) < 0 && errno == EINTR)
			;
		if (r < 0 && errno != EISCONN) /* EISCONN: an interrupted try had connected */
			err = errno;
	} else {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		int g = getaddrinfo(e->host, e->port, &hints, &ai);
		if (g != 0)
			return g == EAI_SYSTEM ? errno : g;
		err = ECONNREFUSED;
		for (struct addrinfo *a = ai; a && err; a = a->ai_next) {
			fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			if (fd < 0) {
				err = errno;
				continue;
			}
			err = 0;
			if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
				err = errno;
				if (err == EINPROGRESS) {
					struct pollfd p = { .fd = fd, .events = POLLOUT };
					socklen_t sl = sizeof err;
					int n = ipcq__poll(&p, 1, ipcq__deadline(REDIS_IO_NS));
					err = n == 0 ? ETIMEDOUT : n < 0 ? errno : 0;
					if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
						err = errno;
				}
			}
			if (err) {
				close(fd);
				fd = -1;
			}
		}
		freeaddrinfo(ai);
		if (!err) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
	}
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*fdp = fd;
	return 0;
}

static int conn_send(struct rep *e, struct rconn *c, const char *buf, size_t len);
static int conn_read(struct rep *e, struct rconn *c, ipcq_deadline dl, redisReply **out);

/* Sends argv as one command; returns a status. */
static int conn_cmd_send(struct rep *e, struct rconn *c, int argc, const char **argv, const size_t *lens)
{
	char *cmd = NULL;
	int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0)
		return ipcq__fail(IPCQ_SYSERR, ENOMEM, "redis: formatting %s: out of memory", argv[0]);
	int rc = conn_send(e, c, cmd, (size_t)n);
	redisFreeCommand(cmd);
	return rc;
}

/* A fresh connection: CLIENT ID and SELECT answered. */
static int conn_new(struct rep *e, struct rconn **out)
{
	struct rconn *c = calloc(1, sizeof *c);
	if (!c || !(c->rd = redisReaderCreate())) {
		free(c);
		return ipcq__sys(ENOMEM, "redis: allocating a connection");
	}
	c->fd = -1;
	int err = dial(e, &c->fd);
	pid_t owner = err ? srv_owner_of(e->spec) : 0;
	if (owner) {
		conn_free(c);
		return ipcq__fail(IPCQ_SYSERR, err < 0 ? EHOSTUNREACH : err,
		                  "redis: the private redis-server at %s does not answer (%s): it stops when "
		                  "process %d, which started it, ends; keep that process alive while others use "
		                  "it, or give every process an endpoint (cfg.endpoint, $IPCQ_REDIS_ENDPOINT)",
		                  e->spec, err < 0 ? gai_strerror(err) : strerror(err), (int)owner);
	}
	if (err) {
		conn_free(c);
		return ipcq__fail(IPCQ_SYSERR, err < 0 ? EHOSTUNREACH : err,
		                  "redis: connecting to %s: %s; start redis-server there, or leave cfg.endpoint "
		                  "NULL for a private one",
		                  e->spec, err < 0 ? gai_strerror(err) : strerror(err));
	}
	char db[16];
	snprintf(db, sizeof db, "%d", e->db);
	const char *id[] = { "CLIENT", "ID" }, *sel[] = { "SELECT", db };
	redisReply *r = NULL;
	int rc = conn_cmd_send(e, c, 2, id, NULL);
	if (rc == IPCQ_OK && e->db)
		rc = conn_cmd_send(e, c, 2, sel, NULL);
	if (rc == IPCQ_OK)
		rc = conn_read(e, c, ipcq__deadline(REDIS_IO_NS), &r);
	if (rc == IPCQ_OK && r->type != REDIS_REPLY_INTEGER)
		rc = ipcq__fail(IPCQ_SYSERR, EPROTO, "redis: CLIENT ID on %s: %s (Redis 5 or later is needed)",
		                e->spec, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	if (rc == IPCQ_OK)
		c->id = r->integer;
	if (r)
		freeReplyObject(r);
	r = NULL;
	if (rc == IPCQ_OK && e->db) {
		rc = conn_read(e, c, ipcq__deadline(REDIS_IO_NS), &r);
		if (rc == IPCQ_OK && r->type == REDIS_REPLY_ERROR)
			rc = ipcq__fail(IPCQ_INVAL, EINVAL, "redis: SELECT %d on %s: %s", e->db, e->spec, r->str);
		if (r)
			freeReplyObject(r);
	}
	if (rc != IPCQ_OK) {
		conn_free(c);
		return rc;
	}
	pthread_mutex_lock(&pool_lock);
	c->next_all = e->all;
	e->all = c;
	pthread_mutex_unlock(&pool_lock);
	*out = c;
	return IPCQ_OK;
}

/* An idle connection of this process, or a new one. */
static int conn_take(struct rep *e, struct rconn **out)
{
	pthread_mutex_lock(&pool_lock);
	struct rconn *c = e->idle;
	if (c)
		e->idle = c->next_idle;
	pthread_mutex_unlock(&pool_lock);
	if (c) {
		*out = c;
		return IPCQ_OK;
	}
	return conn_new(e, out);
}

/* --- Replies and waiting -------------------------------------------------- */

static int conn_send(struct rep *e, struct rconn *c, const char *buf, size_t len)
{
	ipcq_deadline dl = ipcq__deadline(REDIS_IO_NS);
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return lost(e, errno, "sending to");
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		int r = ipcq__poll(&p, 1, dl);
		if (r < 0)
			return ipcq__sys(errno, "redis: poll");
		if (r == 0)
			return lost(e, ETIMEDOUT, "sending to");
	}
	return IPCQ_OK;
}

/* One whole reply, if the reader holds one: 1 got, 0 not yet, -1 protocol error. */
static int conn_parsed(struct rconn *c, redisReply **out)
{
	void *r = NULL;
	if (redisReaderGetReply(c->rd, &r) != REDIS_OK)
		return -1;
	*out = r;
	return r != NULL;
}

/*
 * Reads the next reply, waiting until dl: OK with *out, EMPTY when dl passed
 * first (a later call goes on with the same reply), SYSERR when the
 * connection failed. Replies owed to fire-and-forget commands go first.
 */
static int conn_read(struct rep *e, struct rconn *c, ipcq_deadline dl, redisReply **out)
{
	char buf[64 * 1024];
	for (;;) {
		redisReply *r = NULL;
		int got = conn_parsed(c, &r);
		if (got < 0)
			return ipcq__fail(IPCQ_SYSERR, EPROTO, "redis: reply from %s: %s", e->spec, c->rd->errstr);
		if (got && c->discard) {
			c->discard--;
			freeReplyObject(r);
			continue;
		}
		if (got) {
			*out = r;
			return IPCQ_OK;
		}
		ssize_t n = recv(c->fd, buf, sizeof buf, 0);
		if (n > 0) {
			if (redisReaderFeed(c->rd, buf, (size_t)n) != REDIS_OK)
				return ipcq__fail(IPCQ_SYSERR, EPROTO, "redis: reply from %s: %s", e->spec, c->rd->errstr);
			continue;
		}
		if (n == 0)
			return lost(e, 0, "reading from");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return lost(e, errno, "reading from");
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int k = ipcq__poll(&p, 1, dl);
		if (k < 0)
			return ipcq__sys(errno, "redis: poll");
		if (k == 0)
			return IPCQ_EMPTY;
	}
}

/* Turns an error reply into SYSERR naming the command; frees nothing. */
static int reply_error(struct rep *e, const char *what, const redisReply *r)
{
	return ipcq__fail(IPCQ_SYSERR, EPROTO, "redis: %s on %s: %.*s", what, e->spec,
	                  r->type == REDIS_REPLY_ERROR ? (int)r->len : 16,
	                  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

/* Sends one command and waits REDIS_IO_NS for its reply. */
static int conn_call(struct rep *e, struct rconn *c, int argc, const char **argv, const size_t *lens,
                     redisReply **out)
{
	int rc = conn_cmd_send(e, c, argc, argv, lens);
	if (rc == IPCQ_OK)
		rc = conn_read(e, c, ipcq__deadline(REDIS_IO_NS), out);
	if (rc == IPCQ_EMPTY)
		rc = lost(e, ETIMEDOUT, "waiting for a reply from");
	c->bad |= rc != IPCQ_OK;
	return rc;
}

/* A script, by its SHA1 once the server knows it; EVAL the first time and after a restart. */
struct script {
	const char *name, *lua;
	char sha[41];      /* from the first successful SCRIPT LOAD; the same on every server */
	atomic_bool known; /* sha is whole */
};

static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;

/* Held by a thread the fork left behind, it would stay locked: what it guards is whole either way. */
static void script_fork_child(void)
{
	pthread_mutex_init(&sha_lock, NULL);
}

static int conn_script(struct rep *e, struct rconn *c, struct script *s, int nkeys, const char **keys,
                       int nargs, const char **args, const size_t *arglens, redisReply **out)
{
	enum { MAXV = 16 };
	const char *argv[MAXV];
	size_t lens[MAXV];
	char nk[8];
	snprintf(nk, sizeof nk, "%d", nkeys);
	if (!atomic_load_explicit(&s->known, memory_order_acquire)) {
		const char *load[] = { "SCRIPT", "LOAD", s->lua };
		redisReply *r = NULL;
		int rc = conn_call(e, c, 3, load, NULL, &r);
		if (rc != IPCQ_OK)
			return rc;
		if (r->type != REDIS_REPLY_STRING || r->len != 40) {
			rc = reply_error(e, "SCRIPT LOAD", r);
			freeReplyObject(r);
			return rc;
		}
		pthread_mutex_lock(&sha_lock);
		if (!atomic_load_explicit(&s->known, memory_order_relaxed)) {
			memcpy(s->sha, r->str, 40);
			atomic_store_explicit(&s->known, true, memory_order_release);
		}
		pthread_mutex_unlock(&sha_lock);
		freeReplyObject(r);
	}
	for (int attempt = 0;; attempt++) {
		int n = 0;
		argv[n] = attempt ? "EVAL" : "EVALSHA";
		lens[n++] = strlen(argv[0]);
		argv[n] = attempt ? s->lua : s->sha;
		lens[n++] = strlen(argv[1]);
		argv[n] = nk;
		lens[n++] = strlen(nk);
		for (int i = 0; i < nkeys; i++, n++) {
			argv[n] = keys[i];
			lens[n] = strlen(keys[i]);
		}
		for (int i = 0; i < nargs; i++, n++) {
			argv[n] = args[i];
			lens[n] = arglens ? arglens[i] : strlen(args[i]);
		}
		redisReply *r = NULL;
		int rc = conn_call(e, c, n, argv, lens, &r);
		if (rc != IPCQ_OK)
			return rc;
		if (r->type == REDIS_REPLY_ERROR && !attempt && !strncmp(r->str, "NOSCRIPT", 8)) {
			freeReplyObject(r);
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			rc = reply_error(e, s->name, r);
			freeReplyObject(r);
			return rc;
		}
		*out = r;
		return IPCQ_OK;
	}
}

/*
 * Ends a blocking command of c now: CLIENT UNBLOCK from another connection.
 * It answers 0 when c is not blocked: its reply is on the way, or the
 * command has not reached the server yet; look for the reply, and ask again.
 */
static int conn_unblock(struct rep *e, struct rconn *c, redisReply **out)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", c->id);
	const char *argv[] = { "CLIENT", "UNBLOCK", id };
	int64_t end = ipcq__now_ns() + REDIS_IO_NS;
	for (;;) {
		struct rconn *o;
		redisReply *r = NULL;
		int rc = conn_take(e, &o);
		if (rc != IPCQ_OK)
			return rc;
		rc = conn_call(e, o, 3, argv, NULL, &r);
		conn_release(e, o);
		if (rc != IPCQ_OK)
			return rc;
		bool was_blocked = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
		freeReplyObject(r);
		ipcq_deadline dl = was_blocked ? ipcq__deadline(REDIS_IO_NS) : ipcq__deadline(1000000);
		rc = conn_read(e, c, dl, out);
		if (rc != IPCQ_EMPTY)
			return rc;
		if (was_blocked || ipcq__now_ns() > end)
			return lost(e, ETIMEDOUT, "waiting for an unblocked reply from");
	}
}

/* Why a blocking command ended. */
enum { WAIT_REPLY, WAIT_DEADLINE, WAIT_WATCH };

/*
 * Runs a blocking command (its last argument, the server-side timeout, is
 * filled in here) until its reply, dl, or watch_fd (a lifeline, or -1)
 * hanging up; the command is cancelled in the last two cases, and *out is
 * the reply it gave either way (nil when it timed out or was cancelled).
 */
static int conn_block_once(struct rep *e, struct rconn *c, int argc, const char **argv, ipcq_deadline dl,
                           int watch_fd, int64_t chunk_ms, redisReply **out, int *why);

/* chunk_ms: the longest server-side wait (REDIS_CHUNK_MS, or less where something must be looked at again). */
static int conn_block(struct rep *e, struct rconn *c, int argc, const char **argv, ipcq_deadline dl,
                      int watch_fd, int64_t chunk_ms, redisReply **out, int *why)
{
	int rc = conn_block_once(e, c, argc, argv, dl, watch_fd, chunk_ms, out, why);
	c->bad |= rc != IPCQ_OK;
	return rc;
}

static int conn_block_once(struct rep *e, struct rconn *c, int argc, const char **argv, ipcq_deadline dl,
                           int watch_fd, int64_t chunk_ms, redisReply **out, int *why)
{
	int64_t left = ipcq__remaining_ns(dl);
	int64_t ms = left < 0 ? chunk_ms : (left + 999999) / 1000000;
	if (ms > chunk_ms)
		ms = chunk_ms;
	if (ms < 1)
		ms = 1; /* 0 would mean forever */
	char secs[32];
	snprintf(secs, sizeof secs, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
	argv[argc - 1] = secs;
	int rc = conn_cmd_send(e, c, argc, argv, NULL);
	if (rc != IPCQ_OK)
		return rc;
	*why = WAIT_REPLY;
	for (;;) {
		struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = watch_fd, .events = 0 } };
		int n = ipcq__poll(p, watch_fd >= 0 ? 2 : 1, dl);
		if (n < 0)
			return ipcq__sys(errno, "redis: poll");
		if (n > 0 && p[0].revents) {
			/* Data, or the socket failed: conn_read tells which. A reply begun is read whole. */
			rc = conn_read(e, c, IPCQ__NOW, out);
			if (rc != IPCQ_EMPTY)
				return rc;
			if (ipcq__remaining_ns(dl) != 0)
				continue;
		} else if (n > 0 && (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))) {
			*why = WAIT_WATCH;
			return conn_unblock(e, c, out);
		}
		if (n == 0 || ipcq__remaining_ns(dl) == 0) {
			*why = WAIT_DEADLINE;
			return conn_unblock(e, c, out);
		}
	}
}

/* --- Private server --------------------------------------------------------- */

/* The private server of this process (or of the parent it was forked from). */
static struct {
	pthread_mutex_t lock;
	bool up;
	pid_t owner; /* the process that started it: the server ends with it */
	char dir[64];
	char spec[128];
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The process that started the private server at spec, or 0 when spec is not it. */
static pid_t srv_owner_of(const char *spec)
{
	pthread_mutex_lock(&srv.lock);
	pid_t pid = srv.up && !strcmp(spec, srv.spec) ? srv.owner : 0;
	pthread_mutex_unlock(&srv.lock);
	return pid;
}

/*
 * A fork while another thread starts the server leaves the lock held for
 * good in the child; unlocked, the child at worst starts a server of its own.
 * (srv_start's own forks pass here too: those children exec or exit.)
 */
static void srv_fork_child(void)
{
	pthread_mutex_init(&srv.lock, NULL);
}

/* The path of redis-server in PATH, or false. */
static bool srv_find(char *out, size_t cap)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n && (size_t)snprintf(out, cap, "%.*s/redis-server", (int)n, path) < cap &&
		    access(out, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/*
 * The supervisor: a forked copy of the caller (single-threaded, so only
 * async-signal-safe calls) in a session of its own, so terminal signals
 * and a process-group kill aimed at the caller's group spare it (the
 * caller's group is left as the caller made it). It stops the server once
 * the starting process has ended (its pidfd, fd 3, turns readable; where
 * pidfd_open is missing, as under valgrind, fd 3 is closed and the pid is
 * looked at every 100 ms instead), or
 * reports on fd 4 why the server ended early; then removes the directory.
 * It holds no descriptor of the caller's, so nothing of the caller's
 * (pipes, lifelines) is kept open by it.
 */
static void srv_supervise(const char *exe, char *const argv[], const char *sock, const char *log,
                          const char *dir, int null_fd, pid_t owner, bool have_pidfd)
{
	signal(SIGPIPE, SIG_IGN);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(null_fd, 0);
		dup2(null_fd, 1);
		dup2(null_fd, 2);
		close(3);
		close(4);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* our parent is single-threaded: this is exact */
		signal(SIGPIPE, SIG_DFL);
		extern char **environ;
		execve(exe, argv, environ);
		_exit(127);
	}
	int status = 0;
	bool ended = false;
	if (pid > 0) {
		for (;;) {
			struct pollfd p = { .fd = have_pidfd ? 3 : -1, .events = POLLIN };
			int n = poll(&p, 1, 100);
			if (!have_pidfd && ipcq__pid_ended(owner))
				n = 1;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				ended = true;
				break;
			}
			if (n > 0)
				break;
		}
	}
	if (pid > 0 && !ended) {
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
	} else {
		/* Ended by itself: the tail of its log says why, for the opener waiting on fd 4. */
		char buf[400];
		int fd = open(log, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
		if (n > 0)
			(void)!write(4, buf, (size_t)n);
		else
			(void)!write(4, "redis-server could not be run", 29);
		if (fd >= 0)
			close(fd);
	}
	unlink(sock);
	unlink(log);
	rmdir(dir);
	_exit(0);
}

/* What srv_supervise needs, through ipcq__detach's one argument. */
struct srv_job {
	const char *exe, *sock, *log, *dir;
	char *const *argv;
	pid_t owner;
	bool have_pidfd;
};

static void srv_supervise_job(void *arg)
{
	const struct srv_job *j = arg;
	srv_supervise(j->exe, j->argv, j->sock, j->log, j->dir, 5, j->owner, j->have_pidfd);
}

/* Starts the private server; srv.lock held. */
static int srv_start(void)
{
	char exe[512];
	if (!srv_find(exe, sizeof exe))
		return ipcq__fail(IPCQ_UNSUPPORTED, ENOENT,
		                  "redis: no endpoint given and redis-server is not installed: "
		                  "apt-get install redis-server, or set cfg.endpoint to redis://host:port/db");
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 20)
		tmp = "/tmp";
	snprintf(srv.dir, sizeof srv.dir, "%s/ipcq-redis-XXXXXX", tmp);
	if (!mkdtemp(srv.dir))
		return ipcq__sys(errno, "redis: mkdtemp %s for the private server's socket", srv.dir);
	char sock[96], log[96];
	snprintf(sock, sizeof sock, "%s/sock", srv.dir);
	snprintf(log, sizeof log, "%s/log", srv.dir);
	char *const argv[] = { "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		               "--save", "", "--appendonly", "no", "--dir", srv.dir, "--logfile", log,
		               "--daemonize", "no", "--bind", "127.0.0.1", "--protected-mode", "yes", NULL };
	int rep[2] = { -1, -1 };
	bool supervised = false;
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* The supervisor watches this process through a pidfd (fd 3) where the kernel has them. */
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	int rc = IPCQ_OK;
	if (null_fd < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		rc = ipcq__sys(errno, "redis: a pipe for the private server");
		goto out;
	}
	struct srv_job job = { .exe = exe, .sock = sock, .log = log, .dir = srv.dir, .argv = argv,
		               .owner = getpid(), .have_pidfd = pidfd >= 0 };
	int hand[3] = { pidfd >= 0 ? pidfd : null_fd, rep[1], null_fd };
	srv_forking = true;
	rc = ipcq__detach(srv_supervise_job, &job, hand, 3, "redis: the private server's supervisor");
	srv_forking = false;
	close(rep[1]);
	rep[1] = -1;
	if (rc != IPCQ_OK)
		goto out;
	supervised = true;
	snprintf(srv.spec, sizeof srv.spec, "unix:%s", sock);
	/* Up once it answers; the supervisor's report pipe closes if it ended instead. */
	int64_t end = ipcq__now_ns() + REDIS_IO_NS;
	struct rep probe = { .unix_socket = true };
	snprintf(probe.path, sizeof probe.path, "%s", sock);
	for (;;) {
		int fd;
		if (dial(&probe, &fd) == 0) {
			close(fd);
			srv.up = true;
			srv.owner = getpid();
			break;
		}
		struct pollfd p = { .fd = rep[0], .events = POLLIN };
		if (poll(&p, 1, 2) > 0 || ipcq__now_ns() > end) {
			char why[401] = "";
			ssize_t n = p.revents ? read(rep[0], why, sizeof why - 1) : 0;
			why[n > 0 ? n : 0] = '\0';
			for (char *s = why; *s; s++)
				if (*s == '\n')
					*s = ' ';
			rc = ipcq__fail(IPCQ_SYSERR, ECONNREFUSED, "redis: the private redis-server (%s) did not start: %s",
			                exe, *why ? why : "it did not answer within 10 s");
			break;
		}
	}
out:
	if (!supervised)
		rmdir(srv.dir); /* else the supervisor removes it */
	for (int i = 0; i < 2; i++)
		if (rep[i] >= 0)
			close(rep[i]);
	if (null_fd >= 0)
		close(null_fd);
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

/*
 * The endpoint a handle uses: cfg's, else $IPCQ_REDIS_ENDPOINT (so programs
 * that pass no endpoint, the harness included, can be pointed at a server),
 * else the private server, started on first use.
 */
static struct rep *endpoint_open(const ipcq_config *cfg, int *rc)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, fork_hooks_install); /* before any lock a fork could catch held */
	const char *env = getenv("IPCQ_REDIS_ENDPOINT");
	if (cfg->endpoint)
		return ep_get(cfg->endpoint, rc);
	if (env && *env)
		return ep_get(env, rc);
	pthread_mutex_lock(&srv.lock);
	*rc = srv.up ? IPCQ_OK : srv_start();
	char spec[sizeof srv.spec];
	snprintf(spec, sizeof spec, "%s", srv.spec);
	pthread_mutex_unlock(&srv.lock);
	return *rc == IPCQ_OK ? ep_get(spec, rc) : NULL;
}

/* A random key prefix, unguessable and unique per queue or table. */
static int key_prefix(char *out, size_t cap)
{
	uint64_t r[2];
	int rc = ipcq__random(r, sizeof r, "redis: a key name");
	if (rc != IPCQ_OK)
		return rc;
	snprintf(out, cap, "ipcq:%016" PRIx64 "%016" PRIx64, r[0], r[1]);
	return IPCQ_OK;
}

/* Runs a command with no interesting reply on a pooled connection (cleanup). */
static int ep_simple(struct rep *e, int argc, const char **argv)
{
	struct rconn *c;
	redisReply *r = NULL;
	int rc = conn_take(e, &c);
	if (rc != IPCQ_OK)
		return rc;
	rc = conn_call(e, c, argc, argv, NULL, &r);
	conn_release(e, c);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type == REDIS_REPLY_ERROR)
		rc = reply_error(e, argv[0], r);
	freeReplyObject(r);
	return rc;
}

/* --- Queue ---------------------------------------------------------------- */

struct redis {
	struct rep *ep;
	char list[REDIS_KEY_MAX], room[REDIS_KEY_MAX];
	size_t capacity, max_msg;
	char cap_arg[24];
	struct ipcq__life life;
	bool have_life;
	/* Named mode only (see "Named queues"): leases instead of lifelines. */
	bool named;
	bool joined;                  /* the open script ran: this handle counts in the queue */
	char meta[REDIS_KEY_MAX], prod[REDIS_KEY_MAX], cons[REDIS_KEY_MAX], wake[REDIS_KEY_MAX];
	char id[80];                  /* this process's lease id: host:pid:random */
	char child_id[80];            /* from a fork's prepare handler to its child: the child's own */
	unsigned child_held;          /* the roles leased to it */
	unsigned held;                /* roles this handle holds (a lease each) */
	atomic_ulong gen;             /* lease_gen the id belongs to; another means a forked child */
	int64_t ttl_ms, keep_ms, chunk_ms;
	char ttl_arg[24], keep_arg[24];
	struct redis *next_named;     /* on the refresher's list */
};

static int named_open(struct redis *q, const ipcq_config *cfg);
static void named_close(struct redis *q);
static int named_put(struct redis *q, struct rconn *c, const void *msg, size_t len, ipcq_deadline dl);
static int named_get(struct redis *q, struct rconn *c, void *buf, size_t cap, size_t *len, ipcq_deadline dl);
static int named_poll(struct redis *q, struct rconn *c, ipcq_deadline dl);
static int named_release(struct redis *q, unsigned roles);
static int named_adopt(struct redis *q);

/* KEYS list, room; ARGV msg, capacity. 1 queued; 0 full (stale room tokens dropped first). */
static struct script s_put = { .name = "put script", .lua = "if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then "
                                             "redis.call('DEL', KEYS[2]) return 0 end "
                                             "redis.call('RPUSH', KEYS[1], ARGV[1]) return 1" };

/*
 * The room token rule, after any pop: at most one token per free slot, so a
 * freed slot wakes one waiting putter and idle queues hold a bounded list.
 */
#define REDIS_ROOM_LUA                                                                          \
	"local free = tonumber(ARGV[2]) - redis.call('LLEN', KEYS[1]) "                          \
	"if redis.call('LLEN', KEYS[2]) < free then redis.call('RPUSH', KEYS[2], '') end "

/* KEYS list, room; ARGV buffer size, capacity. nil empty; integer = size that did not fit; {msg}. */
static struct script s_get = { .name = "get script", .lua = "local v = redis.call('LINDEX', KEYS[1], 0) "
                                             "if not v then return nil end "
                                             "if #v > tonumber(ARGV[1]) then return #v end "
                                             "redis.call('LPOP', KEYS[1]) " REDIS_ROOM_LUA "return {v}" };

/* KEYS list, room; ARGV unused, capacity: a room token after a BLPOP. */
static struct script s_room = { .name = "room script", .lua = REDIS_ROOM_LUA "return 1" };

/* keep(k, ms): k expires in ms at the earliest (never shortened, as other holders may keep longer). */
#define NAMED_KEEP_LUA                                                                          \
	"local function keep(k, ms) local l = redis.call('PTTL', k) "                            \
	"if l == -1 or (l >= 0 and l < tonumber(ms)) then redis.call('PEXPIRE', k, ms) end end "

/* The same for a named queue (ARGV 3: keep), whose keys all expire. */
static struct script s_nroom = { .name = "named room script",
	                         .lua = NAMED_KEEP_LUA REDIS_ROOM_LUA "keep(KEYS[2], ARGV[3]) return 1" };

static int redis_op_begin(struct redis *q, struct rconn **c)
{
	if (q->named) {
		int rc = named_adopt(q);
		if (rc != IPCQ_OK)
			return rc;
	}
	return conn_take(q->ep, c);
}

/* Returns c to the pool (or closes it, if a command failed half-way) and passes rc on. */
/*
 * Lets go of this process's lifelines and connection. The last process to let
 * go (every role in `last` gone afterwards) deletes the two keys a and b.
 */
static void let_go(struct ipcq__life *life, bool *have_life, struct rep **ep, unsigned last, const char *a,
                   const char *b)
{
	if (*have_life) {
		ipcq__life_release(life, IPCQ_PRODUCER | IPCQ_CONSUMER);
		bool gone = (!(last & IPCQ_PRODUCER) || ipcq__life_gone(life, IPCQ_PRODUCER)) &&
		            (!(last & IPCQ_CONSUMER) || ipcq__life_gone(life, IPCQ_CONSUMER));
		if (*ep && gone) {
			const char *del[] = { "DEL", a, b };
			(void)ep_simple(*ep, 3, del);
		}
		ipcq__life_close(life);
		*have_life = false;
	}
	ep_put(*ep);
	*ep = NULL;
}

static int redis_op_end(struct redis *q, struct rconn *c, int rc)
{
	conn_release(q->ep, c);
	return rc;
}

static void redis_close(void *st)
{
	struct redis *q = st;
	if (q->named) {
		named_close(q);
		return;
	}
	let_go(&q->life, &q->have_life, &q->ep, IPCQ_PRODUCER | IPCQ_CONSUMER, q->list, q->room);
}

/* capacity and max_msg from cfg; LIMIT when Redis cannot hold a message that large. */
static int redis_sizes(struct redis *q, const ipcq_config *cfg)
{
	q->capacity = cfg->capacity;
	q->max_msg = cfg->max_msg;
	snprintf(q->cap_arg, sizeof q->cap_arg, "%zu", cfg->capacity);
	if (cfg->max_msg > 512u * 1024 * 1024)
		return ipcq__fail(IPCQ_LIMIT, EMSGSIZE,
		                  "redis: max_msg %zu exceeds Redis's largest string (proto-max-bulk-len, 512 MiB "
		                  "by default); use a smaller max_msg",
		                  cfg->max_msg);
	return IPCQ_OK;
}

static int redis_open(void *st, const ipcq_config *cfg)
{
	struct redis *q = st;
	if (cfg->name)
		return named_open(q, cfg);
	char prefix[48];
	int rc = key_prefix(prefix, sizeof prefix);
	if (rc != IPCQ_OK)
		return rc;
	snprintf(q->list, sizeof q->list, "%s:q", prefix);
	snprintf(q->room, sizeof q->room, "%s:r", prefix);
	if ((rc = redis_sizes(q, cfg)) != IPCQ_OK)
		return rc;
	if ((q->ep = endpoint_open(cfg, &rc)) == NULL)
		return rc;
	if ((rc = ipcq__life_open(&q->life)) != IPCQ_OK)
		return rc;
	q->have_life = true;
	/* Reach the server now, so a bad endpoint fails the open, not the first put. */
	struct rconn *c;
	if ((rc = redis_op_begin(q, &c)) != IPCQ_OK)
		return rc;
	return redis_op_end(q, c, IPCQ_OK);
}

static int redis_broken(void)
{
	return ipcq__fail(IPCQ_BROKEN, EPIPE, "redis: put: no consumer is left (every process released, closed or died)");
}

static int redis_put(void *st, const void *msg, size_t len, ipcq_deadline dl)
{
	struct redis *q = st;
	if (!q->named && ipcq__life_gone(&q->life, IPCQ_CONSUMER))
		return redis_broken();
	struct rconn *c;
	int rc = redis_op_begin(q, &c);
	if (rc != IPCQ_OK)
		return rc;
	if (q->named)
		return redis_op_end(q, c, named_put(q, c, msg, len, dl));
	const char *keys[] = { q->list, q->room };
	const char *args[] = { len ? msg : "", q->cap_arg };
	size_t lens[] = { len, strlen(q->cap_arg) };
	for (;;) {
		redisReply *r = NULL;
		rc = conn_script(q->ep, c, &s_put, 2, keys, 2, args, lens, &r);
		if (rc != IPCQ_OK)
			break;
		bool queued = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
		freeReplyObject(r);
		if (queued || dl == IPCQ__NOW || ipcq__remaining_ns(dl) == 0) {
			rc = queued ? IPCQ_OK : IPCQ_FULL;
			break;
		}
		/* Full: sleep on the room list until a get frees a slot, dl, or the last consumer goes. */
		const char *argv[] = { "BLPOP", q->room, NULL };
		int why;
		rc = conn_block(q->ep, c, 3, argv, dl, ipcq__life_fd(&q->life, IPCQ_CONSUMER), REDIS_CHUNK_MS, &r, &why);
		if (rc != IPCQ_OK)
			break;
		freeReplyObject(r);
		if (why == WAIT_WATCH) {
			rc = redis_broken();
			break;
		}
	}
	return redis_op_end(q, c, rc);
}

static int redis_toobig(size_t need, size_t cap)
{
	return ipcq__fail(IPCQ_TOOBIG, 0, "redis: get: message of %zu bytes does not fit the buffer of %zu bytes; it stays queued",
	                  need, cap);
}

/* Copies a popped message out; it fits (checked by whoever popped it). */
static int redis_deliver(const redisReply *v, void *buf, size_t *len)
{
	*len = v->len;
	if (v->len)
		memcpy(buf, v->str, v->len);
	return IPCQ_OK;
}

/* One non-blocking get through the script: OK, TOOBIG or EMPTY. */
static int redis_try_get(struct redis *q, struct rconn *c, void *buf, size_t cap, size_t *len)
{
	char cap_s[24];
	snprintf(cap_s, sizeof cap_s, "%zu", cap);
	const char *keys[] = { q->list, q->room };
	const char *args[] = { cap_s, q->cap_arg };
	redisReply *r = NULL;
	int rc = conn_script(q->ep, c, &s_get, 2, keys, 2, args, NULL, &r);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type == REDIS_REPLY_NIL) {
		rc = IPCQ_EMPTY;
	} else if (r->type == REDIS_REPLY_INTEGER) {
		*len = (size_t)r->integer;
		rc = redis_toobig(*len, cap);
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_STRING &&
	           r->element[0]->len <= cap) {
		rc = redis_deliver(r->element[0], buf, len);
	} else {
		rc = reply_error(q->ep, "get script", r);
	}
	freeReplyObject(r);
	return rc;
}

/* After a BLPOP took a message, the room token its pop owes, sent without waiting for the answer. */
static int redis_room_async(struct redis *q, struct rconn *c)
{
	struct script *s = q->named ? &s_nroom : &s_room;
	const char *keys[] = { q->list, q->room };
	const char *argv[] = { "EVALSHA", s->sha, "2", keys[0], keys[1], "", q->cap_arg, q->keep_arg };
	int argc = q->named ? 8 : 7;
	if (!atomic_load_explicit(&s->known, memory_order_acquire)) {
		redisReply *r = NULL;
		int rc = conn_script(q->ep, c, s, 2, keys, argc - 5, argv + 5, NULL, &r);
		if (r)
			freeReplyObject(r);
		return rc;
	}
	int rc = conn_cmd_send(q->ep, c, argc, argv, NULL);
	if (rc == IPCQ_OK)
		c->discard++;
	c->bad |= rc != IPCQ_OK;
	return rc;
}

/* Waits until dl for a message to be there (or the producers to go), taking nothing. */
static int redis_wait_ready(struct redis *q, struct rconn *c, ipcq_deadline dl, bool *ready)
{
	const char *argv[] = { "BLMOVE", q->list, q->list, "LEFT", "LEFT", NULL };
	redisReply *r = NULL;
	int why;
	int rc = conn_block(q->ep, c, 6, argv, dl, ipcq__life_fd(&q->life, IPCQ_PRODUCER), REDIS_CHUNK_MS, &r, &why);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type == REDIS_REPLY_ERROR)
		rc = reply_error(q->ep, "BLMOVE (Redis 6.2 or later is needed)", r);
	*ready = r->type == REDIS_REPLY_STRING;
	freeReplyObject(r);
	return rc;
}

static int redis_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	struct redis *q = st;
	struct rconn *c;
	int rc = redis_op_begin(q, &c);
	if (rc != IPCQ_OK)
		return rc;
	if (q->named)
		return redis_op_end(q, c, named_get(q, c, buf, cap, len, dl));
	for (;;) {
		bool gone = ipcq__life_gone(&q->life, IPCQ_PRODUCER);
		if (!gone && cap >= q->max_msg && dl != IPCQ__NOW && ipcq__remaining_ns(dl) != 0) {
			/* Any message fits: BLPOP takes it in one round trip, or sleeps until one comes. */
			const char *argv[] = { "BLPOP", q->list, NULL };
			redisReply *r = NULL;
			int why;
			rc = conn_block(q->ep, c, 3, argv, dl, ipcq__life_fd(&q->life, IPCQ_PRODUCER), REDIS_CHUNK_MS, &r,
			                &why);
			if (rc != IPCQ_OK)
				break;
			bool got = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
			           r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len <= cap;
			if (!got && r->type != REDIS_REPLY_NIL)
				rc = reply_error(q->ep, "BLPOP", r);
			else if (got)
				rc = redis_deliver(r->element[1], buf, len);
			freeReplyObject(r);
			if (rc != IPCQ_OK)
				break;
			if (got) {
				rc = redis_room_async(q, c);
				break;
			}
			continue;
		}
		rc = redis_try_get(q, c, buf, cap, len);
		if (rc != IPCQ_EMPTY)
			break;
		/* Gone was seen before this look, and no put can start after it: nothing more comes. */
		if (gone) {
			rc = IPCQ_EOF;
			break;
		}
		if (dl == IPCQ__NOW || ipcq__remaining_ns(dl) == 0)
			break;
		bool ready;
		if ((rc = redis_wait_ready(q, c, dl, &ready)) != IPCQ_OK)
			break;
	}
	return redis_op_end(q, c, rc);
}

static int redis_llen(struct redis *q, struct rconn *c, size_t *n)
{
	const char *argv[] = { "LLEN", q->list };
	redisReply *r = NULL;
	int rc = conn_call(q->ep, c, 2, argv, NULL, &r);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER)
		*n = (size_t)r->integer;
	else
		rc = reply_error(q->ep, "LLEN", r);
	freeReplyObject(r);
	return rc;
}

static int redis_poll(void *st, ipcq_deadline dl)
{
	struct redis *q = st;
	struct rconn *c;
	int rc = redis_op_begin(q, &c);
	if (rc != IPCQ_OK)
		return rc;
	if (q->named)
		return redis_op_end(q, c, named_poll(q, c, dl));
	for (;;) {
		bool gone = ipcq__life_gone(&q->life, IPCQ_PRODUCER);
		size_t n = 0;
		if ((rc = redis_llen(q, c, &n)) != IPCQ_OK)
			break;
		if (n) {
			rc = IPCQ_OK;
			break;
		}
		if (gone) {
			rc = IPCQ_EOF;
			break;
		}
		rc = IPCQ_EMPTY;
		if (dl == IPCQ__NOW || ipcq__remaining_ns(dl) == 0)
			break;
		bool ready = false;
		if ((rc = redis_wait_ready(q, c, dl, &ready)) != IPCQ_OK)
			break;
		if (ready)
			break;
	}
	return redis_op_end(q, c, rc);
}

static int redis_qsize(void *st, size_t *n)
{
	struct redis *q = st;
	struct rconn *c;
	int rc = redis_op_begin(q, &c);
	if (rc != IPCQ_OK)
		return rc;
	return redis_op_end(q, c, redis_llen(q, c, n));
}

static int redis_release(void *st, unsigned roles)
{
	struct redis *q = st;
	if (q->named)
		return named_release(q, roles);
	ipcq__life_release(&q->life, roles);
	return IPCQ_OK;
}

/* --- Named queues ----------------------------------------------------------- */

/*
 * Keys of queue NAME: ipcq:{NAME}:q the list, :r room tokens, :m a hash of
 * capacity and max_msg, :p and :c the producer and consumer leases, :e the
 * EOF wake-up list. The braces put them in one hash slot, which is where
 * Redis Cluster lets one script touch several keys.
 *
 * A lease is a member of :p or :c (the holder's id, host:pid:random) scored
 * by its expiry in the server's clock (TIME inside the script): "is any
 * producer left?" is then one ZCOUNT inside the same script that looks at the
 * list, so EOF is decided atomically, and no two hosts' clocks are compared.
 * (A key per lease with PX would need a scan to answer that question.)
 */
#define REDIS_NAME_MAX 200
#define REDIS_LEASE_DEFAULT_MS 3000
#define REDIS_LEASE_MIN_MS 30
#define REDIS_LEASE_MAX_MS 3600000

/* Every named script: KEYS q r m p c e; now = the server's clock in ms. */
#define NAMED_LUA                                                                                  \
	NAMED_KEEP_LUA                                                                              \
	"local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) " \
	"local function live(z) return redis.call('ZCOUNT', z, '(' .. now, '+inf') end "          \
	"local function mine(z, id) local s = redis.call('ZSCORE', z, id) "                       \
	"return s ~= false and s ~= nil and tonumber(s) > now end "

/*
 * ARGV capacity, max_msg, id, ttl, keep. 1 joined (both leases taken);
 * {capacity, max_msg} of an existing queue that differ. A queue nobody holds
 * a live lease on is left over from a crash: it is started afresh.
 */
static struct script s_nopen = { .name = "named open script", .lua =
	NAMED_LUA
	"redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now) redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now) "
	"if redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5]) == 0 then "
	"redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[6]) end "
	"local cm = redis.call('HMGET', KEYS[3], 'capacity', 'max_msg') "
	"if cm[1] and (cm[1] ~= ARGV[1] or cm[2] ~= ARGV[2]) then return cm end "
	"redis.call('HSET', KEYS[3], 'capacity', ARGV[1], 'max_msg', ARGV[2]) "
	"local exp = now + tonumber(ARGV[4]) "
	"redis.call('ZADD', KEYS[4], exp, ARGV[3]) redis.call('ZADD', KEYS[5], exp, ARGV[3]) "
	"redis.call('DEL', KEYS[6]) "
	"for i = 1, 5 do keep(KEYS[i], ARGV[5]) end return 1" };

/*
 * ARGV msg, capacity, id, keep. 1 queued; 0 full; -1 no consumer lease
 * (a room token passes the news to the next waiting putter); -2 this
 * producer's own lease expired. Checking our own lease here is what makes
 * EOF final: a put can never land after a get decided no producer was left.
 */
static struct script s_nput = { .name = "named put script", .lua =
	NAMED_LUA
	"if not mine(KEYS[4], ARGV[3]) then return -2 end "
	"if live(KEYS[5]) == 0 then if redis.call('LLEN', KEYS[2]) == 0 then "
	"redis.call('RPUSH', KEYS[2], '') keep(KEYS[2], ARGV[4]) end return -1 end "
	"if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[2]) return 0 end "
	"redis.call('RPUSH', KEYS[1], ARGV[1]) keep(KEYS[1], ARGV[4]) return 1" };

/*
 * ARGV buffer size, capacity, id, keep. nil empty; {msg}; n >= 0 the size
 * that did not fit; -1 EOF (empty and no live producer lease; a token on :e
 * wakes the next consumer blocked on it); -2 this consumer's lease expired.
 */
static struct script s_nget = { .name = "named get script", .lua =
	NAMED_LUA
	"if not mine(KEYS[5], ARGV[3]) then return -2 end "
	"local v = redis.call('LINDEX', KEYS[1], 0) "
	"if not v then if live(KEYS[4]) > 0 then return nil end "
	"if redis.call('LLEN', KEYS[6]) == 0 then redis.call('RPUSH', KEYS[6], '') keep(KEYS[6], ARGV[4]) end "
	"return -1 end "
	"if #v > tonumber(ARGV[1]) then return #v end "
	"redis.call('LPOP', KEYS[1]) " REDIS_ROOM_LUA "keep(KEYS[2], ARGV[4]) return {v}" };

/* 1 a message is there; -1 EOF; 0 neither. */
static struct script s_npoll = { .name = "named poll script", .lua =
	NAMED_LUA
	"if redis.call('LLEN', KEYS[1]) > 0 then return 1 end if live(KEYS[4]) == 0 then return -1 end return 0" };

/* ARGV id, roles ("p", "c", "pc"), ttl, keep. Extends live leases only; returns the roles (1, 2) found expired. */
static struct script s_nrefresh = { .name = "named lease refresh script", .lua =
	NAMED_LUA
	"local lost, exp = 0, now + tonumber(ARGV[3]) "
	"for i, z in ipairs({ { KEYS[4], 'p', 1 }, { KEYS[5], 'c', 2 } }) do "
	"if string.find(ARGV[2], z[2], 1, true) then "
	"if mine(z[1], ARGV[1]) then redis.call('ZADD', z[1], 'XX', exp, ARGV[1]) "
	"else redis.call('ZREM', z[1], ARGV[1]) lost = lost + z[3] end end end "
	"for i = 1, 6 do keep(KEYS[i], ARGV[4]) end return lost" };

/*
 * ARGV parent's id, new id, roles, ttl, keep: a forked child's own leases,
 * taken only where its parent's is still live. Returns the roles (1, 2) lost.
 */
static struct script s_nadopt = { .name = "named adopt script", .lua =
	NAMED_LUA
	"local lost, exp = 0, now + tonumber(ARGV[4]) "
	"for i, z in ipairs({ { KEYS[4], 'p', 1 }, { KEYS[5], 'c', 2 } }) do "
	"if string.find(ARGV[3], z[2], 1, true) then "
	"if mine(z[1], ARGV[1]) then redis.call('ZADD', z[1], exp, ARGV[2]) else lost = lost + z[3] end end end "
	"for i = 1, 5 do keep(KEYS[i], ARGV[5]) end return lost" };

/*
 * ARGV id, roles, close ("1"), keep. Drops the leases; the last producer
 * lease gone puts an EOF token on :e, the last consumer lease a room token
 * (blocked gets and puts wake at once, not at their next chunk). On close,
 * with no live lease of either role left, deletes every key: 1.
 */
static struct script s_nrelease = { .name = "named release script", .lua =
	NAMED_LUA
	"if string.find(ARGV[2], 'p', 1, true) then redis.call('ZREM', KEYS[4], ARGV[1]) "
	"if live(KEYS[4]) == 0 then redis.call('DEL', KEYS[6]) redis.call('RPUSH', KEYS[6], '') "
	"keep(KEYS[6], ARGV[4]) end end "
	"if string.find(ARGV[2], 'c', 1, true) then redis.call('ZREM', KEYS[5], ARGV[1]) "
	"if live(KEYS[5]) == 0 and redis.call('LLEN', KEYS[2]) == 0 then redis.call('RPUSH', KEYS[2], '') "
	"keep(KEYS[2], ARGV[4]) end end "
	"if ARGV[3] == '1' and live(KEYS[4]) + live(KEYS[5]) == 0 then "
	"redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]) return 1 end return 0" };

/*
 * The process's lease refresher: one detached thread for every named handle
 * of the process, started by the first named open (or, in a forked child,
 * by its first call on an inherited one), ending when the list empties. It
 * extends each lease every ttl/3. A thread, not refreshes piggy-backed on
 * calls: a process that holds a queue and waits on something else for
 * longer than the ttl is alive and must keep its leases; a stopped
 * (SIGSTOP) or killed process stops refreshing, which is the point.
 */
static struct {
	pthread_mutex_t lock; /* the list, and held/lost/id of listed handles; held across refresh I/O */
	pthread_cond_t kick;  /* a handle was added: refresh now, then on the shortest period */
	bool kicked, running;
	struct redis *list;
} lease = { .lock = PTHREAD_MUTEX_INITIALIZER };
/* Bumped in every forked child: a handle whose gen differs holds its parent's leases, not its own. */
static atomic_ulong lease_gen = 1;
static pthread_once_t lease_once = PTHREAD_ONCE_INIT;
static bool lease_cond_made;

static void lease_cond_init(void)
{
	lease_cond_made = true;
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&lease.kick, &a);
	pthread_condattr_destroy(&a);
}


static const char *named_roles(unsigned roles)
{
	return roles == (IPCQ_PRODUCER | IPCQ_CONSUMER) ? "pc" : roles == IPCQ_PRODUCER ? "p"
	                                                      : roles == IPCQ_CONSUMER ? "c" : "";
}

/* Runs a named script on a pooled connection; *out is an integer reply, or rc says why not. */
static int named_run(struct redis *q, struct script *sc, int nargs, const char **args, const size_t *lens,
                     redisReply **out)
{
	const char *keys[] = { q->list, q->room, q->meta, q->prod, q->cons, q->wake };
	struct rconn *c;
	int rc = conn_take(q->ep, &c);
	if (rc != IPCQ_OK)
		return rc;
	rc = conn_script(q->ep, c, sc, 6, keys, nargs, args, lens, out);
	conn_release(q->ep, c);
	if (rc == IPCQ_OK && (*out)->type != REDIS_REPLY_INTEGER && sc != &s_nopen) {
		rc = reply_error(q->ep, sc->name, *out);
		freeReplyObject(*out);
		*out = NULL;
	}
	return rc;
}

/* One refresh of q's leases; lease.lock held. */
static void lease_refresh(struct redis *q)
{
	unsigned roles = q->held;
	if (!roles)
		return;
	const char *args[] = { q->id, named_roles(roles), q->ttl_arg, q->keep_arg };
	redisReply *r = NULL;
	if (named_run(q, &s_nrefresh, 4, args, NULL, &r) != IPCQ_OK)
		return; /* the server is unreachable: the leases run out, and calls say why */
	q->held &= ~(unsigned)r->integer;
	freeReplyObject(r);
}

static void *lease_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "ipcq:lease");
	pthread_mutex_lock(&lease.lock);
	for (;;) {
		int64_t period = INT64_MAX;
		for (struct redis *q = lease.list; q; q = q->next_named)
			if (q->ttl_ms / 3 < period)
				period = q->ttl_ms / 3;
		if (!lease.list)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + period * 1000000;
		ts.tv_sec = at / 1000000000;
		ts.tv_nsec = at % 1000000000;
		while (!lease.kicked && pthread_cond_timedwait(&lease.kick, &lease.lock, &ts) != ETIMEDOUT)
			;
		lease.kicked = false;
		unsigned long gen = atomic_load(&lease_gen);
		for (struct redis *q = lease.list; q; q = q->next_named)
			if (atomic_load_explicit(&q->gen, memory_order_relaxed) == gen)
				lease_refresh(q);
	}
	lease.running = false;
	pthread_mutex_unlock(&lease.lock);
	return NULL;
}

/* Makes sure the refresher runs and looks at the list now; lease.lock held. */
static int lease_kick(void)
{
	pthread_once(&lease_once, lease_cond_init);
	lease.kicked = true;
	if (lease.running) {
		pthread_cond_signal(&lease.kick);
		return IPCQ_OK;
	}
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* Block every signal in it, so signals meant for the caller's threads are not taken here. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&t, &a, lease_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (err)
		return ipcq__sys(err, "redis: starting the lease refresher thread");
	lease.running = true;
	return IPCQ_OK;
}

static void lease_unlink(struct redis *q)
{
	for (struct redis **pp = &lease.list; *pp; pp = &(*pp)->next_named)
		if (*pp == q) {
			*pp = q->next_named;
			break;
		}
}

/* A fresh lease id: host:pid:random, so `ZRANGE ipcq:{NAME}:p 0 -1` tells who holds the queue. */
static int lease_id(char *out, size_t cap)
{
	char host[64] = "";
	uint32_t r;
	int rc = ipcq__random(&r, sizeof r, "redis: a lease id");
	if (rc != IPCQ_OK)
		return rc;
	gethostname(host, sizeof host - 1);
	snprintf(out, cap, "%.40s:%d:%08" PRIx32, host, (int)getpid(), r);
	return IPCQ_OK;
}

/* $IPCQ_REDIS_LEASE_MS, or the default. */
static int lease_ttl(int64_t *ms)
{
	const char *s = getenv("IPCQ_REDIS_LEASE_MS");
	*ms = REDIS_LEASE_DEFAULT_MS;
	if (!s || !*s)
		return IPCQ_OK;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < REDIS_LEASE_MIN_MS || v > REDIS_LEASE_MAX_MS)
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "redis: IPCQ_REDIS_LEASE_MS=\"%.40s\" is not a number of milliseconds from %d to %d; "
		                  "unset it for the default %d",
		                  s, REDIS_LEASE_MIN_MS, REDIS_LEASE_MAX_MS, REDIS_LEASE_DEFAULT_MS);
	*ms = v;
	return IPCQ_OK;
}

static void lease_hooks_install(void);

static int named_check_name(const char *name)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t n = strlen(name), good = strspn(name, ok);
	if (n == 0 || n > REDIS_NAME_MAX)
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "redis: queue name \"%.*s%s\" is %zu bytes long; a name is 1 to %d characters from "
		                  "A-Z a-z 0-9 . _ -, not starting with '.' (its keys are ipcq:{NAME}:*)",
		                  (int)(good < 40 ? good : 40), name, n > 40 ? "..." : "", n, REDIS_NAME_MAX);
	if (name[0] == '.')
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "redis: queue name \"%.40s\" starts with '.'; a name is 1 to %d characters from "
		                  "A-Z a-z 0-9 . _ -, not starting with '.'",
		                  name, REDIS_NAME_MAX);
	if (good < n)
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "redis: queue name \"%.*s...\": byte %zu (0x%02x) is not allowed; a name is 1 to %d "
		                  "characters from A-Z a-z 0-9 . _ -, not starting with '.' (its keys are ipcq:{NAME}:*)",
		                  (int)good, name, good + 1, (unsigned char)name[good], REDIS_NAME_MAX);
	return IPCQ_OK;
}

static int named_open(struct redis *q, const ipcq_config *cfg)
{
	q->named = true;
	int rc = named_check_name(cfg->name);
	if (rc != IPCQ_OK)
		return rc;
	const char *env = getenv("IPCQ_REDIS_ENDPOINT");
	if (!cfg->endpoint && !(env && *env))
		return ipcq__fail(IPCQ_INVAL, EINVAL,
		                  "redis: queue \"%s\" is named, so it needs a server every process using the name can "
		                  "reach: set cfg.endpoint or $IPCQ_REDIS_ENDPOINT (redis://host:port/db or "
		                  "unix:/path); the private server started without one is this process tree's alone",
		                  cfg->name);
	if ((rc = lease_ttl(&q->ttl_ms)) != IPCQ_OK || (rc = redis_sizes(q, cfg)) != IPCQ_OK)
		return rc;
	q->keep_ms = 10 * q->ttl_ms;
	q->chunk_ms = q->ttl_ms / 2 < REDIS_CHUNK_MS ? q->ttl_ms / 2 : REDIS_CHUNK_MS;
	snprintf(q->ttl_arg, sizeof q->ttl_arg, "%" PRId64, q->ttl_ms);
	snprintf(q->keep_arg, sizeof q->keep_arg, "%" PRId64, q->keep_ms);
	char *k[] = { q->list, q->room, q->meta, q->prod, q->cons, q->wake };
	for (int i = 0; i < 6; i++)
		snprintf(k[i], REDIS_KEY_MAX, "ipcq:{%s}:%c", cfg->name, "qrmpce"[i]);
	if ((rc = lease_id(q->id, sizeof q->id)) != IPCQ_OK)
		return rc;
	if ((q->ep = endpoint_open(cfg, &rc)) == NULL)
		return rc;
	char max_arg[24];
	snprintf(max_arg, sizeof max_arg, "%zu", cfg->max_msg);
	const char *args[] = { q->cap_arg, max_arg, q->id, q->ttl_arg, q->keep_arg };
	redisReply *r = NULL;
	if ((rc = named_run(q, &s_nopen, 5, args, NULL, &r)) != IPCQ_OK)
		return rc;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING) {
		rc = ipcq__fail(IPCQ_INVAL, EINVAL,
		                "redis: queue \"%s\" exists with capacity %s and max_msg %s; this open asked for "
		                "capacity %zu and max_msg %zu: every opener of a name gives the same two (0 means "
		                "the default, %u and %u)",
		                cfg->name, r->element[0]->str, r->element[1]->str, cfg->capacity, cfg->max_msg,
		                REDIS_DEFAULT_CAPACITY, REDIS_DEFAULT_MAX_MSG);
	} else if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
		rc = reply_error(q->ep, s_nopen.name, r);
	}
	freeReplyObject(r);
	if (rc != IPCQ_OK)
		return rc;
	q->joined = true;
	static pthread_once_t hooks = PTHREAD_ONCE_INIT;
	pthread_once(&hooks, lease_hooks_install); /* after endpoint_open installed the pool's */
	pthread_mutex_lock(&lease.lock);
	q->held = IPCQ_PRODUCER | IPCQ_CONSUMER;
	atomic_store(&q->gen, atomic_load(&lease_gen));
	q->next_named = lease.list;
	lease.list = q;
	rc = lease_kick();
	if (rc != IPCQ_OK)
		lease_unlink(q);
	pthread_mutex_unlock(&lease.lock);
	return rc;
}

/*
 * A forked child takes leases of its own for the roles its handle holds,
 * where its parent's are still live, from its fork handler (lease_adopt_all);
 * if the server could not be reached then, its first call tries again.
 */
static int named_adopt(struct redis *q)
{
	unsigned long gen = atomic_load_explicit(&lease_gen, memory_order_acquire);
	if (atomic_load_explicit(&q->gen, memory_order_acquire) == gen)
		return IPCQ_OK;
	int rc = IPCQ_OK;
	pthread_mutex_lock(&lease.lock);
	if (atomic_load_explicit(&q->gen, memory_order_relaxed) != gen) {
		char id[sizeof q->id];
		redisReply *r = NULL;
		if ((rc = lease_id(id, sizeof id)) == IPCQ_OK) {
			const char *args[] = { q->id, id, named_roles(q->held), q->ttl_arg, q->keep_arg };
			rc = named_run(q, &s_nadopt, 5, args, NULL, &r);
		}
		if (rc == IPCQ_OK) {
			q->held &= ~(unsigned)r->integer;
			freeReplyObject(r);
			memcpy(q->id, id, sizeof id);
			atomic_store_explicit(&q->gen, gen, memory_order_release);
			rc = lease_kick();
		}
	}
	pthread_mutex_unlock(&lease.lock);
	return rc;
}

/*
 * fork(): the child's leases are taken by the parent before the fork (the
 * prepare handler), so the child holds its roles from its first instant: if
 * the child took them itself, "open, fork, parent releases PRODUCER" would
 * race it and give consumers EOF while the child still means to put. The
 * price: each fork() of a process holding named queues costs a round trip
 * per queue, and a fork()+exec() child leaves a lease nobody refreshes, so
 * EOF waits up to a ttl for it (posix_spawn runs no fork handlers: no lease).
 * lease.lock is held across the fork, so the child's list is whole. Where the
 * server could not be reached, the child's first call adopts (named_adopt).
 * Registered after the pool's handlers, so this prepare runs before theirs
 * (it needs the pool) and this child handler after theirs.
 */
static void lease_prepare(void)
{
	if (srv_forking)
		return;
	pthread_mutex_lock(&lease.lock);
	unsigned long gen = atomic_load(&lease_gen);
	for (struct redis *q = lease.list; q; q = q->next_named) {
		q->child_id[0] = '\0';
		if (atomic_load(&q->gen) != gen || !q->held)
			continue;
		char id[sizeof q->id];
		redisReply *r = NULL;
		if (lease_id(id, sizeof id) != IPCQ_OK)
			continue;
		const char *args[] = { q->id, id, named_roles(q->held), q->ttl_arg, q->keep_arg };
		if (named_run(q, &s_nadopt, 5, args, NULL, &r) != IPCQ_OK)
			continue;
		q->child_held = q->held & ~(unsigned)r->integer;
		freeReplyObject(r);
		memcpy(q->child_id, id, sizeof id);
	}
}

static void lease_parent(void)
{
	if (!srv_forking)
		pthread_mutex_unlock(&lease.lock);
}

/* The refresher does not survive fork: the child starts its own for the leases the parent took for it. */
static void lease_child(void)
{
	if (srv_forking)
		return;
	pthread_mutex_init(&lease.lock, NULL);
	if (lease_cond_made)
		lease_cond_init(); /* its one waiter, the refresher, is not in this process */
	lease.running = lease.kicked = false;
	unsigned long gen = atomic_fetch_add(&lease_gen, 1) + 1;
	bool any = false;
	for (struct redis *q = lease.list; q; q = q->next_named)
		if (q->child_id[0]) {
			memcpy(q->id, q->child_id, sizeof q->id);
			q->held = q->child_held;
			atomic_store(&q->gen, gen);
			any = true;
		}
	if (any) {
		pthread_mutex_lock(&lease.lock);
		(void)lease_kick();
		pthread_mutex_unlock(&lease.lock);
	}
}

static void lease_hooks_install(void)
{
	pthread_atfork(lease_prepare, lease_parent, lease_child);
}

static int named_lost(struct redis *q, const char *call, const char *role)
{
	return ipcq__fail(IPCQ_CLOSED, ETIMEDOUT,
	                  "redis: %s on queue %s: this process's %s lease expired (it was stopped, or cut off "
	                  "from the server, for longer than IPCQ_REDIS_LEASE_MS = %" PRId64 " ms), so the others "
	                  "count it as gone; close the queue and open it again",
	                  call, q->list, role, q->ttl_ms);
}

static int named_put(struct redis *q, struct rconn *c, const void *msg, size_t len, ipcq_deadline dl)
{
	const char *keys[] = { q->list, q->room, q->meta, q->prod, q->cons, q->wake };
	const char *args[] = { len ? msg : "", q->cap_arg, q->id, q->keep_arg };
	size_t lens[] = { len, strlen(q->cap_arg), strlen(q->id), strlen(q->keep_arg) };
	for (;;) {
		redisReply *r = NULL;
		int rc = conn_script(q->ep, c, &s_nput, 6, keys, 4, args, lens, &r);
		if (rc != IPCQ_OK)
			return rc;
		long long k = r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
		if (k == -3)
			rc = reply_error(q->ep, s_nput.name, r);
		freeReplyObject(r);
		if (k == 1)
			return IPCQ_OK;
		if (k == -1)
			return redis_broken();
		if (k == -2)
			return named_lost(q, "put", "producer");
		if (rc != IPCQ_OK)
			return rc;
		if (dl == IPCQ__NOW || ipcq__remaining_ns(dl) == 0)
			return IPCQ_FULL;
		/* Full: a get's room token wakes us, or the chunk ends and the script looks at the leases again. */
		const char *argv[] = { "BLPOP", q->room, NULL };
		int why;
		if ((rc = conn_block(q->ep, c, 3, argv, dl, -1, q->chunk_ms, &r, &why)) != IPCQ_OK)
			return rc;
		freeReplyObject(r);
	}
}

/* One look through the get script: OK, TOOBIG, EMPTY, EOF, CLOSED (lease lost) or an error. */
static int named_try_get(struct redis *q, struct rconn *c, void *buf, size_t cap, size_t *len)
{
	char cap_s[24];
	snprintf(cap_s, sizeof cap_s, "%zu", cap);
	const char *keys[] = { q->list, q->room, q->meta, q->prod, q->cons, q->wake };
	const char *args[] = { cap_s, q->cap_arg, q->id, q->keep_arg };
	redisReply *r = NULL;
	int rc = conn_script(q->ep, c, &s_nget, 6, keys, 4, args, NULL, &r);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type == REDIS_REPLY_NIL)
		rc = IPCQ_EMPTY;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == -1)
		rc = IPCQ_EOF;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == -2)
		rc = named_lost(q, "get", "consumer");
	else if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
		rc = redis_toobig(*len = (size_t)r->integer, cap);
	else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_STRING &&
	         r->element[0]->len <= cap)
		rc = redis_deliver(r->element[0], buf, len);
	else
		rc = reply_error(q->ep, s_nget.name, r);
	freeReplyObject(r);
	return rc;
}

static int named_get(struct redis *q, struct rconn *c, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	for (;;) {
		int rc = named_try_get(q, c, buf, cap, len);
		if (rc != IPCQ_EMPTY || dl == IPCQ__NOW || ipcq__remaining_ns(dl) == 0)
			return rc;
		/*
		 * Wait at most a chunk, then let the script look at the leases again.
		 * Any message fits: BLPOP takes it, or an EOF token on :e wakes us.
		 * Else a blocking peek (BLMOVE list list), which moves nothing.
		 */
		bool whole = cap >= q->max_msg;
		const char *pop[] = { "BLPOP", q->list, q->wake, NULL };
		const char *peek[] = { "BLMOVE", q->list, q->list, "LEFT", "LEFT", NULL };
		redisReply *r = NULL;
		int why;
		rc = whole ? conn_block(q->ep, c, 4, pop, dl, -1, q->chunk_ms, &r, &why)
		           : conn_block(q->ep, c, 6, peek, dl, -1, q->chunk_ms, &r, &why);
		if (rc != IPCQ_OK)
			return rc;
		bool token = whole && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		             r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, q->wake);
		bool got = whole && !token && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		           r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len <= cap;
		/* Anything else but a wake-up token or nothing (nil, a peek) is out of step: say so, drop nothing silently. */
		if (r->type == REDIS_REPLY_ERROR || (whole && !token && !got && r->type != REDIS_REPLY_NIL))
			rc = reply_error(q->ep, whole ? "BLPOP" : "BLMOVE (Redis 6.2 or later is needed)", r);
		else if (got)
			rc = redis_deliver(r->element[1], buf, len);
		freeReplyObject(r);
		if (rc != IPCQ_OK)
			return rc;
		if (got)
			return redis_room_async(q, c);
	}
}

static int named_poll(struct redis *q, struct rconn *c, ipcq_deadline dl)
{
	const char *keys[] = { q->list, q->room, q->meta, q->prod, q->cons, q->wake };
	for (;;) {
		redisReply *r = NULL;
		int rc = conn_script(q->ep, c, &s_npoll, 6, keys, 0, NULL, NULL, &r);
		if (rc != IPCQ_OK)
			return rc;
		long long k = r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
		if (k == -3)
			rc = reply_error(q->ep, s_npoll.name, r);
		freeReplyObject(r);
		if (rc != IPCQ_OK || k != 0)
			return rc != IPCQ_OK ? rc : k == 1 ? IPCQ_OK : IPCQ_EOF;
		if (dl == IPCQ__NOW || ipcq__remaining_ns(dl) == 0)
			return IPCQ_EMPTY;
		const char *peek[] = { "BLMOVE", q->list, q->list, "LEFT", "LEFT", NULL };
		int why;
		if ((rc = conn_block(q->ep, c, 6, peek, dl, -1, q->chunk_ms, &r, &why)) != IPCQ_OK)
			return rc;
		if (r->type == REDIS_REPLY_ERROR)
			rc = reply_error(q->ep, "BLMOVE (Redis 6.2 or later is needed)", r);
		freeReplyObject(r);
		if (rc != IPCQ_OK)
			return rc;
	}
}

/* Drops this process's leases of roles (its own only: a child that never adopted holds none). */
static int named_drop(struct redis *q, unsigned roles, bool closing)
{
	pthread_mutex_lock(&lease.lock);
	bool own = atomic_load(&q->gen) == atomic_load(&lease_gen);
	roles &= q->held;
	q->held &= ~roles;
	if (closing)
		lease_unlink(q);
	pthread_mutex_unlock(&lease.lock);
	if (!closing && (!own || !roles))
		return IPCQ_OK;
	const char *args[] = { q->id, own ? named_roles(roles) : "", closing ? "1" : "0", q->keep_arg };
	redisReply *r = NULL;
	int rc = named_run(q, &s_nrelease, 4, args, NULL, &r);
	if (r)
		freeReplyObject(r);
	return rc;
}

static int named_release(struct redis *q, unsigned roles)
{
	return q->joined ? named_drop(q, roles, false) : IPCQ_OK;
}

/* The last holder to close deletes the keys; after a crash they expire (keep_ms) or the next open resets them. */
static void named_close(struct redis *q)
{
	if (q->joined)
		(void)named_drop(q, IPCQ_PRODUCER | IPCQ_CONSUMER, true);
	q->joined = false;
	ep_put(q->ep);
	q->ep = NULL;
}

/* --- Shared values ---------------------------------------------------------- */

/*
 * Two hashes per table: int64 values (every 8-byte value) as decimal text in
 * KEYS[1], so HINCRBY does exact 64-bit arithmetic (Lua numbers are doubles),
 * and other values as bytes in KEYS[2]. A key lives in at most one of them.
 */
struct redis_shared {
	struct rep *ep;
	char ints[REDIS_KEY_MAX], bytes[REDIS_KEY_MAX];
	size_t capacity, max_msg;
	char cap_arg[24];
	struct ipcq__life life; /* its producer lifeline: held by every process holding the table */
	bool have_life;
};

#define REDIS_NEWKEY_FULL_LUA                                                                   \
	"local function full(f) return redis.call('HEXISTS', KEYS[1], f) == 0 and "             \
	"redis.call('HEXISTS', KEYS[2], f) == 0 and "                                           \
	"redis.call('HLEN', KEYS[1]) + redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[#ARGV]) end "

/* ARGV key, 'i' or 'b', value, capacity. 1 stored; 0 table full. */
static struct script s_sset = { .name = "shared set script", .lua =
	                        REDIS_NEWKEY_FULL_LUA "if full(ARGV[1]) then return 0 end "
	                        "local to, other = KEYS[2], KEYS[1] "
	                        "if ARGV[2] == 'i' then to, other = KEYS[1], KEYS[2] end "
	                        "redis.call('HDEL', other, ARGV[1]) redis.call('HSET', to, ARGV[1], ARGV[3]) return 1" };

/* ARGV key. nil; {'i', decimal}; {'b', bytes}. */
static struct script s_sget = { .name = "shared get script", .lua =
	                        "local v = redis.call('HGET', KEYS[1], ARGV[1]) if v then return {'i', v} end "
	                        "v = redis.call('HGET', KEYS[2], ARGV[1]) if v then return {'b', v} end return nil" };

/*
 * ARGV key, delta, wrap1, wrap2, wrap3, capacity. {'i', new decimal}; -1 not
 * an int64; -2 table full. HINCRBY refuses to overflow; an atomic add (and
 * shmmgr) wraps, so on refusal the three in-range steps the caller computed
 * add delta modulo 2^64 instead.
 */
static struct script s_sadd = { .name = "shared add script", .lua =
	                        REDIS_NEWKEY_FULL_LUA "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -1 end "
	                        "if full(ARGV[1]) then return -2 end "
	                        "if not pcall(redis.call, 'HINCRBY', KEYS[1], ARGV[1], ARGV[2]) then "
	                        "for i = 3, 5 do redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[i]) end end "
	                        "return {'i', redis.call('HGET', KEYS[1], ARGV[1])}" };

/* ARGV key, expected decimal, desired decimal, capacity. 1 swapped; 0 not; -1 not an int64; -2 full. */
static struct script s_scas = { .name = "shared cas script", .lua =
	                        REDIS_NEWKEY_FULL_LUA "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -1 end "
	                        "local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
	                        "if (cur or '0') ~= ARGV[2] then return 0 end "
	                        "if not cur and full(ARGV[1]) then return -2 end "
	                        "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1" };

static void redis_shared_close(void *st)
{
	struct redis_shared *s = st;
	let_go(&s->life, &s->have_life, &s->ep, IPCQ_PRODUCER, s->ints, s->bytes);
}

static int redis_shared_open(void *st, const ipcq_config *cfg)
{
	struct redis_shared *s = st;
	char prefix[48];
	int rc = key_prefix(prefix, sizeof prefix);
	if (rc != IPCQ_OK)
		return rc;
	snprintf(s->ints, sizeof s->ints, "%s:i", prefix);
	snprintf(s->bytes, sizeof s->bytes, "%s:b", prefix);
	s->capacity = cfg->capacity;
	s->max_msg = cfg->max_msg;
	snprintf(s->cap_arg, sizeof s->cap_arg, "%zu", cfg->capacity);
	if ((s->ep = endpoint_open(cfg, &rc)) == NULL)
		return rc;
	if ((rc = ipcq__life_open(&s->life)) != IPCQ_OK)
		return rc;
	s->have_life = true;
	ipcq__life_release(&s->life, IPCQ_CONSUMER);
	struct rconn *c;
	if ((rc = conn_take(s->ep, &c)) != IPCQ_OK)
		return rc;
	conn_release(s->ep, c);
	return IPCQ_OK;
}

/* Runs a table script on a pooled connection. */
static int redis_shared_run(struct redis_shared *s, struct script *sc, int nargs, const char **args,
                            const size_t *lens, redisReply **out)
{
	struct rconn *c;
	int rc = conn_take(s->ep, &c);
	if (rc != IPCQ_OK)
		return rc;
	const char *keys[] = { s->ints, s->bytes };
	rc = conn_script(s->ep, c, sc, 2, keys, nargs, args, lens, out);
	conn_release(s->ep, c);
	return rc;
}

static int redis_shared_full(const struct redis_shared *s, const char *call, const char *key)
{
	return ipcq__fail(IPCQ_LIMIT, ENOSPC,
	                  "redis: %s \"%s\": the table holds its capacity of %zu keys; open it with a larger "
	                  "cfg.capacity (the number of keys)",
	                  call, key, s->capacity);
}

static int redis_shared_notint(const char *call, const char *key)
{
	return ipcq__fail(IPCQ_INVAL, EINVAL, "redis: %s \"%s\": the key holds a value that is not 8 bytes (an int64)",
	                  call, key);
}

static int redis_shared_set(void *st, const char *key, const void *val, size_t len)
{
	struct redis_shared *s = st;
	char dec[24];
	const char *kind = "b";
	if (len == 8) {
		int64_t v;
		memcpy(&v, val, 8);
		snprintf(dec, sizeof dec, "%" PRId64, v);
		kind = "i";
		val = dec;
		len = strlen(dec);
	}
	const char *args[] = { key, kind, len ? val : "", s->cap_arg };
	size_t lens[] = { strlen(key), 1, len, strlen(s->cap_arg) };
	redisReply *r = NULL;
	int rc = redis_shared_run(s, &s_sset, 4, args, lens, &r);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type != REDIS_REPLY_INTEGER)
		rc = reply_error(s->ep, "shared set script", r);
	else if (r->integer == 0)
		rc = redis_shared_full(s, "shared_set", key);
	freeReplyObject(r);
	return rc;
}

/* Parses a decimal int64 reply element. */
static bool redis_int64(const redisReply *v, int64_t *out)
{
	char text[24];
	if (v->type != REDIS_REPLY_STRING || v->len == 0 || v->len >= sizeof text)
		return false;
	memcpy(text, v->str, v->len);
	text[v->len] = '\0';
	char *end;
	errno = 0;
	long long x = strtoll(text, &end, 10);
	*out = x;
	return errno == 0 && *end == '\0';
}

static int redis_shared_get(void *st, const char *key, void *buf, size_t cap, size_t *len)
{
	struct redis_shared *s = st;
	const char *args[] = { key };
	redisReply *r = NULL;
	int rc = redis_shared_run(s, &s_sget, 1, args, NULL, &r);
	if (rc != IPCQ_OK)
		return rc;
	int64_t v;
	if (r->type == REDIS_REPLY_NIL) {
		rc = IPCQ_EMPTY;
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING ||
	           (r->element[0]->str[0] == 'i' && !redis_int64(r->element[1], &v))) {
		rc = reply_error(s->ep, "shared get script", r);
	} else {
		bool is_int = r->element[0]->str[0] == 'i';
		const void *src = is_int ? (const void *)&v : r->element[1]->str;
		*len = is_int ? 8 : r->element[1]->len;
		if (*len > cap)
			rc = ipcq__fail(IPCQ_TOOBIG, 0,
			                "redis: shared_get \"%s\": the value of %zu bytes does not fit the buffer of %zu bytes",
			                key, *len, cap);
		else if (*len)
			memcpy(buf, src, *len);
	}
	freeReplyObject(r);
	return rc;
}

static int redis_shared_add(void *st, const char *key, int64_t delta, int64_t *result)
{
	struct redis_shared *s = st;
	/*
	 * Steps that add delta - 2^64 (delta > 0) or delta + 2^64 (delta < 0),
	 * each in range whenever the plain add overflowed.
	 */
	int64_t w[3];
	if (delta > 0) {
		w[0] = INT64_MIN;
		w[1] = (int64_t)((uint64_t)delta + (uint64_t)INT64_MIN);
		w[2] = 0;
	} else {
		w[0] = INT64_MAX;
		w[1] = 1;
		w[2] = (int64_t)((uint64_t)delta + (uint64_t)INT64_MIN);
	}
	char d[4][24];
	snprintf(d[0], sizeof d[0], "%" PRId64, delta);
	for (int i = 0; i < 3; i++)
		snprintf(d[i + 1], sizeof d[i + 1], "%" PRId64, w[i]);
	const char *args[] = { key, d[0], d[1], d[2], d[3], s->cap_arg };
	redisReply *r = NULL;
	int rc = redis_shared_run(s, &s_sadd, 6, args, NULL, &r);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == -1)
		rc = redis_shared_notint("shared_add", key);
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == -2)
		rc = redis_shared_full(s, "shared_add", key);
	else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !redis_int64(r->element[1], result))
		rc = reply_error(s->ep, "shared add script", r);
	freeReplyObject(r);
	return rc;
}

static int redis_shared_cas(void *st, const char *key, int64_t expect, int64_t desired, bool *swapped)
{
	struct redis_shared *s = st;
	char e[24], d[24];
	snprintf(e, sizeof e, "%" PRId64, expect);
	snprintf(d, sizeof d, "%" PRId64, desired);
	const char *args[] = { key, e, d, s->cap_arg };
	redisReply *r = NULL;
	int rc = redis_shared_run(s, &s_scas, 4, args, NULL, &r);
	if (rc != IPCQ_OK)
		return rc;
	if (r->type != REDIS_REPLY_INTEGER)
		rc = reply_error(s->ep, "shared cas script", r);
	else if (r->integer == -1)
		rc = redis_shared_notint("shared_cas", key);
	else if (r->integer == -2)
		rc = redis_shared_full(s, "shared_cas", key);
	else
		*swapped = r->integer == 1;
	freeReplyObject(r);
	return rc;
}

const struct ipcq_mech ipcq_mech_redis = {
	.version = IPCQ_MECH_VERSION,
	IPCQ_MECH_QUEUE_OPS(redis),
	.name = "redis",
	.summary = "Redis list (hiredis): bounded push and peek-then-pop in Lua, BLPOP waits; shared values "
	           "in hashes; a private server when no endpoint is given",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN |
	        IPCQ_CAP_BOUNDED | IPCQ_CAP_SHARED | IPCQ_CAP_HUGE | IPCQ_CAP_NAMED,
	.default_capacity = REDIS_DEFAULT_CAPACITY,
	.default_max_msg = REDIS_DEFAULT_MAX_MSG,
	.shared_open = redis_shared_open,
	.shared_set = redis_shared_set,
	.shared_get = redis_shared_get,
	.shared_add = redis_shared_add,
	.shared_cas = redis_shared_cas,
	.shared_close = redis_shared_close,
};
