#!/usr/bin/env bash
# Runs every logwatch fuzz target for a bounded time (default 60 s each).
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On the stable toolchain
# cargo-fuzz's sanitizer flags need RUSTC_BOOTSTRAP=1; set here.
#
#   SECONDS_EACH=300 bench/logwatch/fuzz.sh            # longer runs
#   bench/logwatch/fuzz.sh parse_json detect             # some targets
set -euo pipefail
cd "$(dirname "$0")/../../crates/logwatch/fuzz"
seconds=${SECONDS_EACH:-60}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
    echo "== $target ($seconds s)"
    # -rss_limit_mb bounds memory; -max_len lets lines be long.
    cargo fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10
done
