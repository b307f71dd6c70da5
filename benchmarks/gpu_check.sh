#!/usr/bin/env bash
# GPU check of BTS-EE at paper scale, reduced to fit 8 minutes on one H100/H200:
#   bash benchmarks/gpu_check.sh            (from the repository root, eexit installed in .venv)
# 1. the plan of the full sweep=bts64 on CINIC-10 (official sizes, all four placement rules);
# 2. four bts64 jobs (the four placement rules) on CINIC-sized synthetic data (90,000 images per split,
#    32x32, 10 classes), backbone budget 1 epoch, heads 2 epochs per stage: the real code paths at the
#    real sizes (feature extraction, the store, feature_cache=auto's choice, boosted and non-boosted heads);
# 3. per job: seconds per phase, peak host and GPU memory, the plan's prediction beside them (plan_check);
# 4. real-skip latency on the device (benchmarks/latency.py: batch 1 and 64 on the CPU, 1024 on the GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-${TMPDIR:-/tmp}/eexit-gpu-check}
N=${N:-90000}   # images per split (N=300 tries the script on a CPU in a minute)
rm -rf "$OUT"; mkdir -p "$OUT"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
export WANDB_MODE=disabled
start=$(date +%s)
$PY run.py -m sweep=bts64 plan=true calibrator.margin=0.01 head.width=32 logger=none data.root="$OUT/no-cinic" \
  cache_dir="$OUT/cache" hydra.sweep.dir="$OUT/plan" | grep "sweep plan"
$PY run.py -m sweep=bts64 data=synthetic data.train_size=$N data.val_size=$N data.test_size=$N \
  pretrain.epochs=1 method.epochs=2 calibrator.margin=0.02 head.width=32 logger=csv plot=false \
  cache_dir="$OUT/cache" hydra.sweep.dir="$OUT/sweep" > "$OUT/sweep.log" 2>&1 || { tail -40 "$OUT/sweep.log"; exit 1; }
grep -h "eexit.pipeline.run\]\[INFO\] - plan:\|feature_cache=auto" "$OUT/sweep.log" | cut -c1-400
$PY - "$OUT/sweep" <<'PYEOF'
import json, sys
from pathlib import Path
for path in sorted(Path(sys.argv[1]).glob("*/results.json")):
    r = json.loads(path.read_text())
    phases = ", ".join(f"{k} {v:.1f}s" for k, v in r["phase_seconds"].items() if v >= 0.5)
    print(f"job {path.parent.name} ({' '.join(o for o in r['overrides'] if o.startswith('placement'))}): "
          f"{r['wall_seconds']:.0f} s; peak host {r['peak_host_bytes'] / 1e9:.1f} GB, GPU {r['peak_gpu_bytes'] / 1e9:.1f} GB; "
          f"{phases}")
    from eexit.pipeline.plan_check import plan_check_text
    print(f"job {path.parent.name}: {plan_check_text(r['plan_check'])}")
PYEOF
$PY benchmarks/latency.py --samples 16 --repeats 5 --out "$OUT/latency.md" | grep "^| c" || true
echo "gpu_check: $(( $(date +%s) - start )) s in all"
