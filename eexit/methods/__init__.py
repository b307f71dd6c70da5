"""Methods as recipes: one object per method (``eexit/conf/method/<name>.yaml``'s ``_target_``), one ``fit``.

``BackboneOnly`` (no exits), ``FrozenHeads`` (heads on the frozen pretrained backbone: non-boosted, BTS-EE,
PTEENet, PBEE, linear), ``ZTW`` (cascading heads and geometric ensembles on the frozen backbone),
``JointTraining`` (backbone and exits from scratch: EENets, SDN), ``Mixed`` (the pretrained backbone and
exits trained together); ``Pretraining`` (the backbone's own training, the ``pretrain`` config). A new method
is a class here plus a yaml.
"""
from eexit.methods.base import BackboneOnly, Recipe, Workload
from eexit.methods.context import FitContext, Trained
from eexit.methods.frozen import FrozenHeads
from eexit.methods.joint import JointTraining
from eexit.methods.mixed import Mixed
from eexit.methods.pretraining import Pretraining
from eexit.methods.ztw import ZTW

__all__ = ["BackboneOnly", "FitContext", "FrozenHeads", "JointTraining", "Mixed", "Pretraining", "Recipe", "Trained", "Workload", "ZTW"]
