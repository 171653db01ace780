# compare-latency.gp - `ipcbench report --compare A B`: pingpong round-trip
# p50 and p99 of two runs side by side for each mechanism and placement,
# log scale; run A hollow on the left of each column, run B filled on the right.
#
# Re-run by hand:
#   gnuplot -e "datafile='compare-latency-64.dat'; out='x.svg'; size='64 B'; runa='A'; runb='B'" compare-latency.gp
# Variables: datafile, out (.svg or .png), size (title), runa/runb (legend
#   names), left/right (1 = draw the process/thread panel).
# Data: index 0 processes, index 1 threads; rows:
#   x "label" a_p50_ns a_p99_ns b_p50_ns b_p99_ns   ('?' = not in that run)
if (!exists("datafile")) datafile = 'compare-latency.dat'
if (!exists("out")) out = 'compare-latency.svg'
if (!exists("size")) size = ''
if (!exists("runa")) runa = 'A'
if (!exists("runb")) runb = 'B'
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
set multiplot layout 1,panels title 'pingpong round trip, two runs'.(size eq '' ? '' : ' at '.size)
do for [blk=0:1] {
	if ((blk == 0 && left) || (blk == 1 && right)) {
		set title (blk == 0 ? 'processes' : 'threads')
		plot datafile index blk using ($1-0.15):($3*1e-9):xtic(2) with points lc rgb '#0072B2' pt 6 ps 1.2 title 'p50 '.runa, \
		     '' index blk using ($1-0.15):($4*1e-9) with points lc rgb '#D55E00' pt 8 ps 1.2 title 'p99 '.runa, \
		     '' index blk using ($1+0.15):($5*1e-9) with points lc rgb '#0072B2' pt 7 ps 1.2 title 'p50 '.runb, \
		     '' index blk using ($1+0.15):($6*1e-9) with points lc rgb '#D55E00' pt 9 ps 1.2 title 'p99 '.runb
	}
}
unset multiplot
