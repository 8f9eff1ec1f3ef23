#!/usr/bin/env bash
# Guard benchmark (issue 3): baseline of a generated 100,000-file web root
# with `sitewarden guard baseline` against `aide --init` (one strong hash,
# SHA-256) and `sha256sum` over the same tree, in the same run; then
# tamper → restored latency over TAMPERS events and the watcher's peak RSS.
#
# Usage: bench/guard/run.sh [FILES] [TAMPERS]   (defaults 100000 and 1000)
# Needs: a release build (cargo build --release), python3, aide (apt-get install aide).
# Prints a Markdown section for BENCHMARKS.md (## Guard) on stdout.
set -euo pipefail
FILES=${1:-100000}
TAMPERS=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${SITEWARDEN:-$HERE/../../target/release/sitewarden}
WORK=$(mktemp -d /tmp/guard-bench.XXXXXX)
trap 'kill $WATCH_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
ROOT=$WORK/www
DATA=$WORK/data

python3 "$HERE/gen_tree.py" "$ROOT" "$FILES"
BYTES=$(du -sb "$ROOT" | cut -f1)
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true

seconds() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }

# Warm the page cache once so every tool reads from memory alike.
find "$ROOT" -type f -print0 | xargs -0 cat > /dev/null

read -r GUARD_S GUARD_KB < <(seconds "$BIN" guard baseline --data "$DATA" --root "$ROOT" --site bench)
read -r SHA_S SHA_KB < <(seconds bash -c "find '$ROOT' -type f -print0 | xargs -0 sha256sum")
AIDE_S=n/a; AIDE_KB=n/a
if command -v aide >/dev/null; then
  cat > "$WORK/aide.conf" <<CONF
database_out=file:$WORK/aide.db.new
database_in=file:$WORK/aide.db
gzip_dbout=no
Strong = p+u+g+s+n+sha256
$ROOT Strong
CONF
  read -r AIDE_S AIDE_KB < <(seconds aide --init --config "$WORK/aide.conf")
fi

# Tamper → restored latency with a running watcher.
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
kill -INT $WATCH_PID; wait $WATCH_PID || true

ratio() { python3 -c "a,b='$1','$2'; print('n/a' if 'n/a' in (a,b) else f'{float(a)/max(float(b),0.001):.1f}x')"; }
cat <<MD
## Guard

Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r); a generated web root of
$FILES files ($((BYTES / 1024 / 1024)) MiB) in a tree of nested directories, page cache warm.
Script: \`bench/guard/run.sh $FILES $TAMPERS\`.

| baseline of the tree | wall time | peak RSS |
| --- | --- | --- |
| \`sitewarden guard baseline\` (BLAKE3, vault copy, manifest) | ${GUARD_S} s | $((GUARD_KB / 1024)) MiB |
| \`aide --init\` (SHA-256 only) | ${AIDE_S} s | ${AIDE_KB} KiB |
| \`sha256sum\` over every file | ${SHA_S} s | ${SHA_KB} KiB |

guard vs AIDE: $(ratio "$AIDE_S" "$GUARD_S") faster; guard vs sha256sum: $(ratio "$SHA_S" "$GUARD_S") faster.

Tamper → restored (a page overwritten, polled until its approved bytes are
back), $TAMPERS events on the same root with \`guard watch\` running:
$LATENCY

Peak RSS of \`guard watch\` on that root: $((RSS_KB / 1024)) MiB.
MD
