/* units.h — figures as people read them, one format for the run's summary
 * table and the report. */
#ifndef IPCB_UNITS_H
#define IPCB_UNITS_H

#include <stddef.h>

/* v per second with an SI prefix, e.g. "1.56M msg/s"; "–" for NaN. Returns buf. */
const char *ipcb_fmt_rate(double v, const char *unit, char *buf, size_t len);

/* A duration in ns, e.g. "7.2 µs", "1.50 ms"; "–" for NaN. Returns buf. */
const char *ipcb_fmt_ns(double ns, char *buf, size_t len);

#endif
