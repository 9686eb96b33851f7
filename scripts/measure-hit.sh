#!/usr/bin/env bash
# Measures what a cache hit costs the gateway against a bare Go net/http
# server sending the same bytes: both run as processes of their own on
# this machine, loaded in turn from a third (wrk where installed, Debian
# package wrk, else tests/load), and each server's CPU time is read from
# /proc before and after, so the load generator's own work is not
# counted. Prints requests per second and CPU microseconds per request of
# each, and their ratios.
#
#   bash scripts/measure-hit.sh              # 3 rounds of 10 s each
#   ROUNDS=5 SECONDS_EACH=10 CLIENTS=16 bash scripts/measure-hit.sh
#
# Loopback only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
each=${SECONDS_EACH:-10}
clients=${CLIENTS:-16}
[ "$each" -le 60 ] && [ "$rounds" -le 10 ] || { echo "at most 10 rounds of 60 s" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -tags nomsgpack -o "$work/odatagw" ./cmd/odatagw
go build -o "$work/bare" ./tests/bare
go build -o "$work/load" ./tests/load

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME="$work" "$work/odatagw" serve --listen "127.0.0.1:$port" --state none --admin-listen off >"$work/gateway.log" 2>&1 &
gw=$!
pids+=("$gw")
url="http://127.0.0.1:$port/odata/demo/Customers?\$select=CustomerId,Name&\$count=true&\$top=26"
for _ in $(seq 1 100); do curl -fs -o /dev/null "$url" && break; sleep 0.2; done
curl -fs -o /dev/null -H 'Accept-Encoding: identity' "$url" # the answer is kept now

"$work/bare" -from "$url" -H 'Accept-Encoding: identity' -listen 127.0.0.1:0 >"$work/bare.addr" &
bare=$!
pids+=("$bare")
for _ in $(seq 1 50); do [ -s "$work/bare.addr" ] && break; sleep 0.1; done
bareurl="http://$(head -1 "$work/bare.addr")/"

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, in ticks

# run TARGET URL PID: one round; prints "requests seconds cpu_ticks"
run() {
  local url=$1 pid=$2 before after out n secs
  before=$(cpu "$pid")
  if command -v wrk >/dev/null; then
    out=$(wrk -t 2 -c "$clients" -d "${each}s" -H 'Accept-Encoding: identity' "$url")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    secs=$(echo "$out" | awk '/requests in/ {gsub("s,","",$4); print $4}')
  else
    out=$("$work/load" -c "$clients" -d "${each}s" -H 'Accept-Encoding: identity' -url "$url")
    n=$(echo "$out" | awk '/^requests/ {print $2}')
    secs=$(echo "$out" | awk '/^clients/ {gsub("s","",$4); print $4}')
  fi
  after=$(cpu "$pid")
  echo "$n $secs $((after - before))"
}

echo "cores: $(nproc); load: $(command -v wrk >/dev/null && echo wrk || echo tests/load), $clients clients, $rounds rounds of $each s each, the two servers taking turns"
echo "list view: $url"
declare -A reqs secs cpus
for t in gateway bare; do reqs[$t]=0; secs[$t]=0; cpus[$t]=0; done
for r in $(seq 1 "$rounds"); do
  for t in gateway bare; do
    if [ "$t" = gateway ]; then res=$(run "$url" "$gw"); else res=$(run "$bareurl" "$bare"); fi
    read -r n s c <<<"$res"
    printf '  round %d %-8s %8.0f req/s  %5.1f us CPU/request\n' "$r" "$t" "$(echo "$n / $s" | bc -l)" "$(echo "$c / $ticks * 1000000 / $n" | bc -l)"
    reqs[$t]=$((reqs[$t] + n)); secs[$t]=$(echo "${secs[$t]} + $s" | bc -l); cpus[$t]=$((cpus[$t] + c))
  done
done
g_rate=$(echo "${reqs[gateway]} / ${secs[gateway]}" | bc -l); b_rate=$(echo "${reqs[bare]} / ${secs[bare]}" | bc -l)
g_cpu=$(echo "${cpus[gateway]} / $ticks * 1000000 / ${reqs[gateway]}" | bc -l); b_cpu=$(echo "${cpus[bare]} / $ticks * 1000000 / ${reqs[bare]}" | bc -l)
printf 'gateway hit  %8.0f req/s  %5.1f us CPU/request\n' "$g_rate" "$g_cpu"
printf 'bare server  %8.0f req/s  %5.1f us CPU/request\n' "$b_rate" "$b_cpu"
printf 'ratio        %8.2f of the bare rate; %.2f of its CPU per request\n' "$(echo "$g_rate / $b_rate" | bc -l)" "$(echo "$b_cpu / $g_cpu" | bc -l)"
