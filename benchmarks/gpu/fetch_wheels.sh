#!/usr/bin/env bash
# Fetches into .whl/ (git-ignored) the wheels benchmarks/gpu/run.sh needs on the GPU machine:
# the packages keras_sportsnet needs that its image lacks (Keras and the two of its dependencies
# the image has not got), for the image's Python 3.12 on x86-64. Run from anywhere, on a machine
# that reaches PyPI; then carry ".whl" with the device call (benchmarks/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
# The image has (benchmarks/README.md, device KINDS.md): jax/jaxlib (CUDA), numpy, h5py, ml-dtypes,
# absl-py, rich, packaging, huggingface-hub. It lacks:
WHEELS=(keras==3.15.1 namex==0.1.0 optree==0.20.0)
exclude="$(git rev-parse --git-common-dir)/info/exclude"
grep -qxF "/.whl/" "$exclude" 2>/dev/null || echo "/.whl/" >> "$exclude"
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"
# One version of each (two stop the install on the device).
ls .whl
du -ch .whl/*.whl | tail -1
for wheel in .whl/*.whl; do
    unzip -p "$wheel" '*/METADATA' | grep '^Requires-Dist' | grep -v 'extra ==' | sed "s|^|$(basename "$wheel"): |" || true
done
