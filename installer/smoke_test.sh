#!/usr/bin/env bash
# Smoke test of the frozen app on Linux: build it with installer/ledgerbridge.spec (the same spec as the
# Windows build) into a temporary folder, then run the bundle itself, from outside the checkout:
#   1. `LedgerBridge --version` prints exactly "LedgerBridge <main.__version__>";
#   2. the bundle holds the data files (icons, demo schema, the sandbox's halo_schemas.json) and none of
#      tests/, bench/ or installer/;
#   3. `LedgerBridge sync --demo --json` syncs the demo company into the bundled local Halo sandbox: exit 0,
#      records created, none failed; a second run creates nothing (never twice);
#   4. `LedgerBridge --demo` (the desktop app, QT_QPA_PLATFORM=offscreen) starts and keeps running for 15 s
#      without a traceback, then the test stops it.
# Usage: installer/smoke_test.sh        (LEDGERBRIDGE_SMOKE_KEEP=1 keeps the temporary folder)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ledgerbridge-smoke.XXXXXX")"
cleanup() {
  if [ -n "${LEDGERBRIDGE_SMOKE_KEEP:-}" ]; then echo "Kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }
started=$(date +%s)

echo "== Building the frozen app in $work"
"$python" "$root/installer/build.py" --dist "$work/dist" --work "$work/build" --no-installer
bundle="$work/dist/LedgerBridge"
exe="$bundle/LedgerBridge"
[ -x "$exe" ] || fail "no executable at $exe"
built=$(date +%s)

# Run from an empty folder with a clean environment, so nothing can come from the checkout.
mkdir -p "$work/run"
cd "$work/run"
unset PYTHONPATH PYTHONHOME
export LEDGERBRIDGE_HOME="$work/home" QT_QPA_PLATFORM=offscreen

echo "== --version"
expected="LedgerBridge $(cd "$root" && "$python" -c 'from installer.version_info import app_version; print(app_version())')"
for program in "$exe" "$bundle/LedgerBridgeConsole"; do
  actual="$("$program" --version)"
  [ "$actual" = "$expected" ] || fail "$(basename "$program") --version printed '$actual', expected '$expected'"
  echo "ok: $(basename "$program") --version -> $actual"
done

echo "== Bundle contents"
"$python" - "$bundle" "$exe" "$root" <<'PY'
import sys
from pathlib import Path

from PyInstaller.archive.readers import CArchiveReader

bundle, exe = Path(sys.argv[1]), sys.argv[2]
internal = bundle / "_internal"
for required in ("resources/icons/app.svg", "resources/demo/sage50uk_schema.sql", "halo/sandbox/halo_schemas.json"):
    if not (internal / required).is_file():
        sys.exit(f"missing from the bundle: {required}")
package = CArchiveReader(exe)
pyz = package.open_embedded_archive(next(name for name in package.toc if name.endswith(".pyz")))
modules = set(pyz.toc)
leaked = sorted(name for name in modules if name.split(".")[0] in {"tests", "bench", "installer", "pytest"})
if leaked:
    sys.exit(f"test/bench/build modules were bundled: {leaked[:10]}")
for needed in ("main", "sync.cli", "gui.autostart", "gui.win_mutex", "keyring.backends.Windows"):
    if needed not in modules and needed not in package.toc:
        sys.exit(f"module not bundled: {needed}")
# Every module of our packages is in, including those only imported lazily (connectors, sandbox CLI).
sys.path.insert(0, sys.argv[3])
from installer.bundle import APP_PACKAGES, excluded_from_package  # noqa: E402

root = Path(sys.argv[3])
ours = set()
for package in APP_PACKAGES:
    for source in (root / package).rglob("*.py"):
        parts = source.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not excluded_from_package(name):
            ours.add(name)
missing = sorted(ours - modules)
if missing:
    sys.exit(f"modules of the app missing from the bundle: {missing}")
size = sum(path.stat().st_size for path in bundle.rglob("*") if path.is_file() and not path.is_symlink())
print(f"ok: data files present, all {len(ours)} app modules and {len(modules)} in all, no tests/bench; "
      f"bundle {size / 1e6:.1f} MB")
PY

echo "== sync --demo (first run: creates the demo records in the bundled sandbox)"
set +e
"$exe" sync --demo --json > "$work/first.json" 2> "$work/first.err"
first_rc=$?
"$exe" sync --demo --json > "$work/second.json" 2> "$work/second.err"
second_rc=$?
set -e
for run in first second; do
  echo "-- $run run, stderr (last lines):"; tail -n 5 "$work/$run.err" || true
  echo "-- $run run, stdout:"; cat "$work/$run.json"; echo
done
"$python" - "$work/first.json" "$first_rc" "$work/second.json" "$second_rc" <<'PY'
import json
import sys

first_path, first_rc, second_path, second_rc = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def load(path: str, rc: int, label: str) -> dict:
    if rc != 0:
        sys.exit(f"{label} `sync --demo` exited {rc} (expected 0); its output is above")
    try:
        return json.loads(open(path, encoding="utf-8").read())
    except ValueError as error:
        sys.exit(f"{label} `sync --demo --json` did not print one JSON document: {error}")


def total(summary: dict, outcome: str) -> int:
    return sum(counts.get(outcome, 0) for counts in summary["counts"].values())


first = load(first_path, first_rc, "first")
second = load(second_path, second_rc, "second")
if total(first, "created") == 0:
    sys.exit("the first demo sync created nothing in the sandbox")
for label, summary in (("first", first), ("second", second)):
    if total(summary, "failed"):
        sys.exit(f"the {label} demo sync had failed records: {summary['counts']}")
if total(second, "created"):
    sys.exit(f"the second demo sync created records again (duplicates): {second['counts']}")
# What the sandbox holds after each run (sync --demo reports it): the same after the second run, no duplicate.
if "sandbox" in first and first["sandbox"] != second.get("sandbox"):
    sys.exit(f"the sandbox changed on the second run: {first['sandbox']} -> {second.get('sandbox')}")
created = {entity: counts.get("created", 0) for entity, counts in first["counts"].items()}
print(f"ok: first run created {created}; second run created 0, unchanged {total(second, 'unchanged')}")
PY

echo "== The desktop app (--demo, offscreen) starts from the bundle and keeps running"
# Proves the Qt plugins we kept are enough (platform, SVG icons) and the app's lazy imports are bundled.
"$exe" --demo > "$work/gui.out" 2> "$work/gui.err" &
gui_pid=$!
for _ in $(seq 1 30); do
  sleep 0.5
  kill -0 "$gui_pid" 2>/dev/null || break
done
if kill -0 "$gui_pid" 2>/dev/null; then
  kill "$gui_pid"
  wait "$gui_pid" 2>/dev/null || true
else
  wait "$gui_pid" && gui_rc=0 || gui_rc=$?
  tail -n 20 "$work/gui.err" >&2
  fail "the app exited by itself within 15 s (exit code $gui_rc); its messages are above"
fi
if grep -E -q "Traceback|Could not load the Qt platform plugin|Failed to execute script" "$work/gui.err"; then
  tail -n 30 "$work/gui.err" >&2
  fail "the app reported an error while starting; see above"
fi
# The app routes unhandled exceptions to its log (and a dialog), not to stderr: read the logs too.
if grep -r -n -E " (ERROR|CRITICAL) " "$LEDGERBRIDGE_HOME" --include='*.log*' > "$work/log-errors.txt"; then
  head -n 20 "$work/log-errors.txt" >&2
  fail "errors were logged while the bundle ran (above; full logs under $LEDGERBRIDGE_HOME, kept with LEDGERBRIDGE_SMOKE_KEEP=1)"
fi
echo "ok: the app ran for 15 s without an error (stopped by the test)"

finished=$(date +%s)
echo "== Smoke test passed: build $((built - started)) s, checks $((finished - built)) s, total $((finished - started)) s"
