#!/usr/bin/env bash
# Build bench/.peers-venv: Python >= 3.12 with energy-forecast (editable, from this checkout) and the
# peers bench/peers.py runs (bench/peers-requirements.txt), all from PyPI.
#   PYTHON=/path/to/python3.12 bench/peers-setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.peers-venv
python=${PYTHON:-}
if [[ -z $python ]]; then
    for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            python=$candidate
            break
        fi
    done
fi
if [[ -z $python ]]; then
    echo "peers-setup: no Python >= 3.12 found (OpenSTEF 4.x needs it); set PYTHON=/path/to/python3.12" >&2
    exit 1
fi
[[ -x $venv/bin/python ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install -e . -r bench/peers-requirements.txt
"$venv/bin/python" -c 'import energy_forecast, openstef_models, mlforecast, skforecast, lightgbm; print("peers venv ready")'
