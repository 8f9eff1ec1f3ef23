#!/usr/bin/env bash
# Gateway benchmark, in one run with its real peer (nginx as a reverse
# proxy to the same origin):
#
#   1. throughput: wrk through nginx, through the gateway with integrity
#      verification off and on, and straight to the origin (reference), a
#      ~1 KB page and a 100 KB page, ROUNDS interleaved runs each (the order
#      rotates every round) after a warm-up; the median run is reported;
#   2. flood: 199 source addresses (127.0.0.2–127.0.0.200) flooding beside
#      one legitimate client at 20 requests/s, through nginx, the gateway
#      with its defences off, on, and on with the client allowlisted; the
#      client's success rate and the requests that reached the origin
#      (the gateways here proxy every request: integrity off);
#   3. tamper race: an attacker rewrites the guarded pages at the origin in
#      a tight loop while clients fetch them at full speed, through the
#      gateway (integrity on) and through nginx; tampered bodies received.
#
# Everything listens on 127.0.0.1; all load is bounded in time. The origin
# is one nginx (worker_processes 2, access_log off, sendfile on) serving a
# static directory. The nginx proxy has worker_processes 2 and the gateway
# threads = 2; both write an access log in the combined format (the
# gateway always does; nginx buffered, 64k / 1 s, as close as nginx gets to
# the gateway's batching writer thread) into the work directory, which is
# on tmpfs (/dev/shm) so neither waits on the disk. wrk, the origin and the
# proxies share the machine's cores: the ratio to nginx is the figure.
#
# Usage: bench/gateway/run.sh
# Environment (all optional):
#   ROUNDS=5 WRK_SECONDS=15 WRK_CONNECTIONS=64 WARMUP_SECONDS=5
#   FLOOD_SECONDS=15 RACE_SECONDS=10 RACE_CONNECTIONS=32
#   CARGO_TARGET_DIR (where the release build goes; default ./target)
#   PARTS="throughput flood race" (the parts to run; e.g. PARTS=throughput)
#   GATEWAY_ENGINE=hyper|pingora (the gateway's cleartext engine, `[gateway]
#     engine`; default: the plan's default)
#   NO_BUILD=1 (use the binaries already built)   KEEP_WORK=1 (keep the logs)
#   BENCH_TMP (parent of the work directory; default /dev/shm)
# Needs: nginx, wrk, curl and /usr/bin/time (installed with apt-get when
# missing), python3, a Rust toolchain. Takes about 14 minutes with the defaults. Prints a Markdown section for BENCHMARKS.md (## Gateway) on
# stdout and keeps it, with the raw figures, in $CARGO_TARGET_DIR/bench-gateway.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
here=$repo/bench/gateway
target_dir=${CARGO_TARGET_DIR:-$repo/target}
ROUNDS=${ROUNDS:-5}
WRK_SECONDS=${WRK_SECONDS:-15}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WARMUP_SECONDS=${WARMUP_SECONDS:-5}
FLOOD_SECONDS=${FLOOD_SECONDS:-15}
RACE_SECONDS=${RACE_SECONDS:-10}
RACE_CONNECTIONS=${RACE_CONNECTIONS:-32}
PARTS=" ${PARTS:-throughput flood race} "
GATEWAY_ENGINE=${GATEWAY_ENGINE:-}
case $GATEWAY_ENGINE in
    "" | hyper | pingora) ;;
    *) echo "GATEWAY_ENGINE: hyper or pingora, not $GATEWAY_ENGINE" >&2; exit 2 ;;
esac
for part in $PARTS; do
    case $part in
        throughput | flood | race) ;;
        *) echo "PARTS: unknown part $part (throughput, flood, race)" >&2; exit 2 ;;
    esac
done
part() { [[ $PARTS == *" $1 "* ]]; }
HOST=portal.example.gov.test
LEGIT_RATE=20

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }

if [ -z "${NO_BUILD:-}" ]; then
    log "building (release)"
    # Two builds, so each package keeps the features it is built with alone.
    cargo build --release -q -p sitewarden
    cargo build --release -q -p sitewarden-bench-gateway
fi
BIN=$target_dir/release/sitewarden
TOOL=$target_dir/release/sitewarden-bench-gateway

WORK=$(mktemp -d "${BENCH_TMP:-/dev/shm}/gateway-bench.XXXXXX")
chmod 755 "$WORK" # nginx's workers (not root) read the document root in it
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${KEEP_WORK:-}" ]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$WORK/results
mkdir -p "$RESULTS"

# ---------------------------------------------------------------- helpers
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (up to 30 s) until GET / with our Host answers 200 on PORT.
wait_http() {
    local port=$1 deadline=$((SECONDS + 30))
    until curl -fsS -o /dev/null -m 2 -H "Host: $HOST" "http://127.0.0.1:$port/" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { echo "nothing answers on port $port" >&2; exit 1; }
        sleep 0.2
    done
}

# CPU seconds (user + system) used so far by PID and its children
# (nginx's master and workers; the gateway is one process).
cpu_seconds() {
    local pids pid ticks=0 t
    pids="$1 $(cat /proc/"$1"/task/*/children 2>/dev/null || true)"
    for pid in $pids; do
        t=$(awk '{print $14 + $15}' /proc/"$pid"/stat 2>/dev/null || echo 0)
        ticks=$((ticks + t))
    done
    python3 -c "print($ticks / $(getconf CLK_TCK))"
}

# Starts nginx with CONF in the foreground of a background job; its pid
# (the master's) in STARTED.
start_nginx() {
    local conf=$1 dir
    dir=$(dirname "$conf")
    "$nginx_bin" -p "$dir/" -e "$dir/error.log" -c "$conf" -g 'daemon off;' \
        > "$dir/stdout.log" 2>&1 &
    STARTED=$!
    PIDS+=("$STARTED")
}

# Writes a plan for a gateway on PORT; LIMITS is the [gateway.limits]
# body; ROOT (optional) turns integrity verification on; ALLOW the
# allowlist (TOML array).
write_plan() {
    local file=$1 port=$2 limits=$3 root=${4:-} allow=${5:-[]}
    cat > "$file" <<PLAN
[organisation]
name = "gateway benchmark"

[gateway]
listen = ["127.0.0.1:$port"]
threads = 2
access_log = "$WORK/logs/$(basename "$file" .toml)-access.log"
allowlist = $allow
$([ -n "$GATEWAY_ENGINE" ] && echo "engine = \"$GATEWAY_ENGINE\"")

[gateway.limits]
$limits

[[sites]]
name = "portal"
origins = ["http://127.0.0.1:$ORIGIN_PORT"]
pages = [{ url = "http://$HOST/" }]
PLAN
    if [ -n "$root" ]; then
        printf '\n[[sites.web_roots]]\npath = "%s"\n' "$root" >> "$file"
    fi
    "$BIN" check-plan "$file" >/dev/null
}

# Starts `sitewarden gateway` on PLAN and DATA; returns once it says it is
# ready, its pid in STARTED.
start_gateway() {
    local plan=$1 data=$2 name pid deadline=$((SECONDS + 30))
    name=$(basename "$plan" .toml)
    : > "$WORK/logs/$name.log"
    "$BIN" gateway --plan "$plan" --data "$data" > "$WORK/logs/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    until grep -q "control socket" "$WORK/logs/$name.log"; do
        if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            cat "$WORK/logs/$name.log" >&2
            echo "the gateway $name did not start" >&2
            exit 1
        fi
        sleep 0.1
    done
    STARTED=$pid
}

stop() {
    kill -INT "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

gateway_status() { "$BIN" gateway status --data "$1" --json; }

# Requests the origin has answered so far (stub_status's count, which
# includes this status request itself).
origin_requests() {
    curl -fsS -m 5 "http://127.0.0.1:$STATUS_PORT/status" | awk 'NR == 3 {print $3}'
}

# ----------------------------------------------------------- the origin
WWW=$WORK/www
mkdir -p "$WWW" "$WORK/logs" "$WORK/origin" "$WORK/proxy"
python3 - "$WWW" <<'PY'
import sys
root = sys.argv[1]
def page(title, size):
    """An HTML page of exactly `size` bytes: notices, then an ASCII comment
    that pads it to the size."""
    head = f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n'.encode()
    tail = b'</body></html>\n'
    body, i = b'', 0
    while len(head) + len(body) + len(tail) + 120 < size:
        body += f'<p id="n{i}">示例省财政厅 通知公告 第{i}号: budget notice {i:05d}.</p>\n'.encode()
        i += 1
    pad = size - len(head) - len(body) - len(tail) - len(b'<!--  -->\n')
    text = head + body + b'<!-- ' + b'x' * pad + b' -->\n' + tail
    assert len(text) == size, (len(text), size)
    return text
open(f"{root}/index.html", "wb").write(page("示例省财政厅", 1024))
open(f"{root}/page-100k.html", "wb").write(page("示例省财政厅 预算公开", 100 * 1024))
PY
SMALL_BYTES=$(stat -c %s "$WWW/index.html")
BIG_BYTES=$(stat -c %s "$WWW/page-100k.html")
cp "$WWW/index.html" "$WORK/approved-index.html"

ORIGIN_PORT=$(free_port)
STATUS_PORT=$(free_port)
PROXY_PORT=$(free_port)
temp_paths() {
    local dir=$1
    echo "client_body_temp_path $dir/client_body; proxy_temp_path $dir/proxy_temp;"
    echo "fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;"
}
cat > "$WORK/origin/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/origin/nginx.pid;
error_log $WORK/origin/error.log warn;
events { worker_connections 8192; }
http {
    $(temp_paths "$WORK/origin")
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    types { text/html html; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$ORIGIN_PORT default_server;
        root $WWW;
        index index.html;
    }
    server {
        listen 127.0.0.1:$STATUS_PORT;
        location = /status { stub_status; }
    }
}
CONF
cat > "$WORK/proxy/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/proxy/nginx.pid;
error_log $WORK/proxy/error.log warn;
events { worker_connections 8192; }
http {
    $(temp_paths "$WORK/proxy")
    log_format combined_host '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                             '\$status \$body_bytes_sent "\$http_referer" "\$http_user_agent"';
    access_log $WORK/logs/nginx-proxy-access.log combined_host buffer=64k flush=1s;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            # Enough memory buffers that a 100 KB response never goes
            # through a temp file.
            proxy_buffer_size 16k;
            proxy_buffers 16 16k;
            proxy_busy_buffers_size 32k;
        }
    }
}
CONF

log "starting the origin and the nginx proxy"
start_nginx "$WORK/origin/nginx.conf"; ORIGIN_PID=$STARTED
start_nginx "$WORK/proxy/nginx.conf"; PROXY_PID=$STARTED
wait_http "$ORIGIN_PORT"
wait_http "$PROXY_PORT"

# ------------------------------------------------------- the gateways
NO_LIMITS='rate_per_ip = 0
connections_per_ip = 0
max_in_flight = 0
ban_after_refusals = 0'
GW_OFF_PORT=$(free_port)
GW_ON_PORT=$(free_port)
write_plan "$WORK/gw-off.toml" "$GW_OFF_PORT" "$NO_LIMITS"
write_plan "$WORK/gw-on.toml" "$GW_ON_PORT" "$NO_LIMITS" "$WWW"
"$BIN" guard baseline --root "$WWW" --site portal --data "$WORK/gw-on-data" > "$WORK/logs/baseline.log" 2>&1
log "starting the gateways (integrity off and on)"
start_gateway "$WORK/gw-off.toml" "$WORK/gw-off-data"; GW_OFF_PID=$STARTED
start_gateway "$WORK/gw-on.toml" "$WORK/gw-on-data"; GW_ON_PID=$STARTED
wait_http "$GW_OFF_PORT"
wait_http "$GW_ON_PORT"
grep -q "static files verified" "$WORK/logs/gw-on.log" || { echo "integrity is not on" >&2; exit 1; }
# Integrity on means every response of these pages is the verified copy.
for path in / /page-100k.html; do
    curl -fsS -D - -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$GW_ON_PORT$path" \
        | grep -qi '^x-sitewarden-verified:' || { echo "$path is not verified" >&2; exit 1; }
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------ 1. throughput
if part throughput; then
declare -A PORT_OF=([nginx]=$PROXY_PORT [gateway-off]=$GW_OFF_PORT [gateway-on]=$GW_ON_PORT [origin]=$ORIGIN_PORT)
declare -A PID_OF=([nginx]=$PROXY_PID [gateway-off]=$GW_OFF_PID [gateway-on]=$GW_ON_PID [origin]=$ORIGIN_PID)
declare -A PATH_OF=([small]=/ [100k]=/page-100k.html)
TARGETS=(nginx gateway-off gateway-on origin)

# Busy CPU seconds of the whole machine so far (/proc/stat).
machine_busy() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat
}

# One wrk run: TARGET SIZE NAME SECONDS. The output goes to
# $RESULTS/NAME.wrk; the CPU seconds used meanwhile by the target, by the
# origin (when the target is a proxy), by wrk, and by the whole machine to
# $RESULTS/NAME.cpu ("target origin wrk machine wall").
run_wrk() {
    local target=$1 size=$2 name=$3 seconds=$4 target0 origin0 machine0 target1 origin1 machine1 start
    target0=$(cpu_seconds "${PID_OF[$target]}")
    origin0=$(cpu_seconds "$ORIGIN_PID")
    machine0=$(machine_busy)
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$RESULTS/$name.time" \
        wrk -t2 -c"$WRK_CONNECTIONS" -d"${seconds}s" --latency -H "Host: $HOST" \
        "http://127.0.0.1:${PORT_OF[$target]}${PATH_OF[$size]}" > "$RESULTS/$name.wrk"
    target1=$(cpu_seconds "${PID_OF[$target]}")
    origin1=$(cpu_seconds "$ORIGIN_PID")
    machine1=$(machine_busy)
    python3 - "$target" "$target0" "$target1" "$origin0" "$origin1" "$machine0" "$machine1" \
        "$start" "$(date +%s.%N)" "$RESULTS/$name.time" > "$RESULTS/$name.cpu" <<'PY'
import sys
target, t0, t1, o0, o1, m0, m1, start, end, timing = sys.argv[1:]
wrk = sum(float(x) for x in open(timing).read().split()[-2:])
origin = 0.0 if target == "origin" else float(o1) - float(o0)
print(float(t1) - float(t0), origin, wrk, float(m1) - float(m0), float(end) - float(start))
PY
    # Keep the access logs from filling tmpfs (both are appended to).
    : > "$WORK/logs/nginx-proxy-access.log"
    : > "$WORK/logs/gw-off-access.log"
    : > "$WORK/logs/gw-on-access.log"
}

gateway_status "$WORK/gw-on-data" > "$RESULTS/gw-on-status-before.json"
log "throughput: warm-up"
for size in small 100k; do
    for target in "${TARGETS[@]}"; do
        run_wrk "$target" "$size" "warmup-$target-$size" "$WARMUP_SECONDS"
    done
done
for round in $(seq "$ROUNDS"); do
    # Rotate the order each round so no target always runs first.
    order=("${TARGETS[@]:$(((round - 1) % ${#TARGETS[@]}))}" "${TARGETS[@]:0:$(((round - 1) % ${#TARGETS[@]}))}")
    for size in small 100k; do
        for target in "${order[@]}"; do
            log "throughput: round $round, $size, $target"
            run_wrk "$target" "$size" "wrk-$target-$size-$round" "$WRK_SECONDS"
        done
    done
done
gateway_status "$WORK/gw-on-data" > "$RESULTS/gw-on-status-after.json"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ----------------------------------------------------------- 2. flood
# run_flood NAME PORT [LEGIT_SOURCE]: the flood tool's JSON and the
# origin's request count during it go to $RESULTS/flood-NAME.json.
run_flood() {
    local name=$1 port=$2 legit=${3:-127.0.0.1} before after
    log "flood: $name"
    before=$(origin_requests)
    "$TOOL" flood --target "127.0.0.1:$port" --host "$HOST" --path / \
        --sources 127.0.0.2-127.0.0.200 --connections-per-source 2 \
        --seconds "$FLOOD_SECONDS" --legit-source "$legit" --legit-rate "$LEGIT_RATE" \
        --legit-timeout-ms 2000 --expect "$WORK/approved-index.html" > "$RESULTS/flood-$name.tool.json"
    after=$(origin_requests)
    # The second status request counted itself.
    python3 - "$RESULTS/flood-$name.tool.json" "$((after - before - 1))" "$name" > "$RESULTS/flood-$name.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
result["origin_requests"] = int(sys.argv[2])
result["name"] = sys.argv[3]
print(json.dumps(result))
PY
    : > "$WORK/logs/nginx-proxy-access.log"
}

if part flood; then
DEFENCES='rate_per_ip = 20
burst_per_ip = 40
ban_after_refusals = 50'
run_flood nginx "$PROXY_PORT"
# Each gateway scenario starts afresh (a new data directory: no bans carried over).
for scenario in off on on-allowlisted; do
    port=$(free_port)
    case $scenario in
        off) write_plan "$WORK/flood-$scenario.toml" "$port" "$NO_LIMITS" ;;
        on) write_plan "$WORK/flood-$scenario.toml" "$port" "$DEFENCES" ;;
        on-allowlisted) write_plan "$WORK/flood-$scenario.toml" "$port" "$DEFENCES" "" '["127.0.0.1"]' ;;
    esac
    start_gateway "$WORK/flood-$scenario.toml" "$WORK/flood-$scenario-data"; pid=$STARTED
    wait_http "$port"
    run_flood "gateway-$scenario" "$port"
    gateway_status "$WORK/flood-$scenario-data" > "$RESULTS/flood-gateway-$scenario.status.json"
    stop "$pid"
    rm -f "$WORK/logs/flood-$scenario-access.log"
done
fi

# ----------------------------------------------------- 3. tamper race
race() {
    local name=$1 port=$2
    log "tamper race: $name"
    "$TOOL" race --target "127.0.0.1:$port" --host "$HOST" \
        --page "/=$WWW/index.html" --page "/page-100k.html=$WWW/page-100k.html" \
        --connections "$RACE_CONNECTIONS" --seconds "$RACE_SECONDS" > "$RESULTS/race-$name.json"
}
if part race; then
gateway_status "$WORK/gw-on-data" > "$RESULTS/race-gw-status-before.json"
race gateway "$GW_ON_PORT"
sleep 2 # the gateway records its sightings off the request path
gateway_status "$WORK/gw-on-data" > "$RESULTS/race-gw-status-after.json"
race nginx "$PROXY_PORT"
cmp -s "$WWW/index.html" "$WORK/approved-index.html" || { echo "the race left index.html changed" >&2; exit 1; }
python3 - "$WORK/gw-on-data/store.db" > "$RESULTS/race-store.json" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
count = lambda sql: db.execute(sql).fetchone()[0]
print(json.dumps({
    "signals": count("select count(*) from signals"),
    "evidence": count("select count(*) from evidence"),
    "incidents": count("select count(*) from incidents"),
}))
PY
fi
grep -ciE 'error|panic' "$WORK/logs/gw-on.log" > "$RESULTS/gw-on-log-errors.txt" || true

# ----------------------------------------------------------- the report
cat > "$RESULTS/conditions.json" <<JSON
{
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "cores": $(nproc),
  "cpu": "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)",
  "kernel": "$(uname -r)",
  "engine": "${GATEWAY_ENGINE:-default}",
  "load_before": "$LOAD_BEFORE",
  "load_after": "$LOAD_AFTER",
  "nginx": "$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')",
  "wrk": "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')",
  "sitewarden": "$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- crates || echo ' with uncommitted changes in crates/'), binary built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')",
  "rounds": $ROUNDS,
  "wrk_seconds": $WRK_SECONDS,
  "wrk_connections": $WRK_CONNECTIONS,
  "warmup_seconds": $WARMUP_SECONDS,
  "flood_seconds": $FLOOD_SECONDS,
  "legit_rate": $LEGIT_RATE,
  "race_seconds": $RACE_SECONDS,
  "race_connections": $RACE_CONNECTIONS,
  "small_bytes": $SMALL_BYTES,
  "big_bytes": $BIG_BYTES
}
JSON
mkdir -p "$target_dir"
python3 "$here/report.py" "$RESULTS" "$target_dir/bench-gateway.json" > "$target_dir/bench-gateway.md"
cat "$target_dir/bench-gateway.md"
