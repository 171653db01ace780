/* placement.c — placements resolved on an hwloc topology.
 *
 * Sections: names; topology open/close; relations between two PUs and the
 * resolver; binding; CPU lists and spread; the `ipcbench topology` printer.
 *
 * Relations are read from the PU's ancestors (Core, L3, Package) and its
 * nodeset (local NUMA nodes). A topology without Core objects treats each PU
 * as its own core; without Package objects the whole machine is one
 * package, which is what hwloc itself does for such machines.
 */
#include "placement.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------- */

static const struct {
	const char *name;
	const char *summary;
} place_names[IPCB_PLACE_COUNT] = {
        [IPCB_PLACE_SAME_PU] = {"same-pu",
                                "both ends on one PU (the kernel switches between them)"},
        [IPCB_PLACE_SMT] = {"smt", "two PUs of one core (SMT siblings: shared L1/L2)"},
        [IPCB_PLACE_CROSS_CORE] = {"cross-core",
                                   "two cores sharing an L3 (or a package if no L3 info)"},
        [IPCB_PLACE_CROSS_L3] = {"cross-l3",
                                 "two cores under different L3s, same NUMA node and package"},
        [IPCB_PLACE_CROSS_NUMA] = {"cross-numa", "two NUMA nodes of one package"},
        [IPCB_PLACE_CROSS_PACKAGE] = {"cross-package", "two packages (sockets)"},
        [IPCB_PLACE_OS] = {"os", "unpinned: the scheduler places both ends"},
};

const enum ipcb_place ipcb_cross_order[4] = {IPCB_PLACE_CROSS_CORE, IPCB_PLACE_CROSS_L3, IPCB_PLACE_CROSS_NUMA,
                                             IPCB_PLACE_CROSS_PACKAGE};

const char *ipcb_placement_name(enum ipcb_place p)
{
	return (unsigned)p < IPCB_PLACE_COUNT ? place_names[p].name : NULL;
}

const char *ipcb_placement_summary(enum ipcb_place p)
{
	return (unsigned)p < IPCB_PLACE_COUNT ? place_names[p].summary : NULL;
}

int ipcb_placement_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int p = 0; p < IPCB_PLACE_COUNT; p++)
		if (strcmp(name, place_names[p].name) == 0)
			return p;
	return -1;
}

void ipcb_placement_print_names(FILE *f)
{
	for (int p = 0; p < IPCB_PLACE_COUNT; p++)
		fprintf(f, "%s%s", p ? ", " : "", place_names[p].name);
	fprintf(f, ", %s", IPCB_PLACE_CROSS_NAME);
}

/* ---- topology ---------------------------------------------------------- */

static void put(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *buf, size_t len, const char *fmt, ...)
{
	if (!buf || len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int ipcb_topo_open(hwloc_topology_t *out, const char *synthetic, char *err, size_t errlen)
{
	hwloc_topology_t t;
	*out = NULL;
	if (hwloc_topology_init(&t) != 0) {
		put(err, errlen, "hwloc_topology_init: %s", strerror(errno));
		return -1;
	}
	/* instruction caches are filtered out by default; the summary wants them */
	hwloc_topology_set_icache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_ALL);
	if (synthetic && hwloc_topology_set_synthetic(t, synthetic) != 0) {
		put(err, errlen,
		    "hwloc_topology_set_synthetic(\"%s\"): invalid description; "
		    "write it like \"pack:2 numa:2 l3:2 core:4 pu:2\"",
		    synthetic);
		goto fail;
	}
	if (hwloc_topology_load(t) != 0) {
		put(err, errlen, "hwloc_topology_load: %s", strerror(errno));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	hwloc_topology_destroy(t);
	return -1;
}

void ipcb_topo_close(hwloc_topology_t topo)
{
	if (topo)
		hwloc_topology_destroy(topo);
}

/* ---- relations and the resolver ---------------------------------------- */

static hwloc_obj_t pu_core(hwloc_topology_t t, hwloc_obj_t pu)
{
	hwloc_obj_t c = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pu);
	return c ? c : pu;
}

static hwloc_obj_t pu_l3(hwloc_topology_t t, hwloc_obj_t pu)
{
	return hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_L3CACHE, pu);
}

static hwloc_obj_t pu_pkg(hwloc_topology_t t, hwloc_obj_t pu)
{
	hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, pu);
	return p ? p : hwloc_get_root_obj(t);
}

static int count(hwloc_topology_t t, hwloc_obj_type_t type)
{
	int n = hwloc_get_nbobjs_by_type(t, type);
	return n < 0 ? 0 : n;
}

static bool same_numa(hwloc_obj_t a, hwloc_obj_t b)
{
	return a->nodeset && b->nodeset && hwloc_bitmap_isequal(a->nodeset, b->nodeset);
}

static bool disjoint_numa(hwloc_obj_t a, hwloc_obj_t b)
{
	return a->nodeset && b->nodeset && !hwloc_bitmap_intersects(a->nodeset, b->nodeset);
}

/* Does the pair (a, b), a != b, have relation p? */
static bool related(hwloc_topology_t t, enum ipcb_place p, hwloc_obj_t a, hwloc_obj_t b)
{
	hwloc_obj_t ca = pu_core(t, a), cb = pu_core(t, b);
	hwloc_obj_t la = pu_l3(t, a), lb = pu_l3(t, b);
	switch (p) {
	case IPCB_PLACE_SMT:
		return ca == cb && ca->type == HWLOC_OBJ_CORE;
	case IPCB_PLACE_CROSS_CORE:
		if (ca == cb)
			return false;
		if (count(t, HWLOC_OBJ_L3CACHE) > 0)
			return la && la == lb;
		return pu_pkg(t, a) == pu_pkg(t, b);
	case IPCB_PLACE_CROSS_L3:
		return la && lb && la != lb && same_numa(a, b) && pu_pkg(t, a) == pu_pkg(t, b);
	case IPCB_PLACE_CROSS_NUMA:
		return disjoint_numa(a, b) && pu_pkg(t, a) == pu_pkg(t, b);
	case IPCB_PLACE_CROSS_PACKAGE:
		return pu_pkg(t, a) != pu_pkg(t, b);
	default:
		return false;
	}
}

static void absent_reason(hwloc_topology_t t, enum ipcb_place p, char *r, size_t n)
{
	int pus = count(t, HWLOC_OBJ_PU), cores = count(t, HWLOC_OBJ_CORE);
	int l3 = count(t, HWLOC_OBJ_L3CACHE), numa = count(t, HWLOC_OBJ_NUMANODE);
	int pkg = count(t, HWLOC_OBJ_PACKAGE);
	switch (p) {
	case IPCB_PLACE_SMT:
		put(r, n, "absent: no core has two PUs (%d cores, %d PUs: SMT off or not exposed)",
		    cores, pus);
		break;
	case IPCB_PLACE_CROSS_CORE:
		if (cores < 2 && pus < 2)
			put(r, n, "absent: only one core");
		else if (cores < 2 && cores > 0)
			put(r, n, "absent: only one core (%d PUs are its SMT siblings)", pus);
		else if (l3 > 0)
			put(r, n, "absent: no two cores share an L3 (%d cores, %d L3s)", cores, l3);
		else
			put(r, n, "absent: no two cores share a package");
		break;
	case IPCB_PLACE_CROSS_L3:
		if (l3 == 0)
			put(r, n, "absent: hwloc reports no L3 cache");
		else if (l3 < 2)
			put(r, n, "absent: only one L3");
		else
			put(r, n,
			    "absent: no two L3s within one NUMA node and package (%d L3s, %d NUMA "
			    "nodes)",
			    l3, numa);
		break;
	case IPCB_PLACE_CROSS_NUMA:
		if (numa < 2)
			put(r, n, "absent: only one NUMA node");
		else
			put(r, n,
			    "absent: no package holds two NUMA nodes (%d NUMA nodes, %d packages)",
			    numa, pkg);
		break;
	case IPCB_PLACE_CROSS_PACKAGE:
		put(r, n,
		    pkg == 0 ? "absent: hwloc reports no package" : "absent: only one package");
		break;
	default:
		put(r, n, "absent");
		break;
	}
}

static void present_reason(hwloc_topology_t t, enum ipcb_place p, hwloc_obj_t a, hwloc_obj_t b,
                           char *r, size_t n)
{
	hwloc_obj_t ca = pu_core(t, a), cb = pu_core(t, b);
	hwloc_obj_t la = pu_l3(t, a), lb = pu_l3(t, b);
	hwloc_obj_t pa = pu_pkg(t, a), pb = pu_pkg(t, b);
	switch (p) {
	case IPCB_PLACE_SMT:
		put(r, n, "PUs %u and %u of core L#%u", a->os_index, b->os_index,
		    ca->logical_index);
		break;
	case IPCB_PLACE_CROSS_CORE:
		if (la)
			put(r, n, "cores L#%u and L#%u sharing L3 L#%u", ca->logical_index,
			    cb->logical_index, la->logical_index);
		else
			put(r, n, "cores L#%u and L#%u of one %s (no L3 info)", ca->logical_index,
			    cb->logical_index,
			    pa->type == HWLOC_OBJ_PACKAGE ? "package" : "machine");
		break;
	case IPCB_PLACE_CROSS_L3:
		put(r, n, "L3 L#%u and L3 L#%u in one NUMA node", la->logical_index,
		    lb->logical_index);
		break;
	case IPCB_PLACE_CROSS_NUMA:
		put(r, n, "NUMA nodes P#%d and P#%d of one package", hwloc_bitmap_first(a->nodeset),
		    hwloc_bitmap_first(b->nodeset));
		break;
	case IPCB_PLACE_CROSS_PACKAGE:
		put(r, n, "packages L#%u and L#%u", pa->logical_index, pb->logical_index);
		break;
	default:
		break;
	}
}

bool ipcb_placement_resolve(hwloc_topology_t topo, enum ipcb_place p, int *cpu_a, int *cpu_b,
                            char *reason, size_t reasonlen)
{
	*cpu_a = *cpu_b = -1;
	int pus = count(topo, HWLOC_OBJ_PU);
	if ((unsigned)p >= IPCB_PLACE_COUNT) {
		put(reason, reasonlen, "unknown placement %d", (int)p);
		return false;
	}
	if (p == IPCB_PLACE_OS) {
		put(reason, reasonlen, "unpinned: the scheduler places both ends");
		return true;
	}
	if (pus < 1) {
		put(reason, reasonlen, "absent: hwloc reports no PU");
		return false;
	}
	if (p == IPCB_PLACE_SAME_PU) {
		hwloc_obj_t a = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, 0);
		*cpu_a = *cpu_b = (int)a->os_index;
		put(reason, reasonlen, "both ends on PU %u", a->os_index);
		return true;
	}
	for (int i = 0; i < pus; i++) {
		hwloc_obj_t a = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)i);
		for (int j = i + 1; j < pus; j++) {
			hwloc_obj_t b = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)j);
			if (related(topo, p, a, b)) {
				*cpu_a = (int)a->os_index;
				*cpu_b = (int)b->os_index;
				present_reason(topo, p, a, b, reason, reasonlen);
				return true;
			}
		}
	}
	absent_reason(topo, p, reason, reasonlen);
	return false;
}

int ipcb_cross_rank(const char *name)
{
	for (size_t i = 0; name && i < sizeof ipcb_cross_order / sizeof ipcb_cross_order[0]; i++)
		if (!strcmp(name, place_names[ipcb_cross_order[i]].name))
			return (int)i;
	return -1;
}

int ipcb_placement_nearest_cross(hwloc_topology_t topo, char *reason, size_t reasonlen)
{
	int a, b;
	for (size_t i = 0; i < sizeof ipcb_cross_order / sizeof ipcb_cross_order[0]; i++)
		if (ipcb_placement_resolve(topo, ipcb_cross_order[i], &a, &b, reason, reasonlen))
			return (int)ipcb_cross_order[i];
	put(reason, reasonlen, "absent: no two different cores (%d core(s), %d PU(s))", count(topo, HWLOC_OBJ_CORE),
	    count(topo, HWLOC_OBJ_PU));
	return -1;
}

/* ---- binding ----------------------------------------------------------- */

static int bind_set(hwloc_topology_t topo, hwloc_const_cpuset_t set, int flags, const char *what,
                    char *err, size_t errlen)
{
	if (!hwloc_topology_is_thissystem(topo)) {
		/* hwloc would "succeed" without binding anything */
		put(err, errlen, "bind %s: the topology is not this machine's (synthetic?)", what);
		return -1;
	}
	if (hwloc_set_cpubind(topo, set, flags) != 0) {
		char list[128];
		hwloc_bitmap_list_snprintf(list, sizeof list, set);
		put(err, errlen,
		    "hwloc_set_cpubind(%s, CPUs %s): %s; check they are in this process's "
		    "allowed CPUs (taskset -p $$, cgroup cpuset)",
		    what, list, strerror(errno));
		return -1;
	}
	return 0;
}

static int bind_cpu(hwloc_topology_t topo, int cpu, int flags, const char *what, char *err,
                    size_t errlen)
{
	if (cpu == -1)
		return bind_set(topo, hwloc_topology_get_allowed_cpuset(topo), flags, what, err,
		                errlen);
	hwloc_obj_t pu = cpu >= 0 ? hwloc_get_pu_obj_by_os_index(topo, (unsigned)cpu) : NULL;
	if (!pu) {
		char list[128];
		hwloc_bitmap_list_snprintf(list, sizeof list,
		                           hwloc_topology_get_allowed_cpuset(topo));
		put(err, errlen, "bind %s to CPU %d: no such PU here; valid CPUs: %s", what, cpu,
		    list);
		return -1;
	}
	return bind_set(topo, pu->cpuset, flags, what, err, errlen);
}

int ipcb_bind_process(hwloc_topology_t topo, int cpu, char *err, size_t errlen)
{
	return bind_cpu(topo, cpu, HWLOC_CPUBIND_PROCESS, "process", err, errlen);
}

int ipcb_bind_thread(hwloc_topology_t topo, int cpu, char *err, size_t errlen)
{
	return bind_cpu(topo, cpu, HWLOC_CPUBIND_THREAD, "thread", err, errlen);
}

int ipcb_unbind_process(hwloc_topology_t topo, char *err, size_t errlen)
{
	return bind_cpu(topo, -1, HWLOC_CPUBIND_PROCESS, "process", err, errlen);
}

int ipcb_unbind_thread(hwloc_topology_t topo, char *err, size_t errlen)
{
	return bind_cpu(topo, -1, HWLOC_CPUBIND_THREAD, "thread", err, errlen);
}

/* ---- CPU lists and spread ---------------------------------------------- */

int ipcb_topo_pu_count(hwloc_topology_t topo)
{
	return count(topo, HWLOC_OBJ_PU);
}

int ipcb_topo_cpus(hwloc_topology_t topo, int *cpus, int max)
{
	int n = count(topo, HWLOC_OBJ_PU);
	for (int i = 0; i < n && i < max; i++)
		cpus[i] = (int)hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)i)->os_index;
	return n;
}

/* Rank of pu among the PUs of its core (0 for the first sibling). */
static int sibling_rank(hwloc_topology_t t, hwloc_obj_t pu)
{
	hwloc_obj_t core = pu_core(t, pu);
	if (core == pu)
		return 0;
	int r = 0;
	for (hwloc_obj_t o =
	             hwloc_get_next_obj_inside_cpuset_by_type(t, core->cpuset, HWLOC_OBJ_PU, NULL);
	     o && o != pu;
	     o = hwloc_get_next_obj_inside_cpuset_by_type(t, core->cpuset, HWLOC_OBJ_PU, o))
		r++;
	return r;
}

int ipcb_topo_spread(hwloc_topology_t topo, int n_prod, int n_cons, int *prod, int *cons)
{
	int n = count(topo, HWLOC_OBJ_PU);
	if (n < 1 || n_prod < 1 || n_cons < 1)
		return -1;
	int *order = malloc((size_t)n * sizeof *order);
	if (!order)
		return -1;
	/* first sibling of every core, then second siblings, ...: one endpoint per
	 * core before any two share a core */
	int k = 0;
	for (int rank = 0; k < n; rank++)
		for (int i = 0; i < n; i++) {
			hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)i);
			if (sibling_rank(topo, pu) == rank)
				order[k++] = (int)pu->os_index;
		}
	for (int i = 0; i < n_prod; i++)
		prod[i] = order[i % n];
	for (int i = 0; i < n_cons; i++)
		cons[i] = order[(n_prod + i) % n];
	free(order);
	return 0;
}

void ipcb_cpulist_format(const int *cpus, int n, char *buf, size_t buflen)
{
	if (!buf || buflen == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		if (cpus[i] < 0)
			n = 0;
	if (n <= 0) {
		put(buf, buflen, "os");
		return;
	}
	size_t used = 0;
	for (int i = 0; i < n && used < buflen; i++) {
		int w = snprintf(buf + used, buflen - used, "%s%d", i ? "," : "", cpus[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* ---- printer ----------------------------------------------------------- */

static void format_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
		snprintf(buf, len, "%lluGiB", (unsigned long long)(bytes >> 30));
	else if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
		snprintf(buf, len, "%lluMiB", (unsigned long long)(bytes >> 20));
	else if (bytes >= 1024 && bytes % 1024 == 0)
		snprintf(buf, len, "%lluKiB", (unsigned long long)(bytes >> 10));
	else
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
}

void ipcb_topo_cache_summary(hwloc_topology_t topo, char *buf, size_t buflen)
{
	static const struct {
		hwloc_obj_type_t type;
		const char *name;
	} caches[] = {
	        {HWLOC_OBJ_L1CACHE, "L1d"}, {HWLOC_OBJ_L1ICACHE, "L1i"}, {HWLOC_OBJ_L2CACHE, "L2"},
	        {HWLOC_OBJ_L3CACHE, "L3"},  {HWLOC_OBJ_L4CACHE, "L4"},   {HWLOC_OBJ_L5CACHE, "L5"},
	};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t c = 0; c < sizeof caches / sizeof caches[0]; c++) {
		int n = count(topo, caches[c].type);
		if (n == 0)
			continue;
		hwloc_obj_t first = hwloc_get_obj_by_type(topo, caches[c].type, 0);
		bool mixed = false;
		for (int i = 1; i < n; i++)
			if (hwloc_get_obj_by_type(topo, caches[c].type, (unsigned)i)
			            ->attr->cache.size != first->attr->cache.size)
				mixed = true;
		char size[32];
		if (mixed)
			snprintf(size, sizeof size, "mixed sizes");
		else
			format_size(first->attr->cache.size, size, sizeof size);
		int w = snprintf(buf + used, buflen - used, "%s%s %s x%d", used ? ", " : "",
		                 caches[c].name, size, n);
		if (w < 0 || (size_t)w >= buflen - used)
			return;
		used += (size_t)w;
	}
	if (used == 0)
		put(buf, buflen, "none");
}

static void print_objs(hwloc_topology_t t, FILE *f, hwloc_obj_type_t type, const char *label)
{
	int n = count(t, type);
	for (int i = 0; i < n; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(t, type, (unsigned)i);
		char pus[256], extra[64] = "";
		hwloc_bitmap_list_snprintf(pus, sizeof pus, o->cpuset);
		if (type == HWLOC_OBJ_NUMANODE) {
			/* local memory is rarely a round number: MiB is precise enough */
			snprintf(extra, sizeof extra, " P#%u %lluMiB", o->os_index,
			         (unsigned long long)(o->attr->numanode.local_memory >> 20));
		} else if (hwloc_obj_type_is_cache(type)) {
			char sz[32];
			format_size(o->attr->cache.size, sz, sizeof sz);
			snprintf(extra, sizeof extra, " %s", sz);
		}
		fprintf(f, "  %-8s L#%-3d%-16s CPUs %s\n", label, i, extra, pus);
	}
}

void ipcb_topo_print(hwloc_topology_t topo, FILE *f)
{
	char caches[512], allowed[256];
	ipcb_topo_cache_summary(topo, caches, sizeof caches);
	hwloc_bitmap_list_snprintf(allowed, sizeof allowed,
	                           hwloc_topology_get_allowed_cpuset(topo));
	fprintf(f, "Machine%s: %d package(s), %d NUMA node(s), %d L3(s), %d core(s), %d PU(s)\n",
	        hwloc_topology_is_thissystem(topo) ? "" : " (not this system)",
	        count(topo, HWLOC_OBJ_PACKAGE), count(topo, HWLOC_OBJ_NUMANODE),
	        count(topo, HWLOC_OBJ_L3CACHE), count(topo, HWLOC_OBJ_CORE),
	        count(topo, HWLOC_OBJ_PU));
	fprintf(f, "Caches: %s\n", caches);
	fprintf(f, "CPUs we may use: %s\n", allowed);
	print_objs(topo, f, HWLOC_OBJ_PACKAGE, "Package");
	print_objs(topo, f, HWLOC_OBJ_NUMANODE, "NUMA");
	print_objs(topo, f, HWLOC_OBJ_L3CACHE, "L3");
	fprintf(f, "\nPlacements (CPU numbers are OS indexes, as taskset uses them):\n");
	for (int p = 0; p < IPCB_PLACE_COUNT; p++) {
		int a, b;
		char reason[256], cpus[32];
		bool ok = ipcb_placement_resolve(topo, (enum ipcb_place)p, &a, &b, reason,
		                                 sizeof reason);
		if (!ok)
			snprintf(cpus, sizeof cpus, "-");
		else if (a < 0)
			snprintf(cpus, sizeof cpus, "any");
		else
			snprintf(cpus, sizeof cpus, "%d,%d", a, b);
		fprintf(f, "  %-14s %-7s %s\n", place_names[p].name, cpus, reason);
	}
	char reason[256];
	int p = ipcb_placement_nearest_cross(topo, reason, sizeof reason);
	if (p < 0) {
		fprintf(f, "  %-14s %-7s %s\n", IPCB_PLACE_CROSS_NAME, "-", reason);
	} else {
		int a, b;
		ipcb_placement_resolve(topo, (enum ipcb_place)p, &a, &b, NULL, 0);
		char cpus[32];
		snprintf(cpus, sizeof cpus, "%d,%d", a, b);
		fprintf(f, "  %-14s %-7s = %s, the nearest pair of different cores here\n", IPCB_PLACE_CROSS_NAME, cpus,
		        place_names[p].name);
	}
}
