/* unit.h — shared by the harness unit tests: assertions that print both
 * sides, and one registration function per test file. */
#ifndef IPCB_UNIT_H
#define IPCB_UNIT_H

#include <CUnit/CUnit.h>
#include <stdbool.h>

#include "cu_check.h"

#define ut_check cu_check

#define UT_TRUE(cond, ...) ut_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define UT_EQ_LL(a, b)                                                                             \
	do {                                                                                       \
		long long ut_a_ = (long long)(a), ut_b_ = (long long)(b);                          \
		ut_check(ut_a_ == ut_b_, __FILE__, __LINE__, "`%s` -> %lld, expected %lld (`%s`)", \
		         #a, ut_a_, ut_b_, #b);                                                    \
	} while (0)

#define UT_EQ_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *ut_a_ = (a), *ut_b_ = (b);                                             \
		ut_check(ut_a_ &&ut_b_ &&strcmp(ut_a_, ut_b_) == 0, __FILE__, __LINE__,            \
		         "`%s` -> \"%s\", expected \"%s\"", #a, ut_a_ ? ut_a_ : "(null)",          \
		         ut_b_ ? ut_b_ : "(null)");                                                \
	} while (0)

/* Each adds its CUnit suite(s); 0 or a CUnit error. */
int ut_add_hist(void);
int ut_add_stats(void);
int ut_add_placement(void);
int ut_add_env(void);
int ut_add_gbench(void);
int ut_add_compare(void);
int ut_add_suite(void);
int ut_add_payload(void);
/* test_findings.c: a test of the gbench suite (it needs Google Benchmark initialised). */
void ut_test_findings(void);

#endif
