#!/usr/bin/env bash
# Guard benchmark (issue 3): baseline of a generated 100,000-file web root
# with `sitewarden guard baseline` against `aide --init` (one strong hash,
# SHA-256) and `sha256sum` over the same tree, in the same run; then
# tamper → restored latency over TAMPERS events and the watcher's peak RSS.
#
# Each tool runs ROUNDS times, interleaved (guard, sha256sum, AIDE, guard…),
# each time into a fresh database / data directory and right after the
# tree has been read once, so every run starts with the page cache warm:
# this virtual machine's kernel evicts cold page cache on its own (kdamond),
# and the first reader of an evicted tree pays for the disk reads. The
# figures are the median run; every run is listed.
#
# Usage: bench/guard/run.sh [FILES] [TAMPERS] [ROUNDS]   (defaults 100000, 1000, 3)
# Needs: a release build (cargo build --release), python3, aide (apt-get install aide).
# Prints a Markdown section for BENCHMARKS.md (## Guard) on stdout.
set -euo pipefail
FILES=${1:-100000}
TAMPERS=${2:-1000}
ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${SITEWARDEN:-$HERE/../../target/release/sitewarden}
WORK=$(mktemp -d /tmp/guard-bench.XXXXXX)
WATCH_PID=
trap '[ -n "$WATCH_PID" ] && kill $WATCH_PID 2>/dev/null; rm -rf "$WORK"' EXIT
ROOT=$WORK/www
DATA=$WORK/data

python3 "$HERE/gen_tree.py" "$ROOT" "$FILES"
BYTES=$(du -sb "$ROOT" | cut -f1)
sync
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Wall seconds, peak RSS (KiB) and CPU seconds (user + system) of one command.
measure() { /usr/bin/time -f '%e %M %U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}'; }
warm() { find "$ROOT" -type f -print0 | xargs -0 cat > /dev/null; }

cat > "$WORK/aide.conf" <<CONF
database_out=file:$WORK/aide.db.new
database_in=file:$WORK/aide.db
gzip_dbout=no
Strong = p+u+g+s+n+sha256
$ROOT Strong
CONF

GUARD_RUNS=(); SHA_RUNS=(); AIDE_RUNS=(); GUARD_CPU=(); SHA_CPU=(); AIDE_CPU=()
GUARD_KB=0; SHA_KB=0; AIDE_KB=n/a
for round in $(seq "$ROUNDS"); do
  rm -rf "$DATA"; sync; warm
  read -r seconds kb cpu < <(measure "$BIN" guard baseline --data "$DATA" --root "$ROOT" --site bench)
  GUARD_RUNS+=("$seconds"); GUARD_CPU+=("$cpu"); GUARD_KB=$kb
  warm
  read -r seconds kb cpu < <(measure bash -c "find '$ROOT' -type f -print0 | xargs -0 sha256sum")
  SHA_RUNS+=("$seconds"); SHA_CPU+=("$cpu"); SHA_KB=$kb
  if command -v aide >/dev/null; then
    rm -f "$WORK/aide.db.new"; warm
    read -r seconds kb cpu < <(measure aide --init --config "$WORK/aide.conf")
    AIDE_RUNS+=("$seconds"); AIDE_CPU+=("$cpu"); AIDE_KB=$kb
  fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
median() { [ $# -eq 0 ] && { echo n/a; return; }; printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
GUARD_S=$(median "${GUARD_RUNS[@]}")
SHA_S=$(median "${SHA_RUNS[@]}")
AIDE_S=$(median "${AIDE_RUNS[@]+"${AIDE_RUNS[@]}"}")
VAULT_BYTES=$(du -sb "$DATA/guard/vault" | cut -f1)

# Tamper → restored latency with a running watcher (on the last baseline).
warm
"$BIN" guard watch --data "$DATA" --root "$ROOT" > "$WORK/watch.log" 2>&1 &
WATCH_PID=$!
python3 - "$WORK/watch.log" <<'PY'
import sys, time
deadline = time.time() + 300
while time.time() < deadline:
    if "guarding" in open(sys.argv[1]).read():
        sys.exit(0)
    time.sleep(0.05)
sys.exit("watcher not ready")
PY
LATENCY=$(python3 "$HERE/tamper.py" "$ROOT" "$TAMPERS")
RSS_KB=$(awk '/VmHWM/ {print $2}' /proc/$WATCH_PID/status)
kill -INT $WATCH_PID; wait $WATCH_PID || true; WATCH_PID=

ratio() { python3 -c "a,b='$1','$2'; print('n/a' if 'n/a' in (a,b) else f'{float(a)/max(float(b),0.001):.1f}x')"; }
cat <<MD
## Guard

Run on $(date -u '+%Y-%m-%d at %H:%M UTC'), $(nproc) cores, $(uname -r); load average
$LOAD_BEFORE before the runs and $LOAD_AFTER after them (other work shares the machine);
a generated web root of $FILES files ($((BYTES / 1024 / 1024)) MiB) in a tree of nested
directories, page cache warm before every run. Script: \`bench/guard/run.sh $FILES $TAMPERS $ROUNDS\`.

| baseline of the tree | wall time (median of $ROUNDS) | every run (wall) | CPU user+sys, every run | peak RSS |
| --- | --- | --- | --- | --- |
| \`sitewarden guard baseline\` (BLAKE3, vault copy, manifest, all durable) | ${GUARD_S} s | ${GUARD_RUNS[*]} | ${GUARD_CPU[*]} | $((GUARD_KB / 1024)) MiB |
| \`aide --init\` (SHA-256 only) | ${AIDE_S} s | ${AIDE_RUNS[*]+${AIDE_RUNS[*]}} | ${AIDE_CPU[*]+${AIDE_CPU[*]}} | ${AIDE_KB} KiB |
| \`sha256sum\` over every file | ${SHA_S} s | ${SHA_RUNS[*]} | ${SHA_CPU[*]} | ${SHA_KB} KiB |

guard vs AIDE: $(ratio "$AIDE_S" "$GUARD_S") faster; guard vs sha256sum: $(ratio "$SHA_S" "$GUARD_S") faster.
The vault after the last baseline: $((VAULT_BYTES / 1024 / 1024)) MiB.

Tamper → restored (a page overwritten, polled until its approved bytes are
back), $TAMPERS events on the same root with \`guard watch\` running:
$LATENCY

Peak RSS of \`guard watch\` on that root: $((RSS_KB / 1024)) MiB.
MD
