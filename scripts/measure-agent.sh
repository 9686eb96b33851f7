#!/usr/bin/env bash
# Measures what an agent costs: the same requests through a gateway whose
# database is reached directly and through an agent, with a network delay
# between the gateway and the database's network. The gateway and the load
# client run in a network namespace of their own, the agent and PostgreSQL
# outside it; the delay is added by tests/delayproxy on the direct
# connection and on the agent's tunnel alike (this kernel has no netem).
#
#   sudo scripts/measure-agent.sh            # delays of 0, 20 and 80 ms round trip
#   sudo scripts/measure-agent.sh 20         # one delay
#
# Needs root, ip and PostgreSQL on 127.0.0.1:5432 (trust, user
# postgres, or PGUSER/PGPASSWORD). Everything it makes (a database, the
# namespace, processes) is removed at the end. Only loopback and the
# namespace's own addresses are targets.
set -euo pipefail
cd "$(dirname "$0")/.."
delays=("$@")
[ ${#delays[@]} -eq 0 ] && delays=(0 20 80)
dur="${ODATAGW_MEASURE_SECONDS:-10}s"
id=$$
ns="odgwm$id" outer="vmo$id" inner="vmi$id" host=10.250.7.1 peer=10.250.7.2 db="odatagw_measure_$id"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$outer" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -tags nomsgpack -o "$work/odatagw" ./cmd/odatagw
go build -o "$work/load" ./tests/load
go build -o "$work/delayproxy" ./tests/delayproxy
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
psql -h 127.0.0.1 -U postgres -d "$db" -q <<'SQL'
CREATE TABLE customers (id integer PRIMARY KEY, name varchar(100) NOT NULL, city varchar(60), credit numeric(12,2));
INSERT INTO customers SELECT g, 'Customer ' || g, 'City ' || (g % 500), g % 10000 FROM generate_series(1, 100000) g;
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers, total numeric(12,2) NOT NULL);
INSERT INTO orders SELECT g, 1 + g % 100000, g % 1000 FROM generate_series(1, 300000) g;
CREATE INDEX ON orders (customer_id);
ANALYZE;
SQL

ip netns add "$ns"
ip link add "$outer" type veth peer name "$inner"
ip link set "$inner" netns "$ns"
ip addr add "$host/30" dev "$outer" && ip link set "$outer" up
ip netns exec "$ns" ip addr add "$peer/30" dev "$inner"
ip netns exec "$ns" ip link set "$inner" up
ip netns exec "$ns" ip link set lo up

cat > "$work/odatagw.yaml" <<EOF
sources:
  direct:
    dsn: postgres://postgres@$host:15432/$db
    auth: {anonymous: true}
  agent:
    dsn: postgres://postgres@127.0.0.1:5432/$db
    via: measure
    auth: {anonymous: true}
EOF
# the direct source must be reachable when the gateway starts
"$work/delayproxy" -listen "$host:15432" -to 127.0.0.1:5432 -delay 0ms -for 10m &
boot=$!
pids+=($boot)
sleep 0.3
tok="admin-$id-$RANDOM$RANDOM"
ip netns exec "$ns" env HOME="$work" ODATAGW_ADMIN_TOKEN="$tok" ODATAGW_CACHE_TTL="${ODATAGW_MEASURE_CACHE_TTL:-0}" \
  "$work/odatagw" serve --listen 0.0.0.0:8080 --admin-listen 127.0.0.1:8081 --state "$work/state.db" --config "$work/odatagw.yaml" \
  --log-level warn 2>"$work/gateway.log" &
pids+=($!)
for _ in $(seq 1 50); do curl -sf "http://$peer:8080/healthz" >/dev/null && break; sleep 0.2; done
agent_token=$(ip netns exec "$ns" curl -sf -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
  -d '{"name":"measure"}' http://127.0.0.1:8081/api/agents | sed -E 's/.*"token":"([^"]+)".*/\1/')
printf '%s\n' "$agent_token" > "$work/agent-token"
start_agent() {
  "$work/odatagw" agent run --gateway "http://127.0.0.1:18090" --name measure --token-file "$work/agent-token" \
    --allow 127.0.0.1:5432 --allow-plain-http --health-listen off --log-level warn 2>>"$work/agent.log" &
  agent_pid=$!
  pids+=($agent_pid)
}
run() { # name url [extra load args]
  local name=$1 url=$2; shift 2
  ip netns exec "$ns" "$work/load" -url "$url" -c 16 -d "$dur" "$@" 2>&1 | grep -E '^(requests|throughput|latency)' | sed -E 's/ +/ /g' | tr '\n' ';'
  echo
}
for d in "${delays[@]}"; do
  kill "$boot" 2>/dev/null || true
  wait "$boot" 2>/dev/null || true
  half=$(awk "BEGIN{print $d/2}")
  # the delay on both paths: the gateway to the database, the agent to the gateway
  "$work/delayproxy" -listen "$host:15432" -to 127.0.0.1:5432 -delay "${half}ms" -for 10m &
  p1=$!
  "$work/delayproxy" -listen 127.0.0.1:18090 -to "$peer:8080" -delay "${half}ms" -for 10m &
  p2=$!
  pids+=($p1 $p2)
  sleep 0.3
  start_agent
  # connections opened before the delay changed are dropped: reload both
  for src in direct agent; do
    ip netns exec "$ns" curl -s -o /dev/null -X POST -H "Authorization: Bearer $tok" "http://127.0.0.1:8081/api/sources/$src/reload" || true
  done
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$peer:8080/odata/agent/customers(2)")" = 200 ] &&
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$peer:8080/odata/direct/customers(2)")" = 200 ] && break
    sleep 0.2
  done
  echo "== round trip between the gateway and the database's network: ${d} ms"
  for via in direct agent; do
    printf '%-7s record page  ' "$via"; run rec "http://127.0.0.1:8080/odata/$via/customers({rand:1-100000})"
    printf '%-7s list view    ' "$via"; run list "http://127.0.0.1:8080/odata/$via/orders?\$select=id,total&\$count=true&\$top=26&\$skip={rand:0-1000}"
    printf '%-7s related list ' "$via"; run rel "http://127.0.0.1:8080/odata/$via/orders?\$select=id,total&\$count=true&\$filter=customer_id%20eq%20{rand:1-100000}&\$top=6"
    printf '%-7s edit         ' "$via"; run edit "http://127.0.0.1:8080/odata/$via/customers({rand:1-100000})" -X PATCH -body '{"credit":{rand:1-9999}}'
  done
  kill "$agent_pid" "$p1" "$p2" 2>/dev/null || true
  wait "$agent_pid" "$p1" "$p2" 2>/dev/null || true
done
