/*
 * status.c - status names, the one errno -> status table, and the
 * thread-local record of the last failure.
 *
 * Errors are kept per thread, tagged with the handle they belong to, so
 * threads sharing a handle never race on its message, and ipcq_errmsg(h)
 * answers about the last call on h made by the calling thread.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
#define NAME(name, text) "IPCQ_" #name,
	IPCQ_STATUS_MAP(NAME)
#undef NAME
};

static _Thread_local struct {
	const void *handle; /* whose error this is, once bound */
	int status;
	int err;
	char msg[512];
} last;

const char *ipcq_strstatus(int status)
{
	if (status < 0 || status >= IPCQ_STATUS_COUNT)
		return "IPCQ_(unknown status)";
	return status_names[status];
}

int ipcq__status_of_errno(int err)
{
	switch (err) {
	case 0:
		return IPCQ_OK;
	case EAGAIN:
		return IPCQ_FULL;
	case EPIPE:
	case ECONNRESET:
	case ENOTCONN:
		return IPCQ_BROKEN;
	case EBADF:
		return IPCQ_CLOSED;
	case EMSGSIZE:
		return IPCQ_TOOBIG;
	case EINVAL:
	case EFAULT:
		return IPCQ_INVAL;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case ENOSPC:
	case ENOBUFS:
		return IPCQ_LIMIT;
	case ENOSYS:
	case EOPNOTSUPP:
		return IPCQ_UNSUPPORTED;
	case EOWNERDEAD:
	case ENOTRECOVERABLE:
		return IPCQ_PEERDEAD;
	default:
		return IPCQ_SYSERR; /* the errno itself is kept for ipcq_errno() */
	}
}

static int record(int status, int err, const char *fmt, va_list ap)
{
	last.handle = NULL;
	last.status = status;
	last.err = err;
	vsnprintf(last.msg, sizeof last.msg, fmt, ap);
	return status;
}

int ipcq__fail(int status, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	record(status, err, fmt, ap);
	va_end(ap);
	return status;
}

int ipcq__sys(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	record(ipcq__status_of_errno(err), err, fmt, ap);
	va_end(ap);
	size_t n = strlen(last.msg);
	snprintf(last.msg + n, sizeof last.msg - n, ": %s", strerror(err));
	if (err == EMFILE || err == ENFILE) {
		n = strlen(last.msg);
		snprintf(last.msg + n, sizeof last.msg - n,
		         " (raise the descriptor limit with `ulimit -n` or fs.file-max)");
	}
	return last.status;
}

void ipcq__err_clear(void)
{
	last.handle = NULL;
	last.status = IPCQ_OK;
	last.err = 0;
	last.msg[0] = '\0';
}

void ipcq__err_bind(const void *handle, int status)
{
	if (last.msg[0] == '\0' || last.status != status) {
		/* The op returned a status without recording why: say what it was. */
		last.err = 0;
		snprintf(last.msg, sizeof last.msg, "%s", ipcq_strstatus(status));
	}
	last.status = status;
	last.handle = handle;
}

int ipcq_errno(const void *handle)
{
	return (last.handle == handle && last.status != IPCQ_OK) ? last.err : 0;
}

const char *ipcq_errmsg(const void *handle)
{
	return (last.handle == handle && last.status != IPCQ_OK) ? last.msg : "";
}
