"""Run a method's recipe and turn every regime it trains into its record, the same way whatever the method.

The recipe (``eexit/conf/method/``'s ``_target_``, ``eexit/methods``) trains, given the run's
:class:`~eexit.methods.FitContext`; each trained regime is evaluated (``evaluate.py``: calibration, curves),
settled (``settle.py``: real-skip check, checkpoint, logs), and its :class:`~eexit.reporting.records.RegimeRecord`
built once from both and from what the method says of it.
"""
from __future__ import annotations

from dataclasses import dataclass

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate

from eexit.errors import EExitError
from eexit.methods import FitContext, Recipe
from eexit.models.heads import head_kind
from eexit.pipeline.build import built
from eexit.pipeline.certify import Certification, certified
from eexit.pipeline.evaluate import evaluate_regime
from eexit.pipeline.settle import Settling, settle
from eexit.pipeline.time_saved import timed_points
from eexit.reporting.records import RegimeRecord


def build_recipe(method) -> Recipe:
    """The ``method`` group's recipe from its config node; a setting its class does not take is one line naming
    both."""
    try:
        return built("method", lambda: instantiate(method))
    except InstantiationException as exc:
        if isinstance(exc.__cause__, TypeError):
            target = get_object(method._target_)
            raise EExitError(f"method={method.get('name')}: {exc.__cause__} ({target.__name__}'s arguments are "
                             f"in its docstring, eexit/methods)") from None
        raise


@dataclass(frozen=True)
class Judging:
    """What evaluating a regime needs of the run: the backbone's validation and test accuracy (the references of
    every headline) and the compute budgets of the field's table."""

    backbone_val_acc: float
    backbone_test_acc: float
    budgets: tuple[float, ...]
    certification: Certification | None = None   # selection=risk


def run_method(recipe: Recipe, ctx: FitContext, judging: Judging, settling: Settling) -> dict[str, RegimeRecord]:
    """Every regime the recipe trains, by name, as its record."""
    records = {}
    for name, trained in recipe.fit(ctx):
        fields, policy, thresholds_for = evaluate_regime(name, trained, ctx.calibrator, head_kind(ctx.head), judging.backbone_val_acc,
                                         judging.backbone_test_acc, judging.budgets, ctx.phases)
        if judging.certification is not None:   # the certified setting is what deploys
            with ctx.phases(f"{name}/certify"):
                fields["certified"], fields["operating_point"], policy = certified(
                    trained, ctx.calibrator, judging.certification, judging.backbone_test_acc)
        settled = settle(settling, name, trained, policy, fields["operating_point"], fields["calibration"])
        with ctx.phases(f"{name}/time_saving"):   # the operating points' time saved on this device, beside their MACs
            timed_points(settling, fields, trained.net, policy, thresholds_for)
        records[name] = RegimeRecord(**fields, **settled, train_seconds=trained.train_seconds,
                                     final_exit_test_acc=trained.final_exit_test_acc,
                                     untrained_heads=list(trained.untrained_heads), summary=list(trained.summary),
                                     notes=list(trained.notes), method=dict(trained.method))
    return records
