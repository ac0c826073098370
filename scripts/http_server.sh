# Sourced by scripts/http_duel.sh and scripts/http_cpu.sh: starting
# compare's http_hello servers and reading their CPU time.
#
# Sets `work` (a temporary directory removed at exit, when every background
# job and every server started is killed too) and `go_bin` (GO_BIN,
# default target/compare-go/compare-go); defines serve, start, cpu_ticks,
# window, requests_per_s and per_request.

go_bin=${GO_BIN:-target/compare-go/compare-go}
work=$(mktemp -d)
declare -a addr pid
trap 'kill $(jobs -p) "${pid[@]}" 2>/dev/null; rm -rf "$work"' EXIT

# start IDX BIN PEER: starts a server whose stdin stays open for 40 s (it
# exits when stdin closes); sets addr[IDX] and pid[IDX]. PEER go runs
# go_bin, any other PEER `BIN child PEER`.
start() {
    local fifo=$work/fifo.$1
    mkfifo "$fifo"
    if [ "$3" = go ]; then
        (sleep 40 | "$go_bin" http_hello 10 > "$fifo") &
    else
        (sleep 40 | "$2" child "$3" http_hello 10 > "$fifo") &
    fi
    local line
    read -r line < "$fifo"
    addr[$1]=$(sed 's/.*"listening":"\([^"]*\)".*/\1/' <<< "$line")
    # The server is the newest process serving http_hello.
    pid[$1]=$(pgrep -n -f "http_hello 10")
}

# serve N BIN PEER ...: the script's N (BIN, PEER) pairs, exactly, or its
# usage (the header, lines 2-19) and exit status 2; then starts server I
# for pair I (0-based) with `start`.
serve() {
    local n=$1
    shift
    if [ $# -ne $((2 * n)) ]; then
        sed -n '2,19p' "$0" >&2
        exit 2
    fi
    local i
    for ((i = 0; i < n; i++)); do
        start "$i" "$1" "$2"
        shift 2
    done
}

# cpu_ticks PID: user and system clock ticks of the whole process.
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }

# window PID...: lets the load warm up for 2 s, then reads each PID's
# ticks into before[I] and, 5 s later, into after[I].
declare -a before after
window() {
    sleep 2
    local i
    for ((i = 1; i <= $#; i++)); do before[i - 1]=$(cpu_ticks "${!i}"); done
    sleep 5
    for ((i = 1; i <= $#; i++)); do after[i - 1]=$(cpu_ticks "${!i}"); done
}

# requests_per_s WRK_OUT: the rate a wrk run reported.
requests_per_s() { awk '/Requests\/sec/{print $2}' "$1"; }

# per_request RPS I: the CPU microseconds per request of window's PID I
# over its 5 s, as "total user system".
per_request() {
    awk -v rps="$1" -v hz="$(getconf CLK_TCK)" -v t0="${before[$2]}" -v t1="${after[$2]}" 'BEGIN {
        split(t0, a, " "); split(t1, b, " ");
        n = rps * 5; us = 1e6 / hz;
        u = (b[1] - a[1]) * us / n; s = (b[2] - a[2]) * us / n;
        printf "%.2f %.2f %.2f\n", u + s, u, s
    }'
}
