# lines.gp - a plain line chart, one line per series; `ipcbench report` uses
# it for the pool workloads (cpu: speedup against workers; io: throughput
# against concurrency).
#
# Re-run by hand:
#   gnuplot -e "datafile='cpu-speedup.dat'; out='x.svg'; ttl='...'; xl='workers'; yl='speedup'; logx=0; logy=0" lines.gp
# Variables: datafile, out (.svg or .png), ttl (title), xl/yl (axis labels
#   with units), logx/logy (1 = log scale), ideal (1 = draw y = x).
# Data: one block per series, header "x <title>", rows: x y.
if (!exists("datafile")) datafile = 'lines.dat'
if (!exists("out")) out = 'lines.svg'
if (!exists("ttl")) ttl = ''
if (!exists("xl")) xl = 'x'
if (!exists("yl")) yl = 'y'
if (!exists("logx")) logx = 0
if (!exists("logy")) logy = 0
if (!exists("ideal")) ideal = 0
png = strlen(out) > 4 && out[strlen(out)-3:] eq '.png'
if (png) { set terminal pngcairo size 760,520 font 'Sans,10' } \
else { set terminal svg size 760,520 font 'Sans,11' background rgb 'white' }
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
if (logx) { set logscale x }
if (logy) { set logscale y; set format y '%.0s%c' }
set title ttl
set xlabel xl
set ylabel yl
set grid lc rgb '#dddddd'
set key outside right top
if (ideal) {
	plot for [i=0:*] datafile index i using 1:2 with linespoints lt (i+1) title columnheader(2), x with lines lc rgb 'black' dt 2 title 'ideal'
} else {
	plot for [i=0:*] datafile index i using 1:2 with linespoints lt (i+1) title columnheader(2)
}
