"""``Mixed``: the backbone trained first, then the whole multi-exit network jointly (Kubaty et al., "How to
Train Your Multi-Exit Model? Analyzing the Impact of Training Strategies", arXiv 2407.14320).

Their "mixed" strategy: phase 1 trains the backbone alone (here: the run's pretrained backbone, from the
cache like every other method's); phase 2 attaches the heads and trains backbone and heads together, every
exit's loss summed. Only the starting point differs from :class:`~eexit.methods.joint.JointTraining`
(a fresh backbone); the pretrained backbone is copied, so the cached one stays as it was.
"""
from __future__ import annotations

import copy

from eexit.methods.context import FitContext
from eexit.methods.joint import JointTraining


class Mixed(JointTraining):
    """Args: :class:`~eexit.methods.joint.JointTraining`'s."""

    def start(self, ctx: FitContext):
        """A copy of the run's trained backbone (the pipeline's pretraining is phase 1)."""
        return copy.deepcopy(ctx.backbone)
