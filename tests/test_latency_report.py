"""The latency report's arithmetic: percentiles by nearest rank, and the chained stage times it predicts from."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import eexit.bench.real_skip as real_skip
from eexit.bench.real_skip import chain_times, table
from eexit.deploy.timing import percentiles, timed_together


def test_percentiles_are_nearest_rank_in_milliseconds():
    times = [i / 1000 for i in range(1, 101)]            # 1..100 ms
    assert percentiles(times) == pytest.approx([50.0, 95.0, 99.0])
    assert percentiles([0.004, 0.001, 0.003, 0.002]) == pytest.approx([2.0, 4.0, 4.0])   # ceil(0.5*4)=2nd, 4th, 4th


def test_chain_times_run_each_exit_path_as_a_chain(monkeypatch):
    """Leaving at exit k runs stages 0..k in order; the last entry runs every stage and then the final part."""
    calls = []
    partners = []
    monkeypatch.setattr(real_skip, "timed_pair", lambda fn, other, repeats, device: (
        partners.append(other), calls.clear(), fn(), list(calls))[3:] + (None,))

    def stage(i, h):
        calls.append(f"s{i}")
        return h + 1, None

    def final(h):
        calls.append("final")
        return h
    plain = object()
    got = chain_times(stage, final, 3, torch.zeros(1), 1, torch.device("cpu"), plain=plain)
    assert got == [["s0"], ["s0", "s1"], ["s0", "s1", "s2"], ["s0", "s1", "s2", "final"]]
    assert partners == [plain] * 4   # each chain alternates with the plain network, as the real skip is timed


def test_the_survivor_prediction_runs_each_stage_at_its_survivors_batch(monkeypatch):
    """6 samples leaving at exits 0, 0, 1, 3, 3, 2 (3 = the backbone): stage 0 sees 6, stage 1 four, stage 2
    three, the rest of the backbone two; no decision is made."""
    from eexit.bench.real_skip import survivor_time
    sizes = []
    monkeypatch.setattr(real_skip, "timed_pair", lambda fn, other, repeats, device: (fn(), None))

    class Net:
        num_exits = 3

        def stage(self, i, h):
            sizes.append((f"s{i}", h.shape[0]))
            return h, None

        def final(self, h):
            sizes.append(("final", h.shape[0]))
    survivor_time(Net(), torch.zeros(6, 2), torch.tensor([0, 0, 1, 3, 3, 2]), None, 1, torch.device("cpu"))
    assert sizes == [("s0", 6), ("s1", 4), ("s2", 3), ("final", 2)]


def test_the_table_shows_latency_throughput_and_the_runtime_comparison():
    rows = [{"device": "cpu", "threads": 1, "batch": 1, "mix": "m", "fractions": [0.5, 0.5], "flop_pred": 2.0,
             "stage_pred": 1.6, "measured": 1.6, "skip_ms": [1.0, 2.0, 3.0], "plain_ms": [4.0, 4.5, 5.0]},
            {"device": "cpu (onnxruntime)", "threads": 2, "batch": 64, "mix": "m", "fractions": [0.5, 0.5],
             "flop_pred": 2.0, "stage_pred": 1.5, "measured": 1.2, "skip_per_s": 120.0, "plain_per_s": 100.0,
             "vs_torch": 1.3},
            {"device": "cpu", "threads": 2, "batch": 64, "mix": "m", "fractions": [0.5, 0.5], "flop_pred": 2.0,
             "stage_pred": 1.5, "measured": 1.2, "skip_per_s": 120.0, "plain_per_s": 100.0, "survivor_pred": 1.25}]
    lines = table(rows)
    assert lines[2] == "| cpu | 1 | 1 | m | 50/50 | 2.00x | 1.60x | 1.60x | 0.80 | 1.00 | — | 1.00/2.00/3.00 | 4.00/4.50/5.00 | — |"
    assert lines[3] == "| cpu (onnxruntime) | 2 | 64 | m | 50/50 | 2.00x | 1.50x | 1.20x | 0.60 | 0.80 | — | 120/s | 100/s | 1.30x |"
    assert lines[4] == "| cpu | 2 | 64 | m | 50/50 | 2.00x | 1.50x | 1.20x | 0.60 | 0.80 | 0.96 | 120/s | 100/s | — |"


def test_the_static_baseline_is_the_family_member_closest_in_macs():
    """ResNet18's family: 15 smaller ResNets (1 or 2 blocks per stage); the one nearest the target MACs is chosen,
    and a ResNet-10 costs less than a ResNet-16, which costs less than the ResNet18 itself."""
    from eexit.bench.static import closest, family

    from eexit.costs.flops import count_macs
    from eexit.models.backbones import resnet18
    variants = family("resnet18", 10)
    assert len(variants) == 15 and "ResNet-10 [1, 1, 1, 1]" in variants and family("vgg16", 10) == {}
    full = count_macs(resnet18(10), torch.zeros(1, 3, 32, 32))
    name, macs = closest(variants, (3, 32, 32), 0.0)
    assert name == "ResNet-10 [1, 1, 1, 1]" and macs < full / 2
    name, macs = closest(variants, (3, 32, 32), full)
    assert name.startswith("ResNet-16") and macs < full
    x = torch.zeros(2, 3, 32, 32)
    assert variants[name](x).shape == (2, 10)


def test_earlyon_runs_the_same_network_and_exits_like_eexit_with_the_same_heads():
    """The peer row compares like with like: with earlyon's heads in both libraries and the same thresholds, every
    image leaves at the same exit in both; with each library's own heads the mix is matched share by share."""
    pytest.importorskip("earlyon")   # part of the dev install (constraints.txt pins it)
    from eexit.bench.networks import build_net, random_images
    from eexit.bench.baselines import peer_rows, peer_table
    net = build_net("resnet20", "conv1d", "linear", 3, fold=True)
    rows = peer_rows(net, random_images((3, 32, 32), 128), 16, repeats=3)
    assert [(r["heads"], r["mix"]) for r in rows][:2] == [("each library's own", "early-heavy"),
                                                          ("earlyon's in both", "early-heavy")]
    for r in rows:
        if r["heads"] == "earlyon's in both":
            assert r["fractions"] == r["peer_fractions"]
        assert r["eexit_ms"] > 0 and r["earlyon_ms"] > 0
        for q in (r["ratio"], r["one_ratio"]):
            assert q["pairs"] == 3 and q["low"] <= q["mean"] <= q["high"]
    assert len(peer_table(rows)) == 2 + len(rows)


def test_timed_together_turns_the_order_every_round(monkeypatch):
    calls = []
    fns = [lambda k=k: calls.append(k) for k in "abc"]
    times = timed_together(fns, 4, torch.device("cpu"))
    assert "".join(calls) == "abc" * 3 + "abc" + "bca" + "cab" + "abc"      # three warm-up rounds, then turning
    assert [len(t) for t in times] == [4, 4, 4]


def test_ratio_interval_is_over_paired_log_ratios():
    """The ratio of paired timings: geometric mean of the pairs' ratios, a t interval on their logs, a verdict."""
    import math
    from eexit.bench.ratios import ratio_interval
    steady = ratio_interval([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])   # every pair exactly 2x: no spread
    assert steady["mean"] == pytest.approx(2.0) and steady["low"] == pytest.approx(2.0)
    assert steady["verdict"] == "slower" and steady["pairs"] == 3
    assert ratio_interval([1.0, 2.0], [2.0, 4.0])["verdict"] == "faster"
    mixed = ratio_interval([1.1, 0.9], [1.0, 1.0])
    logs = [math.log(1.1), math.log(0.9)]
    half = 12.7062047 * abs(logs[0] - logs[1]) / math.sqrt(2) / math.sqrt(2)   # t(0.975, 1) * sd / sqrt(n)
    assert mixed["mean"] == pytest.approx(math.sqrt(0.99))
    assert mixed["high"] == pytest.approx(math.exp(sum(logs) / 2 + half), rel=1e-6)
    assert mixed["verdict"] == "indistinguishable"
    assert ratio_interval([1.0], [2.0])["verdict"] == "one pair"


@pytest.mark.slow
def test_peer_only_command_writes_the_earlyon_table(tmp_path):
    """``latency.py --runtime none --peer``: only the earlyon comparison, with an interval per row, and the command
    that made it in the heading (30 s: the slow suite)."""
    import subprocess
    pytest.importorskip("earlyon")
    out = tmp_path / "peer.md"
    proc = subprocess.run([sys.executable, "benchmarks/latency.py", "--backbone", "resnet20", "--samples", "4",
                           "--runtime", "none", "--peer", "--threads", "1", "--out", str(out)],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert "--runtime none --peer --threads 1`" in text and "| runtime |" not in text
    rows = [line for line in text.splitlines() if line.startswith("| each library") or line.startswith("| earlyon's")]
    assert len(rows) == 6 and all("(15 rounds)" in r and r.count(": ") >= 2 for r in rows)


def test_latency_command_refuses_bad_runtimes_in_one_line():
    import subprocess
    root = Path(__file__).resolve().parents[1]
    bad = subprocess.run([sys.executable, "benchmarks/latency.py", "--runtime", "tensorrt"], capture_output=True,
                         text=True, cwd=root, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --runtime takes torch and/or onnxruntime, or none, " \
        "got tensorrt"
    idle = subprocess.run([sys.executable, "benchmarks/latency.py", "--runtime", "none"], capture_output=True,
                          text=True, cwd=root, timeout=120)
    assert idle.returncode == 2 and idle.stderr.strip().count("\n") == 0
    assert "add --peer (earlyon) or --static" in idle.stderr
