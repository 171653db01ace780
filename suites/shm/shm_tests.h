/*
 * shm_tests.h - what the shared-memory test files share: one add function
 * per mechanism's file (registering its CUnit suite), and small helpers for
 * tests that fork, kill and wait.
 */
#ifndef IPCQ_SHM_TESTS_H
#define IPCQ_SHM_TESTS_H

#include "cu_check.h"
#include "ipcq.h"

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Registers the shmring suite; a CUnit error code. */
int shm_add_shmring(void);
/* Adds the named-ring tests to the shmring suite s; a CUnit error code. */
int shm_add_shmring_named(CU_pSuite s);
/* The peer a named-ring test spawns (argv[1] is --named-peer); its exit status. */
int shm_named_peer(int argc, char **argv);
/* Registers the shmmgr suite; a CUnit error code. */
int shm_add_shmmgr(void);

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t shm_now(void);
/* Sleeps ms milliseconds. */
void shm_sleep_ms(int ms);
/* Zeroed MAP_SHARED memory seen by forked children; aborts the test run if mmap fails. */
void *shm_shared(size_t size);
/* Waits (timeout_ns at most) for child pid; its raw wait status, or -1 after killing it on timeout. */
int shm_wait(pid_t pid, int64_t timeout_ns);
/* The entries of /dev/shm, newline-separated, into buf (empty when it cannot be listed). */
void shm_list_dev_shm(char *buf, size_t cap);

/* A CUnit assertion with a printf message (CUnit copies it). */
#define SHM_CHECK(cond, ...) cu_check((cond), __FILE__, __LINE__, __VA_ARGS__)

#endif /* IPCQ_SHM_TESTS_H */
