/*
 * shm_main.c - runs the shared-memory mechanisms' own suites (all, or the one
 * named by --suite NAME); exit 1 on any failure.
 */
#include "shm_tests.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t shm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void shm_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void *shm_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "ipcq-shm-tests: mmap(MAP_SHARED, %zu): %s\n", size, strerror(errno));
		exit(2);
	}
	return p;
}

int shm_wait(pid_t pid, int64_t timeout_ns)
{
	int64_t end = shm_now() + timeout_ns;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		if (shm_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

void shm_list_dev_shm(char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	DIR *d = opendir("/dev/shm");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int n = snprintf(buf + used, cap - used, "%s\n", e->d_name);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
#ifdef IPCQ_WITH_SHMRING
	if (argc > 1 && !strcmp(argv[1], "--named-peer"))
		return shm_named_peer(argc, argv);
#endif
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--suite") && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--suite NAME]\n", argv[0]);
			return 2;
		}
	}
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "ipcq-shm-tests: CU_initialize_registry: %s\n", CU_get_error_msg());
		return 2;
	}
	static const struct {
		const char *name;
		int (*add)(void);
	} suites[] = {
#ifdef IPCQ_WITH_SHMRING
		{ "shmring", shm_add_shmring },
#endif
#ifdef IPCQ_WITH_SHMMGR
		{ "shmmgr", shm_add_shmmgr },
#endif
		{ NULL, NULL },
	};
	bool found = !only;
	for (size_t i = 0; suites[i].name; i++) {
		if (only && strcmp(only, suites[i].name))
			continue;
		found = true;
		if (suites[i].add() != CUE_SUCCESS) {
			fprintf(stderr, "ipcq-shm-tests: adding suite %s: %s\n", suites[i].name, CU_get_error_msg());
			CU_cleanup_registry();
			return 2;
		}
	}
	if (!found) {
		fprintf(stderr, "ipcq-shm-tests: no suite called '%s' in this build\n", only);
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
