"""Objects a recipe builds from its config nodes with live Python objects the config cannot hold."""
from __future__ import annotations

import inspect

from hydra.utils import get_object, instantiate


def with_objects(node, **objects):
    """Instantiate ``node`` with live Python objects as extra arguments. (Passed to
    ``instantiate`` directly, a dataclass would be turned into a config node.)"""
    return instantiate(node, _partial_=True)(**objects)


def build_loss(loss_cfg, **context):
    """Instantiate ``method.loss``, passing the ``context`` values (``costs``, ``num_train``,
    ``seed``) that its class declares as parameters."""
    params = inspect.signature(get_object(loss_cfg._target_)).parameters
    return with_objects(loss_cfg, **{k: v for k, v in context.items() if k in params})
