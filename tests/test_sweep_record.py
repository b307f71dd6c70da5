"""``benchmarks/sweep_record.py``: a sweep's summary.json turned into the values the docs cite, by hand."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_sweep_values_are_the_summarys_own():
    from sweep_record import values_of
    limits = {"headlines": 8, "violated": 2, "mean_excess_pt": 0.5, "worst_excess_pt": 0.8123}
    stats = {"configurations": 2, "jobs": 6, "compared": 2, "better": 0, "worse": 1, "indistinguishable": 1,
             "better_holm": 0, "worse_holm": 1, "distinct_baselines": 1, "backbones": 3, "failed": 0,
             "limits_on_test": {d: limits for d in ("drop_1pt", "drop_2pt", "drop_5pt")}}
    rows = [{"diff_drop_2pt": -0.03, "verdict_drop_2pt": "worse"}, {"diff_drop_2pt": 0.01, "verdict_drop_2pt":
                                                                     "indistinguishable"}]
    values = values_of({"stats": stats, "rows": rows}, 123.4)
    assert values["worse_holm"] == 1 and values["distinct_baselines"] == 1 and values["seconds"] == 123
    two = values["drop_2pt"]
    assert two["mean_diff_pt"] == -1.0 and (two["better"], two["worse"], two["indistinguishable"]) == (0, 1, 1)
    assert two["violated_pct"] == 25 and two["worst_excess_pt"] == 0.81
    assert values["drop_1pt"]["mean_diff_pt"] is None   # no configuration compared at that drop


def test_a_sweep_without_its_summary_is_named_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "benchmarks/sweep_record.py", str(tmp_path), "x", "--command", "c"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "eexit aggregate" in proc.stderr
