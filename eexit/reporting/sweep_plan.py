"""A sweep's plan from its jobs' ``plan.json`` (``eexit -m ... plan=true``): what the whole
sweep holds on disk (the union of the jobs' stored block files: jobs that read the same block share
its file), the most any one job maps, and the sweep's time (the backbone trained once, each block
file extracted once, every job's heads). Pure functions of the jobs' plans.
"""
from __future__ import annotations

import json
import math
from pathlib import Path


def load_plans(sweep_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(sweep_dir).glob("*/plan.json"))]


def merge_plans(plans: list[dict]) -> dict:
    files: dict[str, int] = {}
    seconds = {"backbone": max(p["seconds_by_phase"]["backbone"] for p in plans), "features": 0.0,
               "heads": 0.0, "joint": 0.0, "evaluation": 0.0}
    for p in plans:
        n_train, n = p["images"]["train"], sum(p["images"].values())
        new = [b for b in p["blocks"] if p["store"] and b["name"] not in files]
        for b in new:   # training rows in the run's dtype, validation and test rows in float32
            files[b["name"]] = b["bytes_per_image"] * n_train + 4 * math.prod(b["shape"]) * (n - n_train)
        if new:   # one backbone pass computes every block this job adds
            seconds["features"] += p["seconds_by_phase"]["features"]
        for k in ("heads", "joint", "evaluation"):
            seconds[k] += p["seconds_by_phase"][k]
    extra = max(p["disk_bytes"] - p["store_bytes"] for p in plans)   # backbone weights, final logits
    job = max(plans, key=lambda p: p["store_bytes"])
    return {"jobs": len(plans), "images": plans[0]["images"], "counts_from": plans[0]["counts_from"],
            "block_files": dict(sorted(files.items())), "store_bytes": sum(files.values()),
            "disk_bytes": sum(files.values()) + extra, "max_job_store_bytes": job["store_bytes"],
            "max_job_blocks": [b["name"] for b in job["blocks"]],
            "host_bytes": max(p["host_bytes"] for p in plans), "gpu_bytes": max(p["gpu_bytes"] for p in plans),
            "seconds_by_phase": seconds, "seconds": sum(seconds.values())}


def sweep_plan_text(plan: dict) -> str:
    gb = 1e9
    return (f"sweep plan: {plan['jobs']} jobs over {'/'.join(str(v) for v in plan['images'].values())} train/val/"
            f"test images ({plan['counts_from']}); stored features {plan['store_bytes'] / gb:.2f} GB on disk in "
            f"{len(plan['block_files'])} block files ({', '.join(plan['block_files'])}); disk {plan['disk_bytes'] / gb:.2f}"
            f" GB; one job maps at most {plan['max_job_store_bytes'] / gb:.2f} GB ({', '.join(plan['max_job_blocks'])});"
            f" host memory {plan['host_bytes'] / gb:.2f} GB, GPU memory {plan['gpu_bytes'] / gb:.2f} GB per job; "
            f"about {plan['seconds'] / 3600:.2f} h one job after another")
