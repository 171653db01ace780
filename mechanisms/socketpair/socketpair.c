/*
 * socketpair.c - a queue over an AF_UNIX stream socketpair, with a native
 * duplex pipe (one socket per end). The core's framed-stream engine (fdq)
 * does the framing, locking and EOF; this file only makes the descriptors.
 *
 * SOCK_STREAM rather than SEQPACKET: messages of any size stream through,
 * and the framing is shared with pipe. DGRAM has no EOF, so it is not used.
 */
#include "mech.h"

#include <errno.h>
#include <sys/socket.h>

static int make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ipcq__sys(errno, "socketpair: socketpair(AF_UNIX, SOCK_STREAM)");
	return IPCQ_OK;
}

/* A queue: consumers read sv[0], producers write sv[1]. */
static int socketpair_open(void *st, const ipcq_config *cfg)
{
	int sv[2];
	int rc = make_pair(sv);
	return rc != IPCQ_OK ? rc : ipcq__fdq_open(st, sv[0], sv[1], true, cfg);
}

static int socketpair_pair(void *a, void *b, const ipcq_config *cfg)
{
	int sv[2];
	int rc = make_pair(sv);
	return rc != IPCQ_OK ? rc : ipcq__fdq_pair(a, b, sv[0], sv[1], cfg->max_msg);
}

const struct ipcq_mech ipcq_mech_socketpair = {
	.version = IPCQ_MECH_VERSION,
	.name = "socketpair",
	.summary = "AF_UNIX stream socketpair with length-prefixed frames; native duplex pipe",
	.caps = IPCQ_CAP_PROCESS | IPCQ_CAP_MPMC | IPCQ_CAP_EOF | IPCQ_CAP_QSIZE | IPCQ_CAP_ZEROLEN |
	        IPCQ_CAP_HUGE | IPCQ_CAP_FD | IPCQ_CAP_DUPLEX,
	.default_capacity = 0,
	.default_max_msg = 1u << 20,
	.open = socketpair_open,
	IPCQ__FDQ_OPS,
	.pair = socketpair_pair,
};
