#!/usr/bin/env bash
# The probe benchmark, in one command: installs nginx (Debian) and
# changedetection.io (PyPI, in a virtualenv under /tmp, never in the repo),
# builds the bench in release, runs it — sitewarden and changedetection.io on
# the same pages served by nginx on 127.0.0.1, every loop bounded in time —
# and rewrites the "## Probe" section of BENCHMARKS.md with the figures.
# Takes about 12–15 minutes on the project's 2-core machine.
#
# Environment (all optional):
#   CD_VENV      where changedetection.io's virtualenv lives (default /tmp/bench-probe-cdio-venv)
#   BENCH_ARGS   extra arguments for sitewarden-bench-probe (see --help),
#                e.g. BENCH_ARGS="--pages 500 --seconds 20" for a quick run
#   NO_CHANGEDETECTION=1   skip changedetection.io entirely
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
venv=${CD_VENV:-/tmp/bench-probe-cdio-venv}

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "installing nginx-light"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nginx-light
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cd_args=()
if [ -z "${NO_CHANGEDETECTION:-}" ]; then
    if [ ! -x "$venv/bin/changedetection.io" ]; then
        echo "installing changedetection.io into $venv"
        if ! python3 -m venv "$venv" 2>/dev/null; then
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends python3-venv
            python3 -m venv "$venv"
        fi
        "$venv/bin/pip" install -q changedetection.io
    fi
    cd_args=(--changedetection "$venv/bin/changedetection.io")
fi

cargo build --release -p sitewarden-bench-probe

# Both cores are the measurement's: say so when something else is busy.
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"

# shellcheck disable=SC2086 # BENCH_ARGS is split on purpose.
timeout 1500 "$repo/target/release/sitewarden-bench-probe" \
    --nginx "$nginx_bin" \
    "${cd_args[@]}" \
    --benchmarks "$repo/BENCHMARKS.md" \
    --json "$repo/target/bench-probe.json" \
    ${BENCH_ARGS:-}
