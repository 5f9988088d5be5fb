#!/bin/sh
# Instructions (Ir) for one pass of triage_eval's timing corpus; see bench/triage_callgrind.py.
# Usage: bench/triage_callgrind.sh OUT [PYTHON]
out=${1:-/tmp/triage.callgrind}
python=${2:-.venv/bin/python}
PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect=_operator_call --callgrind-out-file="$out" "$python" bench/triage_callgrind.py \
    2>&1 | grep -E "Collected|reports in"
