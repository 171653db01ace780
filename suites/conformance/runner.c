/*
 * runner.c - ipcq-conformance: the CUnit runner of the battery.
 *
 * Each selected mechanism is one CUnit suite holding every row of ct_tests;
 * rows needing a capability the mechanism lacks are registered inactive.
 * Every test runs in a forked child (its own process group, a deadline, and
 * a pipe back to us carrying one line per failure); the runner turns those
 * lines into CUnit failures, so the Basic interface's Run Summary is exact.
 *
 * Sections: command line - isolation of one test - registration - main.
 */
#include "check.h"

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Per-test deadline: a hang costs this much, not the whole ctest TIMEOUT. */
#define RUN_TEST_DEADLINE (30 * CT_SEC)

static const char usage[] =
	"usage: ipcq-conformance [--mechanism a,b] [--test SUBSTRING] [--list] [--help]\n"
	"\n"
	"Runs the conformance battery: every test against every selected mechanism,\n"
	"one CUnit suite per mechanism, each test in a forked child with a %d s deadline.\n"
	"\n"
	"  --mechanism L   comma-separated mechanisms to test (default: all registered)\n"
	"  --test S        only tests whose name contains S\n"
	"  --list          print the tests and the mechanisms with their capabilities\n"
	"  --help          this text\n"
	"\n"
	"Exit status: 0 all ran tests passed, 1 a test failed, 2 bad usage.\n";

/* --- Command line ---------------------------------------------------------------- */

static const ipcq_mech *run_selected[64];
static size_t run_nselected;

static void run_list_valid(FILE *f)
{
	for (size_t i = 0; i < ipcq_mech_count(); i++)
		fprintf(f, "%s%s", i ? ", " : "", ipcq_mech_name(ipcq_mech_at(i)));
	fputc('\n', f);
}

/* Fills run_selected from "a,b"; exits 2 naming the valid mechanisms on a bad name. */
static void run_select(const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy) {
		perror("ipcq-conformance: strdup");
		exit(2);
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const ipcq_mech *m = ipcq_mech_find(tok);
		if (!m) {
			fprintf(stderr, "ipcq-conformance: unknown mechanism '%s'; valid mechanisms: ", tok);
			run_list_valid(stderr);
			free(copy);
			exit(2);
		}
		bool dup = false;
		for (size_t i = 0; i < run_nselected; i++)
			dup |= run_selected[i] == m;
		if (!dup && run_nselected < sizeof run_selected / sizeof run_selected[0])
			run_selected[run_nselected++] = m;
	}
	free(copy);
	if (!run_nselected) {
		fprintf(stderr, "ipcq-conformance: --mechanism names no mechanism; valid mechanisms: ");
		run_list_valid(stderr);
		exit(2);
	}
}

static bool run_matches(const struct ct_test *t, const char *filter)
{
	return !filter || strstr(t->name, filter);
}

static void run_print_list(const char *filter)
{
	char caps[256];
	printf("tests:\n");
	for (size_t i = 0; i < ct_test_count; i++) {
		const struct ct_test *t = &ct_tests[i];
		if (!run_matches(t, filter))
			continue;
		ipcq_caps_format(t->caps, caps, sizeof caps);
		printf("  %-40s needs %-22s %s\n", t->name, t->caps ? caps : "-", t->summary);
	}
	printf("mechanisms:\n");
	for (size_t i = 0; i < ipcq_mech_count(); i++) {
		const ipcq_mech *m = ipcq_mech_at(i);
		unsigned have = ipcq_mech_caps(m);
		size_t n = 0, active = 0;
		for (size_t j = 0; j < ct_test_count; j++)
			if (run_matches(&ct_tests[j], filter)) {
				n++;
				active += (ct_tests[j].caps & ~have) == 0;
			}
		ipcq_caps_format(have, caps, sizeof caps);
		printf("  %-12s %zu/%zu tests active  caps: %s\n", ipcq_mech_name(m), active, n, caps);
	}
}

/* --- Isolation of one test ----------------------------------------------------------- */

struct run_failure {
	char file[128];
	int line;
	char msg[3200];
};

struct run_result {
	struct run_failure *fail;
	size_t nfail, cap;
	char buf[8192]; /* partial line from the pipe */
	size_t blen;
};

static void run_add_failure(struct run_result *r, const char *file, int line, const char *msg)
{
	if (r->nfail == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		struct run_failure *f = realloc(r->fail, cap * sizeof *f);
		if (!f)
			return;
		r->fail = f;
		r->cap = cap;
	}
	struct run_failure *f = &r->fail[r->nfail++];
	const char *base = strrchr(file, '/');
	snprintf(f->file, sizeof f->file, "%s", base ? base + 1 : file);
	f->line = line;
	snprintf(f->msg, sizeof f->msg, "%s", msg);
}

/* Splits "file\tline\tmessage" records out of what the pipe gave. */
static void run_parse(struct run_result *r, bool flush)
{
	char *start = r->buf, *end = r->buf + r->blen, *nl;
	while ((nl = memchr(start, '\n', (size_t)(end - start))) || (flush && start < end)) {
		if (!nl)
			nl = end;
		*nl = 0;
		char *t1 = strchr(start, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (t1 && t2) {
			*t1 = *t2 = 0;
			run_add_failure(r, start, atoi(t1 + 1), t2 + 1);
		} else {
			run_add_failure(r, "?", 0, start);
		}
		start = nl + (nl < end);
	}
	r->blen = (size_t)(end - start);
	memmove(r->buf, start, r->blen);
	if (r->blen == sizeof r->buf) { /* a line longer than any record: keep it as is */
		run_add_failure(r, "?", 0, "(overlong failure record)");
		r->blen = 0;
	}
}

/* Reads what is there without blocking; returns false once every writer is gone. */
static bool run_drain(int fd, struct run_result *r)
{
	for (;;) {
		ssize_t n = read(fd, r->buf + r->blen, sizeof r->buf - r->blen);
		if (n > 0) {
			r->blen += (size_t)n;
			run_parse(r, false);
			continue;
		}
		if (n == 0)
			return false;
		return errno == EINTR;
	}
}

static void run_describe_status(int status, char *buf, size_t cap)
{
	if (WIFSIGNALED(status))
		snprintf(buf, cap, "the test process was killed by signal %d (SIG%s)", WTERMSIG(status),
		         sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, cap, "the test process exited with status %d", WEXITSTATUS(status));
}

/* Kills what is left of process group pgid and reaps it (we are its subreaper). */
static bool run_mop_up(pid_t pgid)
{
	if (kill(-pgid, 0) != 0)
		return false;
	kill(-pgid, SIGKILL);
	int64_t end = ct_now() + 5 * CT_SEC;
	while (ct_now() < end) {
		pid_t r = waitpid(-pgid, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			break;
		if (r <= 0)
			ct_sleep(CT_MS);
	}
	return true;
}

static void run_isolated(const struct ct_test *t, const struct ct_ctx *c, struct run_result *r)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		run_add_failure(r, __FILE__, __LINE__, "pipe2 for the test's report failed");
		return;
	}
	pid_t runner = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		run_add_failure(r, __FILE__, __LINE__, "fork of the test process failed");
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		/* The test process: never returns into CUnit, always _exits. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != runner)
			_exit(3);
		close(p[0]);
		/* Tests start as a plain program would: default SIGPIPE, nothing blocked. */
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		ct__child_begin(p[1]);
		t->fn(c);
		ct__child_end();
		_exit(0);
	}
	setpgid(pid, pid); /* both sides set it, so kill(-pid) works at once */
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);

	int64_t end = ct_now() + RUN_TEST_DEADLINE;
	int status = 0;
	bool reaped = false, timed_out = false, open = true;
	while (!reaped) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		if (open && poll(&pfd, 1, 10) > 0)
			open = run_drain(p[0], r);
		else if (!open)
			ct_sleep(CT_MS);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			reaped = true;
		} else if (ct_now() > end) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			reaped = timed_out = true;
		}
	}
	if (open)
		run_drain(p[0], r);
	/* Orphans that left the test's group (a supervisor in a session of its own) are ours to reap too. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	bool failed_before = r->nfail > 0 || timed_out || status != 0;
	if (run_mop_up(pid) && !failed_before)
		run_add_failure(r, __FILE__, __LINE__,
		                "the test left processes running in its process group; they were killed");
	if (open)
		run_drain(p[0], r);
	run_parse(r, true);
	close(p[0]);

	char what[160];
	if (timed_out) {
		snprintf(what, sizeof what, "%s/%s timed out after %lld s; its processes were killed",
		         c->name, t->name, (long long)(RUN_TEST_DEADLINE / CT_SEC));
		run_add_failure(r, __FILE__, __LINE__, what);
	} else if (status != 0 && r->nfail == 0) {
		run_describe_status(status, what, sizeof what);
		run_add_failure(r, __FILE__, __LINE__, what);
	} else if (status == 0 && r->nfail == 0) {
		return;
	} else if (WIFSIGNALED(status)) {
		run_describe_status(status, what, sizeof what);
		run_add_failure(r, __FILE__, __LINE__, what);
	}
}

/* The one CUnit test function: which test and mechanism comes from CUnit's current state. */
static void run_current(void)
{
	CU_pTest ct = CU_get_current_test();
	CU_pSuite cs = CU_get_current_suite();
	const struct ct_test *t = NULL;
	for (size_t i = 0; i < ct_test_count && !t; i++)
		if (strcmp(ct_tests[i].name, ct->pName) == 0)
			t = &ct_tests[i];
	const ipcq_mech *m = ipcq_mech_find(cs->pName);
	if (!t || !m) {
		CU_FAIL_FATAL("runner: test or mechanism not found");
		return;
	}
	struct ct_ctx c = {.mech = m, .name = ipcq_mech_name(m), .caps = ipcq_mech_caps(m)};
	struct run_result r = {0};
	run_isolated(t, &c, &r);
	if (r.nfail == 0)
		CU_assertImplementation(CU_TRUE, __LINE__, "test process passed", __FILE__, "", CU_FALSE);
	for (size_t i = 0; i < r.nfail; i++)
		CU_assertImplementation(CU_FALSE, (unsigned)r.fail[i].line, r.fail[i].msg,
		                        r.fail[i].file, "", CU_FALSE);
	free(r.fail);
}

/* --- Registration ------------------------------------------------------------------- */

/* Runs t->avail for m in a throw-away child: probes may unshare namespaces or open queues. */
static bool run_available(const struct ct_test *t, const ipcq_mech *m, char *why, size_t cap)
{
	int p[2];
	if (!t->avail)
		return true;
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(why, cap, "pipe2 failed");
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char buf[512] = {0};
		close(p[0]);
		buf[0] = t->avail(m, buf + 1, sizeof buf - 1) ? 'y' : 'n';
		(void)!write(p[1], buf, strlen(buf));
		_exit(0);
	}
	close(p[1]);
	char buf[512] = {0};
	ssize_t n = pid > 0 ? read(p[0], buf, sizeof buf - 1) : -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (n > 0 && buf[0] == 'y')
		return true;
	snprintf(why, cap, "%s", n > 1 ? buf + 1 : "availability probe failed");
	return false;
}

static int run_register(const char *filter)
{
	char caps[256], why[512];
	bool any = false;
	for (size_t i = 0; i < ct_test_count; i++)
		any |= run_matches(&ct_tests[i], filter);
	if (!any) {
		fprintf(stderr, "ipcq-conformance: no test name contains '%s' (see --list)\n", filter);
		return 2;
	}
	for (size_t k = 0; k < run_nselected; k++) {
		const ipcq_mech *m = run_selected[k];
		unsigned have = ipcq_mech_caps(m);
		CU_pSuite s = CU_add_suite(ipcq_mech_name(m), NULL, NULL);
		if (!s)
			return 1;
		for (size_t i = 0; i < ct_test_count; i++) {
			const struct ct_test *t = &ct_tests[i];
			if (!run_matches(t, filter))
				continue;
			CU_pTest ct = CU_add_test(s, t->name, run_current);
			if (!ct)
				return 1;
			unsigned lack = t->caps & ~have;
			if (lack) {
				ipcq_caps_format(lack, caps, sizeof caps);
				printf("conformance: %s/%s is inactive: the mechanism lacks %s\n",
				       ipcq_mech_name(m), t->name, caps);
			}
			/* Probed only where the capabilities are there, once per mechanism. */
			bool avail = lack || run_available(t, m, why, sizeof why);
			if (!avail)
				printf("conformance: %s/%s is inactive here: %s\n", ipcq_mech_name(m), t->name, why);
			if (lack || !avail)
				CU_set_test_active(ct, CU_FALSE);
		}
	}
	return 0;
}

/* --- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	const char *filter = NULL, *mechs = NULL;
	bool list = false;
	if (argc > 1 && !strcmp(argv[1], "--named-peer"))
		return ct_named_peer_main(argc - 2, argv + 2);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf(usage, (int)(RUN_TEST_DEADLINE / CT_SEC));
			return 0;
		} else if (!strcmp(a, "--list")) {
			list = true;
		} else if ((!strcmp(a, "--mechanism") || !strcmp(a, "--test")) && i + 1 < argc) {
			*(a[2] == 'm' ? &mechs : &filter) = argv[++i];
		} else if (!strncmp(a, "--mechanism=", 12)) {
			mechs = a + 12;
		} else if (!strncmp(a, "--test=", 7)) {
			filter = a + 7;
		} else {
			fprintf(stderr, "ipcq-conformance: unknown or incomplete argument '%s'\n", a);
			fprintf(stderr, usage, (int)(RUN_TEST_DEADLINE / CT_SEC));
			return 2;
		}
	}
	if (mechs) {
		run_select(mechs);
	} else {
		for (size_t i = 0; i < ipcq_mech_count() && i < sizeof run_selected / sizeof run_selected[0]; i++)
			run_selected[run_nselected++] = ipcq_mech_at(i);
	}
	if (list) {
		run_print_list(filter);
		return 0;
	}
	if (!run_nselected) {
		fprintf(stderr, "ipcq-conformance: this build registers no mechanism\n");
		return 2;
	}

	/* Orphans of a test process become ours, so the runner can reap every one. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "ipcq-conformance: CU_initialize_registry: %s\n", CU_get_error_msg());
		return 1;
	}
	CU_set_fail_on_inactive(CU_FALSE);
	int rc = run_register(filter);
	if (rc) {
		if (rc != 2)
			fprintf(stderr, "ipcq-conformance: registering tests: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return rc;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_ErrorCode err = CU_basic_run_tests();
	unsigned failed = CU_get_number_of_tests_failed();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	if (err != CUE_SUCCESS) {
		fprintf(stderr, "ipcq-conformance: CU_basic_run_tests: error %d\n", (int)err);
		return 1;
	}
	return failed || failures ? 1 : 0;
}
