#!/usr/bin/env bash
# load_test_async.sh — measure etamil-mio under load with the project's own generator
# (bench/, `loadgen`), next to nginx+Lua measured in the same run, and check the floors.
#
# usage: ./load_test_async.sh [--duration D] [--repeat N] [--no-build] [--with-log]
#                             [--sweep-only | --c10k-only | --soak SECONDS]
#
#   default      the sweep (1, 10, 50, 100, 200, 1000 connections, GET /gst/1000), then C10K
#   --sweep-only the sweep alone;   --c10k-only the C10K check alone
#   --soak S     S seconds of sustained load: errors must stay 0 and the server's RSS at the end
#                within 5 % (or 1 MiB) of its RSS after the first minute
#   --with-log   also measure 100 connections with the access log on (to /dev/null)
#   --duration D each sweep run (default 10s);  --repeat N runs per point, medians (default 1)
#
# env: PORT (9999)  LEVELS ("1 10 50 100 200 1000:2", C:T = T generator threads)
#      ROUTE (/gst/1000)  SHARED ($(dirname $0)/../shared)  RESULTS (bench/results)
#      SOAK_CONNS (100)  SOAK_RATE (20000 req/s open loop; 0 = closed loop, flat out)
#      C10K_CONNS (10000)  C10K_HOLD (10s)  SERVER (target/release/etamil-mio)
#      SERVER_FLAGS (extra server flags, e.g. "--workers 2")
#      SERVER_CPUS, LOADGEN_CPUS (pinned runs: taskset -c LIST for the server / the generator)
# Load goes to 127.0.0.1 only; every run is bounded; the script kills only what it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$(cd "$(dirname "$0")/.." && pwd)/shared}
ANCHORS=$SHARED/bench/anchors.sh
RESULTS=${RESULTS:-$ROOT/bench/results}
PORT=${PORT:-9999}
ROUTE=${ROUTE:-/gst/1000}
LEVELS=${LEVELS:-"1 10 50 100 200 1000:2"}
DURATION=10s
REPEAT=1
BUILD=1
WITH_LOG=0
MODE=default
SOAK_SECONDS=0
SOAK_CONNS=${SOAK_CONNS:-100}
SOAK_RATE=${SOAK_RATE:-20000}
C10K_CONNS=${C10K_CONNS:-10000}
C10K_HOLD=${C10K_HOLD:-10s}
SERVER=${SERVER:-$ROOT/target/release/etamil-mio}
LOADGEN=$ROOT/bench/target/release/loadgen
LUA_PORT=18130
NGINX_PORT=18110

while [ $# -gt 0 ]; do
  case $1 in
    --duration) DURATION=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --no-build) BUILD=0 ;;
    --with-log) WITH_LOG=1 ;;
    --sweep-only) MODE=sweep ;;
    --c10k-only) MODE=c10k ;;
    --soak) MODE=soak; SOAK_SECONDS=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# 10,000 connections need 10,000 descriptors here and in the server we start.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$RESULTS"
STAMP=$(date +%Y%m%d-%H%M%S)
SUMMARY=$RESULTS/summary-$STAMP.md

SERVER_PID=""
STARTED_ANCHORS=""
BG_PIDS=""
stop_pid() { # pid: TERM, wait up to 5 s, then KILL; only PIDs this script started
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local p
  for p in $BG_PIDS; do stop_pid "$p"; done
  stop_pid "$SERVER_PID"
  # shellcheck disable=SC2086
  [ -n "$STARTED_ANCHORS" ] && "$ANCHORS" stop $STARTED_ANCHORS >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
port_busy() { ss -ltn "sport = :$1" 2>/dev/null | grep -q LISTEN; }
wait_http() { # url: up to 10 s
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -m 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}
jfield() { grep -o "\"$2\":[^,}]*" "$1" 2>/dev/null | head -1 | cut -d: -f2; } # file key: first match
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

if [ "$BUILD" = 1 ]; then
  echo "building the server and the generator (release)…"
  (cd "$ROOT" && cargo build --release --quiet)
  (cd "$ROOT/bench" && cargo build --release --quiet)
fi
[ -x "$SERVER" ] || { echo "no $SERVER: build it first" >&2; exit 1; }
[ -x "$LOADGEN" ] || { echo "no $LOADGEN: build bench/ first" >&2; exit 1; }

# Use only the flags this build of the server has (SERVER.md lists them; early builds may not).
SERVER_HELP=$("$SERVER" --help 2>&1 || true)
has_flag() { grep -q -- "$1" <<<"$SERVER_HELP"; }
BASE_FLAGS=(--port "$PORT")
# shellcheck disable=SC2206
[ -n "${SERVER_FLAGS:-}" ] && BASE_FLAGS+=($SERVER_FLAGS)
PIN_SERVER=()
PIN_LOADGEN=()
[ -n "${SERVER_CPUS:-}" ] && PIN_SERVER=(taskset -c "$SERVER_CPUS")
[ -n "${LOADGEN_CPUS:-}" ] && PIN_LOADGEN=(taskset -c "$LOADGEN_CPUS")
LOG_OFF=()
has_flag --access-log && LOG_OFF=(--access-log off)

start_server() { # extra flags...; stderr to $RESULTS/server-*.log
  if port_busy "$PORT"; then echo "port $PORT is busy: not ours to stop" >&2; exit 1; fi
  # taskset execs the server, so $! is the server's own PID.
  "${PIN_SERVER[@]}" "$SERVER" "${BASE_FLAGS[@]}" "$@" >"$RESULTS/server-$STAMP.out" 2>>"${SERVER_STDERR:-$RESULTS/server-$STAMP.log}" &
  SERVER_PID=$!
  local i
  for i in $(seq 1 100); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT$ROUTE" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "etamil-mio exited at start (log: $RESULTS/server-$STAMP.log)" >&2; exit 1; }
    sleep 0.1
  done
  if ! curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT$ROUTE"; then
    echo "etamil-mio did not answer on port $PORT (log: $RESULTS/server-$STAMP.log)" >&2; exit 1
  fi
  local body
  body=$(curl -s -m 2 "http://127.0.0.1:$PORT$ROUTE" || true)
  echo "etamil-mio pid $SERVER_PID on :$PORT ($*); GET $ROUTE → $body"
}
restart_server() { stop_pid "$SERVER_PID"; SERVER_PID=""; start_server "$@"; }

# nginx+Lua from ../shared/bench, when nginx is installed; stopped at the end only if we started it.
LUA_URL=""
NGINX_URL=""
start_anchor() { # name port → sets the URL var name given as $3
  local name=$1 port=$2
  [ -x "$ANCHORS" ] && command -v nginx >/dev/null || return 1
  if "$ANCHORS" status "$name" | grep -q "pid"; then
    echo "$name already running (not ours; left running)"
  else
    "$ANCHORS" start "$name" >/dev/null 2>&1 || return 1
    STARTED_ANCHORS="$STARTED_ANCHORS $name"
  fi
  wait_http "http://127.0.0.1:$port/"
}

say "# etamil-mio load test, $STAMP"
say ""
say "machine: $(nproc) cores, $(uname -r); server: \`${PIN_SERVER[*]} $SERVER ${BASE_FLAGS[*]} ${LOG_OFF[*]}\`${PIN_LOADGEN[*]:+, generator under ${PIN_LOADGEN[*]}}"

run_sweep() {
  start_server "${LOG_OFF[@]}"
  local targets=("etamil=http://127.0.0.1:$PORT$ROUTE")
  if start_anchor nginx-lua $LUA_PORT; then
    LUA_URL="http://127.0.0.1:$LUA_PORT$ROUTE"
    targets+=("nginx-lua=$LUA_URL")
  else
    echo "nginx+Lua not available (apt-get install -y nginx libnginx-mod-http-lua): no ratios"
  fi
  local levels tsv=$RESULTS/sweep-$STAMP.tsv
  levels=$(tr ' ' ',' <<<"$LEVELS")
  say ""
  say "sweep: \`loadgen --sweep $levels -d $DURATION --repeat $REPEAT ${targets[*]}\`"
  "${PIN_LOADGEN[@]}" "$LOADGEN" -q --sweep "$levels" -d "$DURATION" --repeat "$REPEAT" --pause 1s --timeout 2s \
    --json "$RESULTS/sweep-$STAMP.json" --tsv "$tsv" --svg "$RESULTS/sweep-$STAMP.svg" \
    --p99-limit 30ms --title "GET $ROUTE, keep-alive, closed loop ($(nproc) cores, $STAMP)" \
    "${targets[@]}" || true  # errors are judged in the table below
  cp "$RESULTS/sweep-$STAMP.svg" "$RESULTS/sweep.svg"
  say ""
  # Floors (issue 6): >= 1000 req/s, p50 < 10 ms, p99 < 30 ms, no timeouts, and at 1000+
  # connections every connection open at once. Ratios: etamil / nginx+Lua (req/s; p99).
  awk -F'\t' -v lua="nginx-lua" '
    NR == 1 { next }
    $1 == lua { lrps[$2] = $4; lp99[$2] = $7; next }
    $1 == "etamil" { n++; c[n] = $2; rps[n] = $4; p50[n] = $5; p99[n] = $7; to[n] = $11; err[n] = $10; open[n] = $14 }
    END {
      printf "| conns | req/s | p50 ms | p99 ms | timeouts | errors | open | floors | nginx+Lua req/s | nginx+Lua p99 ms | req/s ratio | p99 ratio |\n"
      printf "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n"
      fails = 0
      for (i = 1; i <= n; i++) {
        why = ""
        if (rps[i] < 1000) why = why " rps<1000"
        if (p50[i] >= 10000) why = why " p50>=10ms"
        if (p99[i] >= 30000) why = why " p99>=30ms"
        if (to[i] > 0) why = why " timeouts"
        if (c[i] >= 1000 && open[i] < c[i]) why = why " open<" c[i]
        verdict = (why == "") ? "PASS" : "FAIL" why
        if (why != "") fails++
        if (c[i] in lrps) {
          lr = sprintf("%.0f", lrps[c[i]]); lp = sprintf("%.2f", lp99[c[i]] / 1000)
          rr = (lrps[c[i]] > 0) ? sprintf("%.2f", rps[i] / lrps[c[i]]) : "-"
          pr = (lp99[c[i]] > 0) ? sprintf("%.2f", p99[i] / lp99[c[i]]) : "-"
        } else { lr = "-"; lp = "-"; rr = "-"; pr = "-" }
        printf "| %d | %.0f | %.2f | %.2f | %d | %d | %d | %s | %s | %s | %s | %s |\n", c[i], rps[i], p50[i] / 1000, p99[i] / 1000, to[i], err[i], open[i], verdict, lr, lp, rr, pr
      }
      exit (fails > 0)
    }' "$tsv" | tee -a "$SUMMARY" || SWEEP_FAILED=1
  say ""
  say "chart: $RESULTS/sweep.svg; every run: $RESULTS/sweep-$STAMP.json"

  second_opinion
  if [ "$WITH_LOG" = 1 ] && has_flag --access-log; then
    SERVER_STDERR=/dev/null restart_server --access-log on
    say ""
    say "access log on (to /dev/null), 100 connections:"
    "${PIN_LOADGEN[@]}" "$LOADGEN" -c 100 -d "$DURATION" -q --tsv "$RESULTS/log-on-$STAMP.tsv" "http://127.0.0.1:$PORT$ROUTE" || true
    awk -F'\t' 'NR == 2 { printf "  %.0f req/s, p50 %.2f ms, p99 %.2f ms, errors %d\n", $4, $5 / 1000, $7 / 1000, $10 }' \
      "$RESULTS/log-on-$STAMP.tsv" | tee -a "$SUMMARY"
  fi
}

# wrk, else hey, else ab, at 100 connections: a second opinion on the same server and minute.
second_opinion() {
  local url="http://127.0.0.1:$PORT$ROUTE" t
  for t in "etamil $url" ${LUA_URL:+"nginx-lua $LUA_URL"}; do
    set -- $t
    if command -v wrk >/dev/null; then
      say ""
      say "second opinion, \`wrk -t1 -c100 -d$DURATION --latency $2\` ($1):"
      wrk -t1 -c100 -d"$DURATION" --latency "$2" 2>&1 | grep -E 'Requests/sec|50%|99%|Socket errors|Non-2xx' | sed 's/^/    /' | tee -a "$SUMMARY"
    elif command -v hey >/dev/null; then
      say ""
      say "second opinion, \`hey -c 100 -z $DURATION $2\` ($1):"
      hey -c 100 -z "$DURATION" "$2" 2>&1 | grep -E 'Requests/sec|50%|99%|Error' | sed 's/^/    /' | tee -a "$SUMMARY"
    elif command -v ab >/dev/null; then
      say ""
      say "second opinion, \`ab -k -c 100 -t ${DURATION%s} -n 10000000 $2\` ($1):"
      ab -k -c 100 -t "${DURATION%s}" -n 10000000 "$2" 2>&1 | grep -E 'Requests per second|Failed|  50%|  99%' | sed 's/^/    /' | tee -a "$SUMMARY"
    fi
  done
}

run_c10k() {
  local flags=("${LOG_OFF[@]}")
  has_flag --max-connections && flags+=(--max-connections 12000)
  restart_server "${flags[@]}"
  sleep 1 # let the fresh server settle before the memory baseline
  say ""
  say "C10K: \`loadgen -c $C10K_CONNS --hold $C10K_HOLD --server-pid PID\` (server: ${flags[*]})"
  local json=$RESULTS/c10k-$STAMP.json
  "${PIN_LOADGEN[@]}" "$LOADGEN" -c "$C10K_CONNS" --hold "$C10K_HOLD" --timeout 10s --server-pid "$SERVER_PID" \
    --json "$json" "http://127.0.0.1:$PORT$ROUTE" | sed 's/^/    /' | tee -a "$SUMMARY" || true
  # Held N of N, answered N then N, at most 1 KiB of server memory per held connection.
  local held first second bytes
  held=$(jfield "$json" held); first=$(jfield "$json" answered_first)
  second=$(jfield "$json" answered_second); bytes=$(jfield "$json" bytes_per_connection)
  if [ "$held" = "$C10K_CONNS" ] && [ "$first" = "$C10K_CONNS" ] && [ "$second" = "$C10K_CONNS" ] \
    && awk -v b="$bytes" 'BEGIN { exit !(b != "" && b != "null" && b <= 1024) }'; then
    say "C10K: PASS (all held and answered twice; at most 1 KiB of server memory per idle connection)"
  else
    say "C10K: FAIL"
    C10K_FAILED=1
  fi
  if start_anchor nginx-1w $NGINX_PORT; then
    local master worker
    master=$(cat /tmp/etamil-anchors/nginx-1w.pid 2>/dev/null || true)
    worker=$(pgrep -P "$master" | head -1 || true)
    if [ -n "$worker" ]; then
      say "same hold on plain nginx (1 worker, pid $worker) for comparison:"
      "${PIN_LOADGEN[@]}" "$LOADGEN" -q -c "$C10K_CONNS" --hold "$C10K_HOLD" --timeout 10s --server-pid "$worker" \
        --json "$RESULTS/c10k-nginx-$STAMP.json" "http://127.0.0.1:$NGINX_PORT/" || true
      say "    nginx: held $(jfield "$RESULTS/c10k-nginx-$STAMP.json" held), $(jfield "$RESULTS/c10k-nginx-$STAMP.json" bytes_per_connection) bytes per connection"
    fi
  fi
}

run_soak() {
  start_server "${LOG_OFF[@]}"
  local rate_flags=() secs=$SOAK_SECONDS base_at=60 rss_log=$RESULTS/soak-rss-$STAMP.tsv
  [ "$SOAK_RATE" != 0 ] && rate_flags=(-R "$SOAK_RATE")
  # Under two minutes there is no "after the first minute": take the baseline at half time.
  [ "$secs" -lt 120 ] && base_at=$((secs / 2))
  say ""
  say "soak: ${secs}s, \`loadgen -c $SOAK_CONNS ${rate_flags[*]} -d ${secs}s\`, RSS baseline at ${base_at}s"
  "${PIN_LOADGEN[@]}" "$LOADGEN" -q -c "$SOAK_CONNS" "${rate_flags[@]}" -d "${secs}s" --timeout 2s \
    --tsv "$RESULTS/soak-$STAMP.tsv" --json "$RESULTS/soak-$STAMP.json" "http://127.0.0.1:$PORT$ROUTE" &
  local lg=$!
  BG_PIDS="$BG_PIDS $lg"
  local start=$SECONDS base="" last="" now
  printf 'elapsed_s\trss_kib\n' >"$rss_log"
  while kill -0 "$lg" 2>/dev/null; do
    now=$((SECONDS - start))
    last=$(rss_kib "$SERVER_PID")
    printf '%s\t%s\n' "$now" "$last" >>"$rss_log"
    [ -z "$base" ] && [ "$now" -ge "$base_at" ] && base=$last
    [ -t 1 ] && printf '\r  %4ss  server RSS %s KiB   ' "$now" "$last"
    sleep 5
  done
  [ -t 1 ] && printf '\n'
  wait "$lg" || true
  last=$(rss_kib "$SERVER_PID") # the end: the load has just stopped
  printf '%s\t%s\n' "$((SECONDS - start))" "$last" >>"$rss_log"
  base=${base:-$last}
  local errors non2xx rps
  read -r rps errors non2xx < <(awk -F'\t' 'NR == 2 { print $4, $10, $13 }' "$RESULTS/soak-$STAMP.tsv")
  say "  $rps req/s, errors $errors, non-2xx $non2xx; server RSS ${base} KiB at ${base_at}s → ${last} KiB at the end (samples: $rss_log)"
  local allowed=$(( base / 20 > 1024 ? base / 20 : 1024 )) delta=$(( last > base ? last - base : base - last ))
  if [ "$errors" = 0 ] && [ "$non2xx" = 0 ] && [ "$delta" -le "$allowed" ]; then
    say "soak: PASS (RSS moved $delta KiB, allowed $allowed KiB)"
  else
    say "soak: FAIL (errors $errors, non-2xx $non2xx, RSS moved $delta KiB, allowed $allowed KiB)"
    SOAK_FAILED=1
  fi
}

SWEEP_FAILED=0; C10K_FAILED=0; SOAK_FAILED=0
case $MODE in
  default) run_sweep; run_c10k ;;
  sweep) run_sweep ;;
  c10k) run_c10k ;;
  soak) run_soak ;;
esac
echo
echo "summary: $SUMMARY"
exit $(( SWEEP_FAILED || C10K_FAILED || SOAK_FAILED ))
