"""What the plan promised against what the run took, phase by phase: every run's log ends with it and
``results.json`` keeps it (``plan_check``), so a plan that drifts from the truth is seen on every run.

The run's clock (``Phases``) names finer phases than the plan: ``backbone`` and ``features`` are the same;
each regime's ``build``, ``train`` and ``predict`` are its head (or, for a jointly trained network, joint)
training; the rest of a regime's phases (calibration, curves, analysis, real-skip check, time savings,
checkpoint) are its evaluation. Setup, loggers and plots are in the wall time only.
"""
from __future__ import annotations

PHASES = ("backbone", "features", "heads", "joint", "evaluation")
TRAINING = ("build", "train", "predict")


def plan_check(planned: dict, phase_seconds: dict, wall_seconds: float) -> dict:
    """``{"planned": {phase: s}, "measured": {phase: s}, "planned_total", "measured_total"}``."""
    joint = planned.get("joint", 0.0) > 0 and planned.get("heads", 0.0) == 0
    measured = dict.fromkeys(PHASES, 0.0)
    for name, seconds in phase_seconds.items():
        if name in ("backbone", "features"):
            measured[name] += seconds
        elif "/" in name:
            step = name.split("/", 1)[1]
            measured[("joint" if joint else "heads") if step in TRAINING else "evaluation"] += seconds
    return {"planned": {p: round(planned.get(p, 0.0), 2) for p in PHASES}, "measured": {p: round(s, 2) for p, s in
                                                                                     measured.items()},
            "planned_total": round(sum(planned.get(p, 0.0) for p in PHASES), 2), "measured_total": round(wall_seconds, 2)}


def plan_check_text(check: dict) -> str:
    """``planned 242 s, took 300 s (backbone 191 / 180 s, features 7 / 8 s, ...)``: planned / measured."""
    parts = ", ".join(f"{p} {check['planned'][p]:.0f} / {check['measured'][p]:.0f} s" for p in PHASES
                      if check["planned"][p] or check["measured"][p])
    return f"planned {check['planned_total']:.0f} s, took {check['measured_total']:.0f} s ({parts}; planned / measured)"
