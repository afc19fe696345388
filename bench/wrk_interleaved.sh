#!/usr/bin/env bash
# Interleaved wrk runs against several servers (A B A B ...), then the median req/s, p50 and
# p99 of each at each concurrency level, and each server's ratio to the first one named.
#
#   bench/wrk_interleaved.sh [-r ROUNDS] [-d SECS] [-l LEVELS] NAME=URL...
#   LEVELS: comma-separated connection counts, C or C:THREADS (default 1,10,100,1000:2)
#   e.g. bench/wrk_interleaved.sh -r 3 etamil=http://127.0.0.1:18200/gst/1000 \
#            nginx-lua=http://127.0.0.1:18130/gst/1000
#
# Every run's line goes to stderr as it finishes (level name req/s p50 p99 timeouts); the
# medians table to stdout. Loopback URLs only, as loadgen: this is not a load-testing tool.
set -euo pipefail
rounds=3 secs=5 levels=1,10,100,1000:2
while getopts r:d:l: o; do
  case $o in r) rounds=$OPTARG ;; d) secs=$OPTARG ;; l) levels=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n 2,10p "$0"; exit 2; }
for t in "$@"; do
  case ${t#*=} in http://127.0.0.1:* | http://localhost:* | http://\[::1\]:*) ;;
    *) echo "not a loopback URL: $t" >&2; exit 2 ;; esac
done
command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 2; }

ms() { # wrk latency ("812.00us", "1.20ms", "2.01s") -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
    else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for level in ${levels//,/ }; do
  c=${level%%:*} th=1
  if [[ $level == *:* ]]; then th=${level#*:}; fi
  for _ in $(seq "$rounds"); do
    for t in "$@"; do
      name=${t%%=*} url=${t#*=}
      out=$(wrk -t"$th" -c"$c" -d"${secs}s" --latency "$url")
      rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
      p50=$(ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
      p99=$(ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
      to=$(grep -o 'timeout [0-9]*' <<<"$out" | awk '{ print $2 }' || true)
      echo "$c $name $rps $p50 $p99 ${to:-0}" | tee -a "$runs" >&2
    done
  done
done
first=${1%%=*}
echo "| connections | server | req/s (median) | p50 ms | p99 ms | timeouts | req/s ratio | p99 ratio |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for level in ${levels//,/ }; do
  c=${level%%:*}
  for t in "$@"; do
    name=${t%%=*}
    awk -v c="$c" -v n="$name" -v f="$first" '
      function med(a, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
          if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
      $1 == c && $2 == n { k++; r[k] = $3; p[k] = $4; q[k] = $5; to += $6 }
      $1 == c && $2 == f { kf++; rf[kf] = $3; qf[kf] = $5 }
      END { R = med(r, k); Q = med(q, k); RF = med(rf, kf); QF = med(qf, kf)
        printf "| %s | %s | %.0f | %.2f | %.2f | %d | %.2f | %.2f |\n", c, n, R, med(p, k), Q, to,
          RF ? R / RF : 0, QF ? Q / QF : 0 }' "$runs"
  done
done
