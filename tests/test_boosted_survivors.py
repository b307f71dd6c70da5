"""The survivor rules inside BoostedTraining: the pool each stage trains on is the one its rule
defines, recomputed independently from the frozen heads (tests/test_survivors.py checks the rules
themselves on hand-computed pools)."""
from __future__ import annotations

import copy

import lightning as L
import torch

from eexit.exits import CachedExits, ClassPrecisionMargin
from eexit.exits.rule import passes
from eexit.training.cross_fit import out_of_fold
from eexit.training.survivors import keep_probability, rate_matched, soft_temperature
from tests.test_boosted import EPOCHS, Spy, boosted_fit, trained  # noqa: F401 (the fixture)


def head_outputs(module, data, split: str, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        out = module.net.heads[k].eval()(data.data[split].feats[k].float())
    return out.logits.softmax(1).amax(1), out.logits.argmax(1)


def test_rate_matched_pools_shrink_by_the_validation_exit_share(trained):  # noqa: F811
    spy = Spy()
    module, boost, data = boosted_fit(trained, [spy], survivors="rate_matched")
    n_train = len(data.data["train"].labels)
    alive, alive_val = torch.ones(n_train, dtype=torch.bool), torch.ones(len(data.data["val"].labels), dtype=torch.bool)
    for k in range(3):
        assert torch.equal(spy.pools[k * EPOCHS], alive.nonzero().squeeze(1)), k
        scores, pred = head_outputs(module, data, "train", k)
        v_scores, v_pred = head_outputs(module, data, "val", k)
        leave_val = passes(v_scores, v_pred, boost.thresholds[k])
        leave = rate_matched(scores, pred, alive, v_pred, alive_val, leave_val, 10, per_class=True)
        stage = boost.stages[k]
        assert stage["train_exited"] == int(leave.sum()) and stage["train_pool"] == int(alive.sum())
        # per predicted class, within rounding, the share leaving train equals the share leaving validation
        for c in range(10):
            pool_c, val_c = int((alive & (pred == c)).sum()), int((alive_val & (v_pred == c)).sum())
            if val_c:
                share = int((leave_val & alive_val & (v_pred == c)).sum()) / val_c
                assert abs(int((leave & (pred == c)).sum()) - share * pool_c) <= 0.5, (k, c)
        alive &= ~leave
        alive_val &= ~leave_val
    assert 0 < int(alive.sum()) < n_train


def test_soft_weights_are_the_product_of_keep_probabilities(trained):  # noqa: F811
    spy = Spy()
    module, boost, data = boosted_fit(trained, [spy], survivors="soft")
    n_train = len(data.data["train"].labels)
    weights, alive_val = torch.ones(n_train), torch.ones(len(data.data["val"].labels), dtype=torch.bool)
    for k in range(3):
        assert len(spy.pools[k * EPOCHS]) == n_train   # every sample stays in the pool
        assert boost.stages[k]["train_pool"] == round(float(weights.sum()))
        scores, pred = head_outputs(module, data, "train", k)
        v_scores, v_pred = head_outputs(module, data, "val", k)
        t = soft_temperature(v_scores[alive_val], boost.soft_temperature)
        weights = weights * keep_probability(scores, pred, boost.thresholds[k], t)
        alive_val &= ~passes(v_scores, v_pred, boost.thresholds[k])
    torch.testing.assert_close(boost.weights, weights)
    assert 0 < float(weights.sum()) < n_train


def test_out_of_fold_scores_come_from_copies_that_did_not_train_on_them(trained, monkeypatch):  # noqa: F811
    """Each fold is scored by a copy trained on exactly the other folds; with training stubbed out a
    copy keeps head k's initial weights, so every sample's output is the initial head's on it."""
    import eexit.training.cross_fit as cross_fit
    module, boost, data = boosted_fit(trained, survivors="in_sample")
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.strategy.connect(module)
    trainer.datamodule = data
    initial = {n: torch.randn_like(v) if n.endswith("weight") else v for n, v in module.net.heads[1].state_dict().items()}
    trained_on = []
    monkeypatch.setattr(cross_fit, "_train_copy", lambda tr, m, k, indices, *a: trained_on.append(indices))
    pool = torch.tensor([0, 3, 4, 10, 11, 12, 50, 51, 52, 60])
    idx, oof = out_of_fold(trainer, module, 1, initial, pool, folds=3, epochs=1, seed=0, batch_size=4)
    assert sorted(idx.tolist()) == pool.tolist() and len(trained_on) == 3
    start = 0
    for rest in trained_on:   # the held-out fold and the copy's training set split the pool
        held = idx[start:start + len(pool) - len(rest)]
        start += len(held)
        assert sorted(torch.cat([held, rest]).tolist()) == pool.tolist()
    initial_head = copy.deepcopy(module.net.heads[1])
    initial_head.load_state_dict(initial)
    with torch.no_grad():
        expected = initial_head.eval()(data.data["train"].feats[1][idx].float()).logits
    torch.testing.assert_close(oof.logits[0], expected)
    assert isinstance(oof, CachedExits) and torch.equal(oof.labels, data.data["train"].labels[idx])
