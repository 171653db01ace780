/*
 * payload.h - the bytes every workload sends, and their check.
 *
 * A message of n bytes carries its sequence number in its first 8 bytes and
 * a seq-derived word in its last 8 (n >= 16); the bytes between follow a
 * fixed position-dependent pattern. So a lost, duplicated, reordered,
 * truncated, shifted or spliced message is caught, while the sender only
 * rewrites 16 bytes per message and the receiver checks with memcmp - the
 * check never costs more than one pass over the bytes.
 */
#ifndef IPCB_PAYLOAD_H
#define IPCB_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* Smallest message a workload sends: room for the sequence number. */
#define IPCB_PAYLOAD_MIN 8

/* Fills buf (n bytes) with the fixed body pattern; call once per buffer. */
void ipcb_payload_init(void *buf, size_t n);
/* Stamps seq into a buffer prepared by ipcb_payload_init. */
void ipcb_payload_stamp(void *buf, size_t n, uint64_t seq);
/* The sequence number a message claims to carry (its first 8 bytes). */
uint64_t ipcb_payload_seq(const void *buf);
/*
 * Checks a received message against what seq must look like.
 * Returns -1 when every byte is right, else the offset of the first wrong byte.
 */
long ipcb_payload_check(const void *buf, size_t n, uint64_t seq);

#endif
