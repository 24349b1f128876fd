#!/usr/bin/env bash
# The GPU check of `xling run --provider cuda`, in two halves:
#   scripts/gpu-check.sh prepare   here: build xling and pack it, the ONNX Runtime library, XQuAD-R and
#                                  this script into .devcheck/ (ignored; about 42 MiB)
#   bash .devcheck/gpu-check.sh     on the GPU machine, with OUT naming a folder for the log
# The GPU machine needs nothing installed: it trains a throwaway model from the packed data, then runs
# the evaluation with --provider tensorrt, cuda and cpu and logs which provider ran.
set -euo pipefail

if [ "${1:-}" = prepare ]; then
  cd "$(dirname "$0")/.."
  data=${XLING_DATA:-../shared/data}
  rm -rf .devcheck && mkdir -p .devcheck/data/xquad-r
  cp "$data"/DATA.md .devcheck/data/
  cp "$data"/xquad-r/* .devcheck/data/xquad-r/
  go build -o .devcheck/xling ./cmd/xling && xz -T2 .devcheck/xling
  xz -T2 -c "${ONNXRUNTIME_LIB:-.cache/onnxruntime-1.30.0/libonnxruntime.so.1}" > .devcheck/libonnxruntime.so.1.xz
  cp "$0" .devcheck/gpu-check.sh
  du -sh .devcheck
  exit 0
fi

# The checks below report what they find; none of them should end the script.
set +e +o pipefail
cd "$(dirname "$0")"
xz -dc xling.xz > /tmp/xling && chmod +x /tmp/xling
xz -dc libonnxruntime.so.1.xz > /tmp/libonnxruntime.so.1
{
  echo "== machine"; nvidia-smi -L; nproc; ldd --version 2>&1 | sed -n 1p
  echo "== CUDA libraries the dynamic loader sees"
  ldconfig -p | grep -E "libcudart|libcublas\.|libcudnn\.so" || true
  echo "== ONNX Runtime CUDA provider libraries beside the runtime"
  ls /tmp/libonnxruntime_providers_*.so 2>&1 || true
  echo "== a throwaway model (20 batches of XQuAD-R pairs), so encode has something to run"
  /tmp/xling train --data data --qa xquad-r --holdout-langs "" --max-batches 20 --out /tmp/m.onnx 2>&1 | tail -1
  for p in tensorrt cuda cpu; do
    echo "== xling run --provider $p"
    /usr/bin/time -f "wall %e s, max RSS %M KiB" /tmp/xling run --data data --datasets xquad-r --model /tmp/m.onnx \
      --ort /tmp/libonnxruntime.so.1 --provider $p --out /tmp/out-$p 2>&1 | grep -Ev "progress|ingested"
  done
} 2>&1 | tee "${OUT:-.}/gpu-check.log"
