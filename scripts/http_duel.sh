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

# shellcheck source=scripts/http_server.sh
source "$(dirname "$0")/http_server.sh"
serve 2 "$@"
wrk -t1 -c128 -d8s "http://${addr[0]}/" > "$work/wrk.0" &
w0=$!
wrk -t1 -c128 -d8s "http://${addr[1]}/" > "$work/wrk.1" &
w1=$!
window "${pid[0]}" "${pid[1]}"
wait "$w0" "$w1"

# report NAME I: server I's line.
report() {
    local rps total user system
    rps=$(requests_per_s "$work/wrk.$2")
    read -r total user system <<< "$(per_request "$rps" "$2")"
    printf "%-12s %8.0f requests/s  %6.2f us CPU/request (user %5.2f, system %5.2f)\n" \
        "$1" "$rps" "$total" "$user" "$system"
}
report "$2" 0
report "$4" 1
