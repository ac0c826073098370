#!/usr/bin/env bash
# Two http_hello servers under two `wrk -t1 -c128` loads at the same time,
# on the same CPUs: prints each server's requests/s and its CPU time (user,
# system) per request over the middle 5 s of an 8 s load.
#
# What it is for: on a shared, noisy machine, comparing two builds (or two
# peers) one after the other mixes their difference with the machine's
# drift; run side by side, both see the same machine. It also measures a
# regime the comparison harness does not: servers that are not saturated
# (each gets about half the CPUs, and wrk the rest), where what an idle
# worker costs (spinning, sleeping and being woken, polling) shows up in
# CPU per request. Alternate the order and take medians of several runs.
#
# usage: scripts/http_duel.sh BIN_A PEER_A BIN_B PEER_B
#   BIN_*: a built `compare` binary (target/release/compare, or a copy of
#          another build); PEER_*: ours-pinned, ours-go, tokio, may,
#          threads, or go (then BIN is ignored and GO_BIN, default
#          target/compare-go/compare-go, serves).
# needs: wrk.
set -euo pipefail

if [ $# -ne 4 ]; then
    sed -n '2,19p' "$0" >&2
    exit 2
fi
# shellcheck source=scripts/http_server.sh
source "$(dirname "$0")/http_server.sh"

start 0 "$1" "$2"
start 1 "$3" "$4"
wrk -t1 -c128 -d8s "http://${addr[0]}/" > "$work/wrk.0" &
w0=$!
wrk -t1 -c128 -d8s "http://${addr[1]}/" > "$work/wrk.1" &
w1=$!
sleep 2
a0=$(cpu_ticks "${pid[0]}")
b0=$(cpu_ticks "${pid[1]}")
sleep 5
a1=$(cpu_ticks "${pid[0]}")
b1=$(cpu_ticks "${pid[1]}")
wait "$w0" "$w1"
hz=$(getconf CLK_TCK)

# report NAME WRK_OUT TICKS_BEFORE TICKS_AFTER: one line, and the CPU per
# request on stdout's last field.
report() {
    local rps
    rps=$(awk '/Requests\/sec/{print $2}' "$2")
    awk -v name="$1" -v rps="$rps" -v hz="$hz" -v t0="$3" -v t1="$4" 'BEGIN {
        split(t0, a, " "); split(t1, b, " ");
        n = rps * 5; us = 1e6 / hz;
        u = (b[1] - a[1]) * us / n; s = (b[2] - a[2]) * us / n;
        printf "%-12s %8.0f requests/s  %6.2f us CPU/request (user %5.2f, system %5.2f)\n", name, rps, u + s, u, s
    }'
}
report "$2" "$work/wrk.0" "$a0" "$a1"
report "$4" "$work/wrk.1" "$b0" "$b1"
