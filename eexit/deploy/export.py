"""Export a trained early-exit network as standalone programs, one per stage.

    eexit export outputs/<date>/<time>/checkpoints/boosted.pt exported/ [--no-fold]   (or python -m eexit.deploy.export)

An early-exit network has data-dependent control flow (which samples go on), so it is
exported as a chain of graphs without it: ``stage<i>.pt2`` runs the backbone from exit
i-1 to exit i and head i, returning ``(features, logits[, confidence])``;
``stage<N>.pt2`` runs the rest of the backbone and returns logits. ``exits.json`` holds
the decision rule's data: score kind, the threshold table ``[exit, class]`` (``null`` =
never exits) and the image shape. A runtime needs only ``torch.export.load`` and this
rule: score the head's output, leave when ``score >= threshold[exit, predicted class]``,
otherwise feed the features to the next stage. Each program takes any batch size.
``exits.json`` also holds a BLAKE2b checksum of every stage file and of itself; loading an export
checks them, so a damaged or swapped stage, or an edited threshold, is refused in one line.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from eexit.deploy.checkpoint import load_exit_checkpoint
from eexit.errors import EExitError
from eexit.exits import ExitPolicy
from eexit.files.atomic import atomic_path, atomic_write
from eexit.files.folders import folder_problem
from eexit.files.torch_files import weights_only_in_this_process
from eexit.models.early_exit import EarlyExitNet, StagedInference
from eexit.models.fold import fold_batchnorm
from eexit.models.heads import HeadOutput

FORMAT = "eexit-exported/2"   # 2: checksums of the stage files and of exits.json


class Stage(nn.Module):
    """Blocks from the previous exit up to exit ``i`` plus head ``i``; the final stage has no head."""

    def __init__(self, net: EarlyExitNet, i: int):
        super().__init__()
        start, end = net.segments()[i]
        self.blocks = nn.ModuleList(net.backbone.blocks[start:end])
        self.head = net.heads[i] if i < net.num_exits else None

    def forward(self, x: torch.Tensor):
        for block in self.blocks:
            x = block(x)
        if self.head is None:
            return x
        out = self.head(x)
        return (x, out.logits) if out.confidence is None else (x, out.logits, out.confidence)


def export_exit_net(net: EarlyExitNet, policy, out_dir: str | Path, image_shape: tuple[int, ...],
                    fold: bool = True, fmt: str = "pt2") -> Path:
    """Write ``stage<i>.pt2`` (``fmt="onnx"``: ``stage<i>.onnx``, ONNX opset 18 through torch's
    dynamo exporter, for onnxruntime) for every stage and ``exits.json``; returns ``out_dir``."""
    if fmt not in ("pt2", "onnx"):
        raise EExitError(f"export format '{fmt}' is not known; use pt2 or onnx")
    if net.combines:
        raise EExitError(f"{type(net).__name__}'s exits read earlier heads' outputs (cascade, ensemble), which the "
                         f"exported stages do not carry yet; deploy it from its checkpoint (eexit.deploy.checkpoint)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    net = (fold_batchnorm(net)[0] if fold else net).cpu().eval()
    x = torch.zeros(2, *image_shape)  # batch 2: a batch of 1 would be specialised as a constant
    files = []
    with torch.no_grad():
        for i in range(net.num_exits + 1):
            stage = Stage(net, i).eval()
            files.append(f"stage{i}.{fmt}")
            with atomic_path(out_dir / files[-1], keep_suffix=True) as tmp:   # torch.export.save checks the suffix
                if fmt == "onnx":
                    from eexit.deploy.onnx import export_stage
                    export_stage(stage, x, tmp, last=i == net.num_exits)
                else:
                    program = torch.export.export(stage, (x,), dynamic_shapes={"x": {0: Dim.DYNAMIC}})
                    torch.export.save(program, tmp)
            if i < net.num_exits:
                x = stage(x)[0]
    meta = {
        "format": FORMAT, "num_exits": net.num_exits, "attach": list(net.attach), "image_shape": list(image_shape),
        "backbone": net.backbone.arch, "folded_batchnorm": fold, "stages": files,
        "runtime": "onnxruntime" if fmt == "onnx" else "torch.export", **policy.to_dict(),
        "rule": "leave at the first exit i where score(exits up to i) >= thresholds[i][argmax logits_i]; null "
                f"thresholds never exit; otherwise the last stage's argmax. Score {policy.score_kind!r}: "
                + " ".join((type(policy.score).__doc__ or "").split()),
        "checksums": {f: file_blake2b(out_dir / f) for f in files}}
    atomic_write(out_dir / "exits.json", json.dumps({**meta, "blake2b": json_blake2b(meta)}, indent=2))   # last: marks
    # a complete export
    return out_dir


def file_blake2b(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def json_blake2b(meta: dict) -> str:
    return hashlib.blake2b(json.dumps(meta, sort_keys=True).encode(), digest_size=16).hexdigest()


def check_export(folder: Path, meta: dict) -> None:
    """exits.json and every stage file as written, or one line naming the first that is not."""
    if meta.get("blake2b") != json_blake2b({k: v for k, v in meta.items() if k != "blake2b"}):
        raise EExitError(f"{folder / 'exits.json'} does not match its checksum: edited or damaged; export again "
                         f"with python -m eexit.deploy.export CHECKPOINT {folder}")
    for f in meta["stages"]:
        if not (folder / f).is_file() or file_blake2b(folder / f) != meta["checksums"].get(f):
            raise EExitError(f"{folder / f} is missing or does not match its checksum in exits.json (damaged or "
                             f"replaced); export again with python -m eexit.deploy.export CHECKPOINT {folder}")


class ExportedExitNet(StagedInference):
    """An exported folder, run with the same inference loop as ``EarlyExitNet``:
    ``infer(x, policy)`` with ``policy`` = :attr:`policy` (the exported thresholds). ``onnx_options``
    (ONNX stages only): ``threads``, ``execution_mode``, ``spinning`` of ``eexit.deploy.onnx.session_options``."""

    def __init__(self, folder: str | Path, **onnx_options):
        folder = Path(folder)
        meta_path = folder / "exits.json"
        if not meta_path.is_file():
            raise EExitError(f"{folder} has no exits.json; export one with python -m eexit.deploy.export CHECKPOINT {folder}")
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT:
            raise EExitError(f"{meta_path} is not an {FORMAT} export; re-export it with eexit export")
        check_export(folder, self.meta)
        self.num_exits = int(self.meta["num_exits"])
        self.policy = ExitPolicy.from_dict(self.meta)
        self.programs = self.load_stages(folder, self.meta["stages"], onnx_options)

    @staticmethod
    def load_stages(folder: Path, files: list[str], onnx_options: dict) -> list:
        if any(f.endswith(".onnx") for f in files):
            from eexit.deploy.onnx import onnx_stages
            return onnx_stages(folder, files, **onnx_options)
        if onnx_options:
            raise EExitError(f"{folder} holds torch.export programs: onnx options ({', '.join(onnx_options)}) do not "
                             f"apply; drop them or export with --format onnx")
        return [torch.export.load(folder / f).module() for f in files]

    def stage(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, HeadOutput]:
        out = self.programs[i](x)
        return out[0], HeadOutput(out[1], out[2] if len(out) > 2 else None)

    def final(self, x: torch.Tensor) -> torch.Tensor:
        return self.programs[-1](x)


def main(argv: list[str] | None = None, prog: str = "python -m eexit.deploy.export") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a run's checkpoints/<regime>.pt")
    ap.add_argument("out_dir", help="folder for stage<i>.pt2 (or .onnx) and exits.json")
    ap.add_argument("--no-fold", action="store_true", help="keep BatchNorm layers (default: folded into the convs)")
    ap.add_argument("--format", choices=("pt2", "onnx"), default="pt2",
                    help="pt2: torch.export programs (default); onnx: ONNX graphs for onnxruntime")
    args = ap.parse_args(argv)
    weights_only_in_this_process()
    try:
        out = Path(args.out_dir)
        if out.exists() and not out.is_dir():
            raise EExitError(f"{out} is a file; give a folder for the exported stages")
        if (problem := folder_problem(out)) is not None:
            raise EExitError(f"{out}: {problem}")
        ck = load_exit_checkpoint(args.checkpoint)
        if (out / "exits.json").exists():
            raise EExitError(f"{out} already holds an export; choose another folder or remove it first")
        export_exit_net(ck.net, ck.policy, out, tuple(ck.meta["image_shape"]), fold=not args.no_fold, fmt=args.format)
    except EExitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[eexit] exported {ck.net.num_exits + 1} stages and exits.json to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
