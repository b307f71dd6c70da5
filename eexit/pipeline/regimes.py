"""Run a method's recipe and evaluate every regime it trains, the same way whatever the method.

The recipe (``conf/method/``'s ``_target_``, ``eexit/methods``) trains; this module hands it the
:class:`~eexit.methods.FitContext` of the run and gives each trained regime to ``evaluate_regime``
(calibration, curves) and settles it (real-skip check, checkpoint, logs); ``eexit.reporting.report`` makes the
results of them.
"""
from __future__ import annotations

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate

from eexit.costs.placement import attach_points
from eexit.errors import EExitError
from eexit.methods import FitContext, Recipe
from eexit.pipeline.build import built, make_trainer
from eexit.pipeline.evaluate import evaluate_regime
from eexit.pipeline.settle import settle


def build_recipe(cfg) -> Recipe:
    """The ``method`` group's recipe; a setting its class does not take is one line naming both."""
    try:
        return built("method", lambda: instantiate(cfg.method))
    except InstantiationException as exc:
        if isinstance(exc.__cause__, TypeError):
            target = get_object(cfg.method._target_)
            raise EExitError(f"method={cfg.method.get('name')}: {exc.__cause__} ({target.__name__}'s arguments are "
                             f"in its docstring, eexit/methods)") from None
        raise


def fit_context(ctx) -> FitContext:
    """What the recipe may use, from the run's context: nothing of the config beyond what it names."""
    cfg = ctx.cfg

    def fresh_backbone():
        return instantiate(cfg.backbone, num_classes=ctx.dm.num_classes, weights=None)

    def trainer(max_epochs: int, callbacks: list | None = None, **overrides):
        return make_trainer(cfg, ctx.loggers, max_epochs, callbacks, **overrides)

    return FitContext(dm=ctx.dm, backbone=ctx.backbone, fresh_backbone=fresh_backbone,
                      attach=attach_points(cfg.placement, ctx.backbone, ctx.dm.image_shape), head=ctx.head,
                      calibrator=ctx.calibrator, seed=int(cfg.seed), device=ctx.device, run_dir=ctx.run_dir,
                      cache_dir=cfg.cache_dir, trainer=trainer, phases=ctx.phases, plan=ctx.plan)


def run_method(ctx, recipe: Recipe) -> dict[str, dict]:
    """Every regime the recipe trains, by name, evaluated and settled (each record as ``results.json`` keeps it)."""
    regimes = {}
    for name, trained in recipe.fit(fit_context(ctx)):
        record, policy = evaluate_regime(ctx, name, trained)
        regimes[name] = settle(ctx, name, trained, record, policy)
    return regimes
