#!/usr/bin/env bash
# Set up a fresh machine: system programs the tool needs, then the virtual environment.
#   scripts/bootstrap.sh run    graphviz + .venv with the transformers extra
#   scripts/bootstrap.sh test   graphviz + chromium (browser tests) + .venv with the test extra
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
case "$mode" in
  run) programs=(dot); packages=(graphviz); extra="transformers" ;;
  test) programs=(dot chromium); packages=(graphviz chromium); extra="test" ;;
  *) echo "usage: scripts/bootstrap.sh run|test" >&2; exit 2 ;;
esac
missing=()
for i in "${!programs[@]}"; do
  command -v "${programs[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]} with apt-get …" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: please install ${missing[*]} (Debian packages); continuing without" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[$extra]" 2>&1 | grep -v "is ignored" || true
test -x .venv/bin/analyzer
