/*
 * report.h - `ipcbench report`: from a results folder (results.json as
 * written by `ipcbench run`) to charts, report.md and a self-contained
 * index.html, and `--compare A B` to put two runs on the same charts.
 *
 * Output (DIR = the results folder, or --out):
 *   DIR/report.md, DIR/index.html      the report (index.html embeds every chart)
 *   DIR/report/<chart>.dat             the data each chart is drawn from
 *   DIR/report/<chart>.svg, .png       the charts
 *   DIR/report/<script>.gp, replot.sh  the gnuplot scripts (copied from plots/)
 *                                      and the exact commands that drew them
 * The scripts come from $IPCB_PLOTS_DIR, else <source tree>/plots.
 */
#ifndef IPCB_REPORT_H
#define IPCB_REPORT_H

/* Runs `ipcbench report argv...` (argv[0] = "report"). Returns the exit
 * status: 0 done; 1 the report could not be written or a chart failed to
 * draw (gnuplot missing or failing); 2 bad usage, or a results file that is
 * unreadable or not ipcbench's (the message names the file and the problem). */
int ipcb_report_main(int argc, char **argv);

/* Where the gnuplot scripts are read from: $IPCB_PLOTS_DIR or <source>/plots. */
const char *ipcb_plots_dir(void);

#endif
