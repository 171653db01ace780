# peers.gp - every mechanism beside its peers (third-party libraries, Python's
# multiprocessing), processes at one size and placement, log scale. Left: p50
# round trip in microseconds; right: stream msgs/s. Blue bars are ipcbench's
# own mechanisms, orange bars the peers; each bar carries its value.
#
# Written by `ipcbench report`, which also writes the data file; re-run by hand:
#   gnuplot -e "datafile='peers.dat'; out='x.svg'; n=9; lat_lo=0.1; lat_hi=1e4; tp_lo=1e3; tp_hi=1e8" peers.gp
# Variables: datafile, out (.svg or .png), n (rows), lat_lo/lat_hi (µs axis),
#   tp_lo/tp_hi (msgs/s axis).
# Data: header line, then rows: i "name" p50_us "p50 label" msgs_per_s "rate label" peer(0/1);
#   '?' = not measured.
if (!exists("datafile")) datafile = 'peers.dat'
if (!exists("out")) out = 'peers.svg'
if (!exists("n")) n = 8
if (!exists("lat_lo")) lat_lo = 0.1
if (!exists("lat_hi")) lat_hi = 1e5
if (!exists("tp_lo")) tp_lo = 1e3
if (!exists("tp_hi")) tp_hi = 1e9
png = strlen(out) > 4 && out[strlen(out)-3:] eq '.png'
h = 140 + 34 * n
if (png) { set terminal pngcairo size 1180,h font 'Sans,10' } \
else { set terminal svg size 1180,h font 'Sans,11' background rgb 'white' }
set output out
set encoding utf8
set datafile missing '?'
set key autotitle columnhead
ours = 0x0072B2
peer = 0xE69F00
set style fill solid 0.85 noborder
set yrange [n-0.5:-0.5]
set ytics nomirror
set grid xtics mxtics lc rgb '#dddddd'
set logscale x
set format x '%g'
set multiplot layout 1,2 title 'ipcbench mechanisms (blue) and peers (orange), processes'
set title 'p50 round trip (µs, log; shorter is better)'
set xrange [lat_lo:lat_hi]
plot datafile using (lat_lo):1:(lat_lo):3:($1-0.35):($1+0.35):($7 > 0 ? peer : ours):ytic(2) with boxxyerror lc rgb variable notitle, \
     '' using 3:1:(' '.strcol(4)) with labels left notitle
set title 'stream msgs/s (log; longer is better)'
set xrange [tp_lo:tp_hi]
set format x '%.0s%c'
plot datafile using (tp_lo):1:(tp_lo):5:($1-0.35):($1+0.35):($7 > 0 ? peer : ours):ytic(2) with boxxyerror lc rgb variable notitle, \
     '' using 5:1:(' '.strcol(6)) with labels left notitle
unset multiplot
