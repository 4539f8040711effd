#!/usr/bin/env bash
# Install everything, start throw-away Redis and InfluxDB on 127.0.0.1, run the linters, build the
# documentation site (strict: a broken link or a missing page fails), run the whole test suite (unit
# + integration, the tutorials' commands included), and stop the servers again, whatever happens.
# Extra arguments go to pytest (e.g. scripts/test.sh -k influx -x).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

"$REPO/scripts/bootstrap.sh"
export PATH="$REPO/.venv/bin:$PATH"
# Byte-compile the sources once: with PYTHONDONTWRITEBYTECODE set (as on CI) every process the tests
# start (serve, workers, each CLI command of the tutorials) would otherwise compile them again.
python -m compileall -q -j 0 src tests >/dev/null

trap '"$REPO/scripts/servers.sh" stop || true' EXIT
"$REPO/scripts/servers.sh" start
# shellcheck disable=SC1091
source "${EF_SERVERS_DIR:-$REPO/.ci-servers}/env"
export EF_TEST_SERVERS_SCRIPT="$REPO/scripts/servers.sh"

echo "== ruff"
ruff check src tests bench docs/hooks
echo "== import contracts"
lint-imports --no-cache
echo "== docs"
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$REPO/site"
echo "== pytest"
pytest "$@"
