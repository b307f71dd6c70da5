"""``make bench-survivors`` as shipped, on small budgets: every rule x dataset x seed runs, and the
table's numbers are the jobs' own."""
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_survivors_runs_every_rule_and_tabulates_the_jobs(tmp_path):
    args = (f"--out {tmp_path} --datasets digits,photos --seeds 0,1 pretrain.epochs=1 method.epochs=1 "
            "data.batch_size=64 real_skip_samples=8")
    proc = subprocess.run(["make", "-s", "bench-survivors", f"ARGS={args}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in (tmp_path / "survivors.md").read_text().splitlines() if line.startswith("| digits")
            or line.startswith("| photos")]
    assert len(rows) == 8
    assert [r.split("|")[3].strip() for r in rows] == ["in_sample", "rate_matched", "cross_fit", "soft"] * 2
    assert (tmp_path / "photo-folder" / "test" / "flower-3").is_dir()
    # the head-1 pool share in the table is the jobs' own, mean over the two seeds (a skipped stage counts 0)
    runs = [json.loads(p.read_text()) for p in (tmp_path / "digits").glob("*/results.json")]
    soft = [r for r in runs if "method.boosted.survivors=soft" in r["overrides"]]
    stages = [r["regimes"]["boosted"]["method"]["stages"] for r in soft]
    shares = [s[1]["train_pool"] / s[0]["train_pool"] if s[1]["trained"] else 0.0 for s in stages]   # skipped: 0
    cell = rows[3].split("|")[-2].strip()
    assert float(re.split(r" / ", cell)[0]) == pytest.approx(100 * sum(shares) / len(shares), abs=0.05)
