/* cu_check.h — one CUnit assertion with a printf message, for the test
 * programs that are not the conformance battery (which asserts in children
 * and reports through its own runner). */
#ifndef IPCB_CU_CHECK_H
#define IPCB_CU_CHECK_H

#include <stdbool.h>

/* Records a CUnit assertion at file:line; on failure the message is formatted
 * from fmt (CUnit copies it). Returns ok so callers can stop early. */
bool cu_check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
