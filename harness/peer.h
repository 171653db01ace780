/*
 * peer.h - the other endpoints of a benchmark: forked children or threads,
 * each bound to a CPU, started, watched and ended in one place.
 *
 * A child process is named "ipcb:<mech>" (prctl), dies with its parent
 * (PR_SET_PDEATHSIG), never returns into the runner (_exit), and is always
 * reaped; a pidfd lets the runner wait for a message and for a death at once.
 * Failures inside a peer are written to a report in shared memory, so the
 * runner can name the cause in the benchmark's error row.
 */
#ifndef IPCB_PEER_H
#define IPCB_PEER_H

#include <hwloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* First failure of any endpoint, readable by every process of a benchmark. */
struct ipcb_report {
	atomic_int failed;
	char msg[400];
};

/* Zeroed MAP_SHARED memory that survives fork; NULL with a message in err. */
void *ipcb_shared_alloc(size_t size, char *err, size_t errlen);
/* Frees what ipcb_shared_alloc gave; NULL is allowed. */
void ipcb_shared_free(void *p, size_t size);

/* Records the first failure (later ones are dropped); printf-style. */
void ipcb_report_fail(struct ipcb_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* True once any endpoint failed. */
bool ipcb_report_failed(struct ipcb_report *r);

typedef int (*ipcb_peer_fn)(void *arg); /* 0 = done cleanly; else failed (reported) */

struct ipcb_peer {
	bool thread;
	bool running;  /* started and not yet waited for */
	pid_t pid;
	int pidfd;     /* -1 for threads */
	pthread_t tid;
	ipcb_peer_fn fn;
	void *arg;
	int cpu;
	hwloc_topology_t topo;
	char proc_name[16];
	struct ipcb_report *report;
	atomic_int done; /* thread finished */
	int result;      /* thread's fn result */
};

/*
 * Starts fn(arg) in a child process (thread == false) or a thread, bound to
 * cpu (-1: unbound) and named "ipcb:<mech>". Returns 0, or -1 with the
 * reason in err. A child ends with _exit(fn(arg) ? 1 : 0).
 */
int ipcb_peer_start(struct ipcb_peer *p, bool thread, hwloc_topology_t topo, int cpu,
                    const char *mech, ipcb_peer_fn fn, void *arg, struct ipcb_report *report,
                    char *err, size_t errlen);

/* The pidfd of a child (pollable: readable once it died), -1 for a thread. */
int ipcb_peer_fd(const struct ipcb_peer *p);

/*
 * Non-blocking: true if the peer has ended (a child exited or was killed, a
 * thread returned); why then says how ("killed by signal 9 (Killed)").
 */
bool ipcb_peer_ended(struct ipcb_peer *p, char *why, size_t len);

/*
 * Why the peer stopped answering, for an error row: its report's first
 * failure, else "the <who> ended: <how>" once it has ended, else "".
 */
void ipcb_peer_cause(struct ipcb_peer *p, const char *who, char *buf, size_t len);

/*
 * Waits at most timeout_ns for the peer to end and reaps it. Returns 0 when
 * it ended cleanly, 1 when it ended badly (why says how), -1 when it is still
 * running at the timeout (why says so).
 */
int ipcb_peer_wait(struct ipcb_peer *p, int64_t timeout_ns, char *why, size_t len);

/*
 * Ends a child now (SIGKILL) and reaps it. A thread cannot be killed: it is
 * detached and left (why says so); its memory must then be leaked.
 * Returns true if the peer is gone.
 */
bool ipcb_peer_kill(struct ipcb_peer *p);

/* Describes a wait status ("exited with status 3", "killed by signal 11 (Segmentation fault)"). */
void ipcb_describe_status(int status, char *buf, size_t len);

#endif
