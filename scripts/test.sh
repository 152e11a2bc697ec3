#!/usr/bin/env bash
# Install everything, start the sandbox servers (Cyrus, Postfix) and run the test suite.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
python3 "$repo/samples/sandbox/sandbox.py" start
cd "$repo"
ruff check .
python3 -m pytest -q "$@"
