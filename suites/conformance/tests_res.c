/*
 * tests_res.c - resources outlive nothing: descriptors stay level over 1000
 * open/close cycles (and failed opens), and no name is left in /dev/shm or
 * the mqueue filesystem after close or after the creator is SIGKILLed.
 *
 * The mqueue filesystem is often not mounted; as root the test mounts it in
 * a private mount namespace of its own (nothing outside sees it).
 */
#include "tests.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* --- Descriptors ---------------------------------------------------------------------- */

void t_fd_count_stable_queues(const struct ct_ctx *c)
{
	ipcq *q = ct_open(c, 4, 64); /* the first open may set up lasting state */
	ipcq_close(q);
	int before = ct_fd_count();
	for (int i = 0; i < 1000; i++) {
		q = ct_open(c, 4, 64);
		CT_PUT_MSG(q, 60, (uint32_t)i, 16, IPCQ_NOWAIT);
		CT_GET_MSG(q, 60, (uint32_t)i, 16, IPCQ_NOWAIT);
		if (i % 2)
			CT_OK(ipcq_release(q, IPCQ_PRODUCER), q);
		CT_OK(ipcq_close(q), q);
		if (i % 100 == 99) {
			int now = ct_fd_count();
			CT_TRUE(now == before, "%d descriptors open after %d open/close cycles, %d before", now,
			        i + 1, before);
		}
	}
}

void t_fd_count_stable_pipes(const struct ct_ctx *c)
{
	ipcq_config cfg = {.capacity = 4, .max_msg = 64};
	ipcq_conn *a, *b;
	CT_OK(ipcq_pipe(c->mech, &cfg, true, &a, &b), NULL);
	ipcq_conn_close(a);
	ipcq_conn_close(b);
	int before = ct_fd_count();
	char buf[8];
	size_t n;
	for (int i = 0; i < 1000; i++) {
		bool duplex = i % 2;
		CT_OK(ipcq_pipe(c->mech, &cfg, duplex, &a, &b), NULL);
		CT_OK(ipcq_send(b, "ping", 4, IPCQ_NOWAIT), b);
		CT_OK(ipcq_recv(a, buf, sizeof buf, &n, IPCQ_NOWAIT), a);
		CT_OK(ipcq_conn_close(a), a);
		CT_OK(ipcq_conn_close(b), b);
	}
	int now = ct_fd_count();
	CT_TRUE(now == before, "%d descriptors open after 1000 pipe open/close cycles, %d before", now, before);
}

void t_fd_count_stable_failed_opens(const struct ct_ctx *c)
{
	/* The failure paths must release what they took, too. */
	int before = ct_fd_count();
	for (int i = 0; i < 200; i++) {
		ipcq *q = NULL;
		ipcq_config flags = {.flags = 1}, big = {.capacity = 1u << 20, .max_msg = 1u << 26};
		CT_ST(ipcq_open(c->mech, &flags, &q), IPCQ_INVAL, NULL);
		int st = ipcq_open(c->mech, &big, &q);
		CT_TRUE(st == IPCQ_OK || st == IPCQ_LIMIT, "a 1M x 64 MiB queue -> %s (errmsg: %s)",
		        ipcq_strstatus(st), ipcq_errmsg(NULL));
		if (st == IPCQ_OK)
			CT_OK(ipcq_close(q), q);
	}
	int now = ct_fd_count();
	CT_TRUE(now == before, "%d descriptors open after 200 failed opens, %d before", now, before);
}

/* --- Names in shared namespaces -------------------------------------------------------- */

struct t_names {
	char *v[4096];
	int n;
};

static char t_mq_dir[128];
static bool t_mq_mounted;

static void t_names_add(struct t_names *s, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		CT_FAIL("opendir(%s): %s", dir, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)) && s->n < 4096) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		s->v[s->n++] = strdup(path);
	}
	closedir(d);
}

static void t_names_take(struct t_names *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
	t_names_add(s, "/dev/shm");
	t_names_add(s, t_mq_dir);
}

/* Where the mqueue names can be listed: /dev/mqueue, or our own private mount. */
static bool t_mq_setup(char *why, size_t cap)
{
	DIR *d = opendir("/dev/mqueue");
	if (d) {
		closedir(d);
		snprintf(t_mq_dir, sizeof t_mq_dir, "/dev/mqueue");
		return true;
	}
	if (unshare(CLONE_NEWNS) != 0) {
		snprintf(why, cap, "/dev/mqueue is not mounted and unshare(CLONE_NEWNS) failed (%s); "
		         "mount it with `mount -t mqueue none /dev/mqueue`", strerror(errno));
		return false;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(why, cap, "making / private in a new mount namespace: %s", strerror(errno));
		return false;
	}
	snprintf(t_mq_dir, sizeof t_mq_dir, "/tmp/ipcq-conformance-mq.XXXXXX");
	if (!mkdtemp(t_mq_dir)) {
		snprintf(why, cap, "mkdtemp(%s): %s", t_mq_dir, strerror(errno));
		return false;
	}
	if (mount("mqueue", t_mq_dir, "mqueue", 0, NULL) != 0) {
		snprintf(why, cap, "/dev/mqueue is not mounted and mounting mqueue on %s failed (%s)", t_mq_dir,
		         strerror(errno));
		rmdir(t_mq_dir);
		return false;
	}
	t_mq_mounted = true;
	return true;
}

static void t_mq_teardown(void)
{
	if (t_mq_mounted) {
		umount2(t_mq_dir, MNT_DETACH);
		rmdir(t_mq_dir);
		t_mq_mounted = false;
	}
}

bool t_names_listable(const ipcq_mech *m, char *why, size_t cap)
{
	(void)m;
	DIR *d = opendir("/dev/shm");
	if (!d) {
		snprintf(why, cap, "/dev/shm cannot be listed: %s", strerror(errno));
		return false;
	}
	closedir(d);
	bool ok = t_mq_setup(why, cap);
	t_mq_teardown();
	return ok;
}

static bool t_names_has(const struct t_names *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return true;
	return false;
}

/*
 * Every name not in before must vanish within 2 s: a concurrent test run
 * (ctest -j) may create short-lived names of its own, but a leak stays.
 */
static void t_names_expect_none_new(const struct t_names *before, const char *when)
{
	struct t_names *now = calloc(1, sizeof *now);
	int64_t end = ct_now() + 2 * CT_SEC;
	for (;;) {
		t_names_take(now);
		const char *leak = NULL;
		for (int i = 0; i < now->n && !leak; i++)
			if (!t_names_has(before, now->v[i]))
				leak = now->v[i];
		if (!leak)
			break;
		if (ct_now() > end) {
			char copy[512];
			size_t dl = strlen(t_mq_dir);
			if (!strncmp(leak, t_mq_dir, dl) && leak[dl] == '/')
				snprintf(copy, sizeof copy, "mqueue name %s", leak + dl);
			else
				snprintf(copy, sizeof copy, "%s", leak);
			t_mq_teardown();
			CT_FAIL("%s is left behind %s", copy, when);
		}
		ct_sleep(20 * CT_MS);
	}
	for (int i = 0; i < now->n; i++)
		free(now->v[i]);
	free(now);
}

static void t_name_user(void *arg)
{
	ipcq *q = arg;
	CT_PUT_MSG(q, 61, 0, 20, CT_LONG);
}

void t_no_leaked_names_after_close(const struct ct_ctx *c)
{
	char why[256];
	if (!t_mq_setup(why, sizeof why))
		CT_FAIL("%s", why);
	/*
	 * The first open may start lasting state that is no queue's: iceoryx's
	 * RouDi, whose segments live until its last user ends (its ctest entry
	 * checks they are gone afterwards). Names made after that are the queues'.
	 */
	ipcq_close(ct_open(c, 4, 64));
	struct t_names *before = calloc(1, sizeof *before);
	t_names_take(before);
	for (int i = 0; i < 20; i++) {
		ipcq *q = ct_open(c, 4, 64);
		ct_join(ct_spawn_process(q, IPCQ_CONSUMER, t_name_user, q));
		CT_GET_MSG(q, 61, 0, 20, CT_LONG);
		CT_OK(ipcq_close(q), q);
	}
	ipcq_conn *a, *b;
	CT_OK(ipcq_pipe(c->mech, NULL, true, &a, &b), NULL);
	ipcq_conn_close(a);
	ipcq_conn_close(b);
	t_names_expect_none_new(before, "after every queue was closed");
	t_mq_teardown();
}

struct t_creator {
	atomic_int ready;
	const ipcq_mech *mech;
};

static void t_doomed_creator(void *arg)
{
	struct t_creator *cr = arg;
	ipcq *q = NULL;
	ipcq_config cfg = {.capacity = 4, .max_msg = 64};
	CT_OK(ipcq_open(cr->mech, &cfg, &q), NULL);
	CT_PUT_MSG(q, 62, 0, 20, CT_LONG);
	ipcq_conn *a, *b;
	CT_OK(ipcq_pipe(cr->mech, &cfg, true, &a, &b), NULL);
	atomic_store(&cr->ready, 1);
	ct_sleep(60 * CT_SEC); /* until killed, holding all of it */
}

void t_no_leaked_names_after_sigkill(const struct ct_ctx *c)
{
	char why[256];
	if (!t_mq_setup(why, sizeof why))
		CT_FAIL("%s", why);
	ipcq_close(ct_open(c, 4, 64)); /* lasting state first, as above */
	struct t_names *before = calloc(1, sizeof *before);
	t_names_take(before);
	struct t_creator *cr = ct_shared(sizeof *cr);
	cr->mech = c->mech;
	struct ct_actor *a = ct_spawn_process(NULL, 0, t_doomed_creator, cr);
	ct_wait_flag(&cr->ready);
	ct_kill(a);
	t_names_expect_none_new(before, "after its creator was SIGKILLed");
	t_mq_teardown();
}
