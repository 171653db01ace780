/*
 * iceoryx.c - Eclipse iceoryx 2.0 (the C binding) as an ipcq mechanism:
 * one publisher and one subscriber per queue, messages in loaned chunks.
 *
 * Why one subscriber shared by every process, and not one per process:
 * iceoryx publish/subscribe fans each chunk out to every subscriber, and a
 * subscriber only sees chunks published after RouDi connected it. The
 * queue contract is the opposite: each message goes to one consumer, and
 * once a put returns, any process - a child forked later included - can
 * get it. So open() makes the queue's publisher and subscriber in the
 * opening process, waits until RouDi has connected them, and every process
 * that inherits the handle uses those same two ports: their state lives in
 * iceoryx's shared segments, mapped at the same address in every forked
 * child, and taking or publishing a chunk needs no word with RouDi. A
 * port's bookkeeping (its list of chunks in use) is single-threaded, so
 * puts run under one process-shared robust mutex and gets under another.
 * That makes the queue MPMC and FIFO. Each message is one chunk of
 * 8 + len bytes (its length, then its bytes): one copy in, one copy out.
 *
 * What iceoryx does not give, the queue adds on top:
 *   - capacity: a shared count of queued messages, raised after publish
 *     and lowered after a take; a put past capacity waits (the subscriber
 *     queue, at most 256 chunks, is never asked to overflow);
 *   - TOOBIG and poll that leave the message queued: a chunk taken but not
 *     delivered stays held by the subscriber, its address in shared memory
 *     (pending), and the next get in any process takes it from there;
 *   - EOF and BROKEN: the core's lifelines, as every mechanism here;
 *   - waiting with a deadline: a bounded spin (50 us) on the count, then a
 *     shared futex, naps of 50 ms to look at the lifelines. An iceoryx
 *     WaitSet or Listener would need a runtime in every waiting process
 *     and attaches to one subscriber once; the spin is what gives the
 *     microsecond round trips, and the futex keeps deadlines exact.
 *
 * Runtimes and fork. iceoryx keeps one runtime per process, a C++ static
 * that a forked child inherits under its parent's name; using it to talk
 * to RouDi from the child crosses replies with the parent's (seen: an
 * abort at the first port made). Port operations need no runtime, which is
 * what lets children use inherited queues. A process that must make ports
 * itself while it holds an ancestor's runtime (it opens a queue after
 * fork) loads a fresh copy of the library with dlmopen(LM_ID_NEWLM) and
 * registers its own runtime there; each queue remembers which copy made
 * it. The runtime is named ipcq-iox-<pid>. A child that ends with exit()
 * would run the inherited runtime's destructor and unregister its parent
 * from RouDi: an on_exit hook, registered after each runtime, makes any
 * other process leave by _exit(status) before that destructor runs.
 *
 * Lifetimes. A queue's ports belong to the runtime of its opener: a close
 * in another process lets go of nothing of iceoryx's, and the opener's
 * close frees the ports once no process holds a role any more (until then
 * they wait in a list swept at each open and close). The queue ends with
 * the opener's process (RouDi removes a dead process's ports after about
 * 1.5 s); other processes then get PEERDEAD when they next wait.
 *
 * RouDi. With a RouDi running (/tmp/roudi answers) the queues use it. With
 * none, the first open starts a private iox-roudi with a config of its own
 * (mempools up to 4 MiB, about 270 MB of shared memory) in a 0700
 * temporary directory, says so on stderr, and leaves it to a supervisor in
 * a session of its own. Every process that registers a runtime holds a
 * shared flock on /tmp/ipcq-iox-users.lock for life; once nobody has held
 * one for 3 s (long enough for RouDi to have noticed every dead process:
 * it aborts at shutdown on one it has not), the supervisor takes the lock
 * exclusively, stops RouDi and removes what it leaves (/dev/shm/iceoryx_mgmt,
 * /dev/shm/<user>, /tmp/roudi*) and the runtimes' sockets. iceoryx 2.0 uses
 * these fixed names, so one RouDi serves the whole host: two test runs of
 * this mechanism at once share it, and the ctest entry runs alone.
 *
 * Sections: library copies and runtimes - private RouDi - shared state and
 * waiting - ops.
 */
#include "mech.h"

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IOX_MAX_CAPACITY 256          /* iceoryx 2.0's MAX_SUBSCRIBER_QUEUE_CAPACITY */
#define IOX_PRIVATE_MAX_CHUNK 4194368 /* the largest mempool of the private config */
#define IOX_HDR 8                     /* the length in front of each message */
#define IOX_SPIN_NS 50000LL
#define IOX_NAP_NS 50000000LL
#define IOX_CHECK_EVERY 1024u         /* puts between two looks at the consumers' lifeline */
#define IOX_CONNECT_NS 10000000000LL  /* open: RouDi connects the two ports within this */
#define IOX_LINGER_NS 3000000000LL    /* the private RouDi outlives its last user by this */
#define IOX_ROUDI_SOCKET "/tmp/roudi"
#define IOX_USERS_LOCK "/tmp/ipcq-iox-users.lock"
#define IOX_START_LOCK "/tmp/ipcq-iox-start.lock"
#define NOTREADY (-1)

/* --- Library copies and runtimes ------------------------------------------------ */

#define IOX_FNS(X)                                                                                 \
	X(runtime_init, iox_runtime_init)                                                            \
	X(set_loglevel, iox_set_loglevel)                                                            \
	X(pub_options_init, iox_pub_options_init)                                                    \
	X(pub_init, iox_pub_init)                                                                    \
	X(pub_deinit, iox_pub_deinit)                                                                \
	X(pub_loan, iox_pub_loan_aligned_chunk)                                                      \
	X(pub_publish, iox_pub_publish_chunk)                                                        \
	X(pub_has_subscribers, iox_pub_has_subscribers)                                              \
	X(sub_options_init, iox_sub_options_init)                                                    \
	X(sub_init, iox_sub_init)                                                                    \
	X(sub_deinit, iox_sub_deinit)                                                                \
	X(sub_state, iox_sub_get_subscription_state)                                                 \
	X(sub_take, iox_sub_take_chunk)                                                              \
	X(sub_release, iox_sub_release_chunk)

/* One copy of the library: the one linked in, or one loaded by dlmopen. */
struct iox_api {
#define IOX_FIELD(field, sym) __typeof__(&sym) field;
	IOX_FNS(IOX_FIELD)
#undef IOX_FIELD
};

static const struct iox_api iox_linked = {
#define IOX_LINKED(field, sym) .field = sym,
	IOX_FNS(IOX_LINKED)
#undef IOX_LINKED
};

/* This process's runtime, and the queues whose ports wait to be freed. */
struct iox_zombie;
static struct {
	pthread_mutex_t lock;
	const struct iox_api *api; /* the copy whose runtime is registered; NULL before the first */
	pid_t pid;                 /* the process that registered it (a parent's, after fork) */
	int users_fd;              /* shared flock on IOX_USERS_LOCK, held for life */
	struct iox_zombie *zombies;
} rt = { .lock = PTHREAD_MUTEX_INITIALIZER, .users_fd = -1 };

/* A fork while another thread held the lock leaves it held for good in the child. */
static void iox_fork_child(void)
{
	pthread_mutex_init(&rt.lock, NULL);
}

static void iox_fork_hooks(void)
{
	pthread_atfork(NULL, NULL, iox_fork_child);
}

/* Runs before the runtime destructor registered just before it: only its owner may run that. */
static void iox_exit_guard(int status, void *owner)
{
	if (getpid() != (pid_t)(intptr_t)owner) {
		fflush(NULL);
		_exit(status);
	}
}

/* A fresh copy of the library, statics and all, for a process holding its parent's runtime. */
static int iox_load_copy(const struct iox_api **out)
{
	Dl_info info;
	if (!dladdr((void *)&iox_runtime_init, &info) || !info.dli_fname)
		return ipcq__fail(IPCQ_SYSERR, 0, "iceoryx: dladdr cannot name the library holding iox_runtime_init");
	void *h = dlmopen(LM_ID_NEWLM, info.dli_fname, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return ipcq__fail(IPCQ_SYSERR, 0,
		                  "iceoryx: this process was forked from one with an iceoryx runtime, so it needs a "
		                  "fresh copy of %s for its own, and dlmopen refused: %s",
		                  info.dli_fname, dlerror());
	struct iox_api *a = calloc(1, sizeof *a);
	if (!a)
		return ipcq__sys(ENOMEM, "iceoryx: allocating a library table");
	const char *missing = NULL;
#define IOX_DLSYM(field, sym)                                                                      \
	if (!missing && !(*(void **)&a->field = dlsym(h, #sym)))                                         \
		missing = #sym;
	IOX_FNS(IOX_DLSYM)
#undef IOX_DLSYM
	if (missing) {
		free(a);
		return ipcq__fail(IPCQ_SYSERR, 0, "iceoryx: %s is missing from the dlmopen'd copy of %s", missing,
		                  info.dli_fname);
	}
	*out = a; /* kept for the process's life, like the copy */
	return IPCQ_OK;
}

/* Removes /tmp/ipcq-iox-<pid> and .lock (a runtime's socket) of processes that have ended. */
static void iox_sweep_sockets(void)
{
	DIR *d = opendir("/tmp");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid, n = 0;
		if (sscanf(e->d_name, "ipcq-iox-%d%n", &pid, &n) != 1 || pid <= 0 ||
		    (e->d_name[n] && strcmp(e->d_name + n, ".lock")) || !ipcq__pid_ended(pid))
			continue;
		char path[300];
		snprintf(path, sizeof path, "/tmp/%s", e->d_name);
		struct stat sb;
		if (lstat(path, &sb) == 0 && sb.st_uid == geteuid() && !S_ISDIR(sb.st_mode))
			unlink(path);
	}
	closedir(d);
}

static int iox_roudi_ensure(void);

/* This process's runtime, registered on first need; rt.lock held. */
static int iox_runtime(const struct iox_api **out)
{
	pid_t me = getpid();
	if (rt.api && rt.pid == me) {
		*out = rt.api;
		return IPCQ_OK;
	}
	int rc = iox_roudi_ensure();
	if (rc != IPCQ_OK)
		return rc;
	const struct iox_api *api = &iox_linked;
	if (rt.api && (rc = iox_load_copy(&api)) != IPCQ_OK)
		return rc;
	api->set_loglevel(Iceoryx_LogLevel_Error); /* the library says Debug by default */
	iox_sweep_sockets();
	char name[64];
	snprintf(name, sizeof name, "ipcq-iox-%d", (int)me);
	api->runtime_init(name);
	on_exit(iox_exit_guard, (void *)(intptr_t)me);
	rt.api = api;
	rt.pid = me;
	*out = api;
	return IPCQ_OK;
}

/* --- Private RouDi ------------------------------------------------------------------ */

/* True when a RouDi is bound to its socket (a datagram connect needs a bound peer). */
static bool iox_roudi_up(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s", IOX_ROUDI_SOCKET);
	int r;
	do
		r = connect(fd, (struct sockaddr *)&a, sizeof a);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r == 0;
}

static int iox_flock(int fd, int op)
{
	int r;
	do
		r = flock(fd, op);
	while (r < 0 && errno == EINTR);
	return r;
}

/* The path of iox-roudi in PATH, or false. */
static bool iox_find_roudi(char *out, size_t cap)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n && (size_t)snprintf(out, cap, "%.*s/iox-roudi", (int)n, path) < cap && access(out, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/* Paths the supervisor needs, made before it is forked (it calls nothing that allocates). */
struct iox_srv {
	char exe[512], dir[64], cfg[96], log[96];
	char shm_data[300]; /* /dev/shm/<user>: RouDi's payload segment */
	char *argv[8];
};

/* RouDi's fixed names, removed after it ended if it could not (it aborts on some shutdowns). */
static void iox_srv_cleanup(const struct iox_srv *s)
{
	unlink("/dev/shm/iceoryx_mgmt");
	unlink(s->shm_data);
	unlink(IOX_ROUDI_SOCKET);
	unlink("/tmp/roudi.lock");
	unlink("/tmp/iox-unique-roudi.lock");
}

/*
 * The supervisor, in a session of its own: fd 3 reports to the starter
 * (RouDi's pid, then the tail of its log if it ended by itself), fd 4 is
 * /dev/null. It stops RouDi once no process has held the users' lock for
 * IOX_LINGER_NS, keeping the lock exclusively meanwhile so nobody
 * registers with a RouDi that is stopping.
 */
static void iox_supervise(void *arg)
{
	const struct iox_srv *s = arg;
	signal(SIGPIPE, SIG_IGN);
	int ufd = open(IOX_USERS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int lfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t pid = ufd >= 0 && lfd >= 0 ? fork() : -1;
	if (pid == 0) {
		dup2(4, 0);
		dup2(lfd, 1);
		dup2(lfd, 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		extern char **environ;
		execve(s->exe, s->argv, environ);
		_exit(127);
	}
	if (pid > 0)
		(void)!write(3, &pid, sizeof pid);
	int status = 0;
	bool ended = pid < 0;
	int64_t idle_since = 0;
	while (!ended) {
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ended = true;
			break;
		}
		if (flock(ufd, LOCK_EX | LOCK_NB) != 0) {
			idle_since = 0;
			continue;
		}
		int64_t now = ipcq__now_ns();
		if (!idle_since)
			idle_since = now;
		if (now - idle_since < IOX_LINGER_NS) {
			flock(ufd, LOCK_UN);
			continue;
		}
		kill(pid, SIGTERM); /* RouDi removes its names itself when it stops cleanly */
		for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) != pid; i++)
			nanosleep(&ts, NULL);
		if (waitpid(pid, &status, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		iox_srv_cleanup(s);
		iox_sweep_sockets();
		unlink(s->cfg);
		unlink(s->log);
		rmdir(s->dir);
		_exit(0);
	}
	/* Ended by itself (or never ran): the tail of its log says why, for a starter waiting on fd 3. */
	char buf[400];
	int fd = open(s->log, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf, 0) : -1;
	if (n > 0)
		(void)!write(3, buf, (size_t)n);
	else
		(void)!write(3, "iox-roudi could not be run", 26);
	if (fd >= 0)
		close(fd);
	if (pid > 0)
		iox_srv_cleanup(s);
	unlink(s->cfg);
	unlink(s->log);
	rmdir(s->dir);
	_exit(0);
}

/* Mempools of the private RouDi: payload sizes (8 + message, rounded to 8) and counts. */
static const struct {
	unsigned size, count;
} iox_pools[] = {
	{ 136, 4096 },     { 1088, 1024 },    { 4160, 512 }, { 16448, 512 },
	{ 65600, 512 },    { 262208, 160 },   { 1048640, 80 }, { IOX_PRIVATE_MAX_CHUNK, 8 },
};

static int iox_write_config(const char *path)
{
	FILE *f = fopen(path, "wx");
	if (!f)
		return ipcq__sys(errno, "iceoryx: creating the private RouDi's config %s", path);
	fprintf(f, "# written by libipcq for a private RouDi\n[general]\nversion = 1\n\n[[segment]]\n");
	for (size_t i = 0; i < sizeof iox_pools / sizeof iox_pools[0]; i++)
		fprintf(f, "\n[[segment.mempool]]\nsize = %u\ncount = %u\n", iox_pools[i].size, iox_pools[i].count);
	if (fclose(f) != 0)
		return ipcq__sys(errno, "iceoryx: writing %s", path);
	return IPCQ_OK;
}

/* Starts a private RouDi and waits until it answers; the start lock is held. */
static int iox_roudi_start(void)
{
	static struct iox_srv s; /* static: the supervisor reads it after fork */
	memset(&s, 0, sizeof s);
	if (!iox_find_roudi(s.exe, sizeof s.exe))
		return ipcq__fail(IPCQ_UNSUPPORTED, ENOENT,
		                  "iceoryx: no RouDi is running and iox-roudi is not installed: "
		                  "apt-get install iceoryx, or start a RouDi yourself");
	struct passwd *pw = getpwuid(geteuid());
	snprintf(s.shm_data, sizeof s.shm_data, "/dev/shm/%s", pw && pw->pw_name ? pw->pw_name : "iceoryx_data");
	snprintf(s.dir, sizeof s.dir, "/tmp/ipcq-iox-roudi-XXXXXX");
	if (!mkdtemp(s.dir))
		return ipcq__sys(errno, "iceoryx: mkdtemp %s for the private RouDi", s.dir);
	snprintf(s.cfg, sizeof s.cfg, "%s/roudi.toml", s.dir);
	snprintf(s.log, sizeof s.log, "%s/log", s.dir);
	int rc = iox_write_config(s.cfg);
	if (rc != IPCQ_OK) {
		rmdir(s.dir);
		return rc;
	}
	char *const argv[] = { "iox-roudi", "-c", s.cfg, "-l", "warning", "-m", "on", NULL };
	memcpy(s.argv, argv, sizeof argv);

	int rep[2] = { -1, -1 };
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	bool supervised = false;
	if (null_fd < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		rc = ipcq__sys(errno, "iceoryx: a pipe for the private RouDi");
		goto out;
	}
	int hand[2] = { rep[1], null_fd };
	rc = ipcq__detach(iox_supervise, &s, hand, 2, "iceoryx: the private RouDi's supervisor");
	close(rep[1]);
	rep[1] = -1;
	if (rc != IPCQ_OK)
		goto out;
	supervised = true;
	pid_t roudi = 0;
	int64_t end = ipcq__now_ns() + 20000000000LL;
	for (;;) {
		if (roudi && iox_roudi_up()) {
			fprintf(stderr,
			        "ipcq: iceoryx: no RouDi was running: started a private iox-roudi (pid %d, config %s); "
			        "it stops %lld s after the last process using it ends\n",
			        (int)roudi, s.cfg, IOX_LINGER_NS / 1000000000LL);
			break;
		}
		struct pollfd p = { .fd = rep[0], .events = POLLIN };
		int n = poll(&p, 1, 5);
		if (n > 0 && !roudi) {
			ssize_t got = read(rep[0], &roudi, sizeof roudi);
			if (got == (ssize_t)sizeof roudi)
				continue;
			roudi = 0;
		}
		if (n > 0 || ipcq__now_ns() > end) {
			char why[401] = "";
			ssize_t got = n > 0 ? read(rep[0], why, sizeof why - 1) : 0;
			why[got > 0 ? got : 0] = '\0';
			for (char *c = why; *c; c++)
				if (*c == '\n' || *c == '\033')
					*c = ' ';
			rc = ipcq__fail(IPCQ_SYSERR, ECONNREFUSED, "iceoryx: the private iox-roudi (%s) did not start: %s",
			                s.exe, *why ? why : "it did not answer within 20 s");
			break;
		}
	}
out:
	if (!supervised) {
		unlink(s.cfg);
		rmdir(s.dir); /* else the supervisor removes them */
	}
	for (int i = 0; i < 2; i++)
		if (rep[i] >= 0)
			close(rep[i]);
	if (null_fd >= 0)
		close(null_fd);
	return rc;
}

/* A RouDi to talk to: the one running, else a private one. rt.lock held. */
static int iox_roudi_ensure(void)
{
	if (rt.users_fd < 0) {
		/* Shared for life: a supervisor stops its RouDi only once nobody holds it. */
		int fd = open(IOX_USERS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return ipcq__sys(errno, "iceoryx: open %s", IOX_USERS_LOCK);
		if (iox_flock(fd, LOCK_SH) < 0) {
			int e = errno;
			close(fd);
			return ipcq__sys(e, "iceoryx: flock %s", IOX_USERS_LOCK);
		}
		rt.users_fd = fd;
	}
	if (iox_roudi_up())
		return IPCQ_OK;
	int sfd = open(IOX_START_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sfd < 0)
		return ipcq__sys(errno, "iceoryx: open %s", IOX_START_LOCK);
	int rc = iox_flock(sfd, LOCK_EX) < 0 ? ipcq__sys(errno, "iceoryx: flock %s", IOX_START_LOCK) : IPCQ_OK;
	if (rc == IPCQ_OK && !iox_roudi_up())
		rc = iox_roudi_start();
	close(sfd);
	return rc;
}

/* --- Shared state and waiting -------------------------------------------------------- */

/* One page per queue, MAP_SHARED before fork. */
struct iox_shared {
	pthread_mutex_t put_lock; /* over the publisher port */
	pthread_mutex_t get_lock; /* over the subscriber port and pending */
	const void *pending;      /* a chunk taken but not delivered (TOOBIG, poll); get_lock */
	atomic_int prod_gone, cons_gone;
	alignas(64) atomic_long count; /* queued messages, pending included; may dip below 0 for a moment */
	alignas(64) atomic_uint data_seq, data_waiters, data_spinners;
	alignas(64) atomic_uint room_seq, room_waiters, room_spinners;
};

struct iceoryx {
	const struct iox_api *api; /* the library copy that made the ports */
	pid_t opener;
	bool have_life;
	struct ipcq__life life;
	struct iox_shared *sh;
	iox_pub_storage_t pub_st;
	iox_sub_storage_t sub_st;
	iox_pub_t pub;
	iox_sub_t sub;
	size_t capacity;
	unsigned max_spinners;
	atomic_uint puts;
};

/* Ports whose opener closed them while others still held a role. */
struct iox_zombie {
	struct iox_zombie *next;
	const struct iox_api *api;
	iox_pub_t pub;
	iox_sub_t sub;
	struct ipcq__life life;
	struct iox_shared *sh;
};

static inline void iox_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void iox_futex_wait(atomic_uint *word, unsigned val, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	/* Never FUTEX_PRIVATE_FLAG: the word is in shared memory. EINTR, EAGAIN: the caller looks again. */
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, val, &ts, NULL, 0);
}

/* After a change: bump the word, and wake sleepers only if there are any. */
static void iox_signal(atomic_uint *seq, atomic_uint *waiters)
{
	atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst);
	if (atomic_load_explicit(waiters, memory_order_seq_cst))
		syscall(SYS_futex, (uint32_t *)seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* True once every process holding role has released it or died. */
static bool iox_gone(struct iceoryx *q, unsigned role)
{
	atomic_int *flag = role == IPCQ_PRODUCER ? &q->sh->prod_gone : &q->sh->cons_gone;
	if (atomic_load_explicit(flag, memory_order_acquire))
		return true;
	if (!ipcq__life_gone(&q->life, role))
		return false;
	atomic_store_explicit(flag, 1, memory_order_release);
	return true;
}

static int iox_lock(pthread_mutex_t *m)
{
	int rc = ipcq__plock_lock(m, IPCQ__NEVER);
	/* A holder died inside: iceoryx's port state is single-word updates we cannot check; go on. */
	return rc == IPCQ_PEERDEAD ? IPCQ_OK : rc;
}

static int iox_try_put(struct iceoryx *q, const void *msg, size_t len)
{
	struct iox_shared *sh = q->sh;
	if (atomic_load_explicit(&sh->count, memory_order_acquire) >= (long)q->capacity)
		return NOTREADY;
	int rc = iox_lock(&sh->put_lock);
	if (rc != IPCQ_OK)
		return ipcq__fail(rc, 0, "iceoryx: put: the queue's lock failed");
	/* Producers are serialised here and consumers only lower the count: room seen is room kept. */
	if (atomic_load_explicit(&sh->count, memory_order_acquire) >= (long)q->capacity) {
		ipcq__plock_unlock(&sh->put_lock);
		return NOTREADY;
	}
	void *chunk = NULL;
	enum iox_AllocationResult ar = q->api->pub_loan(q->pub, &chunk, (uint32_t)(IOX_HDR + len), 8);
	if (ar != AllocationResult_SUCCESS) {
		ipcq__plock_unlock(&sh->put_lock);
		/* The mempool of that size is used up: wait for our consumers to give chunks back, if any are out. */
		if (ar == AllocationResult_RUNNING_OUT_OF_CHUNKS && atomic_load(&sh->count) > 0)
			return NOTREADY;
		return ipcq__fail(IPCQ_LIMIT, ENOMEM,
		                  "iceoryx: put: RouDi could not loan a chunk of %zu bytes (%s); the private RouDi's "
		                  "mempools hold chunks up to %d bytes; with a RouDi of your own, give its config a "
		                  "mempool for this size and enough chunks",
		                  IOX_HDR + len,
		                  ar == AllocationResult_RUNNING_OUT_OF_CHUNKS ? "its mempool for that size is used up"
		                  : ar == AllocationResult_NO_MEMPOOLS_AVAILABLE ? "no mempool holds chunks that big"
		                                                                  : "allocation failed",
		                  IOX_PRIVATE_MAX_CHUNK - IOX_HDR);
	}
	uint64_t n = len;
	memcpy(chunk, &n, sizeof n);
	if (len)
		memcpy((char *)chunk + IOX_HDR, msg, len);
	q->api->pub_publish(q->pub, chunk);
	atomic_fetch_add_explicit(&sh->count, 1, memory_order_release);
	ipcq__plock_unlock(&sh->put_lock);
	iox_signal(&sh->data_seq, &sh->data_waiters);
	return IPCQ_OK;
}

/* Takes the oldest message into buf; peek (poll) only makes sure one is at hand. */
static int iox_try_get(struct iceoryx *q, void *buf, size_t cap, size_t *len, bool peek)
{
	struct iox_shared *sh = q->sh;
	if (atomic_load_explicit(&sh->count, memory_order_acquire) <= 0)
		return NOTREADY;
	int rc = iox_lock(&sh->get_lock);
	if (rc != IPCQ_OK)
		return ipcq__fail(rc, 0, "iceoryx: get: the queue's lock failed");
	const void *chunk = sh->pending;
	if (!chunk) {
		enum iox_ChunkReceiveResult r = q->api->sub_take(q->sub, &chunk);
		if (r != ChunkReceiveResult_SUCCESS) {
			ipcq__plock_unlock(&sh->get_lock);
			if (r == ChunkReceiveResult_NO_CHUNK_AVAILABLE)
				return NOTREADY; /* counted before its publish was seen here: a moment */
			return ipcq__fail(IPCQ_SYSERR, 0, "iceoryx: get: iox_sub_take_chunk failed (%d)", (int)r);
		}
	}
	uint64_t n;
	memcpy(&n, chunk, sizeof n);
	if (peek || n > cap) {
		sh->pending = chunk;
		ipcq__plock_unlock(&sh->get_lock);
		if (peek)
			return IPCQ_OK;
		*len = (size_t)n;
		return ipcq__fail(IPCQ_TOOBIG, 0,
		                  "iceoryx: get: message of %llu bytes does not fit the buffer of %zu bytes; it stays queued",
		                  (unsigned long long)n, cap);
	}
	if (n)
		memcpy(buf, (const char *)chunk + IOX_HDR, (size_t)n);
	*len = (size_t)n;
	q->api->sub_release(q->sub, chunk);
	sh->pending = NULL;
	atomic_fetch_sub_explicit(&sh->count, 1, memory_order_release);
	ipcq__plock_unlock(&sh->get_lock);
	iox_signal(&sh->room_seq, &sh->room_waiters);
	return IPCQ_OK;
}

enum iox_kind { OP_PUT, OP_GET, OP_POLL };

struct iox_op {
	enum iox_kind kind;
	const void *msg;
	void *buf;
	size_t len, cap;
	size_t *out_len;
};

static int iox_attempt(struct iceoryx *q, const struct iox_op *op)
{
	return op->kind == OP_PUT ? iox_try_put(q, op->msg, op->len)
	                          : iox_try_get(q, op->buf, op->cap, op->out_len, op->kind == OP_POLL);
}

static int iox_broken(void)
{
	return ipcq__fail(IPCQ_BROKEN, EPIPE, "iceoryx: put: no consumer is left (every process released, closed or died)");
}

/* What the lifelines say when the op cannot go on: BROKEN, EOF (after one more look), or NOTREADY. */
static int iox_look_around(struct iceoryx *q, const struct iox_op *op)
{
	if (op->kind == OP_PUT)
		return iox_gone(q, IPCQ_CONSUMER) ? iox_broken() : NOTREADY;
	if (!iox_gone(q, IPCQ_PRODUCER))
		return NOTREADY;
	/* The last producer may have put just before it left: look once more. */
	int rc = iox_attempt(q, op);
	return rc == NOTREADY ? IPCQ_EOF : rc;
}

/* True when the condition the op waits for may hold (one load). */
static bool iox_may_go(const struct iceoryx *q, const struct iox_op *op)
{
	long n = atomic_load_explicit(&q->sh->count, memory_order_acquire);
	return op->kind == OP_PUT ? n < (long)q->capacity : n > 0;
}

static int iox_peerdead(const struct iceoryx *q)
{
	return ipcq__fail(IPCQ_PEERDEAD, EPIPE,
	                  "iceoryx: the process that opened this queue (pid %d) has ended, and RouDi frees its "
	                  "ports: the queue is gone; keep the opener alive while others use it",
	                  (int)q->opener);
}

static int iox_run(struct iceoryx *q, const struct iox_op *op, ipcq_deadline dl)
{
	int rc = iox_attempt(q, op);
	if (rc != NOTREADY)
		return rc;
	int none = op->kind == OP_PUT ? IPCQ_FULL : IPCQ_EMPTY;
	rc = iox_look_around(q, op);
	if (rc != NOTREADY || dl == IPCQ__NOW)
		return rc == NOTREADY ? none : rc;

	/* Spin: a peer on another CPU answers within microseconds. Capped, so idle waiters sleep. */
	bool put = op->kind == OP_PUT;
	atomic_uint *spinners = put ? &q->sh->room_spinners : &q->sh->data_spinners;
	bool spin = atomic_fetch_add_explicit(spinners, 1, memory_order_relaxed) < q->max_spinners;
	if (!spin)
		atomic_fetch_sub_explicit(spinners, 1, memory_order_relaxed);
	int64_t now = 0, spin_end = 0, yield_from = 0;
	for (unsigned i = 1; spin; i++) {
		iox_pause();
		if (iox_may_go(q, op)) {
			rc = iox_attempt(q, op);
			if (rc != NOTREADY)
				break;
		}
		if ((i & 15) == 0) {
			now = ipcq__now_ns();
			if (!spin_end) {
				spin_end = now + IOX_SPIN_NS;
				yield_from = now + 2000;
				if (dl != IPCQ__NEVER && spin_end > dl)
					spin_end = dl;
			}
			if (now >= spin_end)
				break;
		}
		/* Past a couple of microseconds the peer may be preempted on our own CPU: let it run. */
		if ((i & 63) == 0 && now > yield_from)
			sched_yield();
	}
	if (spin)
		atomic_fetch_sub_explicit(spinners, 1, memory_order_relaxed);
	if (rc != NOTREADY)
		return rc;

	/* Sleep on the futex of the side we wait for; nap to look at the lifelines and the opener. */
	atomic_uint *waiters = put ? &q->sh->room_waiters : &q->sh->data_waiters;
	atomic_uint *word = put ? &q->sh->room_seq : &q->sh->data_seq;
	for (;;) {
		atomic_fetch_add_explicit(waiters, 1, memory_order_seq_cst);
		unsigned v = atomic_load_explicit(word, memory_order_seq_cst);
		/* Looks after announcing ourselves: a change they miss moves the word, and the wait returns. */
		rc = iox_attempt(q, op);
		if (rc == NOTREADY)
			rc = iox_look_around(q, op);
		int64_t left = ipcq__remaining_ns(dl);
		if (rc == NOTREADY && left != 0)
			iox_futex_wait(word, v, left < 0 || left > IOX_NAP_NS ? IOX_NAP_NS : left);
		atomic_fetch_sub_explicit(waiters, 1, memory_order_relaxed);
		if (rc != NOTREADY)
			return rc;
		if (ipcq__remaining_ns(dl) == 0)
			return none;
		if (getpid() != q->opener && ipcq__pid_ended(q->opener))
			return iox_peerdead(q);
	}
}

/* --- Ops ------------------------------------------------------------------------------ */

static void iox_ports_free(const struct iox_api *api, iox_pub_t pub, iox_sub_t sub)
{
	if (sub)
		api->sub_deinit(sub);
	if (pub)
		api->pub_deinit(pub);
}

/* Frees the ports of closed queues nobody holds any more; rt.lock held, in the opener. */
static void iox_sweep_zombies(void)
{
	pid_t me = getpid();
	for (struct iox_zombie **zp = &rt.zombies; *zp;) {
		struct iox_zombie *z = *zp;
		if (rt.pid != me) { /* a child's copy of its parent's list: not ours to free */
			rt.zombies = NULL;
			return;
		}
		if (!ipcq__life_gone(&z->life, IPCQ_PRODUCER) || !ipcq__life_gone(&z->life, IPCQ_CONSUMER)) {
			zp = &z->next;
			continue;
		}
		*zp = z->next;
		iox_ports_free(z->api, z->pub, z->sub);
		ipcq__life_close(&z->life);
		ipcq__shm_free(z->sh, sizeof *z->sh);
		free(z);
	}
}

static int iceoryx_release(void *st, unsigned roles)
{
	struct iceoryx *q = st;
	ipcq__life_release(&q->life, roles);
	/* Puts look at the consumers' lifeline now and then; a release of the last one here is seen at once. */
	if (roles & IPCQ_CONSUMER)
		iox_gone(q, IPCQ_CONSUMER);
	/* Sleepers look at the lifelines when the words move. */
	iox_signal(&q->sh->data_seq, &q->sh->data_waiters);
	iox_signal(&q->sh->room_seq, &q->sh->room_waiters);
	return IPCQ_OK;
}

static void iceoryx_close(void *st)
{
	struct iceoryx *q = st;
	bool opener = q->opener == getpid();
	if (q->have_life && q->sh)
		iceoryx_release(q, IPCQ_PRODUCER | IPCQ_CONSUMER);
	if (!opener) {
		/* The ports are the opener's: a child's close lets go of nothing of iceoryx's. */
		if (q->have_life)
			ipcq__life_close(&q->life);
		if (q->sh)
			ipcq__shm_free(q->sh, sizeof *q->sh);
		q->have_life = false;
		q->sh = NULL;
		return;
	}
	pthread_mutex_lock(&rt.lock);
	bool held = q->have_life && (!ipcq__life_gone(&q->life, IPCQ_PRODUCER) || !ipcq__life_gone(&q->life, IPCQ_CONSUMER));
	struct iox_zombie *z = held ? calloc(1, sizeof *z) : NULL;
	if (z) {
		*z = (struct iox_zombie){ .next = rt.zombies, .api = q->api, .pub = q->pub, .sub = q->sub,
			                  .life = q->life, .sh = q->sh };
		rt.zombies = z;
	} else {
		if (q->api)
			iox_ports_free(q->api, q->pub, q->sub);
		if (q->have_life)
			ipcq__life_close(&q->life);
		if (q->sh)
			ipcq__shm_free(q->sh, sizeof *q->sh);
	}
	iox_sweep_zombies();
	pthread_mutex_unlock(&rt.lock);
	q->pub = NULL;
	q->sub = NULL;
	q->sh = NULL;
	q->have_life = false;
}

static int iceoryx_open(void *st, const ipcq_config *cfg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, iox_fork_hooks);
	struct iceoryx *q = st;
	q->opener = getpid();
	if (cfg->endpoint)
		return ipcq__fail(IPCQ_UNSUPPORTED, 0, "iceoryx: cfg.endpoint means nothing here (RouDi is found by its "
		                                       "socket, %s); leave it NULL", IOX_ROUDI_SOCKET);
	if (cfg->capacity > IOX_MAX_CAPACITY)
		return ipcq__fail(IPCQ_LIMIT, 0,
		                  "iceoryx: capacity %zu exceeds %d, the most chunks an iceoryx 2.0 subscriber queues "
		                  "(IOX_MAX_SUBSCRIBER_QUEUE_CAPACITY, fixed when iceoryx is built); use a smaller capacity",
		                  cfg->capacity, IOX_MAX_CAPACITY);
	if (cfg->max_msg > IOX_PRIVATE_MAX_CHUNK - IOX_HDR)
		return ipcq__fail(IPCQ_LIMIT, 0,
		                  "iceoryx: max_msg %zu exceeds %d bytes, the largest message in the biggest chunk of "
		                  "the private RouDi's mempools (iceoryx's built-in config also stops at 4 MiB); use a "
		                  "smaller max_msg",
		                  cfg->max_msg, IOX_PRIVATE_MAX_CHUNK - IOX_HDR);
	q->capacity = cfg->capacity;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	q->max_spinners = cpus > 2 ? (unsigned)(cpus / 2) : 1;

	pthread_mutex_lock(&rt.lock);
	const struct iox_api *api = NULL;
	int rc = iox_runtime(&api);
	if (rc == IPCQ_OK)
		iox_sweep_zombies();
	pthread_mutex_unlock(&rt.lock);
	if (rc != IPCQ_OK)
		return rc;
	q->api = api;

	if ((rc = ipcq__life_open(&q->life)) != IPCQ_OK)
		return rc;
	q->have_life = true;
	if (!(q->sh = ipcq__shm_alloc(sizeof *q->sh)))
		return ipcq__sys(errno, "iceoryx: mmap of the queue's shared state");
	if ((rc = ipcq__plock_init(&q->sh->put_lock)) != IPCQ_OK || (rc = ipcq__plock_init(&q->sh->get_lock)) != IPCQ_OK)
		return rc;

	/* A topic of its own: ipcq / <pid>.<random> / q. */
	static atomic_uint serial;
	uint64_t r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint64_t)ipcq__now_ns();
	char instance[64];
	snprintf(instance, sizeof instance, "%d.%u.%016llx", (int)getpid(), atomic_fetch_add(&serial, 1),
	         (unsigned long long)r);
	iox_pub_options_t po;
	api->pub_options_init(&po);
	po.historyCapacity = 0;
	po.offerOnCreate = true;
	iox_sub_options_t so;
	api->sub_options_init(&so);
	so.queueCapacity = IOX_MAX_CAPACITY;
	so.historyRequest = 0;
	so.subscribeOnCreate = true;
	q->pub = api->pub_init(&q->pub_st, "ipcq", instance, "q", &po);
	q->sub = api->sub_init(&q->sub_st, "ipcq", instance, "q", &so);
	if (!q->pub || !q->sub)
		return ipcq__fail(IPCQ_LIMIT, 0, "iceoryx: RouDi refused a publisher or subscriber (%d and %d are the "
		                                 "most it holds at once)", 512, 1024);
	/* Connected by RouDi's discovery loop: until then a publish would reach nobody. */
	int64_t end = ipcq__now_ns() + IOX_CONNECT_NS;
	while (api->sub_state(q->sub) != SubscribeState_SUBSCRIBED || !api->pub_has_subscribers(q->pub)) {
		if (ipcq__now_ns() > end)
			return ipcq__fail(IPCQ_SYSERR, ETIMEDOUT,
			                  "iceoryx: RouDi did not connect the new queue's publisher and subscriber "
			                  "within %lld s; is RouDi overloaded or stopping?",
			                  IOX_CONNECT_NS / 1000000000LL);
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
	return IPCQ_OK;
}

static int iceoryx_put(void *st, const void *msg, size_t len, ipcq_deadline dl)
{
	struct iceoryx *q = st;
	/* A message nobody can get must not be queued: the flag is cheap, the lifeline now and then. */
	if (atomic_load_explicit(&q->sh->cons_gone, memory_order_relaxed))
		return iox_broken();
	unsigned n = atomic_load_explicit(&q->puts, memory_order_relaxed);
	atomic_store_explicit(&q->puts, n + 1, memory_order_relaxed);
	if ((n & (IOX_CHECK_EVERY - 1)) == 0 && iox_gone(q, IPCQ_CONSUMER))
		return iox_broken();
	struct iox_op op = { .kind = OP_PUT, .msg = msg, .len = len };
	return iox_run(q, &op, dl);
}

static int iceoryx_get(void *st, void *buf, size_t cap, size_t *len, ipcq_deadline dl)
{
	struct iox_op op = { .kind = OP_GET, .buf = buf, .cap = cap, .out_len = len };
	return iox_run(st, &op, dl);
}

static int iceoryx_poll(void *st, ipcq_deadline dl)
{
	struct iox_op op = { .kind = OP_POLL };
	return iox_run(st, &op, dl);
}

static int iceoryx_qsize(void *st, size_t *n)
{
	struct iceoryx *q = st;
	long c = atomic_load_explicit(&q->sh->count, memory_order_acquire);
	*n = c > 0 ? (size_t)c : 0;
	return IPCQ_OK;
}

const struct ipcq_mech ipcq_mech_iceoryx = {
	.version = IPCQ_MECH_VERSION,
	IPCQ_MECH_QUEUE_OPS(iceoryx),
	.name = "iceoryx",
	.summary = "Eclipse iceoryx 2.0 publish/subscribe in loaned chunks: one publisher and subscriber per queue, "
	           "shared by forked processes; RouDi (private when none runs)",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN | IPCQ_CAP_BOUNDED,
	.default_capacity = 64,
	.default_max_msg = 65536,
};
