#!/usr/bin/env bash
# Set up and play the demo: the film loop with a trumpet and a bass drawn over it.
# Extra arguments go to `stage demo` (e.g. --windowed, --hud).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/stage demo "$@"
