/*
 * shmring_named_tests.c - shmring opened by cfg.name from unrelated
 * processes: peers are this test binary run again with --named-peer
 * (posix_spawn, so they share no descriptor or mapping with the test);
 * messages exchanged by name; name validation; a geometry mismatch; EOF when
 * a named producer is SIGKILLed; forked children of a named opener; no
 * /dev/shm entry after the last close, and a leftover from SIGKILLed users
 * taken over by the next opener.
 */
#include "shm_tests.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEC ((int64_t)1000000000)
#define NCAP 16
#define NMAX 256

extern char **environ;

static const ipcq_mech *ring(void)
{
	return ipcq_mech_find("shmring");
}

static int named_open(const char *name, size_t cap, ipcq **q)
{
	ipcq_config cfg = { .capacity = cap, .max_msg = NMAX, .name = name };
	return ipcq_open(ring(), &cfg, q);
}

/* Message i: 4 bytes of i, then bytes that depend on i. */
static size_t named_msg(unsigned char *b, uint32_t i)
{
	size_t len = 4 + i % (NMAX - 4);
	memcpy(b, &i, 4);
	for (size_t k = 4; k < len; k++)
		b[k] = (unsigned char)(i * 31 + k);
	return len;
}

static bool named_msg_ok(const unsigned char *b, size_t len, uint32_t i)
{
	unsigned char want[NMAX];
	return len == named_msg(want, i) && memcmp(b, want, len) == 0;
}

static bool dev_shm_has(const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof path, "/dev/shm/ipcq.shmring.%s", name);
	return stat(path, &st) == 0;
}

/* A fresh name per test run, so runs and leftovers of other runs never meet. */
static const char *fresh_name(const char *what)
{
	static char name[64];
	snprintf(name, sizeof name, "test.%s.%d.%lld", what, (int)getpid(), (long long)(shm_now() % 1000000007));
	return name;
}

/*
 * The peer side: argv = --named-peer producer|producer-hang|consumer NAME N.
 * producer: opens NAME, puts N messages (keeping the consumer role, so a
 * consumer that has not opened yet is no BROKEN), closes. producer-hang: the
 * same, then waits to be killed. consumer: opens NAME, keeps the producer
 * role until its first message (so a producer that has not opened yet is no
 * EOF), gets N messages, then must see EOF. Exit 0 when all went right.
 */
int shm_named_peer(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	const char *role = argv[2], *name = argv[3];
	uint32_t n = (uint32_t)strtoul(argv[4], NULL, 10);
	ipcq *q;
	int st = named_open(name, NCAP, &q);
	if (st != IPCQ_OK) {
		fprintf(stderr, "peer %s: open %s -> %s: %s\n", role, name, ipcq_strstatus(st), ipcq_errmsg(NULL));
		return 3;
	}
	unsigned char b[NMAX];
	if (!strncmp(role, "producer", 8)) {
		for (uint32_t i = 0; i < n; i++) {
			size_t len = named_msg(b, i);
			if ((st = ipcq_put(q, b, len, 10 * SEC)) != IPCQ_OK) {
				fprintf(stderr, "peer producer: put %u -> %s: %s\n", i, ipcq_strstatus(st), ipcq_errmsg(q));
				return 4;
			}
		}
		if (!strcmp(role, "producer-hang"))
			for (;;)
				pause();
		ipcq_close(q);
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		size_t len = 0;
		if ((st = ipcq_get(q, b, sizeof b, &len, 10 * SEC)) != IPCQ_OK || !named_msg_ok(b, len, i)) {
			fprintf(stderr, "peer consumer: get %u -> %s (%zu bytes)\n", i, ipcq_strstatus(st), len);
			return 5;
		}
		if (i == 0)
			ipcq_release(q, IPCQ_PRODUCER);
	}
	size_t len;
	if ((st = ipcq_get(q, b, sizeof b, &len, 10 * SEC)) != IPCQ_EOF) {
		fprintf(stderr, "peer consumer: after %u messages -> %s, expected IPCQ_EOF\n", n, ipcq_strstatus(st));
		return 6;
	}
	ipcq_close(q);
	return 0;
}

static pid_t spawn_peer(const char *role, const char *name, uint32_t n)
{
	char count[16];
	snprintf(count, sizeof count, "%u", n);
	char *args[] = { "ipcq-shm-tests", "--named-peer", (char *)role, (char *)name, count, NULL };
	pid_t pid;
	int e = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ);
	if (e) {
		SHM_CHECK(false, "posix_spawn of a %s peer: %s", role, strerror(e));
		return -1;
	}
	return pid;
}

static bool peer_ok(pid_t pid, const char *what)
{
	int ws = shm_wait(pid, 30 * SEC);
	return SHM_CHECK(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s peer: wait status 0x%x", what, ws);
}

/* Two unrelated processes meet by name, in either start order; nothing is left in /dev/shm. */
static void t_named_unrelated_processes(void)
{
	for (int order = 0; order < 2; order++) {
		const char *name = fresh_name("pair");
		pid_t a = spawn_peer(order ? "producer" : "consumer", name, 5000);
		if (order == 0)
			shm_sleep_ms(50); /* the consumer alone first: it must wait, not see EOF */
		pid_t b = spawn_peer(order ? "consumer" : "producer", name, 5000);
		if (a < 0 || b < 0)
			return;
		bool ok = peer_ok(a, order ? "producer" : "consumer");
		ok = peer_ok(b, order ? "consumer" : "producer") && ok;
		SHM_CHECK(!dev_shm_has(name), "/dev/shm/ipcq.shmring.%s is left after both peers closed", name);
		if (!ok)
			return;
	}
}

/* A named producer SIGKILLed: the consumer gets EOF (within a nap), not its timeout. */
static void t_named_producer_sigkill_eof(void)
{
	const char *name = fresh_name("kill");
	ipcq *q;
	int st = named_open(name, NCAP, &q);
	if (!SHM_CHECK(st == IPCQ_OK, "open %s -> %s: %s", name, ipcq_strstatus(st), ipcq_errmsg(NULL)))
		return;
	pid_t p = spawn_peer("producer-hang", name, 3);
	unsigned char b[NMAX];
	size_t len;
	for (uint32_t i = 0; i < 3; i++) {
		st = ipcq_get(q, b, sizeof b, &len, 10 * SEC);
		if (!SHM_CHECK(st == IPCQ_OK && named_msg_ok(b, len, i), "get %u -> %s", i, ipcq_strstatus(st)))
			goto out;
	}
	SHM_CHECK(ipcq_release(q, IPCQ_PRODUCER) == IPCQ_OK, "release");
	st = ipcq_get(q, b, sizeof b, &len, 100 * 1000000LL);
	SHM_CHECK(st == IPCQ_EMPTY, "the producer lives: get -> %s, expected IPCQ_EMPTY", ipcq_strstatus(st));
	kill(p, SIGKILL);
	int64_t t0 = shm_now();
	st = ipcq_get(q, b, sizeof b, &len, 10 * SEC);
	SHM_CHECK(st == IPCQ_EOF && shm_now() - t0 < 3 * SEC, "after SIGKILL: get -> %s after %.0f ms, expected IPCQ_EOF",
	          ipcq_strstatus(st), (shm_now() - t0) / 1e6);
out:
	kill(p, SIGKILL);
	shm_wait(p, 10 * SEC);
	ipcq_close(q);
	SHM_CHECK(!dev_shm_has(name), "/dev/shm entry left after the last close");
}

/* Bad names are INVAL with a message naming the fix, and create nothing. */
static void t_named_bad_names(void)
{
	static char long_name[260];
	memset(long_name, 'x', 201);
	const char *bad[] = { "", "a/b", "/jobs", ".hidden", "two words", "tab\there", "ütf8", long_name };
	static char before[1 << 16], after[1 << 16];
	shm_list_dev_shm(before, sizeof before);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ipcq *q = NULL;
		int st = named_open(bad[i], NCAP, &q);
		const char *msg = ipcq_errmsg(NULL);
		SHM_CHECK(st == IPCQ_INVAL && q == NULL && strstr(msg, "e.g.") != NULL,
		          "name \"%.20s\": open -> %s, message \"%s\"", bad[i], ipcq_strstatus(st), msg);
	}
	ipcq *q = NULL;
	ipcq_conn *a, *b;
	ipcq_config cfg = { .name = "jobs" };
	SHM_CHECK(ipcq_pipe(ring(), &cfg, true, &a, &b) == IPCQ_INVAL, "a named pipe was opened");
	const char *ok = fresh_name("ok-Name_1.x");
	SHM_CHECK(named_open(ok, NCAP, &q) == IPCQ_OK, "a good name was refused: %s", ipcq_errmsg(NULL));
	ipcq_close(q);
	shm_list_dev_shm(after, sizeof after);
	SHM_CHECK(strcmp(before, after) == 0, "/dev/shm changed: before\n%s\nafter\n%s", before, after);
}

/* A second open of a name with another geometry is INVAL naming the one in force. */
static void t_named_geometry_mismatch(void)
{
	const char *name = fresh_name("geom");
	ipcq *q1 = NULL, *q2 = NULL, *q3 = NULL;
	SHM_CHECK(named_open(name, NCAP, &q1) == IPCQ_OK, "first open: %s", ipcq_errmsg(NULL));
	int st = named_open(name, NCAP * 2, &q2);
	SHM_CHECK(st == IPCQ_INVAL && strstr(ipcq_errmsg(NULL), "capacity 16"),
	          "open with capacity 32 -> %s: %s", ipcq_strstatus(st), ipcq_errmsg(NULL));
	SHM_CHECK(named_open(name, NCAP, &q3) == IPCQ_OK, "a matching second open: %s", ipcq_errmsg(NULL));
	/* the two handles of one process are one ring */
	SHM_CHECK(ipcq_put(q1, "hi", 2, IPCQ_NOWAIT) == IPCQ_OK, "put");
	char b[8];
	size_t len;
	SHM_CHECK(ipcq_get(q3, b, sizeof b, &len, IPCQ_NOWAIT) == IPCQ_OK && len == 2, "get through the other handle");
	ipcq_close(q1);
	SHM_CHECK(dev_shm_has(name), "the name went while a handle was open");
	ipcq_close(q3);
	SHM_CHECK(!dev_shm_has(name), "/dev/shm entry left after the last close");
}

/* A named opener's forked children hold roles as with a private ring: EOF after they exit. */
static void t_named_forked_children(void)
{
	const char *name = fresh_name("fork");
	ipcq *q;
	if (!SHM_CHECK(named_open(name, NCAP, &q) == IPCQ_OK, "open: %s", ipcq_errmsg(NULL)))
		return;
	pid_t kids[2];
	for (int k = 0; k < 2; k++)
		if ((kids[k] = fork()) == 0) {
			ipcq_release(q, IPCQ_CONSUMER);
			unsigned char b[NMAX];
			for (uint32_t i = 0; i < 500; i++)
				if (ipcq_put(q, b, named_msg(b, i), 10 * SEC) != IPCQ_OK)
					_exit(1);
			_exit(0); /* without close: exit must count as release */
		}
	ipcq_release(q, IPCQ_PRODUCER);
	unsigned char b[NMAX];
	size_t len;
	unsigned got = 0;
	int st;
	while ((st = ipcq_get(q, b, sizeof b, &len, 10 * SEC)) == IPCQ_OK)
		got++;
	SHM_CHECK(st == IPCQ_EOF && got == 1000, "%u messages then %s, expected 1000 then IPCQ_EOF", got,
	          ipcq_strstatus(st));
	for (int k = 0; k < 2; k++)
		shm_wait(kids[k], 10 * SEC);
	ipcq_close(q);
	SHM_CHECK(!dev_shm_has(name), "/dev/shm entry left after the last close");
}

/*
 * Every user SIGKILLed: the entry stays (nobody lived to unlink it) but is
 * no trap - the next opener of the name finds no live user, sets it up
 * anew (empty), and its close removes it.
 */
static void t_named_leftover_taken_over(void)
{
	const char *name = fresh_name("left");
	pid_t p = spawn_peer("producer-hang", name, 2);
	int64_t give_up = shm_now() + 10 * SEC;
	while (!dev_shm_has(name) && shm_now() < give_up)
		shm_sleep_ms(1);
	shm_sleep_ms(100); /* its two puts */
	kill(p, SIGKILL);
	shm_wait(p, 10 * SEC);
	SHM_CHECK(dev_shm_has(name), "no /dev/shm entry after the producer was killed (was it ever made?)");
	ipcq *q;
	int st = named_open(name, NCAP, &q);
	if (!SHM_CHECK(st == IPCQ_OK, "open of the leftover -> %s: %s", ipcq_strstatus(st), ipcq_errmsg(NULL)))
		return;
	char b[NMAX];
	size_t len;
	st = ipcq_get(q, b, sizeof b, &len, IPCQ_NOWAIT);
	SHM_CHECK(st == IPCQ_EMPTY, "the leftover's messages survived the take-over: get -> %s", ipcq_strstatus(st));
	SHM_CHECK(ipcq_put(q, "x", 1, IPCQ_NOWAIT) == IPCQ_OK && ipcq_get(q, b, sizeof b, &len, IPCQ_NOWAIT) == IPCQ_OK,
	          "the taken-over ring does not work");
	ipcq_close(q);
	SHM_CHECK(!dev_shm_has(name), "/dev/shm entry left after the last close");
}

/*
 * Processes opening and closing one name at once, 300 times each: the races
 * of create (O_EXCL), take-over and last-close unlink must never fail an
 * open, split the users between two objects while both live, or leave the
 * name behind.
 */
static void t_named_open_close_race(void)
{
	const char *name = fresh_name("race");
	pid_t kids[4];
	for (int k = 0; k < 4; k++)
		if ((kids[k] = fork()) == 0) {
			for (int i = 0; i < 300; i++) {
				ipcq *q;
				int st = named_open(name, NCAP, &q);
				if (st != IPCQ_OK) {
					fprintf(stderr, "race: open %d -> %s: %s\n", i, ipcq_strstatus(st), ipcq_errmsg(NULL));
					_exit(1);
				}
				/* keep it open now and then, so closes and opens overlap every way */
				if ((st = ipcq_put(q, "r", 1, IPCQ_NOWAIT)) != IPCQ_OK && st != IPCQ_FULL)
					_exit(2);
				if (i % 3 == 0)
					shm_sleep_ms(1);
				ipcq_close(q);
			}
			_exit(0);
		}
	bool ok = true;
	for (int k = 0; k < 4; k++) {
		int ws = shm_wait(kids[k], 60 * SEC);
		ok &= ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
	}
	SHM_CHECK(ok, "an open, put or close failed or hung (see stderr)");
	SHM_CHECK(!dev_shm_has(name), "/dev/shm entry left after every user closed");
}

int shm_add_shmring_named(CU_pSuite s)
{
	if (!CU_add_test(s, "named_unrelated_processes_both_orders", t_named_unrelated_processes) ||
	    !CU_add_test(s, "named_producer_sigkill_eof", t_named_producer_sigkill_eof) ||
	    !CU_add_test(s, "named_bad_names_inval", t_named_bad_names) ||
	    !CU_add_test(s, "named_geometry_mismatch_inval", t_named_geometry_mismatch) ||
	    !CU_add_test(s, "named_forked_children_eof", t_named_forked_children) ||
	    !CU_add_test(s, "named_leftover_taken_over", t_named_leftover_taken_over) ||
	    !CU_add_test(s, "named_open_close_race_4x300", t_named_open_close_race))
		return CU_get_error();
	return CUE_SUCCESS;
}
