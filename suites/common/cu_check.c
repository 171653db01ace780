/* cu_check.c — see cu_check.h. */
#include "cu_check.h"

#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>

bool cu_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	char msg[1024] = "";
	if (!ok) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, ok ? "" : msg, file, "", CU_FALSE);
	return ok;
}
