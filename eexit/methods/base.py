"""``Recipe``: a method is one object with one ``fit``; the pipeline only orchestrates around it.

``eexit/conf/method/<name>.yaml`` instantiates a recipe (``_target_``, ``_recursive_: false`` so that the
recipe builds its loss, optimizer and callbacks itself, with live objects a config cannot hold).
``fit(ctx)`` yields ``(regime name, Trained)`` for every set of exits it trains; the pipeline
evaluates, saves and reports each the same way, whatever the method. ``primary`` names the regime
whose curve and headline lead ``results.json``; ``comparison`` a pair the run compares (BTS-EE's
boosted against non-boosted). ``workload()`` tells the plan what the fit will cost before any work.
A new method is a subclass here plus a yaml.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from eexit.errors import EExitError
from eexit.methods.context import FitContext, Trained


@dataclass
class Workload:
    """What a recipe's fit costs, for the plan. ``head_epochs``: epochs of head training over the whole
    training split (every head trains in each); ``joint_epochs``: epochs of backbone and heads together;
    ``frozen``: heads read the frozen backbone's features; ``min_train``: the fewest training images the
    recipe can work with."""

    heads: bool = False
    frozen: bool = False
    feature_cache: object = "auto"
    feature_dtype: str = "bfloat16"
    feature_augment: bool = False   # the backbone runs on every training image of every head epoch
    regimes: int = 1                # sets of exits evaluated (each: calibration, checks, time savings)
    batch_size: int = 128
    head_epochs: int = 0
    joint_epochs: int = 0
    min_train: int | None = None


class Recipe:
    """Args:
        name: the method's name in results.json and reports.
        regime: the name the trained exits carry in results.json, plots and W&B (default: ``name``).
    """

    comparison: tuple[str, str] | None = None

    def __init__(self, name: str, regime: str | None = None):
        self.name, self.primary = str(name), str(regime or name)

    def fit(self, ctx: FitContext) -> Iterator[tuple[str, Trained]]:
        raise NotImplementedError

    def workload(self) -> Workload:
        return Workload()


SHARED_SETTINGS = {"epochs", "batch_size"}   # a command line shared by every method (``++method.epochs=2``) sets them


class BackboneOnly(Recipe):
    """Only the backbone: trained (or loaded) and measured by the pipeline; no exits to fit. Accepts the exit
    recipes' ``epochs`` and ``batch_size`` (a command line shared by every method sets them) and no others."""

    def __init__(self, name: str = "backbone", regime: str | None = None, **shared):
        super().__init__(name, regime)
        unknown = sorted(set(shared) - SHARED_SETTINGS)
        if unknown:
            raise EExitError(f"method={name}: {', '.join(unknown)} is not a setting of BackboneOnly; remove it")

    def fit(self, ctx: FitContext) -> Iterator[tuple[str, Trained]]:
        return iter(())
