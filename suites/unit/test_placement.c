/* test_placement.c — placements on synthetic topologies (so any machine
 * tests multi-package logic), binding on this one. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"
#include "unit.h"

/* Is there an object of `type` whose cpuset holds both PUs? Checked
 * independently of placement.c: by cpusets, not by ancestors. */
static bool share(hwloc_topology_t t, hwloc_obj_type_t type, int a, int b)
{
	int n = hwloc_get_nbobjs_by_type(t, type);
	for (int i = 0; i < n; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(t, type, (unsigned)i);
		if (hwloc_bitmap_isset(o->cpuset, (unsigned)a) &&
		    hwloc_bitmap_isset(o->cpuset, (unsigned)b))
			return true;
	}
	return false;
}

static bool in_some(hwloc_topology_t t, hwloc_obj_type_t type, int a)
{
	return share(t, type, a, a);
}

static bool has(hwloc_topology_t t, hwloc_obj_type_t type)
{
	return hwloc_get_nbobjs_by_type(t, type) > 0;
}

/* Package relation where a machine without Package objects is one package. */
static bool same_package(hwloc_topology_t t, int a, int b)
{
	return !has(t, HWLOC_OBJ_PACKAGE) || share(t, HWLOC_OBJ_PACKAGE, a, b);
}

/* Does (a, b) have the relation placement p claims? */
static bool relation_holds(hwloc_topology_t t, enum ipcb_place p, int a, int b, char *why, size_t n)
{
	snprintf(why, n, "ok");
	switch (p) {
	case IPCB_PLACE_SAME_PU:
		if (a != b || a < 0)
			return snprintf(why, n, "not one PU"), false;
		return true;
	case IPCB_PLACE_SMT:
		if (a == b || !share(t, HWLOC_OBJ_CORE, a, b))
			return snprintf(why, n, "not two PUs of one core"), false;
		return true;
	case IPCB_PLACE_CROSS_CORE:
		if (a == b || share(t, HWLOC_OBJ_CORE, a, b))
			return snprintf(why, n, "same core"), false;
		if (has(t, HWLOC_OBJ_L3CACHE) && !share(t, HWLOC_OBJ_L3CACHE, a, b))
			return snprintf(why, n, "no shared L3"), false;
		if (!same_package(t, a, b))
			return snprintf(why, n, "different packages"), false;
		return true;
	case IPCB_PLACE_CROSS_L3:
		if (!in_some(t, HWLOC_OBJ_L3CACHE, a) || !in_some(t, HWLOC_OBJ_L3CACHE, b) ||
		    share(t, HWLOC_OBJ_L3CACHE, a, b))
			return snprintf(why, n, "not under two different L3s"), false;
		if (!share(t, HWLOC_OBJ_NUMANODE, a, b))
			return snprintf(why, n, "different NUMA"), false;
		if (!same_package(t, a, b))
			return snprintf(why, n, "different packages"), false;
		return true;
	case IPCB_PLACE_CROSS_NUMA:
		if (share(t, HWLOC_OBJ_NUMANODE, a, b))
			return snprintf(why, n, "one NUMA node"), false;
		if (!same_package(t, a, b))
			return snprintf(why, n, "different packages"), false;
		return true;
	case IPCB_PLACE_CROSS_PACKAGE:
		if (!has(t, HWLOC_OBJ_PACKAGE) || share(t, HWLOC_OBJ_PACKAGE, a, b))
			return snprintf(why, n, "one package"), false;
		return true;
	case IPCB_PLACE_OS:
		if (a != -1 || b != -1)
			return snprintf(why, n, "os must be unpinned"), false;
		return true;
	default:
		return snprintf(why, n, "unknown"), false;
	}
}

/* Expected presence per placement, in enum order: 1 present, 0 absent. */
static const struct {
	const char *synthetic;
	int present[IPCB_PLACE_COUNT];
} cases[] = {
        /*                                      same smt core l3 numa pkg os */
        {"pack:2 numa:2 l3:2 core:4 pu:2", {1, 1, 1, 1, 1, 1, 1}},
        {"core:2 pu:1", {1, 0, 1, 0, 0, 0, 1}},
        {"pack:1 core:1 pu:2", {1, 1, 0, 0, 0, 0, 1}},
        {"pack:1 l3:2 core:2 pu:1", {1, 0, 1, 1, 0, 0, 1}},
        {"pack:2 core:2 pu:1", {1, 0, 1, 0, 0, 1, 1}},
        {"pack:1 numa:2 core:2 pu:2", {1, 1, 1, 0, 1, 0, 1}},
        {"pack:1 l3:2 numa:2 core:1 pu:1", {1, 0, 1, 0, 1, 0, 1}},
        {"pack:1 l3:2 core:1 pu:1", {1, 0, 0, 1, 0, 0, 1}},
        {"pack:2 core:1 pu:1", {1, 0, 0, 0, 0, 1, 1}},
};

static void check_topology(hwloc_topology_t t, const char *label, const int *expect)
{
	for (int p = 0; p < IPCB_PLACE_COUNT; p++) {
		int a = 123, b = 456;
		char reason[256] = "", why[64];
		bool ok = ipcb_placement_resolve(t, (enum ipcb_place)p, &a, &b, reason,
		                                 sizeof reason);
		const char *name = ipcb_placement_name((enum ipcb_place)p);
		UT_TRUE(reason[0] != '\0', "%s %s: empty reason", label, name);
		if (expect)
			UT_TRUE(ok == (expect[p] == 1), "%s %s: %s, expected %s (%s)", label, name,
			        ok ? "present" : "absent", expect[p] ? "present" : "absent",
			        reason);
		if (ok) {
			UT_TRUE(relation_holds(t, (enum ipcb_place)p, a, b, why, sizeof why),
			        "%s %s -> CPUs %d,%d: %s (%s)", label, name, a, b, why, reason);
		} else {
			UT_TRUE(a == -1 && b == -1, "%s %s absent but CPUs %d,%d", label, name, a,
			        b);
			UT_TRUE(strncmp(reason, "absent", 6) == 0,
			        "%s %s: reason \"%s\" should say absent", label, name, reason);
		}
	}
}

static void test_synthetic(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hwloc_topology_t t;
		char err[256];
		if (!UT_TRUE(ipcb_topo_open(&t, cases[i].synthetic, err, sizeof err) == 0, "%s: %s",
		             cases[i].synthetic, err))
			continue;
		check_topology(t, cases[i].synthetic, cases[i].present);
		ipcb_topo_close(t);
	}
}

static void test_this_machine(void)
{
	hwloc_topology_t t;
	char err[256];
	if (!UT_TRUE(ipcb_topo_open(&t, NULL, err, sizeof err) == 0, "%s", err))
		return;
	/* presence depends on the machine; the relation claimed must hold */
	check_topology(t, "this machine", NULL);
	int a, b;
	UT_TRUE(ipcb_placement_resolve(t, IPCB_PLACE_SAME_PU, &a, &b, NULL, 0), "same-pu absent");
	UT_TRUE(ipcb_placement_resolve(t, IPCB_PLACE_OS, &a, &b, NULL, 0), "os absent");
	ipcb_topo_close(t);
}

static void test_names(void)
{
	for (int p = 0; p < IPCB_PLACE_COUNT; p++) {
		const char *n = ipcb_placement_name((enum ipcb_place)p);
		UT_TRUE(n && ipcb_placement_from_name(n) == p, "name %d round trip", p);
		UT_TRUE(ipcb_placement_summary((enum ipcb_place)p) != NULL, "summary %d", p);
	}
	UT_EQ_LL(ipcb_placement_from_name("cross-socket"), -1);
	UT_EQ_LL(ipcb_placement_from_name(NULL), -1);
	UT_TRUE(ipcb_placement_name(IPCB_PLACE_COUNT) == NULL, "name past the end");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ipcb_placement_print_names(f);
	fclose(f);
	UT_EQ_STR(buf, "same-pu, smt, cross-core, cross-l3, cross-numa, cross-package, os, cross");
	free(buf);
	UT_EQ_LL(ipcb_cross_rank("cross-core"), 0);
	UT_EQ_LL(ipcb_cross_rank("cross-package"), 3);
	UT_EQ_LL(ipcb_cross_rank("same-pu"), -1);
	UT_EQ_LL(ipcb_cross_rank(NULL), -1);
}

/* "cross" is the nearest pair of different cores: cross-core where two cores
 * share an L3, else the next relation out; absent on one core. */
static void test_nearest_cross(void)
{
	static const struct {
		const char *synthetic;
		int nearest;
	} want[] = {
	        {"pack:2 numa:2 l3:2 core:4 pu:2", IPCB_PLACE_CROSS_CORE},
	        {"core:2 pu:1", IPCB_PLACE_CROSS_CORE},
	        {"pack:1 l3:2 core:1 pu:1", IPCB_PLACE_CROSS_L3},
	        {"pack:1 numa:2 l3:1 core:1 pu:1", IPCB_PLACE_CROSS_NUMA},
	        {"pack:2 core:1 pu:1", IPCB_PLACE_CROSS_PACKAGE},
	        {"pack:1 core:1 pu:2", -1},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		hwloc_topology_t t;
		char err[256], reason[256] = "";
		if (!UT_TRUE(ipcb_topo_open(&t, want[i].synthetic, err, sizeof err) == 0, "%s: %s", want[i].synthetic,
		             err))
			continue;
		int got = ipcb_placement_nearest_cross(t, reason, sizeof reason);
		UT_TRUE(got == want[i].nearest, "%s: cross is %s, expected %s (%s)", want[i].synthetic,
		        got < 0 ? "absent" : ipcb_placement_name((enum ipcb_place)got),
		        want[i].nearest < 0 ? "absent" : ipcb_placement_name((enum ipcb_place)want[i].nearest), reason);
		if (got < 0)
			UT_TRUE(strncmp(reason, "absent", 6) == 0, "%s: reason \"%s\"", want[i].synthetic, reason);
		ipcb_topo_close(t);
	}
}

static void test_bad_synthetic(void)
{
	hwloc_topology_t t = (hwloc_topology_t)1;
	char err[256] = "";
	UT_EQ_LL(ipcb_topo_open(&t, "pack:x banana", err, sizeof err), -1);
	UT_TRUE(t == NULL, "topology left set after a failed open");
	UT_TRUE(strstr(err, "hwloc_topology_set_synthetic") != NULL, "error: %s", err);
}

static void test_spread(void)
{
	hwloc_topology_t t;
	char err[256];
	int prod[8], cons[8];
	if (!UT_TRUE(ipcb_topo_open(&t, "pack:1 core:2 pu:2", err, sizeof err) == 0, "%s", err))
		return;
	UT_EQ_LL(ipcb_topo_pu_count(t), 4);
	UT_EQ_LL(ipcb_topo_spread(t, 1, 1, prod, cons), 0);
	UT_TRUE(prod[0] == 0 && cons[0] == 2,
	        "1->1 on two cores: CPUs %d,%d, expected 0,2 "
	        "(one per core)",
	        prod[0], cons[0]);
	UT_EQ_LL(ipcb_topo_spread(t, 2, 2, prod, cons), 0);
	UT_TRUE(prod[0] == 0 && prod[1] == 2 && cons[0] == 1 && cons[1] == 3,
	        "2->2: producers %d,%d consumers %d,%d, expected 0,2 and 1,3", prod[0], prod[1],
	        cons[0], cons[1]);
	UT_EQ_LL(ipcb_topo_spread(t, 3, 3, prod, cons), 0);
	UT_TRUE(cons[1] == 0 && cons[2] == 2, "3->3 wraps round-robin: consumers %d,%d,%d", cons[0],
	        cons[1], cons[2]);
	UT_EQ_LL(ipcb_topo_spread(t, 0, 1, prod, cons), -1);
	int cpus[8];
	UT_EQ_LL(ipcb_topo_cpus(t, cpus, 2), 4);
	UT_TRUE(cpus[0] == 0 && cpus[1] == 1, "cpus %d,%d", cpus[0], cpus[1]);
	char buf[64];
	ipcb_cpulist_format(prod, 3, buf, sizeof buf);
	UT_EQ_STR(buf, "0,2,1");
	int unpinned[2] = {-1, -1};
	ipcb_cpulist_format(unpinned, 2, buf, sizeof buf);
	UT_EQ_STR(buf, "os");
	ipcb_topo_close(t);
	if (!UT_TRUE(ipcb_topo_open(&t, "pack:2 numa:2 l3:2 core:4 pu:2", err, sizeof err) == 0,
	             "%s", err))
		return;
	UT_EQ_LL(ipcb_topo_spread(t, 4, 4, prod, cons), 0);
	int all[8];
	memcpy(all, prod, sizeof(int) * 4);
	memcpy(all + 4, cons, sizeof(int) * 4);
	for (int i = 0; i < 8; i++)
		for (int j = i + 1; j < 8; j++)
			UT_TRUE(!share(t, HWLOC_OBJ_CORE, all[i], all[j]),
			        "4->4 on 32 cores: endpoints %d and %d share a core (CPUs %d,%d)",
			        i, j, all[i], all[j]);
	ipcb_topo_close(t);
}

static void test_print(void)
{
	hwloc_topology_t t;
	char err[256], caches[256];
	if (!UT_TRUE(ipcb_topo_open(&t, "pack:1 l3:2 core:2 pu:1", err, sizeof err) == 0, "%s",
	             err))
		return;
	ipcb_topo_cache_summary(t, caches, sizeof caches);
	UT_TRUE(strstr(caches, "L3 16MiB x2") != NULL, "cache summary \"%s\"", caches);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ipcb_topo_print(t, f);
	fclose(f);
	UT_TRUE(strstr(buf, "1 package(s)") && strstr(buf, "4 PU(s)"), "summary line in:\n%s", buf);
	for (int p = 0; p < IPCB_PLACE_COUNT; p++)
		UT_TRUE(strstr(buf, ipcb_placement_name((enum ipcb_place)p)) != NULL,
		        "placement %s missing from:\n%s", ipcb_placement_name((enum ipcb_place)p),
		        buf);
	UT_TRUE(strstr(buf, "absent: only one package") != NULL, "no absence line in:\n%s", buf);
	UT_TRUE(strstr(buf, "cross          0,1     = cross-core") != NULL, "no line for cross in:\n%s", buf);
	free(buf);
	ipcb_topo_close(t);
}

static int cpu_of_mask(void)
{
	cpu_set_t s;
	if (sched_getaffinity(0, sizeof s, &s) != 0 || CPU_COUNT(&s) != 1)
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &s))
			return i;
	return -1;
}

static void test_bind(void)
{
	hwloc_topology_t t, syn;
	char err[256];
	if (!UT_TRUE(ipcb_topo_open(&t, NULL, err, sizeof err) == 0, "%s", err))
		return;
	cpu_set_t before;
	sched_getaffinity(0, sizeof before, &before);
	int cpus[256], n = ipcb_topo_cpus(t, cpus, 256);
	for (int i = 0; i < n && i < 256; i++) {
		UT_TRUE(ipcb_bind_thread(t, cpus[i], err, sizeof err) == 0, "bind thread %d: %s",
		        cpus[i], err);
		UT_EQ_LL(cpu_of_mask(), cpus[i]);
		/* the kernel migrates a thread before sched_setaffinity returns */
		UT_EQ_LL(sched_getcpu(), cpus[i]);
	}
	UT_TRUE(ipcb_bind_process(t, cpus[n - 1], err, sizeof err) == 0, "bind process: %s", err);
	UT_EQ_LL(cpu_of_mask(), cpus[n - 1]);
	UT_TRUE(ipcb_unbind_process(t, err, sizeof err) == 0, "unbind process: %s", err);
	cpu_set_t after;
	sched_getaffinity(0, sizeof after, &after);
	UT_EQ_LL(CPU_COUNT(&after), n);
	UT_TRUE(ipcb_bind_thread(t, cpus[0], err, sizeof err) == 0 &&
	                ipcb_bind_thread(t, -1, err, sizeof err) == 0,
	        "bind thread -1 (unbind): %s", err);
	sched_getaffinity(0, sizeof after, &after);
	UT_EQ_LL(CPU_COUNT(&after), n);
	err[0] = '\0';
	UT_EQ_LL(ipcb_bind_thread(t, 99999, err, sizeof err), -1);
	UT_TRUE(strstr(err, "valid CPUs") != NULL, "error for CPU 99999: %s", err);
	if (UT_TRUE(ipcb_topo_open(&syn, "core:2 pu:1", err, sizeof err) == 0, "%s", err)) {
		UT_EQ_LL(ipcb_bind_thread(syn, 0, err, sizeof err), -1);
		UT_TRUE(strstr(err, "synthetic") != NULL, "binding on a synthetic topology: %s",
		        err);
		ipcb_topo_close(syn);
	}
	sched_setaffinity(0, sizeof before, &before);
	ipcb_topo_close(t);
}

int ut_add_placement(void)
{
	CU_pSuite s = CU_add_suite("placement", NULL, NULL);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "synthetic topologies", test_synthetic) ||
	    !CU_add_test(s, "this machine", test_this_machine) ||
	    !CU_add_test(s, "names", test_names) ||
	    !CU_add_test(s, "cross: the nearest two cores", test_nearest_cross) ||
	    !CU_add_test(s, "bad synthetic string", test_bad_synthetic) ||
	    !CU_add_test(s, "spread and cpu lists", test_spread) ||
	    !CU_add_test(s, "topology printer", test_print) ||
	    !CU_add_test(s, "bind and unbind", test_bind))
		return CU_get_error();
	return CUE_SUCCESS;
}
