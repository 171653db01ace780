# throughput.gp - stream throughput against message size, log-log: one line
# per mechanism, processes on the left and threads on the right, with the
# machine's limits (limit/memcpy on one CPU, limit/ring at this placement).
#
# Written by `ipcbench report`, which also writes the data file; re-run by hand:
#   gnuplot -e "datafile='throughput-cross-core.dat'; out='x.svg'; place='cross-core'" throughput.gp
# Variables: datafile, out (.svg or .png), place (panel titles),
#   left/right (1 = draw the process/thread panel; a panel without data is left out),
#   pairs (1 = `report --compare`: mechanism blocks come in pairs, run A dashed, run B solid).
# Data: index 0 limit/memcpy, index 1 limit/ring, then one block per mechanism;
#   each block starts with a header "size <process title> <thread title>"
#   ("" = not in that panel), then rows: size_bytes process_B/s thread_B/s.
if (!exists("datafile")) datafile = 'throughput.dat'
if (!exists("out")) out = 'throughput.svg'
if (!exists("place")) place = ''
if (!exists("left")) left = 1
if (!exists("right")) right = 1
if (!exists("pairs")) pairs = 0
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

set logscale x 2
set logscale y 10
set xtics ('1 B' 1, '8 B' 8, '64 B' 64, '512 B' 512, '4 KiB' 4096, '32 KiB' 32768, '256 KiB' 262144, '2 MiB' 2097152, '16 MiB' 16777216, '128 MiB' 134217728)
set grid xtics ytics mytics lc rgb '#dddddd' lw 1
set format y '%.0s %cB/s'
set xlabel 'message size (bytes)'
set ylabel 'throughput (bytes/s, one producer → one consumer)'
set key outside below horizontal maxcols 4 samplen 3
set offsets graph 0.05, graph 0.05, 0, 0
set multiplot layout 1,panels title 'stream throughput vs message size'.(place eq '' ? '' : ' ('.place.')')
do for [col=2:3] {
	if ((col == 2 && left) || (col == 3 && right)) {
		set title (col == 2 ? 'processes' : 'threads')
		plot for [i=2:*] datafile index i using 1:col with linespoints lt (pairs ? (i-2)/2+1 : i-1) dt 1+(pairs && i%2 == 0) title columnheader(col), \
		     datafile index 0 using 1:col with lines lc rgb 'black' dt 2 lw 2 title columnheader(col), \
		     datafile index 1 using 1:col with points lc rgb 'black' pt 3 ps 2 lw 2 title columnheader(col)
	}
}
unset multiplot
