#!/usr/bin/env bash
# Create .venv with Python 3.11+ and install the project (editable) with its dev extras.
# Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
#
#   scripts/bootstrap.sh            install runtime + dev dependencies
#   EF_EXTRAS=cuda scripts/bootstrap.sh   also install the CUDA build of XGBoost
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EF_VENV:-$REPO/.venv}"
EXTRAS="dev${EF_EXTRAS:+,$EF_EXTRAS}"

log() { printf 'bootstrap.sh: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

find_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

PYTHON="$(find_python)" || { log "error: Python 3.11 or newer is required"; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $PYTHON"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian/Ubuntu ship venv separately.
        log "installing python3-venv (apt-get)"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
fi

stamp="$VENV/.energy-forecast-installed"
want="$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1) $EXTRAS"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing energy-forecast[$EXTRAS] into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO[$EXTRAS]"
    echo "$want" >"$stamp"
fi
