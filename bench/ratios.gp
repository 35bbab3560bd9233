# ratios.gp - tunneld against ssh, one bar per metric: above 1 tunneld is
# better (ratio tunneld/ssh where higher is better, ssh/tunneld where lower)
set terminal pngcairo size 1100,600 font ",9"
set output outfile
set title "tunneld compared with ssh -N -L, same sshd, same cipher (above 1: tunneld better)"
set style fill solid 0.8
set boxwidth 0.7
set yrange [0:*]
set xtics rotate by -40 left
set grid ytics
set key off
set rmargin 14
set bmargin 16
plot datafile using 0:2:xtic(1) with boxes lc rgb "#3b7dd8", 1 with lines lc rgb "#c0392b" lw 2
