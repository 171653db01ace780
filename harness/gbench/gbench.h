/* gbench.h — a C API over Google Benchmark 1.7.x (harness/gbench/gbench.cc).
 *
 * Life cycle: ipcb_gb_init() once with the command line, ipcb_gb_register()
 * each benchmark, optionally ipcb_gb_add_context(), then ipcb_gb_run().
 * Results of the last run stay readable through ipcb_gb_result_count() /
 * ipcb_gb_result_at() until the next ipcb_gb_run() or ipcb_gb_shutdown().
 *
 * Threading: everything except the ipcb_gb_* calls on a state is for the
 * main thread only. A benchmark function runs on the thread that called
 * ipcb_gb_run() (we never register multi-threaded benchmarks), so a
 * function may pin "its" thread and must unpin before returning.
 *
 * No C++ exception ever leaves this API: failures come back as return
 * values and a message on stderr.
 */
#ifndef IPCB_GBENCH_H
#define IPCB_GBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque: really a benchmark::State. Valid only inside a benchmark function. */
typedef struct ipcb_gb_state ipcb_gb_state;

/* A benchmark body. It must loop on ipcb_gb_keep_running[_batch]() until it
 * returns false, or call ipcb_gb_skip_with_error() and return (Google
 * Benchmark aborts the process if a body returns early without an error). */
typedef void (*ipcb_gb_fn)(ipcb_gb_state *st, void *arg);

/* Time unit of a benchmark's rows; DEFAULT follows --benchmark_time_unit (ns). */
enum ipcb_gb_unit { IPCB_GB_UNIT_DEFAULT = 0, IPCB_GB_NS, IPCB_GB_US, IPCB_GB_MS, IPCB_GB_S };

/* Extra aggregates beyond Google Benchmark's mean/median/stddev/cv, computed
 * when a benchmark has repetitions > 1. */
enum {
	IPCB_GB_STAT_MIN = 1u << 0, /* aggregate "min" over repetitions */
	IPCB_GB_STAT_MAX = 1u << 1, /* aggregate "max" over repetitions */
};

/* Which rows reporters see when repetitions > 1 (benchmark::ReportAggregatesOnly). */
enum ipcb_gb_report {
	IPCB_GB_REPORT_DEFAULT = 0,     /* follow --benchmark_report_aggregates_only etc. */
	IPCB_GB_REPORT_ALL,             /* every repetition and the aggregates */
	IPCB_GB_REPORT_AGGREGATES_ONLY, /* aggregates only, console and JSON */
};

/* Per-benchmark options; zero-initialised means "Google Benchmark default"
 * (and the command-line flags, which these override when set). */
struct ipcb_gb_opts {
	bool manual_time; /* UseManualTime: time = sum of ipcb_gb_set_iteration_time() */
	bool real_time;   /* UseRealTime: wall clock drives iterations (ignored with manual_time) */
	bool process_cpu_time;  /* MeasureProcessCPUTime: cpu time of all threads */
	int64_t iterations;     /* >0: exactly this many iterations (excludes min_time) */
	double min_time;        /* >0: seconds per repetition, like --benchmark_min_time */
	double min_warmup_time; /* >0: seconds of discarded warm-up before measuring */
	int repetitions;        /* >0: overrides --benchmark_repetitions */
	enum ipcb_gb_unit unit; /* display/JSON time unit */
	unsigned stats;         /* IPCB_GB_STAT_* bits */
	enum ipcb_gb_report report;
};

/* Counter flags; values equal benchmark::Counter::Flags bit for bit
 * (macros, not an enum: 1u << 31 does not fit an int enumerator). */
#define IPCB_GB_COUNTER_DEFAULT 0u
#define IPCB_GB_COUNTER_RATE (1u << 0)           /* value / seconds */
#define IPCB_GB_COUNTER_AVG_THREADS (1u << 1)    /* value / threads */
#define IPCB_GB_COUNTER_ITER_INVARIANT (1u << 2) /* value * iterations */
#define IPCB_GB_COUNTER_AVG_ITERATIONS (1u << 3) /* value / iterations */
#define IPCB_GB_COUNTER_K1024 (1u << 30)  /* human formatting: 1024 per k (ours, maps to OneK) */
#define IPCB_GB_COUNTER_INVERT (1u << 31) /* 1 / value, applied last */

/* ---- set-up (main thread) ------------------------------------------- */

/* Hands every --benchmark_* / --v= argument to benchmark::Initialize and
 * removes them from argv (argc updated), leaving our own arguments in order.
 * Returns 0, or -1 after printing each unrecognised --benchmark_* flag to
 * stderr (caller should exit 2). --help is NOT intercepted. Call once. */
int ipcb_gb_init(int *argc, char **argv);

/* Registers benchmark `name` running fn(st, arg); opts may be NULL.
 * arg must outlive ipcb_gb_run(). Returns 0, or -1 (message on stderr) for
 * contradicting options (iterations with min_time or min_warmup_time,
 * negative values) that Google Benchmark would abort on. Google Benchmark
 * appends "/manual_time", "/iterations:N", "/repeats:N", "/min_time:T" to
 * the reported name when those options are set. */
int ipcb_gb_register(const char *name, ipcb_gb_fn fn, void *arg, const struct ipcb_gb_opts *opts);

/* Forgets every registered benchmark (benchmark::ClearRegisteredBenchmarks). */
void ipcb_gb_clear(void);

/* Adds key=value to the "context" object of the JSON output
 * (benchmark::AddCustomContext); a repeated key keeps the first value.
 * Returns 0 or -1. */
int ipcb_gb_add_context(const char *key, const char *value);

/* True if `name` would be selected by the current --benchmark_filter
 * (or by `spec` when non-NULL): Google Benchmark's rules, "" and "all" match
 * everything, a leading '-' negates, POSIX extended regex search. Used to
 * count the benchmarks a run will do for the progress line. Google
 * Benchmark matches the full instance name, suffixes such as "/manual_time"
 * included; a filter anchored with '$' needs them. */
bool ipcb_gb_filter_matches(const char *name, const char *spec);

/* Called after each batch of rows reaches the reporters: rows
 * first..first+n-1 of the result array. Google Benchmark reports one
 * benchmark instance as one batch of its repetitions, then (repetitions > 1)
 * one batch of its aggregates; with aggregates-only reporting, only the
 * latter. NULL disables. Runs on the main thread, between benchmarks. */
typedef void (*ipcb_gb_report_cb)(size_t first, size_t n, void *user);
void ipcb_gb_set_report_callback(ipcb_gb_report_cb cb, void *user);

/* Runs the registered benchmarks selected by `spec` (a filter regex; NULL =
 * --benchmark_filter) with the console reporter (honouring
 * --benchmark_format) and, if out_json_path is non-NULL, writes Google
 * Benchmark's JSON to it as well (any --benchmark_out file is written too).
 * Rows are collected for ipcb_gb_result_at(). Returns the number of
 * benchmarks that matched (0 is not an error), or -1 if out_json_path
 * cannot be opened or the library threw (message on stderr). */
long ipcb_gb_run(const char *out_json_path, const char *spec);

/* Frees the collected results and calls benchmark::Shutdown(). */
void ipcb_gb_shutdown(void);

/* ---- results of the last ipcb_gb_run() ------------------------------- */

enum ipcb_gb_run_type { IPCB_GB_RUN_ITERATION = 0, IPCB_GB_RUN_AGGREGATE = 1 };

struct ipcb_gb_counter_val {
	const char *name;
	double value;   /* final value, rate/avg flags already applied */
	unsigned flags; /* IPCB_GB_COUNTER_* */
};

struct ipcb_gb_result {
	const char *name;     /* as in JSON "name" (run name + "_mean" etc.) */
	const char *run_name; /* as in JSON "run_name" */
	const char *family;   /* the name given to ipcb_gb_register() */
	enum ipcb_gb_run_type run_type;
	const char *aggregate_name;   /* "" for iteration rows; "mean", "cv", ... */
	bool aggregate_is_percentage; /* cv: real_time/cpu_time are fractions */
	int64_t repetition_index;
	int64_t repetitions;
	int64_t iterations;
	double real_time;      /* per iteration, in time_unit */
	double cpu_time;       /* per iteration, in time_unit */
	const char *time_unit; /* "ns", "us", "ms", "s" */
	const char *label;     /* "" if none */
	bool error_occurred;
	const char *error_message; /* "" if none */
	size_t n_counters;
	const struct ipcb_gb_counter_val *counters;
};

/* Number of rows collected by the last ipcb_gb_run(). */
size_t ipcb_gb_result_count(void);

/* Row i (< ipcb_gb_result_count()); pointers valid until the next run or
 * shutdown. NULL if out of range. */
const struct ipcb_gb_result *ipcb_gb_result_at(size_t i);

/* Looks up counter `name` in r; true and *value set if present. */
bool ipcb_gb_result_counter(const struct ipcb_gb_result *r, const char *name, double *value);

/* ---- inside a benchmark function (calling thread only) --------------- */

/* True while another iteration should run (State::KeepRunning). */
bool ipcb_gb_keep_running(ipcb_gb_state *st);

/* True while n more iterations should run (State::KeepRunningBatch, n > 0);
 * the last batch may overshoot by up to n. */
bool ipcb_gb_keep_running_batch(ipcb_gb_state *st, int64_t n);

/* Reports this iteration's time with manual_time (call once per iteration). */
void ipcb_gb_set_iteration_time(ipcb_gb_state *st, double seconds);

/* Stops the benchmark timer (heavyweight: not per iteration). Only inside
 * the loop with the timer running; a no-op after skip_with_error. */
void ipcb_gb_pause_timing(ipcb_gb_state *st);

/* Restarts the timer after ipcb_gb_pause_timing(); no-op after an error. */
void ipcb_gb_resume_timing(ipcb_gb_state *st);

/* Sets user counter `name` to value with IPCB_GB_COUNTER_* flags
 * (rate/average applied by Google Benchmark at the end of the run). */
void ipcb_gb_counter(ipcb_gb_state *st, const char *name, double value, unsigned flags);

/* Sets items_per_second from the total items moved (call after the loop). */
void ipcb_gb_set_items_processed(ipcb_gb_state *st, int64_t items);

/* Sets bytes_per_second from the total bytes moved (call after the loop). */
void ipcb_gb_set_bytes_processed(ipcb_gb_state *st, int64_t bytes);

/* Sets the label printed at the end of the row and stored in JSON "label". */
void ipcb_gb_set_label(ipcb_gb_state *st, const char *label);

/* Ends the benchmark as an error row with msg; loops end at the next
 * keep_running call; the body may simply return afterwards. Only the first
 * call per run counts. */
void ipcb_gb_skip_with_error(ipcb_gb_state *st, const char *msg);

/* True once ipcb_gb_skip_with_error() has been called in this run. */
bool ipcb_gb_error_occurred(const ipcb_gb_state *st);

/* Iterations completed so far in this run (0 before the loop starts). */
int64_t ipcb_gb_iterations(const ipcb_gb_state *st);

/* The iteration budget of this run (State::max_iterations): a body that does
 * its own timing can size buffers from it before the loop. */
int64_t ipcb_gb_max_iterations(const ipcb_gb_state *st);

#ifdef __cplusplus
}
#endif

#endif /* IPCB_GBENCH_H */
