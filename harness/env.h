/* env.h — the environment a run was measured in, as key/value strings.
 *
 * Every value is read from the system at capture time; what cannot be read
 * is "unknown" (should exist but could not be read) or "absent" (the
 * feature is not there, e.g. no cpufreq, no halt-poll module). Nothing is
 * guessed. The keys (stable; they end up in results.json "context"):
 *
 *   kernel             uname -s -r -v -m
 *   hostname           uname -n
 *   cpu_model          /proc/cpuinfo "model name" (or "Processor"/"cpu model")
 *   pus, cores, packages, numa_nodes   hwloc counts (allowed resources)
 *   cpu_caches         hwloc cache summary, "L1d 32KiB x2, ..., L3 32MiB x1"
 *   hypervisor         "none" when the cpuinfo "hypervisor" flag is missing;
 *                      else the CPUID hypervisor vendor (x86) and
 *                      /sys/hypervisor/type or DMI sys_vendor/product_name
 *   clocksource        /sys/devices/system/clocksource/clocksource0/current_clocksource
 *   cpuidle_driver     /sys/devices/system/cpu/cpuidle/current_driver
 *   cpuidle_governor   /sys/devices/system/cpu/cpuidle/current_governor(_ro)
 *   haltpoll           guest halt-poll: /sys/module/haltpoll/parameters/ (each file)
 *                      as "name=value ..." plus cpuidle_haltpoll force=,
 *                      or "absent"
 *   governor           cpu0 cpufreq scaling_governor, or "none" (no cpufreq)
 *   mqueue_msg_max, mqueue_msgsize_max, mqueue_queues_max   /proc/sys/fs/mqueue/ files
 *   pipe_max_size      /proc/sys/fs/pipe-max-size
 *   ipcbench_version   IPCB_VERSION
 *   git_revision       `git rev-parse --short HEAD` in IPCB_SOURCE_DIR,
 *                      "-dirty" appended if `git status --porcelain` prints
 *                      anything; "unknown" if git fails
 *   timer_cost_ns      ipcb_timer_cost_ns() at capture, "%.1f"
 *   machine_id         16 hex digits: FNV-1a 64 of
 *                      "<cpu_model>|<pus>|<hostname>"; equal ids mean
 *                      "probably the same machine", used by compare
 */
#ifndef IPCB_ENV_H
#define IPCB_ENV_H

#include <hwloc.h>
#include <stddef.h>
#include <stdio.h>

#define IPCB_ENV_MAX 48
#define IPCB_ENV_KEY_LEN 32
#define IPCB_ENV_VAL_LEN 320

struct ipcb_env_kv {
	char key[IPCB_ENV_KEY_LEN];
	char value[IPCB_ENV_VAL_LEN];
};

struct ipcb_env {
	size_t n;
	struct ipcb_env_kv kv[IPCB_ENV_MAX];
};

/* Fills e with every key listed above, in that order. topo may be NULL (the
 * machine's topology is loaded and freed here). Forks git (popen) once or
 * twice. Returns 0; -1 only if topo is NULL and hwloc cannot load one (the
 * hwloc keys are then "unknown", the rest still filled). */
int ipcb_env_capture(struct ipcb_env *e, hwloc_topology_t topo);

/* Sets key to value (replacing an existing key, else appending, truncating
 * to fit). Returns 0, or -1 if e is full. For the runner's own keys, e.g.
 * "cpus_used". */
int ipcb_env_set(struct ipcb_env *e, const char *key, const char *value);

/* Value of key, or NULL if e has no such key. */
const char *ipcb_env_get(const struct ipcb_env *e, const char *key);

/* Adds every key/value to the Google Benchmark JSON context
 * (ipcb_gb_add_context). Returns 0 or -1 if one failed. */
int ipcb_env_add_to_gbench(const struct ipcb_env *e);

/* Prints "key: value" lines. */
void ipcb_env_print(const struct ipcb_env *e, FILE *f);

#endif /* IPCB_ENV_H */
