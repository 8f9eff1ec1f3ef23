#!/usr/bin/env bash
# A/B of gateway builds against nginx, for work on the proxied path: one
# origin (nginx, static files), one nginx reverse proxy to it, and one
# `sitewarden gateway` per binary given (integrity off, limits off, the
# hyper engine unless ENGINE says otherwise), all on 127.0.0.1; then
# ROUNDS rounds of `wrk -t2 -c64` against each, in a rotating order. Each
# run prints its requests/s, p99 and the target's own CPU per request,
# user and system apart (from /proc, all threads / workers); at the end,
# the median of each per target.
#
# bench/gateway/run.sh is the benchmark of record (BENCHMARKS.md); this is
# the quick comparison of two builds in one run, where the machine's noise
# hits both alike. The user-space µs per request is the figure to watch
# for a change to the gateway's own code: the system time (loopback TCP)
# is the same for any proxy.
#
# Usage: bench/gateway/ab.sh [ROUNDS=6] [SECONDS=6] [PAGE=/] BIN...
#   PAGE: / (1 KB) or /page-100k.html
#   e.g.  cp target/release/sitewarden /tmp/before; (change, build)
#         bench/gateway/ab.sh 6 6 / /tmp/before target/release/sitewarden
# Needs nginx, wrk, curl, python3 (bench/gateway/run.sh installs them).
set -euo pipefail
ROUNDS=${1:-6}
SECS=${2:-6}
PAGE=${3:-/}
shift 3 || { echo "usage: $0 ROUNDS SECONDS PAGE BIN..." >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: $0 ROUNDS SECONDS PAGE BIN..." >&2; exit 2; }
BINS=()
for bin in "$@"; do BINS+=("$(readlink -f "$bin")"); done
HOST=portal.example.gov.test
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
WORK=$(mktemp -d "${BENCH_TMP:-/dev/shm}/gateway-ab.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mkdir -p "$WORK/www" "$WORK/origin" "$WORK/proxy" "$WORK/logs"
python3 - "$WORK/www" <<'PY'
import sys
def page(n):
    text = b'<html><body>' + b'x' * (n - 26) + b'</body></html>'
    assert len(text) == n
    return text
open(sys.argv[1] + '/index.html', 'wb').write(page(1024))
open(sys.argv[1] + '/page-100k.html', 'wb').write(page(102400))
PY
ORIGIN_PORT=$(free_port)
PROXY_PORT=$(free_port)
temp_paths() {
    echo "client_body_temp_path $1/cb; proxy_temp_path $1/pt; fastcgi_temp_path $1/f;"
    echo "uwsgi_temp_path $1/u; scgi_temp_path $1/s;"
}
cat > "$WORK/origin/nginx.conf" <<CONF
worker_processes 2; pid $WORK/origin/pid; error_log $WORK/origin/error.log warn;
events { worker_connections 8192; }
http {
    $(temp_paths "$WORK/origin")
    access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
    types { text/html html; }
    server { listen 127.0.0.1:$ORIGIN_PORT; root $WORK/www; index index.html; }
}
CONF
# The same reverse proxy as bench/gateway/run.sh's.
cat > "$WORK/proxy/nginx.conf" <<CONF
worker_processes 2; pid $WORK/proxy/pid; error_log $WORK/proxy/error.log warn;
events { worker_connections 8192; }
http {
    $(temp_paths "$WORK/proxy")
    log_format combined_host '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                             '\$status \$body_bytes_sent "\$http_referer" "\$http_user_agent"';
    access_log $WORK/logs/nginx.log combined_host buffer=64k flush=1s;
    keepalive_requests 1000000;
    upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 128; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / {
            proxy_pass http://origin; proxy_http_version 1.1;
            proxy_set_header Connection ""; proxy_set_header Host \$host;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_buffer_size 16k; proxy_buffers 16 16k; proxy_busy_buffers_size 32k;
        }
    }
}
CONF
for side in origin proxy; do
    "$nginx_bin" -p "$WORK/$side/" -e "$WORK/$side/error.log" -c "$WORK/$side/nginx.conf" \
        -g 'daemon off;' > "$WORK/$side/stdout.log" 2>&1 &
    PIDS+=($!)
done
NAMES=(nginx)
PORTS=("$PROXY_PORT")
TARGETS=("${PIDS[1]}")
for i in "${!BINS[@]}"; do
    port=$(free_port)
    cat > "$WORK/g$i.toml" <<PLAN
[organisation]
name = "gateway a/b"

[gateway]
listen = ["127.0.0.1:$port"]
threads = 2
access_log = "$WORK/logs/g$i.log"
engine = "${ENGINE:-hyper}"

[gateway.limits]
rate_per_ip = 0
connections_per_ip = 0
max_in_flight = 0
ban_after_refusals = 0

[[sites]]
name = "portal"
origins = ["http://127.0.0.1:$ORIGIN_PORT"]
pages = [{ url = "http://$HOST/" }]
PLAN
    "${BINS[$i]}" gateway --plan "$WORK/g$i.toml" --data "$WORK/d$i" > "$WORK/g$i.out" 2>&1 &
    PIDS+=($!)
    NAMES+=("$(basename "${BINS[$i]}")#$i")
    PORTS+=("$port")
    TARGETS+=($!)
done
for port in "${PORTS[@]}"; do
    deadline=$((SECONDS + 30))
    until curl -fsS -o /dev/null -m 2 -H "Host: $HOST" "http://127.0.0.1:$port$PAGE"; do
        [ $SECONDS -lt $deadline ] || { echo "nothing answers on $port" >&2; exit 1; }
        sleep 0.2
    done
done

# User and system clock ticks of PID and its children (nginx's workers).
ticks() {
    local user=0 sys=0 pid u s
    for pid in $1 $(cat /proc/"$1"/task/*/children 2>/dev/null || true); do
        read -r u s < <(awk '{print $14, $15}' /proc/"$pid"/stat 2>/dev/null || echo 0 0)
        user=$((user + u))
        sys=$((sys + s))
    done
    echo "$user $sys"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))
for port in "${PORTS[@]}"; do # warm-up
    wrk -t2 -c64 -d3s -H "Host: $HOST" "http://127.0.0.1:$port$PAGE" > /dev/null
done
RESULTS=$WORK/results
: > "$RESULTS"
n=${#PORTS[@]}
for round in $(seq 1 "$ROUNDS"); do
    for j in $(seq 0 $((n - 1))); do
        k=$(((j + round) % n))
        read -r u0 s0 < <(ticks "${TARGETS[$k]}")
        out=$(wrk -t2 -c64 -d"${SECS}"s --latency -H "Host: $HOST" "http://127.0.0.1:${PORTS[$k]}$PAGE")
        read -r u1 s1 < <(ticks "${TARGETS[$k]}")
        python3 - "$round" "${NAMES[$k]}" "$((u1 - u0))" "$((s1 - s0))" "$tick_us" "$out" <<'PY' | tee -a "$RESULTS"
import re, sys
round_, name, user, system, tick_us, out = sys.argv[1:]
total = int(re.search(r'(\d+) requests in', out).group(1))
rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
value, unit = re.search(r'\s99%\s+([\d.]+)(us|ms|s)\b', out).groups()
p99 = float(value) * {'us': 0.001, 'ms': 1, 's': 1000}[unit]
per = lambda ticks: int(ticks) * int(tick_us) / max(total, 1)
print(f"{round_}\t{name}\t{rps:.0f}\t{p99:.2f}\t{per(user):.2f}\t{per(system):.2f}")
PY
    done
done
echo
python3 - "$RESULTS" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, name, *figures = line.split('\t')
    runs[name].append([float(f) for f in figures])
print(f"{'target':24} {'req/s':>8} {'p99 ms':>7} {'user us/req':>12} {'sys us/req':>11}  (medians)")
for name, rows in runs.items():
    med = [statistics.median(col) for col in zip(*rows)]
    print(f"{name:24} {med[0]:8.0f} {med[1]:7.2f} {med[2]:12.2f} {med[3]:11.2f}  n={len(rows)}")
PY
