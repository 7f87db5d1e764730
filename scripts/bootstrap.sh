#!/usr/bin/env bash
# Set up a fresh machine: system programs the tool needs, then the virtual environment.
#   scripts/bootstrap.sh run    graphviz + .venv with the transformers extra
#   scripts/bootstrap.sh test   graphviz + chromium (browser tests) + .venv with the test and
#                               explorer extras (the Model Explorer test)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
case "$mode" in
  run) programs=(dot); packages=(graphviz); extra="transformers" ;;
  test) programs=(dot chromium); packages=(graphviz chromium); extra="test,explorer" ;;
  *) echo "usage: scripts/bootstrap.sh run|test" >&2; exit 2 ;;
esac
missing=()
for i in "${!programs[@]}"; do
  command -v "${programs[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]} with apt-get …" >&2
    apt-get update -qq >/dev/null || { echo "error: apt-get update failed" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { echo "error: apt-get install ${missing[*]} failed" >&2; exit 1; }
  else
    echo "warning: please install ${missing[*]} (Debian packages); continuing without" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# pip's own failure must stop the script: its output goes to a log that is shown (less
# the noise about local index folders that do not exist) and its exit status is kept.
log="$(mktemp)"
if ! .venv/bin/pip install -q --disable-pip-version-check -e ".[$extra]" >"$log" 2>&1; then
  grep -v "is ignored" "$log" >&2 || true
  rm -f "$log"
  echo "error: pip could not install analyzer with its [$extra] extra (see above)" >&2
  exit 1
fi
grep -v "is ignored" "$log" >&2 || true
rm -f "$log"
test -x .venv/bin/analyzer || { echo "error: .venv/bin/analyzer was not installed" >&2; exit 1; }
