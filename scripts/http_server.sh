# Sourced by scripts/http_duel.sh and scripts/http_cpu.sh: starting
# compare's http_hello servers and reading their CPU time.
#
# Sets `work` (a temporary directory removed at exit, when every background
# job and every server started is killed too) and `go_bin` (GO_BIN,
# default target/compare-go/compare-go); defines start and cpu_ticks.

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

# cpu_ticks PID: user and system clock ticks of the whole process.
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
