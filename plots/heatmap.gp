# heatmap.gp - pingpong p50 round trip for each mechanism (and mode) at each
# placement, one size; colour on a log scale, the figure printed in each cell,
# grey cells marked "n/a" were not measured.
#
# Written by `ipcbench report`, which also writes the data file; re-run by hand:
#   gnuplot -e "datafile='heatmap-64.dat'; out='x.svg'; size='64 B'; rows=12; cols=2" heatmap.gp
# Variables: datafile, out (.svg or .png), size (title), rows, cols (grid size).
# Data: index 0 measured cells: x y p50_ns "text" "row label" "column label" dark
#   (dark = 1 when the cell colour needs white text);
#   index 1 cells without data: x y "row label" "column label".
if (!exists("datafile")) datafile = 'heatmap.dat'
if (!exists("out")) out = 'heatmap.svg'
if (!exists("size")) size = ''
if (!exists("rows")) rows = 8
if (!exists("cols")) cols = 2
png = strlen(out) > 4 && out[strlen(out)-3:] eq '.png'
h = 160 + 34*rows
w = 380 + 150*cols
if (png) { set terminal pngcairo size w,h font 'Sans,10' } \
else { set terminal svg size w,h font 'Sans,11' background rgb 'white' }
set output out
set encoding utf8
set datafile missing '?'
set title 'pingpong p50 round trip by placement'.(size eq '' ? '' : ' at '.size)
set xrange [-0.5:cols-0.5]
set yrange [rows-0.5:-0.5]
set xtics nomirror scale 0
set ytics nomirror scale 0
set xlabel 'placement of the two endpoints'
set logscale cb
set cbtics ('1 ns' 1e-9, '2 ns' 2e-9, '5 ns' 5e-9, '10 ns' 10e-9, '20 ns' 20e-9, '50 ns' 50e-9, '100 ns' 100e-9, '200 ns' 200e-9, '500 ns' 500e-9, '1 µs' 1e-6, '2 µs' 2e-6, '5 µs' 5e-6, '10 µs' 10e-6, '20 µs' 20e-6, '50 µs' 50e-6, '100 µs' 100e-6, '200 µs' 200e-6, '500 µs' 500e-6, '1 ms' 1e-3, '2 ms' 2e-3, '5 ms' 5e-3, '10 ms' 10e-3, '20 ms' 20e-3, '50 ms' 50e-3, '100 ms' 100e-3, '200 ms' 200e-3, '500 ms' 500e-3, '1 s' 1e0, '2 s' 2e0, '5 s' 5e0)
set cblabel 'p50 round trip (log scale)'
set palette defined (0 '#f7fbff', 0.35 '#9ecae1', 0.7 '#3182bd', 1 '#08306b')
unset key
plot datafile index 0 using 1:2:(0.5):(0.5):($3*1e-9):xtic(6):ytic(5) with boxxyerror fs solid 1 noborder lc palette, \
     '' index 1 using 1:2:(0.5):(0.5) with boxxyerror fs solid 1 noborder lc rgb '#e5e5e5', \
     '' index 1 using 1:2:('n/a') with labels tc rgb '#555555', \
     '' index 0 using 1:2:($7 > 0 ? '' : stringcolumn(4)) with labels tc rgb 'black', \
     '' index 0 using 1:2:($7 > 0 ? stringcolumn(4) : '') with labels tc rgb 'white'
