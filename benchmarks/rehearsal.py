#!/usr/bin/env python
"""Paper-scale rehearsal of BTS-EE's feature store on this machine (``make bench-rehearsal``):
``python benchmarks/rehearsal.py [--per-split 9000] [--old-per-split 1000] [--record]``.
CINIC-shaped synthetic data (32×32 RGB, 10 classes; 9,000 images per split = 10 % of CINIC-10), an untrained CIFAR
ResNet18 (time and bytes do not depend on the weights); each measurement in its own process (its own peak memory):
the **store** of the blocks every bts64 placement reads (1–6, pooled to 8×8; training rows bfloat16, validation and
test float32): bytes, extraction time, peak memory; **one job's heads** (blocks 2/4/6): two epochs through
``trainer.fit`` (the warm second timed), every exit on val and test, and the seconds spent verifying checksums;
the **plan's prediction** of the same; the **old store** (full float32 maps, each split concatenated in memory) on
``--old-per-split`` images, scaled. Appends a table to ``benchmarks/local/RESULTS-rehearsal.md`` and prints it;
``--record`` also writes docs/records/rehearsal.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UNION, JOB = [1, 2, 3, 4, 5, 6], [2, 4, 6]   # sweep=bts64's placement rules on CIFAR ResNet18 (plan of bts64)


def synthetic(per_split: int):
    from eexit.data import SyntheticDataModule
    return SyntheticDataModule(train_size=per_split, val_size=per_split, test_size=per_split, image_size=32,
                               num_classes=10, eval_batch_size=512, batch_size=512)


def extract(per_split: int, cache: str, new: bool) -> dict:
    """One store built in this process; returns bytes, seconds, peak memory."""
    import torch

    from eexit.data.features import FeatureDataModule
    from eexit.models.backbones.resnet import resnet18
    torch.manual_seed(0)
    dm, backbone = synthetic(per_split), resnet18(10).eval()
    dm.setup()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    options = dict(cache_dir=cache, dtype="bfloat16") if new else dict(cache_dir=None, dtype="float32")
    reduction = (8, 8) if new else None   # what heads that pool to 8 x 8 first read (SimpleNamespace: no heads needed)
    net = SimpleNamespace(backbone=backbone, attach=UNION, heads=[SimpleNamespace(input_reduction=reduction)] * len(UNION))
    start = time.perf_counter()
    data = FeatureDataModule(dm, net, **options)
    data.setup()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if new:
        stored = sum(p.stat().st_size for p in Path(cache).rglob("*.npy"))
    else:
        stored = sum(t.numel() * t.element_size() for d in data.data.values() for t in [*d.feats, d.final, d.labels])
    return {"bytes": stored, "seconds": seconds, "peak_rss": peak, "rss_before": base}


def head_epoch(per_split: int, cache: str) -> dict:
    """One epoch of the largest job's three conv1d heads on the stored features."""
    import functools

    import lightning as L
    import torch

    from eexit.data.features import FeatureDataModule
    from eexit.models.backbones.resnet import resnet18
    from eexit.models.early_exit import build_exit_net
    from eexit.models.heads import Conv1dHead
    from eexit.training import EarlyExitModule, ExitCrossEntropy
    import eexit.data.feature_store as feature_store
    verify = feature_store.check_stamp
    verifying = []

    def timed_check(*args):   # the checksum verification of every stored file the job reads
        start = time.perf_counter()
        out = verify(*args)
        verifying.append(time.perf_counter() - start)
        return out
    feature_store.check_stamp = timed_check
    job_start = time.perf_counter()
    torch.manual_seed(0)
    dm, backbone = synthetic(per_split), resnet18(10).eval()
    net = build_exit_net(backbone, JOB, functools.partial(Conv1dHead, width=32), 10, (3, 32, 32))
    data = FeatureDataModule(dm, net, cache_dir=cache, batch_size=512)
    data.setup()
    module = EarlyExitModule(net, ExitCrossEntropy(), functools.partial(torch.optim.Adam, lr=1e-3),
                             targets="backbone")
    times = []

    class Clock(L.Callback):
        on_train_epoch_start = lambda self, *a: times.append(time.perf_counter())   # noqa: E731
        on_train_epoch_end = lambda self, *a: times.append(time.perf_counter() - times.pop())   # noqa: E731
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=[Clock()])
    trainer.fit(module, data)
    for split in ("val", "test"):   # as a run does after training: every exit on both splits
        trainer.predict(module, dataloaders=data.loader(split))
    return {"epoch_seconds": times[-1], "extracted_again": data.extracted,   # the second epoch: warm
            "verify_seconds": sum(verifying), "verified_files": len(verifying), "job_seconds": time.perf_counter() - job_start,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def predicted(per_split: int, cache: str) -> dict:
    """The plan for the largest job (blocks 2/4/6) and for the union's store, from ``plan_run``."""
    from hydra import compose, initialize_config_dir

    import torch

    from eexit.pipeline.compose import compose as parts_of
    from eexit.pipeline.plan import plan_run
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "eexit" / "conf")):
        cfg = compose("config", overrides=[
            "sweep=bts64", "data=synthetic", f"data.train_size={per_split}", f"data.val_size={per_split}",
            f"data.test_size={per_split}", "data.eval_batch_size=512", "placement.blocks=[2,4,6]", "head.width=32",
            "trainer.accelerator=cpu", f"cache_dir={cache}", "logger=none"])
    parts = parts_of(cfg)
    plan = plan_run(parts.dm, parts.source, parts.placement, parts.head, parts.recipe.workload(),
                    torch.device("cpu")).to_dict()
    # the extraction phase's share of the plan's host figure: the same terms with the batch in flight
    extraction_host = plan["host_bytes"] - max(0, plan["store_bytes"] - plan["batch_bytes"])
    steps = math.ceil(per_split / int(cfg.method.batch_size))
    elements = 2 * 64 * 64 + 2 * 128 * 64 + 2 * 256 * 64   # blocks 1-6 pooled to 8x8
    # the training split in bfloat16, validation and test in float32 (as deployed); + final logits and label
    union_bytes = per_split * (elements * 2 + 48) + 2 * per_split * (elements * 4 + 48)
    return {"job_store_bytes": plan["store_bytes"], "union_store_bytes": union_bytes,
            "extraction_seconds": plan["seconds_by_phase"]["features"], "epoch_seconds": steps * plan["rates"]["head_step_s"],
            "host_bytes": plan["host_bytes"], "extraction_host": extraction_host}


def in_subprocess(fn: str, *args) -> dict:
    code = f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.rehearsal import {fn}; " \
           f"print('RESULT' + json.dumps({fn}(*{list(args)!r})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"})
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"{fn} failed:\n{out.stderr[-3000:]}")
    return json.loads(line[6:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-split", type=int, default=9000)
    parser.add_argument("--old-per-split", type=int, default=1000)
    parser.add_argument("--record", action="store_true", help="write docs/records/rehearsal.json")
    args = parser.parse_args()
    n, m = args.per_split, args.old_per_split
    with tempfile.TemporaryDirectory() as cache:
        plan = in_subprocess("predicted", n, cache)
        new = in_subprocess("extract", n, cache, True)
        heads = in_subprocess("head_epoch", n, cache)
    old = in_subprocess("extract", m, "", False)
    gb, scale = 1e9, n / m
    old_bytes, old_peak = old["bytes"] * scale, old["rss_before"] + (old["peak_rss"] - old["rss_before"]) * scale
    rows = [("stored bytes, blocks 1–6 (union of bts64)", f"{new['bytes'] / gb:.3f} GB",
             f"{plan['union_store_bytes'] / gb:.3f} GB", new["bytes"] / plan["union_store_bytes"],
             f"{old_bytes / gb:.2f} GB ({m}/split × {scale:g})"),
            ("extraction, 3 splits", f"{new['seconds']:.0f} s", f"{plan['extraction_seconds']:.0f} s",
             new["seconds"] / plan["extraction_seconds"], "—"),
            ("peak resident memory, extraction", f"{new['peak_rss'] / gb:.2f} GB",
             f"{plan['extraction_host'] / gb:.2f} GB (host, extraction phase)",
             new["peak_rss"] / plan["extraction_host"], f"{old_peak / gb:.2f} GB (scaled)"),
            ("peak resident memory, head training (store mapped)", f"{heads['peak_rss'] / gb:.2f} GB",
             f"{plan['host_bytes'] / gb:.2f} GB (host, training phase)", heads["peak_rss"] / plan["host_bytes"], "—"),
            ("one head epoch, blocks 2/4/6, warm", f"{heads['epoch_seconds']:.1f} s", f"{plan['epoch_seconds']:.1f} s",
             heads["epoch_seconds"] / plan["epoch_seconds"], "—")]
    cinic = 270_000 / (3 * n)
    md = [f"## Rehearsal {time.strftime('%Y-%m-%d %H:%M')}: {n} images per split (CINIC-shaped synthetic), "
          f"CIFAR ResNet18, {os.cpu_count()} CPU cores", "",
          "| what | measured | plan | measured / plan | old store |", "|---|---|---|---|---|"]
    md += [f"| {a} | {b} | {c} | {'—' if r is None else f'{r:.2f}'} | {o} |" for a, b, c, r, o in rows]
    md += ["", f"Checksum verification of the {heads['verified_files']} stored files the job reads: "
           f"{heads['verify_seconds']:.2f} s, {100 * heads['verify_seconds'] / heads['job_seconds']:.1f} % of this "
           f"job's {heads['job_seconds']:.0f} s (load, 2 head epochs, every exit on val and test).", ""]
    md += [f"Extrapolated to CINIC-10's 270,000 images (× {cinic:g}): new store {new['bytes'] * cinic / gb:.1f} GB "
           f"for blocks 1–6, old store {old_bytes * cinic / gb:.0f} GB; extraction on this CPU "
           f"{new['seconds'] * cinic / 60:.0f} min; peak memory of the new extraction does not grow with the split "
           f"(one batch), the old one held about twice the split's features.", ""]
    text = "\n".join(md)
    out = ROOT / "benchmarks" / "local" / "RESULTS-rehearsal.md"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write(text + "\n")
    print(text)
    if args.record:
        from eexit.bench.records import write_record
        keys = ("store", "extraction", "extraction_memory", "training_memory", "head_epoch")
        write_record("rehearsal", f"python benchmarks/rehearsal.py --per-split {n} --old-per-split {m} --record", {
            "per_split": n, **{k: {"measured": b, "plan": c, "ratio": round(r, 2)} for k, (_, b, c, r, _) in zip(keys, rows)},
            "old_store": rows[0][4], "old_peak_memory": rows[2][4], "cinic_store_gb": round(new["bytes"] * cinic / gb, 1),
            "cinic_old_store_gb": round(old_bytes * cinic / gb), "cinic_extraction_min": round(new["seconds"] * cinic / 60)})


if __name__ == "__main__":
    main()
