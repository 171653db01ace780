/* test_env.c — every documented key present, values read not invented. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "env.h"
#include "placement.h"
#include "unit.h"

static const char *const keys[] = {"kernel",
                                   "hostname",
                                   "cpu_model",
                                   "pus",
                                   "cores",
                                   "packages",
                                   "numa_nodes",
                                   "cpu_caches",
                                   "hypervisor",
                                   "clocksource",
                                   "cpuidle_driver",
                                   "cpuidle_governor",
                                   "haltpoll",
                                   "governor",
                                   "mqueue_msg_max",
                                   "mqueue_msgsize_max",
                                   "mqueue_queues_max",
                                   "pipe_max_size",
                                   "ipcbench_version",
                                   "git_revision",
                                   "timer_cost_ns",
                                   "machine_id"};

static struct ipcb_env env;

/* The first line of path, or NULL if it cannot be read. */
static const char *file_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *ok = fgets(buf, (int)len, f);
	fclose(f);
	if (!ok)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void test_keys(void)
{
	UT_EQ_LL(ipcb_env_capture(&env, NULL), 0);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *v = ipcb_env_get(&env, keys[i]);
		UT_TRUE(v && *v, "key %s %s", keys[i], v ? "is empty" : "missing");
	}
	UT_EQ_LL(env.n, sizeof keys / sizeof keys[0]);
	UT_TRUE(ipcb_env_get(&env, "no_such_key") == NULL, "lookup of a missing key");
}

static void test_values(void)
{
	struct utsname u;
	uname(&u);
	const char *k = ipcb_env_get(&env, "kernel");
	UT_TRUE(k && strstr(k, u.release), "kernel \"%s\" lacks release %s", k, u.release);
	UT_EQ_STR(ipcb_env_get(&env, "hostname"), u.nodename);
	hwloc_topology_t t;
	char err[256], want[320];
	if (UT_TRUE(ipcb_topo_open(&t, NULL, err, sizeof err) == 0, "%s", err)) {
		snprintf(want, sizeof want, "%d", ipcb_topo_pu_count(t));
		UT_EQ_STR(ipcb_env_get(&env, "pus"), want);
		ipcb_topo_cache_summary(t, want, sizeof want);
		UT_EQ_STR(ipcb_env_get(&env, "cpu_caches"), want);
		ipcb_topo_close(t);
	}
	static const struct {
		const char *key, *path, *missing;
	} files[] = {
	        {"clocksource", "/sys/devices/system/clocksource/clocksource0/current_clocksource",
	         "unknown"},
	        {"cpuidle_driver", "/sys/devices/system/cpu/cpuidle/current_driver", "absent"},
	        {"governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "none"},
	        {"mqueue_msg_max", "/proc/sys/fs/mqueue/msg_max", "absent"},
	        {"mqueue_msgsize_max", "/proc/sys/fs/mqueue/msgsize_max", "absent"},
	        {"mqueue_queues_max", "/proc/sys/fs/mqueue/queues_max", "absent"},
	        {"pipe_max_size", "/proc/sys/fs/pipe-max-size", "unknown"},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char buf[320];
		const char *v = file_line(files[i].path, buf, sizeof buf);
		UT_EQ_STR(ipcb_env_get(&env, files[i].key), v ? v : files[i].missing);
	}
	char hp[64];
	const char *h = ipcb_env_get(&env, "haltpoll");
	if (file_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", hp, sizeof hp)) {
		char want_hp[96];
		snprintf(want_hp, sizeof want_hp, "guest_halt_poll_ns=%s", hp);
		UT_TRUE(h && strstr(h, want_hp), "haltpoll \"%s\" lacks %s", h, want_hp);
	} else if (!file_line("/sys/module/cpuidle_haltpoll/parameters/force", hp, sizeof hp)) {
		UT_EQ_STR(h, "absent");
	}
	const char *id = ipcb_env_get(&env, "machine_id");
	bool hex = id && strlen(id) == 16;
	for (size_t i = 0; hex && i < 16; i++)
		hex = isxdigit((unsigned char)id[i]) != 0;
	UT_TRUE(hex, "machine_id \"%s\" is not 16 hex digits", id);
	double tc = atof(ipcb_env_get(&env, "timer_cost_ns"));
	UT_TRUE(tc > 0, "timer_cost_ns %g", tc);
	const char *git = ipcb_env_get(&env, "git_revision");
	UT_TRUE(git && (strcmp(git, "unknown") == 0 || strspn(git, "0123456789abcdef") >= 4),
	        "git_revision \"%s\"", git);
}

static void test_stable_id(void)
{
	static struct ipcb_env again;
	ipcb_env_capture(&again, NULL);
	UT_EQ_STR(ipcb_env_get(&again, "machine_id"), ipcb_env_get(&env, "machine_id"));
}

static void test_set(void)
{
	static struct ipcb_env e;
	e.n = 0;
	UT_EQ_LL(ipcb_env_set(&e, "cpus_used", "0,1"), 0);
	UT_EQ_LL(ipcb_env_set(&e, "cpus_used", "1"), 0);
	UT_EQ_LL(e.n, 1);
	UT_EQ_STR(ipcb_env_get(&e, "cpus_used"), "1");
	char key[16];
	for (int i = 1; i < IPCB_ENV_MAX; i++) {
		snprintf(key, sizeof key, "k%d", i);
		UT_EQ_LL(ipcb_env_set(&e, key, "v"), 0);
	}
	UT_EQ_LL(ipcb_env_set(&e, "one_too_many", "v"), -1);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ipcb_env_print(&e, f);
	fclose(f);
	UT_TRUE(strstr(buf, "cpus_used") != NULL, "print output:\n%s", buf);
	free(buf);
}

int ut_add_env(void)
{
	CU_pSuite s = CU_add_suite("env", NULL, NULL);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "keys present", test_keys) ||
	    !CU_add_test(s, "values match the system", test_values) ||
	    !CU_add_test(s, "machine id stable", test_stable_id) ||
	    !CU_add_test(s, "set/get/print", test_set))
		return CU_get_error();
	return CUE_SUCCESS;
}
