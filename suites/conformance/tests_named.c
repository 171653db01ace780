/*
 * tests_named.c - queues opened by name (IPCQ_CAP_NAMED): by processes that
 * share no ancestry with the queue's opener, so nothing inherited (no
 * descriptor, no memory) can tell them who holds a role.
 *
 * The unrelated process is this program again, spawned (posix_spawn runs no
 * fork handlers, and every descriptor of ours is close-on-exec) as
 * `ipcq-conformance --named-peer MECH NAME CAPACITY MAX_MSG STEP...`; it
 * opens the name and follows the steps, reporting on stdout when ready and
 * on stderr (exit 1) when a step fails. Its environment is ours, so a
 * server named by $IPCQ_REDIS_ENDPOINT is reached by both.
 *
 * Named tests are active where a named queue opens here (t_named_usable:
 * redis needs an endpoint); the lease tests only where holders hold leases
 * that expire (t_named_leases: redis).
 *
 * Sections: the peer - helpers - names and configuration - two processes -
 * death and release - leases.
 */
#include "tests.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Length of message seq: varied, at most max. */
static size_t t_named_len(uint32_t seq, size_t max)
{
	size_t len = 1 + (seq * 37) % 200;
	return len > max ? max : len;
}

/* --- The peer ------------------------------------------------------------------------ */

/*
 * Steps: put:WHO:N and get:WHO:N (N messages ct_pattern(WHO, i)), eof (a get
 * says EOF), lost (a put says CLOSED: this process's hold expired),
 * release:p / release:c, ready (prints "ready" on stdout), wait (reads a line
 * or EOF on stdin), hold (sleeps until killed), close.
 */
int ct_named_peer_main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: ipcq-conformance --named-peer MECH NAME CAPACITY MAX_MSG STEP...\n");
		return 2;
	}
	const ipcq_mech *m = ipcq_mech_find(argv[0]);
	if (!m)
		CT_FAIL("named peer: no mechanism %s", argv[0]);
	ipcq_config cfg = { .name = argv[1], .capacity = strtoul(argv[2], NULL, 10),
	                    .max_msg = strtoul(argv[3], NULL, 10) };
	ipcq *q = NULL;
	int st = ipcq_open(m, &cfg, &q);
	if (st != IPCQ_OK)
		CT_FAIL("named peer: `ipcq_open(%s, name \"%s\")` -> %s: %s", argv[0], argv[1], ipcq_strstatus(st),
		        ipcq_errmsg(NULL));
	size_t max = cfg.max_msg ? cfg.max_msg : 65536;
	for (int i = 4; i < argc; i++) {
		const char *s = argv[i];
		unsigned who, n;
		char buf[4096];
		size_t len;
		if (sscanf(s, "put:%u:%u", &who, &n) == 2) {
			for (uint32_t k = 0; k < n; k++)
				CT_PUT_MSG(q, who, k, t_named_len(k, max), CT_LONG);
		} else if (sscanf(s, "get:%u:%u", &who, &n) == 2) {
			for (uint32_t k = 0; k < n; k++)
				CT_GET_MSG(q, who, k, t_named_len(k, max), CT_LONG);
		} else if (!strcmp(s, "eof")) {
			CT_ST(ipcq_get(q, buf, sizeof buf, &len, CT_LONG), IPCQ_EOF, q);
		} else if (!strcmp(s, "lost")) {
			CT_ST(ipcq_put(q, "x", 1, CT_LONG), IPCQ_CLOSED, q);
			CT_TRUE(strstr(ipcq_errmsg(q), "expired") != NULL, "the message does not say the hold expired: %s",
			        ipcq_errmsg(q));
		} else if (!strcmp(s, "release:p") || !strcmp(s, "release:c")) {
			CT_OK(ipcq_release(q, s[8] == 'p' ? IPCQ_PRODUCER : IPCQ_CONSUMER), q);
		} else if (!strcmp(s, "ready")) {
			printf("ready\n");
			fflush(stdout);
		} else if (!strcmp(s, "wait")) {
			char line[64];
			(void)!fgets(line, sizeof line, stdin);
		} else if (!strcmp(s, "hold")) {
			for (;;)
				pause();
		} else if (!strcmp(s, "close")) {
			CT_OK(ipcq_close(q), q);
			return 0;
		} else {
			CT_FAIL("named peer: unknown step \"%s\"", s);
		}
	}
	CT_OK(ipcq_close(q), q);
	return 0;
}

/* --- Helpers ------------------------------------------------------------------------- */

struct t_peer {
	pid_t pid;
	int in, out, err; /* its stdin (ours to write), stdout and stderr (ours to read) */
	char steps[256];
};

/* A name unique to this test run: letters, digits, dots only. */
static void t_name(char *buf, size_t cap, const char *tag)
{
	uint32_t r = 0;
	(void)!getrandom(&r, sizeof r, 0);
	snprintf(buf, cap, "ct.%s.%d.%08x", tag, (int)getpid(), r);
}

static ipcq *t_open_named(const struct ct_ctx *c, const char *name, size_t capacity, size_t max_msg)
{
	ipcq_config cfg = { .name = name, .capacity = capacity, .max_msg = max_msg };
	ipcq *q = NULL;
	int st = ipcq_open(c->mech, &cfg, &q);
	if (st != IPCQ_OK)
		CT_FAIL("`ipcq_open(%s, name \"%s\", capacity %zu, max_msg %zu)` -> %s, expected IPCQ_OK: %s", c->name,
		        name, capacity, max_msg, ipcq_strstatus(st), ipcq_errmsg(NULL));
	return q;
}

/* Spawns `ipcq-conformance --named-peer` on name with steps (space-separated). */
static void t_peer_start(struct t_peer *p, const struct ct_ctx *c, const char *name, size_t capacity,
                         size_t max_msg, const char *steps)
{
	int in[2], out[2], err[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		CT_FAIL("pipe2 for a named peer: %s", strerror(errno));
	char cap_s[24], max_s[24], *words = strdup(steps);
	snprintf(cap_s, sizeof cap_s, "%zu", capacity);
	snprintf(max_s, sizeof max_s, "%zu", max_msg);
	char *argv[40] = { "ipcq-conformance", "--named-peer", (char *)c->name, (char *)name, cap_s, max_s };
	int n = 6;
	for (char *save = NULL, *w = strtok_r(words, " ", &save); w && n < 39; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	int e = posix_spawn(&p->pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(words);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (e)
		CT_FAIL("posix_spawn of a named peer: %s", strerror(e));
	p->in = in[1];
	p->out = out[0];
	p->err = err[0];
	snprintf(p->steps, sizeof p->steps, "%s", steps);
}

/* What the peer wrote on stderr so far (waits for it to end when it has). */
static const char *t_peer_stderr(struct t_peer *p)
{
	static char buf[2048];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof buf - 1 && (k = read(p->err, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	return buf;
}

static void t_peer_reap(struct t_peer *p, int status, const char *when)
{
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	const char *err = t_peer_stderr(p);
	close(p->err);
	close(p->out);
	if (p->in >= 0)
		close(p->in);
	p->pid = 0;
	if (!ok)
		CT_FAIL("named peer [%s] %s: %s %d; its stderr: %s", p->steps, when,
		        WIFEXITED(status) ? "exit status" : "killed by signal",
		        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), *err ? err : "(empty)");
}

/* Waits (CT_LONG at most) for the peer's "ready" line. */
static void t_peer_ready(struct t_peer *p)
{
	char line[16] = "";
	size_t n = 0;
	int64_t end = ct_now() + CT_LONG;
	while (n < 6 && ct_now() < end) {
		struct pollfd pf = { .fd = p->out, .events = POLLIN };
		if (poll(&pf, 1, 50) <= 0)
			continue;
		ssize_t k = read(p->out, line + n, 6 - n);
		if (k <= 0) {
			int status = 0;
			waitpid(p->pid, &status, 0);
			t_peer_reap(p, status, "ended before it was ready");
			CT_FAIL("named peer [%s] closed stdout before it was ready", p->steps);
		}
		n += (size_t)k;
	}
	if (strncmp(line, "ready\n", 6) != 0)
		CT_FAIL("named peer [%s] was not ready within %lld s", p->steps, (long long)(CT_LONG / CT_SEC));
}

/* Lets a peer's "wait" step go on. */
static void t_peer_go(struct t_peer *p)
{
	if (write(p->in, "go\n", 3) != 3)
		CT_FAIL("writing to named peer [%s]: %s", p->steps, strerror(errno));
}

/* Waits (20 s at most) for the peer to end; it must have exited 0. */
static void t_peer_join(struct t_peer *p)
{
	close(p->in);
	p->in = -1;
	int status = 0;
	int64_t end = ct_now() + 20 * CT_SEC;
	while (waitpid(p->pid, &status, WNOHANG) == 0) {
		if (ct_now() > end) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			t_peer_reap(p, status, "did not end within 20 s (killed)");
		}
		ct_sleep(2 * CT_MS);
	}
	t_peer_reap(p, status, "failed");
}

static void t_peer_kill(struct t_peer *p)
{
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	close(p->in);
	close(p->out);
	close(p->err);
	p->pid = 0;
}

bool t_named_usable(const ipcq_mech *m, char *why, size_t cap)
{
	if (!(ipcq_mech_caps(m) & IPCQ_CAP_NAMED)) {
		snprintf(why, cap, "no IPCQ_CAP_NAMED");
		return false;
	}
	char name[64];
	t_name(name, sizeof name, "probe");
	ipcq_config cfg = { .name = name };
	ipcq *q = NULL;
	int st = ipcq_open(m, &cfg, &q);
	if (st != IPCQ_OK) {
		snprintf(why, cap, "a named queue does not open here (%s): %s", ipcq_strstatus(st), ipcq_errmsg(NULL));
		return false;
	}
	ipcq_close(q);
	return true;
}

bool t_named_leases(const ipcq_mech *m, char *why, size_t cap)
{
	if (strcmp(ipcq_mech_name(m), "redis") != 0) {
		snprintf(why, cap, "only redis holds named queues by expiring leases");
		return false;
	}
	return t_named_usable(m, why, cap);
}

/* --- Names and configuration ---------------------------------------------------------- */

void t_named_bad_names_inval(const struct ct_ctx *c)
{
	char longname[301];
	memset(longname, 'x', 300);
	longname[300] = '\0';
	const char *bad[] = { "", longname, "white space", "new\nline", "tab\tname", ".dot", "a/b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ipcq_config cfg = { .name = bad[i] };
		ipcq *q = (ipcq *)&cfg;
		int st = ipcq_open(c->mech, &cfg, &q);
		if (st != IPCQ_INVAL)
			CT_FAIL("`ipcq_open` with the name \"%.20s\" (%zu bytes) -> %s, expected IPCQ_INVAL", bad[i],
			        strlen(bad[i]), ipcq_strstatus(st));
		CT_TRUE(q == NULL, "a failed open left *q set");
		const char *msg = ipcq_errmsg(NULL);
		CT_TRUE(strstr(msg, "name") != NULL, "the message does not say the name is at fault: \"%s\"", msg);
	}
}

void t_named_pipe_inval(const struct ct_ctx *c)
{
	ipcq_config cfg = { .name = "ct.pipe" };
	ipcq_conn *a = NULL, *b = NULL;
	CT_ST(ipcq_pipe(c->mech, &cfg, true, &a, &b), IPCQ_INVAL, NULL);
	CT_TRUE(a == NULL && b == NULL, "a failed ipcq_pipe left an end set");
	CT_ST(ipcq_pipe(c->mech, &cfg, false, &a, &b), IPCQ_INVAL, NULL);
}

void t_named_config_mismatch_inval(const struct ct_ctx *c)
{
	char name[64];
	t_name(name, sizeof name, "cfg");
	ipcq *a = t_open_named(c, name, 4, 128), *b = NULL;
	ipcq_config cfg = { .name = name, .capacity = 8, .max_msg = 128 };
	CT_ST(ipcq_open(c->mech, &cfg, &b), IPCQ_INVAL, NULL);
	const char *msg = ipcq_errmsg(NULL);
	CT_TRUE(strstr(msg, "4") != NULL, "the message does not name the capacity in force (4): \"%s\"", msg);
	cfg = (ipcq_config){ .name = name, .capacity = 4, .max_msg = 256 };
	CT_ST(ipcq_open(c->mech, &cfg, &b), IPCQ_INVAL, NULL);
	msg = ipcq_errmsg(NULL);
	CT_TRUE(strstr(msg, "128") != NULL, "the message does not name the max_msg in force (128): \"%s\"", msg);
	/* The same two: the same queue, seen through either handle. */
	b = t_open_named(c, name, 4, 128);
	CT_PUT_MSG(a, 1, 0, 100, CT_LONG);
	CT_GET_MSG(b, 1, 0, 100, CT_LONG);
	CT_PUT_MSG(b, 1, 1, 128, CT_LONG);
	CT_GET_MSG(a, 1, 1, 128, CT_LONG);
	CT_OK(ipcq_close(a), a);
	CT_OK(ipcq_close(b), b);
}

void t_named_gone_after_last_close(const struct ct_ctx *c)
{
	char name[64], buf[64];
	size_t len;
	char name200[201];
	t_name(name, sizeof name, "gone");
	/* The longest name there is: 200 bytes. */
	memset(name200, 'x', 200);
	memcpy(name200, name, strlen(name));
	name200[200] = '\0';
	ipcq *q = t_open_named(c, name200, 4, 64);
	CT_OK(ipcq_close(q), q);
	q = t_open_named(c, name, 4, 64);
	CT_PUT_MSG(q, 1, 0, 10, CT_LONG);
	CT_OK(ipcq_close(q), q);
	/* Nobody held it: it is gone, message and configuration with it. */
	q = t_open_named(c, name, 8, 32);
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	CT_OK(ipcq_close(q), q);
}

/* --- Two processes ---------------------------------------------------------------------- */

void t_named_two_processes(const struct ct_ctx *c)
{
	char name[64];
	struct t_peer p;
	/* We put 300 through capacity 4 (so both wait on each other), then release: it sees EOF. */
	t_name(name, sizeof name, "to");
	ipcq *q = t_open_named(c, name, 4, 256);
	t_peer_start(&p, c, name, 4, 256, "release:p ready get:1:300 eof");
	t_peer_ready(&p);
	CT_OK(ipcq_release(q, IPCQ_CONSUMER), q);
	for (uint32_t k = 0; k < 300; k++)
		CT_PUT_MSG(q, 1, k, t_named_len(k, 256), CT_LONG);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	t_peer_join(&p);
	CT_OK(ipcq_close(q), q);

	/* The other way: it puts 300 and exits (closing); we get them, then EOF. */
	t_name(name, sizeof name, "from");
	q = t_open_named(c, name, 4, 256);
	t_peer_start(&p, c, name, 4, 256, "release:c ready put:2:300");
	t_peer_ready(&p);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	for (uint32_t k = 0; k < 300; k++)
		CT_GET_MSG(q, 2, k, t_named_len(k, 256), CT_LONG);
	char buf[256];
	size_t len;
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, CT_LONG), IPCQ_EOF, q);
	t_peer_join(&p);
	CT_OK(ipcq_close(q), q);
}

static ipcq *t_fork_q;

static void t_named_fork_child(void *arg)
{
	(void)arg;
	ct_sleep(100 * CT_MS); /* well after the parent's release */
	for (uint32_t k = 0; k < 10; k++)
		CT_PUT_MSG(t_fork_q, 3, k, t_named_len(k, 64), CT_LONG);
	CT_OK(ipcq_close(t_fork_q), t_fork_q);
}

void t_named_fork_child_holds(const struct ct_ctx *c)
{
	char name[64], buf[64];
	size_t len;
	t_name(name, sizeof name, "fork");
	t_fork_q = t_open_named(c, name, 16, 64);
	struct ct_actor *a = ct_spawn_process(t_fork_q, IPCQ_CONSUMER, t_named_fork_child, NULL);
	/* At once: the child holds the producer role from fork() on, so this is no EOF yet. */
	CT_OK(ipcq_release(t_fork_q, IPCQ_PRODUCER), t_fork_q);
	for (uint32_t k = 0; k < 10; k++)
		CT_GET_MSG(t_fork_q, 3, k, t_named_len(k, 64), CT_LONG);
	CT_ST(ipcq_get(t_fork_q, buf, sizeof buf, &len, CT_LONG), IPCQ_EOF, t_fork_q);
	ct_join(a);
	CT_OK(ipcq_close(t_fork_q), t_fork_q);
}

/* --- Death and release ------------------------------------------------------------------ */

void t_named_released_producer_eof(const struct ct_ctx *c)
{
	char name[64], buf[64];
	size_t len;
	struct t_peer p;
	t_name(name, sizeof name, "rel");
	ipcq *q = t_open_named(c, name, 8, 64);
	t_peer_start(&p, c, name, 8, 64, "release:c ready put:4:5 wait release:p wait");
	t_peer_ready(&p);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	for (uint32_t k = 0; k < 5; k++)
		CT_GET_MSG(q, 4, k, t_named_len(k, 64), CT_LONG);
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, IPCQ_NOWAIT), IPCQ_EMPTY, q);
	t_peer_go(&p);
	/* The peer lives on, holding nothing: its release alone ends the stream. */
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, CT_LONG), IPCQ_EOF, q);
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, IPCQ_NOWAIT), IPCQ_EOF, q);
	CT_ST(ipcq_poll(q, IPCQ_NOWAIT), IPCQ_EOF, q);
	t_peer_join(&p);
	CT_OK(ipcq_close(q), q);
}

void t_named_sigkill_producer_eof(const struct ct_ctx *c)
{
	char name[64], buf[64];
	size_t len;
	struct t_peer p;
	t_name(name, sizeof name, "killp");
	ipcq *q = t_open_named(c, name, 8, 64);
	t_peer_start(&p, c, name, 8, 64, "release:c put:5:5 ready hold");
	t_peer_ready(&p);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	t_peer_kill(&p);
	for (uint32_t k = 0; k < 5; k++)
		CT_GET_MSG(q, 5, k, t_named_len(k, 64), CT_LONG);
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, CT_LONG), IPCQ_EOF, q);
	CT_OK(ipcq_close(q), q);
}

void t_named_sigkill_consumer_broken(const struct ct_ctx *c)
{
	char name[64];
	struct t_peer p;
	t_name(name, sizeof name, "killc");
	ipcq *q = t_open_named(c, name, 2, 64);
	t_peer_start(&p, c, name, 2, 64, "release:p ready hold");
	t_peer_ready(&p);
	CT_OK(ipcq_release(q, IPCQ_CONSUMER), q);
	CT_PUT_MSG(q, 6, 0, 8, CT_LONG);
	CT_PUT_MSG(q, 6, 1, 8, CT_LONG);
	t_peer_kill(&p);
	/* Full, and its one consumer dead: the waiting put learns it. */
	CT_ST(ipcq_put(q, "x", 1, CT_LONG), IPCQ_BROKEN, q);
	CT_OK(ipcq_close(q), q);
}

/* --- Leases ------------------------------------------------------------------------------ */

void t_named_lease_stopped_producer(const struct ct_ctx *c)
{
	char name[64], buf[64];
	size_t len;
	struct t_peer p;
	t_name(name, sizeof name, "stop");
	ipcq *q = t_open_named(c, name, 8, 64);
	t_peer_start(&p, c, name, 8, 64, "release:c put:7:3 ready wait lost");
	t_peer_ready(&p);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	/* Stopped, it refreshes nothing: once its lease runs out it counts as gone. */
	kill(p.pid, SIGSTOP);
	for (uint32_t k = 0; k < 3; k++)
		CT_GET_MSG(q, 7, k, t_named_len(k, 64), CT_LONG);
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, CT_LONG), IPCQ_EOF, q);
	/* Woken, it may not put behind the EOF consumers saw: its put says CLOSED. */
	kill(p.pid, SIGCONT);
	t_peer_go(&p);
	t_peer_join(&p);
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, IPCQ_NOWAIT), IPCQ_EOF, q);
	CT_OK(ipcq_close(q), q);
}

void t_named_lease_release_wakes_at_once(const struct ct_ctx *c)
{
	/* A lease far longer than the longest server-side wait (1 s): only the release can end this get early. */
	setenv("IPCQ_REDIS_LEASE_MS", "20000", 1);
	char name[64], buf[64];
	size_t len;
	struct t_peer p;
	t_name(name, sizeof name, "wake");
	ipcq *q = t_open_named(c, name, 8, 64);
	t_peer_start(&p, c, name, 8, 64, "release:c ready wait release:p wait");
	t_peer_ready(&p);
	CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
	t_peer_go(&p);
	int64_t t0 = ct_now();
	CT_ST(ipcq_get(q, buf, sizeof buf, &len, CT_LONG), IPCQ_EOF, q);
	int64_t took = ct_now() - t0;
	CT_TRUE(took < 900 * CT_MS, "EOF came %lld ms after the release; a wake-up, not a timer, should bring it",
	        (long long)(took / CT_MS));
	t_peer_join(&p);
	CT_OK(ipcq_close(q), q);
}

/* --- one process, two opens ------------------------------------------------------------ */

void t_named_unsupported_without_cap(const struct ct_ctx *c)
{
	ipcq_config cfg = { .name = "ct.named" };
	ipcq *q = NULL;
	if (c->caps & IPCQ_CAP_NAMED)
		return; /* the named_* tests cover it */
	CT_ST(ipcq_open(c->mech, &cfg, &q), IPCQ_UNSUPPORTED, NULL);
	CT_TRUE(q == NULL, "a refused named open left a handle");
}

/* Two opens of one name in one process are one queue; the config reports the name. */
void t_named_two_opens_one_queue(const struct ct_ctx *c)
{
	char name[64];
	t_name(name, sizeof name, "two");
	ipcq *a = t_open_named(c, name, 8, 100), *b = t_open_named(c, name, 8, 100);
	ipcq_config cfg;
	CT_OK(ipcq_get_config(a, &cfg), a);
	CT_TRUE(cfg.name && !strcmp(cfg.name, name), "get_config reports name \"%s\"", cfg.name ? cfg.name : "(null)");
	CT_PUT_MSG(a, 70, 0, 50, IPCQ_NOWAIT);
	CT_GET_MSG(b, 70, 0, 50, IPCQ_NOWAIT);
	CT_PUT_MSG(b, 70, 1, 50, IPCQ_NOWAIT);
	CT_GET_MSG(a, 70, 1, 50, IPCQ_NOWAIT);
	/* a role is held while either handle holds it */
	CT_OK(ipcq_release(a, IPCQ_PRODUCER), a);
	CT_PUT_MSG(b, 70, 2, 50, IPCQ_NOWAIT);
	CT_GET_MSG(a, 70, 2, 50, IPCQ_NOWAIT);
	CT_ST(ipcq_poll(a, IPCQ_NOWAIT), IPCQ_EMPTY, a);
	if (c->caps & IPCQ_CAP_EOF) {
		CT_OK(ipcq_release(b, IPCQ_PRODUCER), b);
		CT_ST(ipcq_poll(a, CT_LONG), IPCQ_EOF, a);
	}
	CT_OK(ipcq_close(a), a);
	CT_OK(ipcq_close(b), b);
}
