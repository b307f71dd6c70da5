"""``StagedInference``: the deployed real early exit, one loop for every implementation of its stages.

Block by block, exited samples are removed from the batch, so their remaining compute really stops;
a batch of one takes a path without survivor bookkeeping. ``EarlyExitNet`` runs its stages with its
modules, ``eexit.deploy.export.ExportedExitNet`` with exported programs.
"""
from __future__ import annotations

import torch

from eexit.models.heads import HeadOutput


class StagedInference:
    """Real early exit over a chain of stages; a subclass says what a stage is.

    ``stage(i, x) -> (features, HeadOutput)`` runs the backbone up to exit i (from exit
    i-1's features) and head i; ``final(x) -> logits`` runs the rest. ``EarlyExitNet``
    implements them with its modules, ``eexit.deploy.export.ExportedExitNet`` with exported
    programs, so both share one inference loop and its guarantees. ``combine(i, out, carry)``
    lets exit i's answer read earlier heads' outputs (ZTW's cascade and ensemble): ``carry`` is
    what it returned at exit i-1, kept for the surviving samples only.
    """

    num_exits: int
    combines = False   # True: combine() changes head outputs (export refuses such a network)

    def combine(self, i: int, out: HeadOutput, carry):
        """Exit i's answer from head i's output and the ``carry`` of earlier exits (default: the output as it is)."""
        return out, None

    def stage(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, HeadOutput]:
        raise NotImplementedError

    def final(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def infer(self, x: torch.Tensor, policy, buckets: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Real early exit. Returns ``(prediction [B], exit index [B])``; index ``num_exits`` = backbone.

        ``buckets`` (sorted batch sizes): the surviving batch is zero-padded up to the next bucket,
        so every stage only ever sees those shapes (pre-warm them with :meth:`warmup`; no
        per-shape autotuning or recompilation). Padded rows never reach a decision.
        A batch of one takes :meth:`infer_one`'s path, with one inference-mode context (not two) and both
        answers in one tensor: right after a stage's convolutions each small tensor operation costs several times
        what it does alone, and on a CPU's batch-1 ResNet18 ``infer`` measured up to 7 % slower than ``infer_one``
        (``benchmarks/latency.py --runtime none --peer``, which times both).
        """
        if x.shape[0] == 1:
            pred, exit_index = self.infer_one(x, policy)
            both = torch.tensor([pred, exit_index], device=x.device)
            return both[:1], both[1:]
        return self._infer_batch(x, policy, buckets)

    @torch.inference_mode()
    def _infer_batch(self, x: torch.Tensor, policy, buckets: list[int] | None) -> tuple[torch.Tensor, torch.Tensor]:
        batch = x.shape[0]
        preds = torch.empty(batch, dtype=torch.long, device=x.device)
        exits = torch.full((batch,), self.num_exits, dtype=torch.long, device=x.device)
        alive = torch.arange(batch, device=x.device)
        x = pad_to_bucket(x, buckets)
        state = carry = None   # the score's state (patience: the survivors' streak)
        for i in range(self.num_exits):
            x, out = self.stage(i, x)
            out, carry = self.combine(i, out, carry)
            n = alive.numel()
            conf = None if out.confidence is None else out.confidence[:n]
            state = policy.advance(state, out.logits[:n])
            leave, pred = policy.decide(i, out.logits[:n], conf, state)
            leaving = int(leave.sum())  # the one host sync per exit: the survivor count sizes the next stage
            if leaving == n:
                preds[alive], exits[alive] = pred, i
                return preds, exits
            if leaving:
                gone = alive[leave]
                preds[gone], exits[gone] = pred[leave], i
                stay = ~leave
                x, alive = pad_to_bucket(gather_rows(x[:n], stay), buckets), alive[stay]
                if carry is not None:
                    carry = pad_to_bucket(carry[:n][stay], buckets)
                state = policy.keep(state, stay)
        preds[alive] = self.final(x)[:alive.numel()].argmax(1)
        return preds, exits

    @torch.inference_mode()
    def infer_one(self, x: torch.Tensor, policy) -> tuple[int, int]:
        """One sample ``[1, C, H, W]`` -> ``(prediction, exit index)`` as Python ints.

        The latency path (embedded, batch 1): no survivor bookkeeping, one host read
        per exit; decisions are :meth:`ExitPolicy.decide_one`, equal to ``decide``'s."""
        state = carry = None
        for i in range(self.num_exits):
            x, out = self.stage(i, x)
            out, carry = self.combine(i, out, carry)
            state = policy.advance(state, out.logits)
            leave, pred = policy.decide_one(i, out.logits, out.confidence, state)
            if leave:
                return pred, i
        return int(self.final(x).argmax(1)), self.num_exits


def is_channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def gather_rows(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``x[keep]``, gathered along the NHWC view when ``x`` is channels_last so the result stays so."""
    return x.permute(0, 2, 3, 1)[keep].permute(0, 3, 1, 2) if is_channels_last(x) else x[keep]


def pad_to_bucket(x: torch.Tensor, buckets: list[int] | None) -> torch.Tensor:
    """Zero-pad the batch up to the smallest bucket that holds it (unchanged if none does)."""
    n = x.shape[0]
    size = next((b for b in buckets if b >= n), n) if buckets else n
    if size == n:
        return x
    out = x.new_zeros((size, *x.shape[1:]))
    if is_channels_last(x):
        out = out.contiguous(memory_format=torch.channels_last)
    out[:n] = x
    return out
