# efficiency.gp - each mechanism as a fraction of this machine's limit, log
# scale (1 = as fast as the limit). Left: stream msgs/s ÷ limit/ring msgs/s at
# the same placement and size. Right: limit/c2c round trip ÷ pingpong p50 at
# the same placement (the inverse of "p50 is N times the cache-line round trip").
#
# Written by `ipcbench report`, which also writes the data file; re-run by hand:
#   gnuplot -e "datafile='efficiency.dat'; out='x.svg'; ymin=1e-4; ymax=1.5; n=6; bw=0.09; left=1; right=1" efficiency.gp
# Variables: datafile, out (.svg or .png), ymin and ymax (the y axis; ymax above
#   1.5 only when a row passed its limit, i.e. the host changed speed mid-run),
#   n (number of mechanisms), bw (half a bar's width), left/right (1 = draw the panel).
# Data: index 0 the x axis: rows x "mechanism"; then one block per series
#   (mode and placement), header "x <throughput title> <latency title>"
#   ("" = no data in that panel), rows: x throughput_fraction latency_fraction.
if (!exists("datafile")) datafile = 'efficiency.dat'
if (!exists("out")) out = 'efficiency.svg'
if (!exists("ymin")) ymin = 1e-4
if (!exists("ymax")) ymax = 1.5
if (!exists("n")) n = 6
if (!exists("bw")) bw = 0.09
if (!exists("left")) left = 1
if (!exists("right")) right = 1
png = strlen(out) > 4 && out[strlen(out)-3:] eq '.png'
panels = left + right
if (png) { set terminal pngcairo size 560*panels+80,540 font 'Sans,10' } \
else { set terminal svg size 560*panels+80,540 font 'Sans,11' background rgb 'white' }
set output out
set encoding utf8
set datafile missing '?'
set linetype 1 lc rgb '#0072B2'
set linetype 2 lc rgb '#56B4E9'
set linetype 3 lc rgb '#D55E00'
set linetype 4 lc rgb '#E69F00'
set linetype 5 lc rgb '#009E73'
set linetype 6 lc rgb '#CC79A7'
set linetype cycle 6

set logscale y
set yrange [ymin:ymax]
set format y '%g'
set grid ytics mytics lc rgb '#dddddd'
set xrange [-0.6:n-0.4]
set xtics rotate by -35 left nomirror
set xlabel 'mechanism'
set key outside below horizontal maxcols 4
set style fill solid 0.85 noborder
set multiplot layout 1,panels title 'mechanisms as a fraction of the machine limit (1 = at the limit)'
do for [col=2:3] {
	if ((col == 2 && left) || (col == 3 && right)) {
		set title (col == 2 ? 'throughput: stream ÷ limit/ring' : 'latency: limit/c2c ÷ pingpong p50')
		set ylabel (col == 2 ? 'fraction of limit/ring msgs/s (log)' : 'fraction of limit/c2c speed (log)')
		plot datafile index 0 using 1:(1):xtic(2) with points pt 7 ps 0 notitle, \
		     for [i=1:*] datafile index i using 1:col:($1-bw):($1+bw):(ymin):col with boxxyerror lt i title columnheader(col), \
		     1 with lines lc rgb 'black' dt 2 title 'the limit'
	}
}
unset multiplot
