#!/usr/bin/env bash
# `faultline lab test --all` on a throwaway data directory: every bundled lab is provisioned, its start
# state checked, each solution run and every objective required to pass (docs/lab-format.md).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(mktemp -d /tmp/faultline-labtest-XXXXXX)"
# sandboxes run as unprivileged ids: they must be able to traverse the data directory
chmod 711 "$dir"
trap 'rm -rf "$dir"' EXIT
node bin/faultline.js --data-dir "$dir" lab test --all "$@"
