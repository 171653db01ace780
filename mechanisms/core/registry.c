/*
 * registry.c - the ordered list of mechanisms built in, checked once.
 *
 * Adding a mechanism: one line below (and its CMake option and folder).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef IPCQ_WITH_SHMRING
extern const struct ipcq_mech ipcq_mech_shmring;
#endif
#ifdef IPCQ_WITH_SHMMGR
extern const struct ipcq_mech ipcq_mech_shmmgr;
#endif
#ifdef IPCQ_WITH_PIPE
extern const struct ipcq_mech ipcq_mech_pipe;
#endif
#ifdef IPCQ_WITH_SOCKETPAIR
extern const struct ipcq_mech ipcq_mech_socketpair;
#endif
#ifdef IPCQ_WITH_TCP
extern const struct ipcq_mech ipcq_mech_tcp;
#endif
#ifdef IPCQ_WITH_MQUEUE
extern const struct ipcq_mech ipcq_mech_mqueue;
#endif
#ifdef IPCQ_WITH_ZEROMQ
extern const struct ipcq_mech ipcq_mech_zeromq;
#endif
#ifdef IPCQ_WITH_ICEORYX
extern const struct ipcq_mech ipcq_mech_iceoryx;
#endif
#ifdef IPCQ_WITH_INPROC
extern const struct ipcq_mech ipcq_mech_inproc;
#endif
#ifdef IPCQ_WITH_REDIS
extern const struct ipcq_mech ipcq_mech_redis;
#endif

/* NULL-terminated, so an all-OFF build still compiles without warnings. */
static const struct ipcq_mech *const registry[] = {
#ifdef IPCQ_WITH_PIPE
	&ipcq_mech_pipe,
#endif
#ifdef IPCQ_WITH_SOCKETPAIR
	&ipcq_mech_socketpair,
#endif
#ifdef IPCQ_WITH_TCP
	&ipcq_mech_tcp,
#endif
#ifdef IPCQ_WITH_MQUEUE
	&ipcq_mech_mqueue,
#endif
#ifdef IPCQ_WITH_SHMRING
	&ipcq_mech_shmring,
#endif
#ifdef IPCQ_WITH_SHMMGR
	&ipcq_mech_shmmgr,
#endif
#ifdef IPCQ_WITH_ZEROMQ
	&ipcq_mech_zeromq,
#endif
#ifdef IPCQ_WITH_ICEORYX
	&ipcq_mech_iceoryx,
#endif
#ifdef IPCQ_WITH_INPROC
	&ipcq_mech_inproc,
#endif
#ifdef IPCQ_WITH_REDIS
	&ipcq_mech_redis,
#endif
	NULL,
};

#define REGISTRY_LEN (sizeof registry / sizeof registry[0] - 1)

/* A malformed plug-in is a build mistake: refuse it loudly at first use. */
static void check_one(const struct ipcq_mech *m, size_t i)
{
	const char *why = NULL;
	if (m->version != IPCQ_MECH_VERSION)
		why = "version is not IPCQ_MECH_VERSION";
	else if (!m->name || !*m->name || !m->summary)
		why = "name or summary missing";
	else if (!m->open || !m->put || !m->get || !m->poll || !m->release || !m->close)
		why = "a mandatory op (open, put, get, poll, release, close) is NULL";
	else if ((m->caps & IPCQ_CAP_QSIZE) && !m->qsize)
		why = "IPCQ_CAP_QSIZE without a qsize op";
	else if ((m->caps & IPCQ_CAP_DUPLEX) && !m->pair)
		why = "IPCQ_CAP_DUPLEX without a pair op";
	else if ((m->caps & IPCQ_CAP_SHARED) && (!m->shared_open || !m->shared_set || !m->shared_get ||
	                                         !m->shared_add || !m->shared_cas || !m->shared_close))
		why = "IPCQ_CAP_SHARED without all six shared_* ops";
	else if (!(m->caps & IPCQ_CAP_ZEROCOPY) != !m->reserve || !m->reserve != !m->commit || !m->reserve != !m->cancel ||
	         !m->reserve != !m->peek || !m->reserve != !m->consume)
		why = "IPCQ_CAP_ZEROCOPY needs all five of reserve, commit, cancel, peek and consume, and they need the cap";
	else if (m->default_max_msg == 0 || ((m->caps & IPCQ_CAP_BOUNDED) && m->default_capacity == 0))
		why = "default_max_msg (and default_capacity where IPCQ_CAP_BOUNDED) must be set";
	for (size_t j = 0; !why && j < i; j++)
		if (strcmp(registry[j]->name, m->name) == 0)
			why = "name already registered";
	if (why) {
		fprintf(stderr, "libipcq: mechanism #%zu \"%s\" refused: %s\n", i, m->name ? m->name : "?", why);
		abort();
	}
}

static void check_all(void)
{
	for (size_t i = 0; registry[i]; i++)
		check_one(registry[i], i);
}

static void checked(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, check_all);
}

size_t ipcq_mech_count(void)
{
	checked();
	return REGISTRY_LEN;
}

const ipcq_mech *ipcq_mech_at(size_t i)
{
	checked();
	return i < ipcq_mech_count() ? registry[i] : NULL;
}

const ipcq_mech *ipcq_mech_find(const char *name)
{
	checked();
	for (size_t i = 0; name && registry[i]; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const char *ipcq_mech_name(const ipcq_mech *m)
{
	return m ? m->name : "(none)";
}

const char *ipcq_mech_summary(const ipcq_mech *m)
{
	return m ? m->summary : "";
}

unsigned ipcq_mech_caps(const ipcq_mech *m)
{
	return m ? m->caps : 0;
}

void ipcq_caps_format(unsigned caps, char *buf, size_t cap)
{
	static const char *const names[] = { "process", "mpmc",  "eof",    "qsize",  "zerolen", "huge",
		                             "fd",      "named", "shared", "robust", "bounded", "duplex",
		                             "zerocopy" };
	size_t used = 0;
	if (cap)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(caps & (1u << i)) || used >= cap)
			continue;
		int n = snprintf(buf + used, cap - used, "%s%s", used ? "," : "", names[i]);
		used += n > 0 ? (size_t)n : 0;
	}
}
