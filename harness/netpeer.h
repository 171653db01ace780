/*
 * netpeer.h - benchmarks whose far endpoint runs on another host:
 * `ipcbench agent` serves it, `ipcbench run --peer ADDR` drives it.
 *
 * The protocol (version 1), over TCP with TCP_NODELAY:
 *   driver: "IPCBENCH/1 ENV\n"
 *   agent:  "IPCBENCH/1 OK\n" then the agent's environment as one JSON
 *           object (env.h's keys plus agent_cpu, agent_listen) on one line
 *   driver: "IPCBENCH/1 RUN workload=pingpong size=64 mode=process max_s=600\n"
 *   agent:  "IPCBENCH/1 OK cpu=unpinned\n" (or cpu=N when started with --cpu N),
 *           then the same connection carries the benchmark's frames
 *   agent:  "IPCBENCH/1 ERR <why>\n" to anything else, then closes.
 * Only the workloads with a far endpoint here are run (pingpong, stream),
 * each in a child process of the agent that dies with it; nothing else is
 * ever executed. One connection is served at a time.
 *
 * Frames: a 4-byte little-endian length, then the bytes (as the tcp
 * mechanism frames them); bit 31 of the length marks a frame from the
 * agent holding an error message instead of data.
 *   pingpong: the driver sends a message, the agent echoes it back.
 *   stream:   the driver sends a batch of messages then an empty frame; the
 *             agent answers it with the batch's message count (8 bytes LE).
 * The driver closing the connection ends the benchmark. Every read and
 * write on either side has a deadline, so a dead or stopped peer makes an
 * error, never a hang.
 */
#ifndef IPCB_NETPEER_H
#define IPCB_NETPEER_H

#include "workload.h"

#include <stddef.h>

#define IPCB_AGENT_PORT 45901

/* `ipcbench agent ...`: serves until killed; returns an exit status. */
int ipcb_agent_main(int argc, char **argv);

/*
 * Checks ADDR[:PORT] and asks the agent there for its environment (kept
 * for ipcb_peer_amend). host gets the address without the port, for row
 * names. 0, or -1 with err.
 */
int ipcb_peer_connect_env(const char *addr, char *host, size_t hostlen, char *err, size_t errlen);

/* The agent's environment as fetched: its "hostname" (or "unknown"). */
const char *ipcb_peer_hostname(void);

/* Adds context "peer": {the agent's environment, address} to results.json at path. 0 or -1 with err. */
int ipcb_peer_amend(const char *path, const char *addr, char *err, size_t errlen);

/* The driver's side of a peer row (c->peer set): pingpong or stream against the agent. */
void ipcb_peer_run(ipcb_gb_state *st, const struct ipcb_case *c);

#endif
