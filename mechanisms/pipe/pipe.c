/*
 * pipe.c - a queue over pipe(2). The core's framed-stream engine (fdq)
 * does the framing, locking and EOF; this file only makes the descriptors.
 *
 * Capacity is the pipe's own buffer (64 KiB by default); a message larger
 * than it streams through while the consumer reads.
 */
#include "mech.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int pipe_open(void *st, const ipcq_config *cfg)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return ipcq__sys(errno, "pipe: pipe2");
	return ipcq__fdq_open(st, fds[0], fds[1], false, cfg);
}

const struct ipcq_mech ipcq_mech_pipe = {
	.version = IPCQ_MECH_VERSION,
	.name = "pipe",
	.summary = "pipe(2) with length-prefixed frames; robust shared locks for many producers/consumers",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN |
	        IPCQ_CAP_HUGE | IPCQ_CAP_FD,
	.default_capacity = 0,
	.default_max_msg = 1u << 20,
	.open = pipe_open,
	IPCQ__FDQ_OPS,
};
