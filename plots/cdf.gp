# cdf.gp - pingpong round-trip distribution for one size and placement, drawn
# through the recorded percentile points only (p50, p90, p99, p99.9, max):
# the harness keeps percentiles, not the histogram, so the straight segments
# between the points are interpolation, not measurements.
#
# Written by `ipcbench report`, which also writes the data file; re-run by hand:
#   gnuplot -e "datafile='cdf-64-cross-core.dat'; out='x.svg'; what='64 B, cross-core'" cdf.gp
# Variables: datafile, out (.svg or .png), what (title), left/right.
# Data: one block per mechanism, header "tail <process title> <thread title>",
#   rows: tail process_ns thread_ns, tail = -log10(1 - percentile): 0.301 = p50,
#   1 = p90, 2 = p99, 3 = p99.9; 4 stands for the maximum.
if (!exists("datafile")) datafile = 'cdf.dat'
if (!exists("out")) out = 'cdf.svg'
if (!exists("what")) what = ''
if (!exists("left")) left = 1
if (!exists("right")) right = 1
png = strlen(out) > 4 && out[strlen(out)-3:] eq '.png'
panels = left + right
if (png) { set terminal pngcairo size 560*panels+80,520 font 'Sans,10' } \
else { set terminal svg size 560*panels+80,520 font 'Sans,11' background rgb 'white' }
set output out
set encoding utf8
set datafile missing '?'
set linetype 1 lc rgb '#0072B2' lw 2 pt 7 ps 0.9
set linetype 2 lc rgb '#E69F00' lw 2 pt 5 ps 0.9
set linetype 3 lc rgb '#009E73' lw 2 pt 9 ps 1.0
set linetype 4 lc rgb '#CC79A7' lw 2 pt 11 ps 1.0
set linetype 5 lc rgb '#56B4E9' lw 2 pt 13 ps 1.0
set linetype 6 lc rgb '#D55E00' lw 2 pt 15 ps 1.0
set linetype 7 lc rgb '#8C6D31' lw 2 pt 4 ps 0.9
set linetype 8 lc rgb '#7F7F7F' lw 2 pt 6 ps 0.9
set linetype cycle 8

set logscale x
# decades in words: the %c prefix would print 'u' for micro
set xtics ('1 ns' 1e-9, '10 ns' 1e-8, '100 ns' 1e-7, '1 µs' 1e-6, '10 µs' 1e-5, '100 µs' 1e-4, '1 ms' 1e-3, '10 ms' 1e-2, '100 ms' 0.1, '1 s' 1, '10 s' 10)
set xlabel 'round-trip time (log scale)'
set ylabel 'fraction of round trips at or below (tail scale)'
set ytics ('50%%' 0.30103, '90%%' 1, '99%%' 2, '99.9%%' 3, 'max' 4)
set yrange [0:4.3]
set rmargin 4
set grid xtics ytics mxtics lc rgb '#dddddd'
set key outside below horizontal maxcols 3
set multiplot layout 1,panels title 'pingpong round-trip distribution from the recorded percentiles'.(what eq '' ? '' : ' ('.what.')')
do for [col=2:3] {
	if ((col == 2 && left) || (col == 3 && right)) {
		set title (col == 2 ? 'processes' : 'threads')
		plot for [i=0:*] datafile index i using (column(col)*1e-9):1 with linespoints lt (i+1) title columnheader(col)
	}
}
unset multiplot
