"""A sweep's jobs as configurations: jobs that differ only in ``seed`` are one configuration.

Per configuration, every headline (compute saved within 1/2/5 points, chosen on validation and
reported on test) becomes a mean with its 95 % interval over seeds; the field's table (accuracy at
25/50/75/100 % of the backbone's compute) a mean ± std; and when the runs compare two regimes
(``results.json`` ``comparison.pair``, e.g. BTS-EE's boosted and non-boosted) the paired
difference per seed with its interval and verdict (``stats.paired_verdict``).

A headline with no operating point within the drop counts as 0 saved (deploy the backbone alone).
A configuration whose backbone is near chance in any seed reports no savings (``None``).
Pure functions of the jobs' results dicts.
"""
from __future__ import annotations

from eexit.reporting.stats import mean_interval, paired_verdict

DROPS = ("drop_1pt", "drop_2pt", "drop_5pt")
SKIP = ("sweep=", "hydra.", "logger", "trainer.", "group=", "seed=")   # not part of a configuration's label


def bare(override: str) -> str:
    return override.lstrip("+")


def configuration_key(run: dict) -> tuple[str, ...]:
    """The job's overrides without its seed."""
    return tuple(o for o in run.get("overrides", []) if not bare(o).startswith("seed="))


def group_runs(runs: list[dict]) -> list[list[dict]]:
    """Jobs grouped by configuration, in the order the configurations first appear."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(configuration_key(r), []).append(r)
    return list(groups.values())


def config_label(run: dict, common: set[str] = frozenset()) -> str:
    """The overrides that set this configuration apart (those shared by every job are left out)."""
    parts = [o for o in run.get("overrides", []) if not bare(o).startswith(SKIP) and o not in common]
    return " ".join(parts) or "(defaults)"


def saved(run: dict, regime: str, drop: str) -> float | None:
    """Compute saved within ``drop``; ``None`` when no setting that saves compute qualifies (never 0, never the
    never-exit point's negative saving: a regime that cannot reach the accuracy is counted as not qualifying)."""
    point = ((run.get("headlines") or {}).get(regime) or {}).get(drop)
    return None if point is None or point["cost_reduction"] <= 0 else point["cost_reduction"]


def has_regime(run: dict, regime: str) -> bool:
    return (run.get("headlines") or {}).get(regime) is not None


def regime_label(name: str, regime: dict) -> str:
    """``boosted [conv1d]``: two regimes of one name (non-boosted conv1d vs linear) stay apart."""
    return f"{name} [{regime['head']}]" if regime.get("head") else name


def near_chance(run: dict) -> bool:
    return bool((run.get("guards") or {}).get("backbone_near_chance"))


def regimes_of(runs: list[dict]) -> list[str]:
    names: list[str] = []
    for r in runs:
        names += [n for n in (r.get("regimes") or {}) if n not in names]
    return names


def configuration_row(runs: list[dict], common: set[str]) -> dict:
    """One configuration's statistics over its seeds (flat keys, for csv and tables). Two jobs of one
    seed (the same run pulled twice, say) count once: the first is kept, the others are listed."""
    by_seed: dict = {}
    for r in runs:
        by_seed.setdefault(r.get("seed"), r)
    duplicates = [r["_job"] for r in runs if by_seed[r.get("seed")] is not r]
    runs = list(by_seed.values())
    chance = any(near_chance(r) for r in runs)
    row = {"config": config_label(runs[0], common), "jobs": " ".join(r["_job"] for r in runs),
           "duplicate_jobs": " ".join(duplicates), "seeds": len(runs), "method": runs[0].get("method"),
           "backbone_near_chance": chance,
           **interval_columns("backbone_test_acc", [r["backbone_test_acc"] for r in runs])}
    for regime in regimes_of(runs):
        row[f"{regime}_label"] = regime_label(regime, next(r["regimes"][regime] for r in runs
                                                          if regime in (r.get("regimes") or {})))
        points = [p for r in runs if (p := ((r.get("regimes") or {}).get(regime) or {}).get("operating_point"))]
        if points:   # the configured setting's test point, mean over seeds
            row[f"{regime}_configured_acc"] = mean_interval([p["test_acc"] for p in points])["mean"]
            row[f"{regime}_configured_cost"] = mean_interval([p["cost_fraction"] for p in points])["mean"]
        present = [r for r in runs if has_regime(r, regime)]
        for drop in DROPS:   # the mean over the seeds where a setting qualifies, and how many those are
            values = [v for r in present if (v := saved(r, regime, drop)) is not None]
            row.update(interval_columns(f"{regime}_{drop}", [] if chance else values))
            row[f"{regime}_{drop}_qualifies"] = f"{len(values)} of {len(present)}"
        for k, budget in enumerate(budgets_of(runs, regime)):
            accs = [table[k]["test_acc"] for r in runs if (table := cost_table(r, regime)) and
                    table[k]["test_acc"] is not None]
            stat = mean_interval(accs)
            row[f"{regime}_acc_at_{round(100 * budget)}"] = stat["mean"]
            row[f"{regime}_acc_at_{round(100 * budget)}_std"] = stat["std"]
    pair = (runs[0].get("comparison") or {}).get("pair")
    if pair and not chance:
        a, b = pair
        row["pair"] = f"{a} − {b}"
        for drop in DROPS:   # paired over the seeds where both qualify; the others are counted, not scored
            diff = paired_verdict({r.get("seed"): v for r in runs if (v := saved(r, a, drop)) is not None},
                                  {r.get("seed"): v for r in runs if (v := saved(r, b, drop)) is not None})
            row.update({f"diff_{drop}": diff["mean"], f"diff_{drop}_low": diff["low"],
                        f"diff_{drop}_high": diff["high"], f"verdict_{drop}": diff["verdict"],
                        f"diff_{drop}_seeds": f"{len(diff['seeds'])} of {len(runs)}"})
    return row


def interval_columns(name: str, values: list[float]) -> dict:
    stat = mean_interval(values)
    return {name: stat["mean"], f"{name}_low": stat["low"], f"{name}_high": stat["high"]}


def cost_table(run: dict, regime: str) -> list[dict]:
    return ((run.get("regimes") or {}).get(regime) or {}).get("cost_table") or []


def budgets_of(runs: list[dict], regime: str) -> list[float]:
    return next(([row["budget"] for row in t] for r in runs if (t := cost_table(r, regime))), [])


def configuration_rows(runs: list[dict]) -> list[dict]:
    common = set.intersection(*(set(configuration_key(r)) for r in runs)) if len(runs) > 1 else set()
    groups = group_runs(runs)
    if len(groups) == 1:
        common = set()
    return [configuration_row(g, common) for g in groups]


def verdict_counts(rows: list[dict], drop: str = "drop_2pt") -> dict[str, int]:
    """How many configurations the paired comparison calls better / worse / indistinguishable /
    single seed (no interval) at ``drop``."""
    counts = {"better": 0, "worse": 0, "indistinguishable": 0, "single seed": 0}
    for row in rows:
        if f"verdict_{drop}" in row:
            counts[row[f"verdict_{drop}"]] += 1
    return counts
