/* env.c — environment capture; the keys and their sources are in env.h.
 *
 * Sections: file and command readers; set/get; CPU model and hypervisor;
 * halt-poll; git revision; machine id; capture; output.
 */
#include "env.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "gbench.h"
#include "placement.h"
#include "stats.h"

#ifndef IPCB_VERSION
#define IPCB_VERSION "unknown"
#endif

/* First line of path without its newline; -1 if it cannot be read. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *ok = fgets(buf, (int)len, f);
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Sets key from the first line of path, or `missing` if it cannot be read. */
static void set_file(struct ipcb_env *e, const char *key, const char *path, const char *missing)
{
	char v[IPCB_ENV_VAL_LEN];
	ipcb_env_set(e, key, read_line(path, v, sizeof v) == 0 ? v : missing);
}

int ipcb_env_set(struct ipcb_env *e, const char *key, const char *value)
{
	size_t i;
	for (i = 0; i < e->n; i++)
		if (strcmp(e->kv[i].key, key) == 0)
			break;
	if (i == e->n) {
		if (e->n == IPCB_ENV_MAX)
			return -1;
		e->n++;
		snprintf(e->kv[i].key, sizeof e->kv[i].key, "%s", key);
	}
	snprintf(e->kv[i].value, sizeof e->kv[i].value, "%s", value ? value : "unknown");
	return 0;
}

const char *ipcb_env_get(const struct ipcb_env *e, const char *key)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->kv[i].key, key) == 0)
			return e->kv[i].value;
	return NULL;
}

/* "model name : AMD EPYC" -> "AMD EPYC"; the key differs per architecture. */
static void cpu_model(char *buf, size_t len, bool *has_flags, bool *hv_flag)
{
	static const char *const keys[] = {"model name", "Processor", "cpu model", "cpu", NULL};
	char line[4096], found[IPCB_ENV_VAL_LEN] = "";
	int rank = 99;
	*has_flags = *hv_flag = false;
	FILE *f = fopen("/proc/cpuinfo", "re");
	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		char *val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		val[strcspn(val, "\n")] = '\0';
		char *end = colon;
		while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		size_t klen = (size_t)(end - line);
		if (klen == 5 && strncmp(line, "flags", 5) == 0 && !*has_flags) {
			*has_flags = true;
			/* token match: "hypervisor" must not match inside another flag */
			for (char *tok = strtok(val, " "); tok; tok = strtok(NULL, " "))
				if (strcmp(tok, "hypervisor") == 0)
					*hv_flag = true;
			continue;
		}
		for (int k = 0; keys[k] && k < rank; k++)
			if (strlen(keys[k]) == klen && strncmp(line, keys[k], klen) == 0 && *val) {
				snprintf(found, sizeof found, "%s", val);
				rank = k;
			}
	}
	fclose(f);
	if (*found)
		snprintf(buf, len, "%s", found);
}

static void hypervisor(char *buf, size_t len, bool has_flags, bool hv_flag)
{
	char parts[3][IPCB_ENV_VAL_LEN / 2];
	int n = 0;
#if defined(__x86_64__) || defined(__i386__)
	if (hv_flag) {
		/* leaf 0x40000000 is only meaningful when the hypervisor bit is set */
		unsigned a, b, c, d;
		__cpuid(0x40000000, a, b, c, d);
		char vendor[13];
		memcpy(vendor, &b, 4);
		memcpy(vendor + 4, &c, 4);
		memcpy(vendor + 8, &d, 4);
		vendor[12] = '\0';
		static const struct {
			const char *id, *name;
		} known[] = {
		        {"KVMKVMKVM", "KVM"},          {"Microsoft Hv", "Hyper-V"},
		        {"VMwareVMware", "VMware"},    {"XenVMMXenVMM", "Xen"},
		        {"TCGTCGTCGTCG", "QEMU TCG"},  {"VBoxVBoxVBox", "VirtualBox"},
		        {"bhyve bhyve ", "bhyve"},     {"ACRNACRNACRN", "ACRN"},
		        {" lrpepyh  vr", "Parallels"},
		};
		const char *name = NULL;
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			if (strcmp(vendor, known[i].id) == 0)
				name = known[i].name;
		for (char *p = vendor; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
		snprintf(parts[n++], sizeof parts[0], "%s (cpuid \"%s\")",
		         name ? name : "unrecognised", vendor);
	}
#endif
	char v[64], p[64]; /* DMI strings are short; parts[] holds both */
	if (read_line("/sys/hypervisor/type", v, sizeof v) == 0)
		snprintf(parts[n++], sizeof parts[0], "sys/hypervisor %s", v);
	if (read_line("/sys/class/dmi/id/sys_vendor", v, sizeof v) == 0) {
		if (read_line("/sys/class/dmi/id/product_name", p, sizeof p) != 0)
			p[0] = '\0';
		snprintf(parts[n++], sizeof parts[0], "dmi %s %s", v, p);
	}
	if (has_flags && !hv_flag) {
		snprintf(buf, len, "none");
		return;
	}
	if (n == 0) {
		snprintf(buf, len, hv_flag ? "yes (cpuinfo flag; type unknown)" : "unknown");
		return;
	}
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? "; " : "", parts[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "guest_halt_poll_ns=0 ... cpuidle_haltpoll.force=Y", or "absent". */
static void haltpoll(char *buf, size_t len)
{
	const char *dir = "/sys/module/haltpoll/parameters";
	size_t used = 0;
	buf[0] = '\0';
	DIR *d = opendir(dir);
	if (d) {
		char *names[32];
		int n = 0;
		struct dirent *de;
		while ((de = readdir(d)) && n < 32)
			if (de->d_name[0] != '.')
				names[n++] = strdup(de->d_name);
		closedir(d);
		qsort(names, (size_t)n, sizeof names[0], cmp_str);
		for (int i = 0; i < n; i++) {
			char path[512], v[64];
			if (!names[i])
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			if (read_line(path, v, sizeof v) == 0 && used < len) {
				int w = snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "",
				                 names[i], v);
				if (w > 0)
					used += (size_t)w;
			}
			free(names[i]);
		}
	}
	char v[64];
	if (read_line("/sys/module/cpuidle_haltpoll/parameters/force", v, sizeof v) == 0 &&
	    used < len) {
		int w = snprintf(buf + used, len - used, "%scpuidle_haltpoll.force=%s",
		                 used ? " " : "", v);
		if (w > 0)
			used += (size_t)w;
	}
	if (used == 0)
		snprintf(buf, len, "absent");
}

/* First line printed by a shell command, or -1 (no output / failed). */
static int command_line(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "re");
	if (!p)
		return -1;
	char *ok = fgets(buf, (int)len, p);
	while (ok && fgetc(p) != EOF) {
	}
	int st = pclose(p);
	if (!ok || st != 0)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] ? 0 : -1;
}

static void git_revision(char *buf, size_t len)
{
	snprintf(buf, len, "unknown");
#ifdef IPCB_SOURCE_DIR
	const char *dir = IPCB_SOURCE_DIR;
	if (strchr(dir, '\''))
		return; /* cannot quote it for the shell safely */
	char cmd[1024], rev[64], status[256];
	snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short HEAD 2>/dev/null", dir);
	if (command_line(cmd, rev, sizeof rev) != 0)
		return;
	snprintf(cmd, sizeof cmd, "git -C '%s' status --porcelain 2>/dev/null", dir);
	bool dirty = command_line(cmd, status, sizeof status) == 0;
	snprintf(buf, len, "%s%s", rev, dirty ? "-dirty" : "");
#endif
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

int ipcb_env_capture(struct ipcb_env *e, hwloc_topology_t topo)
{
	char v[IPCB_ENV_VAL_LEN], model[IPCB_ENV_VAL_LEN], host[IPCB_ENV_VAL_LEN];
	int rc = 0;
	e->n = 0;
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(v, sizeof v, "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
		ipcb_env_set(e, "kernel", v);
		snprintf(host, sizeof host, "%s", u.nodename);
	} else {
		ipcb_env_set(e, "kernel", "unknown");
		snprintf(host, sizeof host, "unknown");
	}
	ipcb_env_set(e, "hostname", host);
	bool has_flags, hv_flag;
	cpu_model(model, sizeof model, &has_flags, &hv_flag);
	ipcb_env_set(e, "cpu_model", model);

	hwloc_topology_t own = NULL;
	if (!topo) {
		char err[256];
		if (ipcb_topo_open(&own, NULL, err, sizeof err) != 0) {
			fprintf(stderr, "ipcbench: environment: %s\n", err);
			rc = -1;
		}
		topo = own;
	}
	static const struct {
		const char *key;
		hwloc_obj_type_t type;
	} counts[] = {{"pus", HWLOC_OBJ_PU},
	              {"cores", HWLOC_OBJ_CORE},
	              {"packages", HWLOC_OBJ_PACKAGE},
	              {"numa_nodes", HWLOC_OBJ_NUMANODE}};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		if (topo)
			snprintf(v, sizeof v, "%d", hwloc_get_nbobjs_by_type(topo, counts[i].type));
		ipcb_env_set(e, counts[i].key, topo ? v : "unknown");
	}
	if (topo)
		ipcb_topo_cache_summary(topo, v, sizeof v);
	ipcb_env_set(e, "cpu_caches", topo ? v : "unknown");
	ipcb_topo_close(own);

	hypervisor(v, sizeof v, has_flags, hv_flag);
	ipcb_env_set(e, "hypervisor", v);
	set_file(e, "clocksource",
	         "/sys/devices/system/clocksource/clocksource0/current_clocksource", "unknown");
	set_file(e, "cpuidle_driver", "/sys/devices/system/cpu/cpuidle/current_driver", "absent");
	if (read_line("/sys/devices/system/cpu/cpuidle/current_governor_ro", v, sizeof v) == 0 ||
	    read_line("/sys/devices/system/cpu/cpuidle/current_governor", v, sizeof v) == 0)
		ipcb_env_set(e, "cpuidle_governor", v);
	else
		ipcb_env_set(e, "cpuidle_governor", "absent");
	haltpoll(v, sizeof v);
	ipcb_env_set(e, "haltpoll", v);
	set_file(e, "governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "none");
	set_file(e, "mqueue_msg_max", "/proc/sys/fs/mqueue/msg_max", "absent");
	set_file(e, "mqueue_msgsize_max", "/proc/sys/fs/mqueue/msgsize_max", "absent");
	set_file(e, "mqueue_queues_max", "/proc/sys/fs/mqueue/queues_max", "absent");
	set_file(e, "pipe_max_size", "/proc/sys/fs/pipe-max-size", "unknown");
	ipcb_env_set(e, "ipcbench_version", IPCB_VERSION);
	git_revision(v, sizeof v);
	ipcb_env_set(e, "git_revision", v);
	snprintf(v, sizeof v, "%.1f", ipcb_timer_cost_ns(0));
	ipcb_env_set(e, "timer_cost_ns", v);

	char id_src[3 * IPCB_ENV_VAL_LEN];
	snprintf(id_src, sizeof id_src, "%s|%s|%s", model, ipcb_env_get(e, "pus"), host);
	snprintf(v, sizeof v, "%016llx", (unsigned long long)fnv1a(id_src));
	ipcb_env_set(e, "machine_id", v);
	return rc;
}

int ipcb_env_add_to_gbench(const struct ipcb_env *e)
{
	int rc = 0;
	for (size_t i = 0; i < e->n; i++)
		if (ipcb_gb_add_context(e->kv[i].key, e->kv[i].value) != 0)
			rc = -1;
	return rc;
}

void ipcb_env_print(const struct ipcb_env *e, FILE *f)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(f, "%-20s %s\n", e->kv[i].key, e->kv[i].value);
}
