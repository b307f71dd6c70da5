"""``make bench-augment`` as shipped, on small budgets: every cell runs, and the table's numbers are the jobs' own."""
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow   # 6 jobs on distorted digits (about 3 minutes)
def test_bench_augment_tabulates_the_jobs_own_exit_shares(tmp_path):
    args = f"--out {tmp_path} pretrain.epochs=1 method.epochs=1 data.batch_size=128 real_skip_samples=8"
    proc = subprocess.run(["make", "-s", "bench-augment", f"ARGS={args}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| in_sample")
            or line.startswith("| cross_fit")]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [("in_sample", "false"), ("in_sample", "true")]
    runs = [json.loads(p.read_text()) for p in (tmp_path / "augment").glob("*/results.json")]
    plain = [r for r in runs if r["settings"]["method.boosted.survivors"] == '"in_sample"'
             and r["settings"]["method.feature_augment"] == "false"]
    first = [r["regimes"]["boosted"]["method"]["stages"][0] for r in plain]
    share = 100 * sum(s["train_exited"] / s["train_pool"] for s in first) / len(first)
    assert len(plain) == 3 and float(rows[0][3].strip(" %")) == pytest.approx(share, abs=0.05)
