/* test_payload.c — the message check finds every wrong byte, at its offset,
 * on both of its paths (a body shorter than the pattern's period, and longer). */
#include "payload.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void test_every_byte(void)
{
	static const size_t sizes[] = { 8, 9, 15, 16, 17, 39, 40, 47, 48, 64, 100, 264, 265, 4096, 4101, 9000 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		unsigned char *m = malloc(n);
		UT_TRUE(m != NULL, "malloc(%zu)", n);
		if (!m)
			return;
		ipcb_payload_init(m, n);
		ipcb_payload_stamp(m, n, 12345);
		UT_EQ_LL(ipcb_payload_check(m, n, 12345), -1);
		UT_TRUE(ipcb_payload_check(m, n, 12346) >= 0, "size %zu: another sequence number passed", n);
		long missed = -1, misplaced = -1;
		for (size_t off = 0; off < n; off++) {
			m[off] ^= 0x40;
			long got = ipcb_payload_check(m, n, 12345);
			if (got < 0 && missed < 0)
				missed = (long)off;
			else if (got >= 0 && got != (long)off && misplaced < 0)
				misplaced = (long)off;
			m[off] ^= 0x40;
		}
		UT_TRUE(missed < 0, "size %zu: a wrong byte at %ld passed", n, missed);
		UT_TRUE(misplaced < 0, "size %zu: a wrong byte at %ld was reported elsewhere", n, misplaced);
		free(m);
	}
}

int ut_add_payload(void)
{
	CU_pSuite s = CU_add_suite("payload", NULL, NULL);
	if (!s)
		return CU_get_error();
	if (!CU_add_test(s, "every wrong byte found at its offset", test_every_byte))
		return CU_get_error();
	return CUE_SUCCESS;
}
