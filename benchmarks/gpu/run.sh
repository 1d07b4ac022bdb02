#!/usr/bin/env bash
# The GPU benchmark of keras_sportsnet, as run on the lent GPU machine (see benchmarks/README.md).
#
#   bash benchmarks/gpu/run.sh            # the full run: about 8 minutes, tables in $OUT
#   bash benchmarks/gpu/run.sh --quick    # tiny models: checks the script, on the CPU too
#
# On the GPU machine: the image has JAX (CUDA) but no Keras; the wheels that
# benchmarks/gpu/fetch_wheels.sh put in .whl/ (carried with the call) are installed
# into /tmp/site first. Where Keras is installed, the current environment is used as is.
# Everything it writes goes to $OUT (default ./bench_gpu_out): tables.md,
# results.json, log.txt, environment.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/bench_gpu_out}"
mkdir -p "$OUT"
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Only where Keras is missing (the GPU image): elsewhere the carried cp312 wheels may not even install.
if ! "$PYTHON" -c "import keras" 2> /dev/null && compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { echo "installing .whl/ failed" >&2; exit 1; }
    export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH#$PWD}"
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
{
    date -u
    nvidia-smi 2>&1 || echo "(no nvidia-smi)"
    "$PYTHON" -c "import sys, jax, keras; print(sys.version); print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__, keras.__file__)" 2>&1
} > "$OUT/environment.txt"
cat "$OUT/environment.txt" >&2
# The script keeps its own time box (--budget, default 450 s); the outer timeout is the last resort.
timeout -k 10 "${BENCH_TIMEOUT:-540}" "$PYTHON" benchmarks/gpu/bench_gpu.py --out "$OUT" "$@" 2>&1 | tee "$OUT/log.txt"
exit "${PIPESTATUS[0]}"
