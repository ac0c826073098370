#!/usr/bin/env bash
# One http_hello server under the comparison harness's load (wrk -t2 -c256,
# 9 s): prints its requests/s and, per request, the CPU time (user, system)
# of the server and of wrk itself over the middle 5 s.
#
# What it is for: on a 2-core machine wrk shares the CPUs with the server,
# so requests/s is about 2 CPUs / (wrk's CPU + the server's CPU) per
# request, and wrk's own share caps what a cheaper server can show. This
# prints both shares, so a throughput ratio can be read against them. On
# the 2-core VM of 2026-12-07: wrk 15.6-20.2 µs per request; servers:
# ours-go 14.6-18.6 (user 3.7-5.1), tokio 12.6-15.4 (user 2.2-3.0), Go
# 16.7-21.2.
# Alternate the peers and take several runs.
#
# A lighter load shows what idle workers cost (sleeping, being woken,
# spinning): WRK_THREADS and WRK_CONNS (default 2 and 256) set wrk's -t
# and -c, e.g. `WRK_THREADS=1 WRK_CONNS=8 scripts/http_cpu.sh ...`.
#
# usage: scripts/http_cpu.sh BIN PEER
#   BIN: a built `compare` binary (target/release/compare); PEER:
#        ours-pinned, ours-go, tokio, may, threads, or go (then BIN is
#        ignored and GO_BIN, default target/compare-go/compare-go, serves).
# needs: wrk.
set -euo pipefail

# shellcheck source=scripts/http_server.sh
source "$(dirname "$0")/http_server.sh"
serve 1 "$@"
wrk -t"${WRK_THREADS:-2}" -c"${WRK_CONNS:-256}" -d9s "http://${addr[0]}/" > "$work/wrk.out" &
loader=$!
window "${pid[0]}" "$loader"
wait "$loader"

rps=$(requests_per_s "$work/wrk.out")
read -r st su ss <<< "$(per_request "$rps" 0)"
read -r wt wu ws <<< "$(per_request "$rps" 1)"
printf "%-12s %8.0f requests/s  server %6.2f us/request (user %5.2f, system %5.2f)  wrk %6.2f (user %5.2f, system %5.2f)\n" \
    "$2" "$rps" "$st" "$su" "$ss" "$wt" "$wu" "$ws"
