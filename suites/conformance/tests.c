/*
 * tests.c - the one table the runner registers against every mechanism,
 * built from the rows in tests.h.
 */
#include "tests.h"

const struct ct_test ct_tests[] = {
#define CT_ROW(name, caps, avail, summary) {#name, (caps), t_##name, (summary), (avail)},
	CT_TESTS(CT_ROW)
#undef CT_ROW
};

const size_t ct_test_count = sizeof ct_tests / sizeof ct_tests[0];
