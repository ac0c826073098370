#!/usr/bin/env bash
# Runs the examples under Valgrind's memcheck and fails on any error.
#
#   scripts/valgrind.sh            # all runs below
#   scripts/valgrind.sh tour       # one of: tour smoke sleep_latency echo http
#
# The examples are built with `--features valgrind`, which registers every
# goroutine stack with Valgrind (src/stack/valgrind.rs); without it memcheck
# takes each switch between two goroutine stacks for a huge stack frame and
# reports the live frames of the other goroutine as invalid.
#
# Valgrind runs one thread at a time and about 20-50x slower, so each run is
# kept short: the tour as is, smoke with 20,000 goroutines, the two servers
# under a few seconds of load from a small client. A server is stopped with
# SIGTERM, so its verdict is read from the log ("ERROR SUMMARY: 0 errors")
# rather than from its exit status.
#
# Leaks: "definitely", "indirectly" and "possibly lost" blocks are errors.
# The default runtime lives for the whole process by design: what it holds
# at exit is "still reachable", which is not counted, except the TLS of its
# still-running threads, which memcheck calls "possibly lost":
# scripts/valgrind.supp suppresses exactly that, and says why.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
out="$CARGO_TARGET_DIR/valgrind"
mkdir -p "$out"

if ! command -v valgrind >/dev/null; then
    echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
fi

examples=(tour smoke sleep_latency echo_server http_hello)
cargo build --release --features valgrind $(printf -- '--example %s ' "${examples[@]}")
bin="$CARGO_TARGET_DIR/release/examples"

VALGRIND=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible
    --track-origins=yes --suppressions=scripts/valgrind.supp --gen-suppressions=all
    --num-callers=30)
# GOMAXPROCS=2 keeps a few Ms even on a big machine: Valgrind serialises them.
export GOMAXPROCS=2

failed=0

# Reads a finished run's log: 0 errors and no lost blocks, else the log.
verdict() {
    local name=$1 log=$2 status=$3
    local errors
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
    if [[ -z "$errors" ]]; then
        echo "valgrind: $name: no error summary (status $status); log: $log"
        failed=1
    elif [[ "$errors" != 0 ]]; then
        echo "valgrind: $name: $errors errors (status $status); log: $log"
        head -300 "$log"
        failed=1
    else
        echo "valgrind: $name: 0 errors (status $status)"
    fi
}

# A program that exits by itself.
run_to_end() {
    local name=$1
    shift
    local log="$out/$name.log" status=0
    echo "=== $name under valgrind ($(date +%T))"
    "${VALGRIND[@]}" --log-file="$log" "$@" >"$out/$name.out" 2>&1 || status=$?
    if [[ $status != 0 && $status != 99 ]]; then
        echo "valgrind: $name exited with $status"
        tail -20 "$out/$name.out"
        failed=1
    fi
    verdict "$name" "$log" "$status"
}

# Waits (up to 120 s: Valgrind starts slowly) until the server logging to
# $1 says where it listens (the examples print "listening on ADDR" to
# stderr); prints the port.
wait_for_listen() {
    local port
    for _ in $(seq 1200); do
        port=$(sed -n 's/.*listening on \(http:\/\/\)\{0,1\}127\.0\.0\.1:\([0-9]*\).*/\2/p' "$1")
        if [[ -n "$port" ]]; then
            echo "$port"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# A server: start it on a free port, run the client command against it
# (with PORT set), stop it.
run_server() {
    local name=$1 client=$2
    shift 2
    local log="$out/$name.log" status=0 port
    echo "=== $name under valgrind, with a client ($(date +%T))"
    "${VALGRIND[@]}" --log-file="$log" "$@" "127.0.0.1:0" >"$out/$name.out" 2>&1 &
    local pid=$!
    if ! port=$(wait_for_listen "$out/$name.out"); then
        echo "valgrind: $name never said where it listens"
        kill "$pid" 2>/dev/null || true
        failed=1
        return
    fi
    if ! PORT=$port bash -c "$client"; then
        echo "valgrind: $name: the client failed"
        failed=1
    fi
    kill -TERM "$pid"
    wait "$pid" || status=$?
    verdict "$name" "$log" "$status"
}

echo_client() {
    # 50 connections, one line echoed on each, then 200 lines on one.
    cat <<'EOF'
for i in $(seq 50); do
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    echo "hello $i" >&3
    read -r line <&3
    [[ "$line" == "hello $i" ]] || { echo "echo: got '$line'"; exit 1; }
    exec 3>&-
done
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
for i in $(seq 200); do
    echo "line $i" >&3
    read -r line <&3
    [[ "$line" == "line $i" ]] || { echo "echo: got '$line'"; exit 1; }
done
EOF
}

http_client() {
    # wrk for a few seconds where it exists (CI installs it), else curl.
    if command -v wrk >/dev/null; then
        cat <<'EOF'
out=$(wrk -t1 -c4 -d3s --timeout 10s "http://127.0.0.1:$PORT/")
echo "$out" | grep "requests in"
! echo "$out" | grep -q "Non-2xx" && echo "$out" | grep -q "requests in"
EOF
    else
        echo 'for i in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/" >/dev/null || exit 1; done'
    fi
}

sel=("$@")
pick() { [[ ${#sel[@]} -eq 0 ]] || [[ " ${sel[*]} " == *" $1 "* ]]; }

pick tour && run_to_end tour "$bin/tour"
pick smoke && run_to_end smoke "$bin/smoke" 20000
pick sleep_latency && run_to_end sleep_latency "$bin/sleep_latency"
pick echo && run_server echo_server "$(echo_client)" "$bin/echo_server"
pick http && run_server http_hello "$(http_client)" "$bin/http_hello"

if [[ $failed != 0 ]]; then
    echo "valgrind.sh: FAILED (logs in $out)"
    exit 1
fi
echo "valgrind.sh: every run clean (logs in $out)"
