#!/usr/bin/env bash
# Soak: the http_hello example under wrk for a while (default 10 minutes),
# reporting the server's RSS and open fds at the start and the end, and
# every minute in between. Not run by CI. Loopback only.
#
#   scripts/soak.sh [SECONDS] [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
port=${2:-18080}
command -v wrk >/dev/null || { echo "soak: needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release --example http_hello >/dev/null
./target/release/examples/http_hello "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
sample() {
    local rss fds
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    fds=$(ls "/proc/$pid/fd" | wc -l)
    echo "$(date -u +%H:%M:%S) t=${1}s rss_kib=$rss fds=$fds"
}
# Warm up, then take the baseline.
wrk -t2 -c256 -d5s "http://127.0.0.1:$port/" >/dev/null
sleep 1
start=$(sample 0)
echo "$start"
elapsed=0
total=0
while [ "$elapsed" -lt "$secs" ]; do
    step=$(( secs - elapsed < 60 ? secs - elapsed : 60 ))
    rps=$(wrk -t2 -c256 -d"${step}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
    elapsed=$(( elapsed + step ))
    sleep 1
    echo "$(sample "$elapsed") req/s=$rps"
done
end=$(sample "$elapsed")
start_rss=$(echo "$start" | sed 's/.*rss_kib=\([0-9]*\).*/\1/')
end_rss=$(echo "$end" | sed 's/.*rss_kib=\([0-9]*\).*/\1/')
start_fds=$(echo "$start" | sed 's/.*fds=\([0-9]*\).*/\1/')
end_fds=$(echo "$end" | sed 's/.*fds=\([0-9]*\).*/\1/')
echo "soak: ${secs}s, RSS ${start_rss} -> ${end_rss} KiB, fds ${start_fds} -> ${end_fds}"
