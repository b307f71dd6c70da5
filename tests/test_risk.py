"""Certified exits (eexit.evaluation.risk): p-values and bounds against hand computation, the fixed sequence on a
constructed case, and the guarantee holding in simulation where the truth is known."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from eexit.evaluation.risk import certify, conservative_first, losses, p_value, upper_bound
from eexit.exits.cached import CachedExits


def test_p_values_and_bounds_by_hand():
    assert p_value(0, 100, 0.05) == pytest.approx(0.95 ** 100)                       # 0.00592
    assert p_value(1, 100, 0.05) == pytest.approx(0.95 ** 100 + 100 * 0.05 * 0.95 ** 99)   # 0.0371
    assert upper_bound(0, 100, 0.1) == pytest.approx(1 - 0.1 ** (1 / 100))           # Clopper-Pearson at 0: 0.0228
    assert upper_bound(100, 100, 0.1) == 1.0


def one_exit(head_pred: list[int], backbone_pred: list[int], labels: list[int], scores: list[float]) -> CachedExits:
    """One head over two classes whose max-softmax is ``scores`` and argmax ``head_pred``."""
    n = len(labels)
    head = torch.zeros(n, 2)
    for i, (p, s) in enumerate(zip(head_pred, scores)):
        logit = math.log(s / (1 - s))
        head[i, p] = logit
    final = torch.zeros(n, 2)
    final[torch.arange(n), torch.tensor(backbone_pred)] = 5.0
    return CachedExits(torch.stack([head, final]), torch.full((1, n), float("nan")), torch.tensor(labels))


def test_losses_per_risk():
    cached = one_exit([0, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1], [0.9, 0.9, 0.9, 0.9])
    everyone_exits = torch.zeros(1, 2)
    assert losses(cached, "max_softmax", everyone_exits, "prediction_gap").tolist() == [0, 1, 0, 1]
    assert losses(cached, "max_softmax", everyone_exits, "accuracy_gap").tolist() == [0, 0, 0, 1]   # image 1: the
    # exit is right where the backbone is wrong: no loss (the accuracy gap is bounded from above)


def test_the_fixed_sequence_stops_at_the_first_setting_it_cannot_certify():
    """100 images; the head disagrees with the backbone on images scoring 0.55-0.64 (5 of them), 0.75 (1) and
    0.95... never. Thresholds from conservative (1.1: nobody exits) down: 0.9 -> 0 errors, 0.7 -> 1, 0.5 -> 6.
    At δ = 5 %, α = 0.1: p(0) = .0059, p(1) = .037, p(6) = .77: 0.9 and 0.7 certified, 0.5 not, and 0.3 (which
    would add no error) is never tested."""
    n = 100
    scores = [0.95] * 80 + [0.75] * 15 + [0.6] * 5
    disagree = [False] * 80 + [True] + [False] * 14 + [True] * 5
    head = [1 if d else 0 for d in disagree]
    cached = one_exit(head, [0] * n, [0] * n, scores)
    order = conservative_first([0.3, 0.5, 0.7, 0.9, 1.1], higher_is_conservative=True)
    assert order == [1.1, 0.9, 0.7, 0.5, 0.3]
    cert = certify(cached, "max_softmax", order, lambda t: torch.full((1, 2), t), "prediction_gap", 0.05, 0.1)
    assert (cert.setting, cert.certified, cert.tested, cert.n) == (0.7, 3, 4, 100)
    assert cert.calibration_risk == 0.01 and cert.bound == pytest.approx(upper_bound(1, 100, 0.1))
    none = certify(cached, "max_softmax", [0.5, 0.3], lambda t: torch.full((1, 2), t), "prediction_gap", 0.05, 0.1)
    assert none.setting is None and none.bound is None and none.certified == 0   # unattainable: keep the backbone


def test_the_guarantee_holds_where_the_truth_is_known():
    """Scores uniform on (0.5, 1), the exit wrong with probability 1 − score: threshold t has true risk
    ∫_t^1 2(1 − s) ds = (1 − t)², at most δ = 5 % from t = 0.776 on. Over 300 calibration draws of 400 images at
    α = 0.1, the certified setting's true risk exceeds δ in at most α of them (with a binomial margin), and the
    choice is not trivially conservative (it certifies below 0.9 most of the time)."""
    gen = torch.Generator().manual_seed(0)
    grid = [round(1 - k / 40, 3) for k in range(21)]   # 1.0 (nobody exits) ... 0.5 (everyone)
    violations, chosen = 0, []
    for _ in range(300):
        s = 0.5 + 0.5 * torch.rand(400, generator=gen).clamp(1e-4, 1 - 1e-4)
        wrong = torch.rand(400, generator=gen) < 1 - s
        cached = one_exit(wrong.long().tolist(), [0] * 400, [0] * 400, s.tolist())
        cert = certify(cached, "max_softmax", grid, lambda t: torch.full((1, 2), t), "prediction_gap", 0.05, 0.1)
        violations += cert.setting is not None and (1 - cert.setting) ** 2 > 0.05
        chosen.append(cert.setting if cert.setting is not None else 1.0)
    assert violations / 300 <= 0.1 + 2 * math.sqrt(0.1 * 0.9 / 300)
    assert sorted(chosen)[150] < 0.9


def test_selection_risk_end_to_end_deploys_the_certified_setting_with_its_promise(tmp_path):
    """A run with selection=risk: the calibration split leaves validation (nothing trains or selects on it), the
    regime's operating point and checkpoint policy are the certified setting, the certificate travels into the
    checkpoint and an export's exits.json, and benchmarks/risk.py re-splits the run's stored exit outputs."""
    import json
    import runpy

    from conftest import TINY, compose_cfg
    from omegaconf import OmegaConf

    from eexit.deploy.checkpoint import load_exit_checkpoint
    from eexit.deploy.export import main as export
    from eexit.pipeline import run_experiment
    overrides = ["method=nonboosted", "selection=risk", "selection.delta=5", "selection.risk=prediction_gap"]
    cfg = compose_cfg(TINY + overrides, tmp_path)
    run = tmp_path / "run"
    results = run_experiment(cfg, run, overrides)
    regime = results["regimes"]["nonboosted"]
    c = regime["certified"]
    assert c["n"] == 180 and regime["val_samples"] == 180 and c["risk"] == "prediction_gap"   # 360 val: half each
    assert c["delta_pt"] == 5 and c["alpha"] == 0.1 and regime["operating_point"]["setting"] == (
        c["setting"] if c["setting"] is not None else -math.inf)
    ck = load_exit_checkpoint(regime["checkpoint"])
    assert ck.policy.certificate["delta_pt"] == 5 and ck.policy.certificate["n"] == 180
    assert export([regime["checkpoint"], str(tmp_path / "exported")]) == 0
    exported = json.loads((tmp_path / "exported" / "exits.json").read_text())
    assert exported["certificate"] == ck.policy.certificate
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "benchmarks" / "risk.py"))["main"]
    assert main(["--run", str(run), "--draws", "60"]) == 0
    table = (Path(__file__).resolve().parents[1] / "benchmarks" / "local" / "RESULTS-risk.md").read_text()
    assert table.count("| nonboosted |") == 6 and "certified: breaks δ" in table
    # the fast version of make bench-risk: 60 re-splits of the stored outputs, the promise kept within its slack
    from eexit.bench.risk import resplits, table as loss_table, validated_setting
    calib = compose_cfg(TINY + overrides).calibrator
    from hydra.utils import instantiate
    calib = instantiate(calib)
    saved = torch.load(run / "exit_outputs" / "nonboosted.pt", weights_only=True)
    val, test = (CachedExits(saved[k]["logits"], saved[k]["confidences"], saved[k]["labels"]) for k in ("val", "test"))
    fractions = torch.tensor(regime["headline"]["drop_5pt"]["exit_costs"]) if regime["headline"]["drop_5pt"] else \
        torch.tensor(next(p for p in regime["headline"].values() if p)["exit_costs"])
    for delta, alpha in ((2.0, 0.1), (5.0, 0.05)):
        r = resplits(loss_table(test, calib, val, fractions, "accuracy_gap"), validated_setting(calib, val, fractions,
                     delta), delta, alpha, draws=60)
        assert r["certified_violations"] <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / 60), r
    # a sweep's summary shows the certified setting beside the validation-selected headline
    from eexit.reporting.configurations import configuration_rows
    from eexit.reporting.summary_markdown import markdown
    runs = [{**results.to_dict(), "_job": "0"}]
    md = markdown(tmp_path, configuration_rows(runs), runs, {}, [])
    assert "## Certified settings (selection=risk)" in md and "prediction_gap ≤ 5 pt at α = 0.1" in md


@pytest.mark.slow   # trains a backbone: about a minute
def test_the_prediction_gap_calibrates_on_a_folder_of_unlabelled_images(tmp_path):
    """Field data without labels: PNG files in nested folders, any names. Validation stays whole; the certificate
    counts the folder's images; asking for the accuracy gap on them, or a folder that is not there, is one line."""
    from conftest import TINY, compose_cfg
    from PIL import Image

    from eexit.config.settings import check_config
    from eexit.data import DigitsDataModule
    from eexit.errors import EExitError
    from eexit.pipeline import run_experiment
    dm = DigitsDataModule(seed=1)
    dm.setup()
    field = tmp_path / "field" / "camera_2"
    field.mkdir(parents=True)
    for i, img in enumerate(dm.splits["test"][0][:300]):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(field / f"frame{i:04d}.png")
    overrides = ["method=nonboosted", "selection=risk", "selection.risk=prediction_gap", "selection.delta=5",
                 f"selection.calibration_root={tmp_path / 'field'}"]
    results = run_experiment(compose_cfg(TINY + overrides, tmp_path), tmp_path / "run", overrides)
    regime = results["regimes"]["nonboosted"]
    assert regime["certified"]["n"] == 300 and regime["val_samples"] == 360
    for bad, says in ((["selection.risk=accuracy_gap"], "only selection.risk=prediction_gap"),
                      (["selection.risk=prediction_gap", f"selection.calibration_root={tmp_path / 'none'}"],
                       "no such folder")):
        with pytest.raises(EExitError, match=says):
            check_config(compose_cfg(TINY + overrides[:-1] + [f"selection.calibration_root={tmp_path / 'field'}"] + bad))
