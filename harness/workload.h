/*
 * workload.h - what the runner hands a workload, and the workload table.
 *
 * A case is one benchmark row: a workload over one mechanism, mode,
 * placement (already resolved to CPUs) and size. Every workload has the
 * same signature, runs inside a Google Benchmark function, and reports a
 * failure with ipcb_gb_skip_with_error() naming the cause; it never exits
 * the process and never leaves a child or thread behind.
 */
#ifndef IPCB_WORKLOAD_H
#define IPCB_WORKLOAD_H

#include "gbench.h"
#include "ipcq.h"
#include "placement.h"

#include <stdbool.h>
#include <stddef.h>

#define IPCB_MODE_PROCESS 1u
#define IPCB_MODE_THREAD 2u

/* Limit rows (workload "limit"). */
enum ipcb_limit_row { IPCB_LIMIT_C2C = 0, IPCB_LIMIT_MEMCPY, IPCB_LIMIT_RING, IPCB_LIMIT_COUNT };

/* Spawn rows (workload "spawn"): what creates and reaps one worker. */
enum ipcb_spawn_kind { IPCB_SPAWN_FORK = 0, IPCB_SPAWN_POSIX_SPAWN, IPCB_SPAWN_PTHREAD, IPCB_SPAWN_COUNT };
/* io tasks: a timed sleep, or a blocking read answered by a local socket. */
enum ipcb_io_task { IPCB_IO_SLEEP = 0, IPCB_IO_SOCKET, IPCB_IO_COUNT };

/* pingpong, stream: how messages move (ipcb_case.variant); many: stream only. */
enum ipcb_api { IPCB_API_COPY = 0, IPCB_API_ZEROCOPY, IPCB_API_MANY, IPCB_API_COUNT };

/* Reference rows (workload "pyref"): what Python's multiprocessing measures. */
enum ipcb_pyref_row {
	IPCB_PYREF_QUEUE_PINGPONG = 0,
	IPCB_PYREF_QUEUE_STREAM,
	IPCB_PYREF_PIPE_PINGPONG,
	IPCB_PYREF_PIPE_STREAM,
	IPCB_PYREF_POOL,
	IPCB_PYREF_COUNT
};

/* Reference rows (workload "zmqref"): plain libzmq, no queue semantics. */
enum ipcb_zmqref_row { IPCB_ZMQREF_PINGPONG = 0, IPCB_ZMQREF_STREAM, IPCB_ZMQREF_COUNT };

/* Most producers or consumers a stream case may have. */
#define IPCB_MAX_PEERS 16

struct ipcb_workload;

struct ipcb_case {
	const struct ipcb_workload *wl;
	const ipcq_mech *mech;    /* NULL for limit rows */
	int row;                  /* enum ipcb_limit_row for limit rows, else -1 */
	unsigned mode;            /* IPCB_MODE_*; 0 for limit rows */
	enum ipcb_place place;
	int cpu_a, cpu_b;         /* PU OS indexes; -1 = unpinned */
	size_t size;              /* message size in bytes */
	unsigned producers, consumers; /* stream: N->M (1x1 otherwise) */
	unsigned workers;         /* cpu, io: pool workers (io: = concurrency) */
	unsigned grain_us;        /* cpu: hashing per task (0: empty tasks); io: time blocked; wake: idle gap */
	int variant;              /* spawn: enum ipcb_spawn_kind; io: enum ipcb_io_task; pingpong, stream: enum ipcb_api */
	double min_time;          /* > 0: the suite line's min_time */
	int repetitions;          /* > 0: the suite line's repetitions */
	hwloc_topology_t topo;    /* for binding */
	const char *peer;         /* ADDR[:PORT] of an agent running the far endpoint (run --peer), or NULL */
	size_t index, total;      /* position in the run, for the progress line */
	char name[192];
};

struct ipcb_workload {
	const char *name;
	const char *summary;
	/* Runs the case; manual_time etc. come from opts. */
	void (*run)(ipcb_gb_state *st, const struct ipcb_case *c);
	struct ipcb_gb_opts opts;
};

extern const struct ipcb_workload ipcb_workload_pingpong;
extern const struct ipcb_workload ipcb_workload_stream;
extern const struct ipcb_workload ipcb_workload_limit;
extern const struct ipcb_workload ipcb_workload_shared;
extern const struct ipcb_workload ipcb_workload_spawn;
extern const struct ipcb_workload ipcb_workload_pyref;
extern const struct ipcb_workload ipcb_workload_cpu;
extern const struct ipcb_workload ipcb_workload_io;
extern const struct ipcb_workload ipcb_workload_wake;
extern const struct ipcb_workload ipcb_workload_zmqref;

/* Number of workloads, and the i-th in the table (NULL past the end). */
size_t ipcb_workload_count(void);
const struct ipcb_workload *ipcb_workload_at(size_t i);
/* The workload called name, or NULL. */
const struct ipcb_workload *ipcb_workload_find(const char *name);

/* Name of limit row r ("c2c"), or NULL. */
const char *ipcb_limit_row_name(int r);
/* Limit row called name, or -1. */
int ipcb_limit_row_from_name(const char *name);
/* The cache-line round trip between cpu_a and cpu_b now, as limit/c2c bounces
 * it (fastest of 8 stretches of 256 rounds; pins the caller meanwhile): 0, or -1 with err. */
int ipcb_limit_probe_c2c(hwloc_topology_t topo, int cpu_a, int cpu_b, double *rtt_ns, char *err, size_t errlen);

/* Name of spawn kind k ("fork", "posix_spawn", "pthread_create"), or NULL. */
const char *ipcb_spawn_kind_name(int k);
/* The name reference row r goes under in results ("py-mp-queue"), or NULL. */
const char *ipcb_pyref_mech(int r);
/* The workload whose rows reference row r stands beside ("pingpong", "stream", "cpu"), or NULL. */
const char *ipcb_pyref_workload(int r);
/* Path of the reference script (IPCB_PY_MP, else suites/reference/py_mp.py in the source tree). */
const char *ipcb_pyref_script(void);
/* True with python3's path in path when PATH has one. */
bool ipcb_pyref_python(char *path, size_t len);

/* True when ipcbench was built with libzmq (the zmqref rows can run). */
bool ipcb_zmqref_available(void);
/* libzmq's version ("4.3.4"), or "none" without it, in buf. */
const char *ipcb_zmqref_version(char *buf, size_t len);

/* Name of io task kind k ("sleep", "socket"), or NULL. */
const char *ipcb_io_task_name(int k);

/* cpu: hash iterations per microsecond on this machine, measured once per
 * process (the first call) and kept; the grain of every cpu task follows it. */
double ipcb_cpu_calibrate(void);

/* The progress hook the runner installs: called when a case starts running. */
void ipcb_case_started(const struct ipcb_case *c);

#endif
