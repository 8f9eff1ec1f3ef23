#!/usr/bin/env bash
# Live flood detection delay under `sitewarden serve`, end to end: a real
# nginx origin, the real gateway in front of it, and the flood tool of
# bench/gateway (199 loopback source addresses, 2 kept-alive connections
# each, beside one legitimate client). For each round: the time from the
# flood tool's start to the DDoS signal's observation (the moment the live
# detector raised it; the signal is in the store right after), and to the
# incident being listed by `sitewarden incident list` (polled every 50 ms).
# Target (issue 5): a flood is detected within 2 s of its start.
#
#   bench/logwatch/live_delay.sh [ROUNDS] [FLOOD_SECONDS]     (defaults 5, 6)
#
# Everything on 127.0.0.0/8; every round is bounded. Needs nginx, curl,
# python3 (apt-get installs them when missing). Writes
# bench/logwatch/live-delay.json and prints a table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${1:-5}
FLOOD_SECONDS=${2:-6}
HOST=portal.example.gov.test

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release -q -p sitewarden -p sitewarden-bench-gateway
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET_DIR/release/sitewarden"
TOOL="$TARGET_DIR/release/sitewarden-bench-gateway"

WORK=$(mktemp -d /tmp/sitewarden-live-delay.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$(date +%T)] $*" >&2; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_ms() { date +%s%3N; }

# The origin: nginx serving one page.
mkdir -p "$WORK/www" "$WORK/origin"
printf '<html><head><meta charset="utf-8"><title>示例省财政厅</title></head><body><h1>示例省财政厅</h1><p>通知公告</p></body></html>\n' > "$WORK/www/index.html"
ORIGIN_PORT=$(free_port)
cat > "$WORK/origin/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/origin/nginx.pid;
error_log $WORK/origin/error.log warn;
events { worker_connections 8192; }
http {
    client_body_temp_path $WORK/origin/cb; proxy_temp_path $WORK/origin/pt;
    fastcgi_temp_path $WORK/origin/fc; uwsgi_temp_path $WORK/origin/uw; scgi_temp_path $WORK/origin/sc;
    access_log off;
    keepalive_requests 1000000;
    types { text/html html; }
    server { listen 127.0.0.1:$ORIGIN_PORT; root $WORK/www; index index.html; }
}
CONF
"$nginx_bin" -p "$WORK/origin/" -e "$WORK/origin/error.log" -c "$WORK/origin/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# The plan: the portal behind the gateway, limits off (the flood must reach
# the detector, not be refused per address first), logwatch defaults.
GW_PORT=$(free_port)
cat > "$WORK/plan.toml" <<PLAN
[organisation]
name = "live delay benchmark"

[probe]
interval_seconds = 60
[probe.resolve]
"$HOST" = "127.0.0.1"

[gateway]
listen = ["127.0.0.1:$GW_PORT"]
[gateway.limits]
rate_per_ip = 0
connections_per_ip = 0
max_in_flight = 0
ban_after_refusals = 0

[[sites]]
name = "portal"
origins = ["http://127.0.0.1:$ORIGIN_PORT"]
[[sites.pages]]
name = "home"
url = "http://$HOST:$ORIGIN_PORT/"
PLAN
"$BIN" check-plan "$WORK/plan.toml" >/dev/null
until curl -fsS -o /dev/null "http://127.0.0.1:$ORIGIN_PORT/"; do sleep 0.1; done
"$BIN" baseline --plan "$WORK/plan.toml" --data "$WORK/data" > "$WORK/baseline.log"
"$BIN" serve --plan "$WORK/plan.toml" --data "$WORK/data" > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
deadline=$((SECONDS + 60))
until grep -q "watching access logs" "$WORK/serve.log"; do
    [ $SECONDS -lt $deadline ] || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.2
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Ordinary traffic first, so the detector has quiet seconds behind it.
log "quiet traffic, 20 s"
end=$((SECONDS + 20))
while [ $SECONDS -lt $end ]; do
    curl -fsS -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$GW_PORT/" || true
    sleep 0.2
done

incident_ms() {
    "$BIN" incident list --data "$WORK/data" --json | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    if i["kind"] == "ddos":
        print(i["id"]); break'
}
signal_times() {
    "$BIN" incident show "$1" --data "$WORK/data" --json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["signals"]:
    if s["kind"] == "ddos" and s["source"] == "logwatch":
        print(s["observed_at_ms"])'
}

RESULTS="$WORK/rounds.jsonl"
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    before=""
    id=$(incident_ms)
    [ -n "$id" ] && before=$(signal_times "$id" | tr '\n' ' ')
    log "round $round: flood for $FLOOD_SECONDS s"
    start=$(now_ms)
    "$TOOL" flood --target "127.0.0.1:$GW_PORT" --host "$HOST" --path / \
        --sources 127.0.0.2-127.0.0.200 --connections-per-source 2 \
        --seconds "$FLOOD_SECONDS" --legit-rate 5 --expect "$WORK/www/index.html" \
        > "$WORK/flood-$round.json" &
    flood_pid=$!
    listed=""
    deadline=$(( $(now_ms) + 15000 ))
    while [ -z "$listed" ] && [ "$(now_ms)" -lt "$deadline" ]; do
        id=$(incident_ms)
        if [ -n "$id" ]; then
            for t in $(signal_times "$id"); do
                case " $before " in *" $t "*) ;; *) [ "$t" -ge "$start" ] && listed=$(now_ms) && observed=$t ;; esac
            done
        fi
        [ -n "$listed" ] || sleep 0.05
    done
    wait "$flood_pid"
    rps=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["flood"]["answered_per_second"]))' "$WORK/flood-$round.json" 2>/dev/null || echo "?")
    if [ -n "$listed" ]; then
        echo "{\"round\": $round, \"detected_ms\": $((observed - start)), \"listed_ms\": $((listed - start)), \"flood_rps\": \"$rps\"}" >> "$RESULTS"
        log "  detected after $((observed - start)) ms, listed after $((listed - start)) ms (flood ~$rps req/s)"
    else
        echo "{\"round\": $round, \"detected_ms\": null, \"listed_ms\": null, \"flood_rps\": \"$rps\"}" >> "$RESULTS"
        log "  NOT detected within 15 s"
    fi
    # Quiet until the flood has ended (quiet_seconds 10) and a bit more.
    sleep 15
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$RESULTS" "$LOAD_BEFORE" "$LOAD_AFTER" "$(git rev-parse --short HEAD)" "$ROOT/bench/logwatch/live-delay.json" <<'PY'
import json, statistics, sys
rounds = [json.loads(l) for l in open(sys.argv[1])]
detected = [r["detected_ms"] for r in rounds if r["detected_ms"] is not None]
listed = [r["listed_ms"] for r in rounds if r["listed_ms"] is not None]
out = {"rounds": rounds, "load_before": sys.argv[2], "load_after": sys.argv[3], "commit": sys.argv[4],
       "detected_median_ms": statistics.median(detected) if detected else None,
       "detected_max_ms": max(detected) if detected else None,
       "listed_median_ms": statistics.median(listed) if listed else None,
       "missed": len(rounds) - len(detected)}
json.dump(out, open(sys.argv[5], "w"), indent=2)
print("| round | flood req/s | detected (signal) | incident listed by the CLI |")
print("| ---: | ---: | ---: | ---: |")
for r in rounds:
    d = f'{r["detected_ms"]} ms' if r["detected_ms"] is not None else "not within 15 s"
    l = f'{r["listed_ms"]} ms' if r["listed_ms"] is not None else "—"
    print(f'| {r["round"]} | {r["flood_rps"]} | {d} | {l} |')
print(f'\nmedian detected {out["detected_median_ms"]} ms, max {out["detected_max_ms"]} ms; '
      f'load {sys.argv[2]} → {sys.argv[3]}; commit {sys.argv[4]}')
PY
