/* placement.h — where benchmark endpoints run, resolved from hwloc.
 *
 * A placement names a relation between two CPUs (A and B): same PU, SMT
 * siblings, two cores sharing an L3, ... Resolving it on a topology gives
 * two concrete PU OS indexes (what sched_setaffinity and taskset call CPU
 * numbers) or "absent" with a reason. A placement the machine lacks is
 * never approximated by another one.
 *
 * CPU numbers below are always PU OS indexes; -1 means "not pinned".
 */
#ifndef IPCB_PLACEMENT_H
#define IPCB_PLACEMENT_H

#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum ipcb_place {
	IPCB_PLACE_SAME_PU = 0,   /* A and B on one PU */
	IPCB_PLACE_SMT,           /* two PUs of one core */
	IPCB_PLACE_CROSS_CORE,    /* two cores sharing an L3 (no L3 info: a package) */
	IPCB_PLACE_CROSS_L3,      /* different L3s, same NUMA node and package */
	IPCB_PLACE_CROSS_NUMA,    /* different NUMA nodes, same package */
	IPCB_PLACE_CROSS_PACKAGE, /* different packages */
	IPCB_PLACE_OS,            /* unpinned: the scheduler decides */
	IPCB_PLACE_COUNT
};

/*
 * The alias "cross" in a placement list stands for the nearest pair of
 * different cores this machine has: the first of ipcb_cross_order that
 * resolves. Suites use it so that they measure across cores on any machine
 * (two cores may or may not share an L3); results carry the concrete name.
 * In placement masks it is the bit just above the enum's.
 */
#define IPCB_PLACE_CROSS_NAME "cross"
#define IPCB_PLACE_CROSS_BIT (1u << IPCB_PLACE_COUNT)
extern const enum ipcb_place ipcb_cross_order[4];

/* The placement "cross" means on topo, or -1 (with the reason) when the
 * machine has a single core. */
int ipcb_placement_nearest_cross(hwloc_topology_t topo, char *reason, size_t reasonlen);

/* Position of `name` in ipcb_cross_order (0 = cross-core, the nearest), or
 * -1 if it is no cross placement: reports prefer the nearest one measured. */
int ipcb_cross_rank(const char *name);

/* Name ("cross-core") of placement p, or NULL if p is out of range. */
const char *ipcb_placement_name(enum ipcb_place p);

/* One-line summary of placement p, or NULL if p is out of range. */
const char *ipcb_placement_summary(enum ipcb_place p);

/* Placement for `name`, or -1 if unknown (list valid names with
 * ipcb_placement_print_names). */
int ipcb_placement_from_name(const char *name);

/* Writes the valid names as "same-pu, smt, ..., os" (no newline). */
void ipcb_placement_print_names(FILE *f);

/* Loads the topology of this machine (synthetic == NULL) or of a hwloc
 * synthetic description such as "pack:2 numa:2 l3:2 core:4 pu:2".
 * Returns 0 and *out, or -1 with a message in err. Free with ipcb_topo_close. */
int ipcb_topo_open(hwloc_topology_t *out, const char *synthetic, char *err, size_t errlen);

/* Destroys a topology from ipcb_topo_open; NULL is allowed. */
void ipcb_topo_close(hwloc_topology_t topo);

/* Resolves placement p on topo. Returns true with *cpu_a and *cpu_b set (both -1
 * for `os`) and a one-line description of the pair in reason; or false
 * ("absent on this machine") with *cpu_a = *cpu_b = -1 and the reason in
 * reason. reason may be NULL. Deterministic: the first qualifying pair in
 * hwloc logical order. */
bool ipcb_placement_resolve(hwloc_topology_t topo, enum ipcb_place p, int *cpu_a, int *cpu_b,
                            char *reason, size_t reasonlen);

/* Binds the calling process (all its threads, HWLOC_CPUBIND_PROCESS) to PU
 * `cpu`; cpu == -1 unbinds (ipcb_unbind_process). Returns 0, or -1 with a
 * message naming the call and CPU in err. Not for synthetic topologies. */
int ipcb_bind_process(hwloc_topology_t topo, int cpu, char *err, size_t errlen);

/* Binds the calling thread only (HWLOC_CPUBIND_THREAD) to PU `cpu`;
 * cpu == -1 unbinds. Returns 0 or -1 with a message in err. */
int ipcb_bind_thread(hwloc_topology_t topo, int cpu, char *err, size_t errlen);

/* Lets the calling process run on every allowed PU again. 0 or -1 + err. */
int ipcb_unbind_process(hwloc_topology_t topo, char *err, size_t errlen);

/* Lets the calling thread run on every allowed PU again. 0 or -1 + err. */
int ipcb_unbind_thread(hwloc_topology_t topo, char *err, size_t errlen);

/* Number of PUs we may run on (the allowed ones). */
int ipcb_topo_pu_count(hwloc_topology_t topo);

/* Fills cpus[0..max) with PU OS indexes in logical order; returns the total
 * number of PUs (may exceed max: only max are written). */
int ipcb_topo_cpus(hwloc_topology_t topo, int *cpus, int max);

/* Picks CPUs for an N->M stream: producers get prod[0..n_prod), consumers
 * cons[0..n_cons), spread so that each endpoint gets its own core while
 * cores last, then its own PU, then PUs are reused round-robin (producers
 * first, then consumers). Returns 0, or -1 if the topology has no PU or
 * n_prod/n_cons < 1. */
int ipcb_topo_spread(hwloc_topology_t topo, int n_prod, int n_cons, int *prod, int *cons);

/* Formats cpus[0..n) as "0,1,4" into buf ("os" when n == 0 or a CPU is -1). */
void ipcb_cpulist_format(const int *cpus, int n, char *buf, size_t buflen);

/* Prints `ipcbench topology`: machine summary (packages, NUMA nodes, L3s,
 * cores, PUs, cache sizes) then each placement with its CPUs or why it is
 * absent. */
void ipcb_topo_print(hwloc_topology_t topo, FILE *f);

/* Writes a one-line cache summary, e.g. "L1d 32KiB x2, L2 512KiB x2,
 * L3 32MiB x1" ("none" if hwloc reports no caches). */
void ipcb_topo_cache_summary(hwloc_topology_t topo, char *buf, size_t buflen);

#endif /* IPCB_PLACEMENT_H */
