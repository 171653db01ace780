# latency.gp - pingpong round-trip percentiles (p50, p99, p99.9) for each
# mechanism and placement at one message size, log scale; the black bar in
# each column is limit/c2c (cache-line round trip) between the same CPUs.
#
# Written by `ipcbench report`, which also writes the data file; re-run by hand:
#   gnuplot -e "datafile='latency-64.dat'; out='x.svg'; size='64 B'" latency.gp
# Variables: datafile, out (.svg or .png), size (title), left/right (1 = draw
#   the process/thread panel).
# Data: index 0 processes, index 1 threads; rows:
#   x "label" p50_ns p99_ns p999_ns c2c_ns   ('?' = not measured)
if (!exists("datafile")) datafile = 'latency.dat'
if (!exists("out")) out = 'latency.svg'
if (!exists("size")) size = ''
if (!exists("left")) left = 1
if (!exists("right")) right = 1
png = strlen(out) > 4 && out[strlen(out)-3:] eq '.png'
panels = left + right
if (png) { set terminal pngcairo size 560*panels+80,560 font 'Sans,10' } \
else { set terminal svg size 560*panels+80,560 font 'Sans,11' background rgb 'white' }
set output out
set encoding utf8
set datafile missing '?'

set logscale y
# decades in words: the %c prefix would print 'u' for micro
set ytics ('1 ns' 1e-9, '10 ns' 1e-8, '100 ns' 1e-7, '1 µs' 1e-6, '10 µs' 1e-5, '100 µs' 1e-4, '1 ms' 1e-3, '10 ms' 1e-2, '100 ms' 0.1, '1 s' 1, '10 s' 10)
set grid ytics mytics lc rgb '#dddddd'
set ylabel 'round-trip time (log scale)'
set xtics rotate by -35 left nomirror
set xlabel 'mechanism and placement'
set key outside below horizontal samplen 2
set offsets 0.5, 0.5, graph 0.06, graph 0.02
set multiplot layout 1,panels title 'pingpong round-trip percentiles'.(size eq '' ? '' : ' at '.size)
do for [blk=0:1] {
	if ((blk == 0 && left) || (blk == 1 && right)) {
		set title (blk == 0 ? 'processes' : 'threads')
		# y = time in seconds so the axis reads ns/µs/ms; the data is in ns
		plot datafile index blk using 1:($3*1e-9):($3*1e-9):($5*1e-9) with yerrorbars lc rgb '#bbbbbb' pt -1 notitle, \
		     '' index blk using 1:($3*1e-9):xtic(2) with points lc rgb '#0072B2' pt 7 ps 1.1 title 'p50', \
		     '' index blk using 1:($4*1e-9) with points lc rgb '#E69F00' pt 9 ps 1.2 title 'p99', \
		     '' index blk using 1:($5*1e-9) with points lc rgb '#D55E00' pt 5 ps 1.0 title 'p99.9', \
		     '' index blk using 1:($6*1e-9):(0.35) with xerrorbars lc rgb 'black' lw 3 pt -1 title 'limit/c2c (same CPUs)'
	}
}
unset multiplot
