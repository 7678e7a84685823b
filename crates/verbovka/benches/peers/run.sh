#!/usr/bin/env bash
# verbovka vs ONNX Runtime vs PyTorch on the shipped model. Usage, from the repository root:
#   bash crates/verbovka/benches/peers/run.sh [MODEL_DIR] [N_POSTS] [REPS] [harness options...]
#   (defaults: crates/verbovka/models/default/seed-7 (one ensemble member) 4000 5; e.g. `--server-alt /path/to/other/dump_logits` times a
#   second verbovka build, from a modified src/, alongside in the same run)
# Env: VERBOVKA_PEERS_VENV (default /tmp/verbovka-peers), VERBOVKA_PEERS_TORCH=1 to time PyTorch
# too (installed from the ordinary PyPI index, a large wheel; off by default).
# Writes only under $VERBOVKA_PEERS_WORK (default /tmp/verbovka-peers-work): the corpus posts
# (from ../shared/corpora) never enter the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../../.." && pwd)"
cd "$root"
model="${1:-crates/verbovka/models/default/seed-7}"
n="${2:-4000}"
reps="${3:-5}"
venv="${VERBOVKA_PEERS_VENV:-/tmp/verbovka-peers}"
work="${VERBOVKA_PEERS_WORK:-/tmp/verbovka-peers-work}"
mkdir -p "$work"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r crates/verbovka/benches/peers/requirements.txt
torch_flag="--no-torch"
if [ "${VERBOVKA_PEERS_TORCH:-0}" = 1 ]; then
  "$venv/bin/python" -c "import torch" 2>/dev/null || "$venv/bin/pip" install -q torch
  torch_flag=""
fi
cargo build --release -p verbovka-lab --bin dump_logits
# Any x86-64 with AVX2+FMA: the AVX-512 kernel carries its own target attribute.
cc -O2 -mavx2 -mfma -pthread crates/verbovka/benches/peers/fma_peak.c -o "$work/fma_peak"
./target/release/dump_logits dump "$model" "$n" "$work/posts.jsonl"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%FT%TZ)"
"$venv/bin/python" crates/verbovka/benches/peers/harness.py --model "$model" --posts "$work/posts.jsonl" \
  --server ./target/release/dump_logits --fma "$work/fma_peak" --reps "$reps" \
  --json-out "$work/results.json" $torch_flag "${@:4}"
