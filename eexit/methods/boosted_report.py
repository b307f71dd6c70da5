"""What a boosted fit says of its stages in the run's summary (the record's generic ``summary``, ``notes`` and
``untrained_heads``): each stage's training pool and how much of it exits there, and a note when stages were left
without samples. BTS-EE's own facts, so they live with the method, not in the generic report."""
from __future__ import annotations


def untrained(stages: list[dict]) -> tuple[int, ...]:
    return tuple(s["head"] for s in stages if not s["trained"])


def pools_lines(stages: list[dict]) -> tuple[str, ...]:
    """Per boosted stage: the training pool (share of the training set) and how many of it exit there."""
    if not stages:
        return ()
    total = max(stages[0]["train_pool"], 1)
    parts = [f"head {s['head']} " + (f"trained on {s['train_pool']} ({100 * s['train_pool'] / total:.1f}%), "
                                     f"{s['train_exited']} exit" if s["trained"] else
                                     f"untrained ({s['train_pool']} left)") for s in stages]
    return (f"boosted pools (survivors: {stages[0].get('survivors', 'in_sample')}): " + "; ".join(parts),)


def skipped_notes(name: str, stages: list[dict]) -> tuple[str, ...]:
    """Why some heads never trained, and the survivor rules that would leave them samples."""
    skipped = [s for s in stages if not s["trained"]]
    if not skipped:
        return ()
    first = stages[0]
    return (f"{name} heads {', '.join(str(s['head']) for s in skipped)} had no training samples left: the earlier "
            f"heads exit {first['train_exited']} of {first['train_pool']} training samples once calibrated (a head "
            f"fits its training set better than validation), so BTS-EE has fewer exits on this data; "
            f"the survivor rule rate_matched (or cross_fit, soft) leaves them the share validation says "
            f"(docs/survivors.md)",)
