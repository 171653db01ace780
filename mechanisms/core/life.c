/*
 * life.c - lifelines: who still holds a role, with peer death for free.
 *
 * Each role has a pipe nobody writes to. Holders of the role keep its write
 * end open; everyone keeps the read end. When the last holder releases,
 * closes or dies, the kernel closes the last write end and the read end
 * reports POLLHUP: exact, waitable, and no process has to be polled.
 */
#include "mech.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int ipcq__life_open(struct ipcq__life *l)
{
	l->prod[0] = l->prod[1] = l->cons[0] = l->cons[1] = -1;
	if (pipe2(l->prod, O_CLOEXEC) < 0 || pipe2(l->cons, O_CLOEXEC) < 0) {
		int e = errno;
		ipcq__life_close(l);
		return ipcq__sys(e, "lifeline pipe2");
	}
	return IPCQ_OK;
}

void ipcq__life_release(struct ipcq__life *l, unsigned roles)
{
	if (roles & IPCQ_PRODUCER)
		close_fd(&l->prod[1]);
	if (roles & IPCQ_CONSUMER)
		close_fd(&l->cons[1]);
}

void ipcq__life_close(struct ipcq__life *l)
{
	/* A zeroed struct has fd 0 everywhere, which is not ours to close. */
	if (l->prod[0] == 0 && l->prod[1] == 0 && l->cons[0] == 0 && l->cons[1] == 0)
		return;
	close_fd(&l->prod[0]);
	close_fd(&l->prod[1]);
	close_fd(&l->cons[0]);
	close_fd(&l->cons[1]);
}

int ipcq__life_fd(const struct ipcq__life *l, unsigned role)
{
	return role == IPCQ_PRODUCER ? l->prod[0] : l->cons[0];
}

bool ipcq__life_gone(const struct ipcq__life *l, unsigned role)
{
	struct pollfd p = { .fd = ipcq__life_fd(l, role), .events = 0 };
	int r;
	do
		r = poll(&p, 1, 0);
	while (r < 0 && errno == EINTR);
	return r > 0 && (p.revents & (POLLHUP | POLLERR));
}

int ipcq__random(void *buf, size_t n, const char *what)
{
	ssize_t got;
	do
		got = getrandom(buf, n, 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)n)
		return ipcq__sys(got < 0 ? errno : EIO, "%s: getrandom", what);
	return IPCQ_OK;
}

bool ipcq__pid_ended(pid_t pid)
{
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	char path[64], text[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	const char *paren = strrchr(text, ')'); /* the command name may hold spaces and parens */
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

int ipcq__detach(void (*fn)(void *arg), void *arg, const int *fds, int n, const char *what)
{
	if (n < 0 || n > 8)
		return ipcq__fail(IPCQ_INVAL, EINVAL, "%s: %d descriptors to hand over (at most 8)", what, n);
	fflush(NULL); /* nothing buffered is written twice */
	pid_t mid = fork();
	if (mid == 0) {
		/* Lift them all above 3..3+n first, so placing one never overwrites another. */
		int up[8];
		for (int i = 0; i < n; i++)
			if ((up[i] = fcntl(fds[i], F_DUPFD, 16)) < 0)
				_exit(1);
		if (setsid() < 0)
			_exit(1);
		for (int i = 0; i < n; i++)
			if (dup2(up[i], 3 + i) < 0)
				_exit(1);
		if (syscall(SYS_close_range, 3 + n, ~0U, 0) < 0)
			for (int fd = 3 + n; fd < 65536; fd++)
				close(fd);
		pid_t s = fork();
		if (s == 0)
			fn(arg);
		_exit(s > 0 ? 0 : 1);
	}
	if (mid < 0)
		return ipcq__sys(errno, "%s: fork", what);
	int st = 0; /* stays 0 if SIGCHLD is ignored (ECHILD): the grandchild's own report decides then */
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return ipcq__fail(IPCQ_SYSERR, ECHILD, "%s: setsid or fork in the middle process failed", what);
	return IPCQ_OK;
}
