#!/usr/bin/env bash
# Install everything and run the service on its embedded default (DuckDB + private Redis under
# EF_HOME, default ./var). Extra arguments go to `energy-forecast serve` (e.g. --port 8080).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/bootstrap.sh"
cd "$REPO"
exec "$REPO/.venv/bin/energy-forecast" serve "$@"
