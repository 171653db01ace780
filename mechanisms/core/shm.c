/*
 * shm.c - shared anonymous memory and robust process-shared mutexes.
 */
#include "mech.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

void *ipcq__shm_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void ipcq__shm_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

int ipcq__plock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int e = pthread_mutexattr_init(&a);
	if (!e)
		e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!e)
		e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!e)
		e = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return e ? ipcq__sys(e, "pthread_mutex_init (robust, process-shared)") : IPCQ_OK;
}

static int lock_result(pthread_mutex_t *m, int e)
{
	switch (e) {
	case 0:
		return IPCQ_OK;
	case EOWNERDEAD:
		pthread_mutex_consistent(m);
		return IPCQ_PEERDEAD;
	case ETIMEDOUT:
	case EBUSY:
		return IPCQ_FULL;
	case ENOTRECOVERABLE:
		return ipcq__fail(IPCQ_PEERDEAD, e, "lock left unrecoverable by a process that died holding it");
	default:
		return ipcq__sys(e, "pthread_mutex_lock");
	}
}

/*
 * Longest sleep on a busy lock before looking at it again. glibc hands a
 * robust lock on with a single futex wake-up: a waiter SIGKILLed after that
 * wake-up but before it takes the lock dies with it, and when another process
 * took the free lock meanwhile (without the waiters bit) the other sleepers
 * are never woken, though the lock goes free. The kernel repairs only a lock
 * still free at the death. Seen as a pool worker asleep on a free fdq lock
 * after a sibling was killed, and the pool's join waiting for it forever.
 */
#define PLOCK_SLICE_NS (100 * 1000000LL)

int ipcq__plock_lock(pthread_mutex_t *m, ipcq_deadline dl)
{
	int e = pthread_mutex_trylock(m);
	if (e != EBUSY || dl == IPCQ__NOW)
		return lock_result(m, e);
	for (;;) {
		ipcq_deadline until = ipcq__now_ns() + PLOCK_SLICE_NS;
		if (dl < until)
			until = dl;
		struct timespec ts = { .tv_sec = until / 1000000000, .tv_nsec = until % 1000000000 };
		e = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
		if (e != ETIMEDOUT || until == dl)
			return lock_result(m, e);
	}
}

int ipcq__plock_try(pthread_mutex_t *m)
{
	return lock_result(m, pthread_mutex_trylock(m));
}

void ipcq__plock_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}
