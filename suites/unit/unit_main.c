/* unit_main.c — runs every harness unit suite; exit 1 on any failure. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "unit.h"

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "ipcb-unit: CU_initialize_registry: %s\n", CU_get_error_msg());
		return 2;
	}
	int (*adds[])(void) = {ut_add_hist, ut_add_stats, ut_add_placement, ut_add_env,
	                       ut_add_gbench, ut_add_compare, ut_add_suite, ut_add_payload};
	for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++)
		if (adds[i]() != CUE_SUCCESS) {
			fprintf(stderr, "ipcb-unit: adding a suite: %s\n", CU_get_error_msg());
			CU_cleanup_registry();
			return 2;
		}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
