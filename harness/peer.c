/*
 * peer.c - benchmark endpoints in child processes or threads (see peer.h).
 */
#include "peer.h"
#include "placement.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void *ipcb_shared_alloc(size_t size, char *err, size_t errlen)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap(MAP_SHARED, %zu bytes): %s", size, strerror(errno));
		return NULL;
	}
	return p;
}

void ipcb_shared_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

void ipcb_report_fail(struct ipcb_report *r, const char *fmt, ...)
{
	int expected = 0;
	/* 1 = being written, 2 = readable: a reader never sees half a message. */
	if (!atomic_compare_exchange_strong(&r->failed, &expected, 1))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
	atomic_store(&r->failed, 2);
}

bool ipcb_report_failed(struct ipcb_report *r)
{
	return atomic_load(&r->failed) == 2;
}

void ipcb_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
		         strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "ended with wait status 0x%x", status);
}

static void *thread_main(void *arg)
{
	struct ipcb_peer *p = arg;
	char err[256];
	pthread_setname_np(pthread_self(), p->proc_name); /* so top -H and perf show who is who */
	if (p->cpu >= 0 && ipcb_bind_thread(p->topo, p->cpu, err, sizeof err) != 0) {
		ipcb_report_fail(p->report, "%s", err);
		p->result = -1;
	} else {
		p->result = p->fn(p->arg);
	}
	atomic_store(&p->done, 1);
	return NULL;
}

int ipcb_peer_start(struct ipcb_peer *p, bool thread, hwloc_topology_t topo, int cpu,
                    const char *mech, ipcb_peer_fn fn, void *arg, struct ipcb_report *report,
                    char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	p->thread = thread;
	p->pidfd = -1;
	p->fn = fn;
	p->arg = arg;
	p->cpu = cpu;
	p->topo = topo;
	p->report = report;
	snprintf(p->proc_name, sizeof p->proc_name, "ipcb:%s", mech);

	if (thread) {
		int rc = pthread_create(&p->tid, NULL, thread_main, p);
		if (rc) {
			snprintf(err, errlen, "pthread_create: %s", strerror(rc));
			return -1;
		}
		p->running = true;
		return 0;
	}

	pid_t parent = getpid();
	fflush(NULL); /* unflushed stdio would otherwise be printed twice if the child flushed */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s%s", strerror(errno),
		         errno == EAGAIN ? " (process limit: check ulimit -u)" : "");
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(3);
		prctl(PR_SET_NAME, p->proc_name);
		char e[256];
		if (cpu >= 0 && ipcb_bind_process(topo, cpu, e, sizeof e) != 0) {
			ipcb_report_fail(report, "%s", e);
			_exit(2);
		}
		_exit(fn(arg) ? 1 : 0);
	}
	p->pid = pid;
	p->pidfd = pidfd_open(pid, 0);
	p->running = true;
	if (p->pidfd < 0) {
		snprintf(err, errlen, "pidfd_open(%d): %s (needs Linux 5.3)", (int)pid, strerror(errno));
		ipcb_peer_kill(p);
		return -1;
	}
	return 0;
}

int ipcb_peer_fd(const struct ipcb_peer *p)
{
	return p->pidfd;
}

static int reap(struct ipcb_peer *p, int options, char *why, size_t len)
{
	int status;
	pid_t r;
	do
		r = waitpid(p->pid, &status, options);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -1;
	p->running = false;
	close(p->pidfd);
	p->pidfd = -1;
	if (r < 0) {
		snprintf(why, len, "waitpid(%d): %s", (int)p->pid, strerror(errno));
		return 1;
	}
	ipcb_describe_status(status, why, len);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

void ipcb_peer_cause(struct ipcb_peer *p, const char *who, char *buf, size_t len)
{
	char how[128];
	if (p->report && ipcb_report_failed(p->report))
		snprintf(buf, len, "%s", p->report->msg);
	else if (ipcb_peer_ended(p, how, sizeof how))
		snprintf(buf, len, "the %s ended: %s", who, how);
	else if (len)
		buf[0] = 0;
}

bool ipcb_peer_ended(struct ipcb_peer *p, char *why, size_t len)
{
	if (!p->running)
		return true;
	if (p->thread) {
		if (!atomic_load(&p->done))
			return false;
		snprintf(why, len, "thread returned %d", p->result);
		return true;
	}
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	if (poll(&pfd, 1, 0) <= 0)
		return false;
	/* Leave it reapable for ipcb_peer_wait, but say how it ended. */
	siginfo_t si = { 0 };
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) {
		if (si.si_code == CLD_EXITED)
			snprintf(why, len, "exited with status %d", si.si_status);
		else
			snprintf(why, len, "killed by signal %d (%s)", si.si_status, strsignal(si.si_status));
	} else {
		snprintf(why, len, "ended");
	}
	return true;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int ipcb_peer_wait(struct ipcb_peer *p, int64_t timeout_ns, char *why, size_t len)
{
	if (!p->running) {
		snprintf(why, len, "already ended");
		return 0;
	}
	if (p->thread) {
		int64_t waited = 0;
		while (!atomic_load(&p->done)) {
			if (waited >= timeout_ns) {
				snprintf(why, len, "thread still running after %.1f s", timeout_ns / 1e9);
				return -1;
			}
			sleep_ns(1000000);
			waited += 1000000;
		}
		pthread_join(p->tid, NULL);
		p->running = false;
		snprintf(why, len, "thread returned %d", p->result);
		return p->result ? 1 : 0;
	}
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	int ms = timeout_ns < 0 ? -1 : (int)(timeout_ns / 1000000);
	int r;
	do
		r = poll(&pfd, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		snprintf(why, len, "process %d still running after %.1f s", (int)p->pid, timeout_ns / 1e9);
		return -1;
	}
	return reap(p, 0, why, len);
}

bool ipcb_peer_kill(struct ipcb_peer *p)
{
	if (!p->running)
		return true;
	if (p->thread) {
		if (atomic_load(&p->done)) {
			pthread_join(p->tid, NULL);
			p->running = false;
			return true;
		}
		/* A thread blocked inside a mechanism cannot be stopped safely. */
		pthread_detach(p->tid);
		p->running = false;
		return false;
	}
	kill(p->pid, SIGKILL);
	char why[64];
	reap(p, 0, why, sizeof why);
	return true;
}
