/* units.c — see units.h. */
#include "units.h"

#include <math.h>
#include <stdio.h>

const char *ipcb_fmt_rate(double v, const char *unit, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "–");
	else if (v >= 1e9)
		snprintf(buf, len, "%.2fG %s", v / 1e9, unit);
	else if (v >= 1e6)
		snprintf(buf, len, "%.2fM %s", v / 1e6, unit);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1fk %s", v / 1e3, unit);
	else
		snprintf(buf, len, "%.1f %s", v, unit);
	return buf;
}

const char *ipcb_fmt_ns(double ns, char *buf, size_t len)
{
	if (isnan(ns))
		snprintf(buf, len, "–");
	else if (ns >= 1e6)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else if (ns >= 1e3)
		snprintf(buf, len, "%.1f µs", ns / 1e3);
	else
		snprintf(buf, len, "%.0f ns", ns);
	return buf;
}
