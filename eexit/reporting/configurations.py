"""A sweep's jobs as configurations: jobs whose composed settings differ only in ``seed`` are one configuration.

Per configuration, every headline (compute saved within 1/2/5 points, chosen on validation and
reported on test) becomes a mean over seeds with its 95 % two-level bootstrap interval (seeds, then test images;
``stats.two_level_interval``), the t-interval over seeds beside it; the field's table (accuracy at
25/50/75/100 % of the backbone's compute) a mean ± std; and when the runs compare two regimes
(``results.json`` ``comparison.pair``, e.g. BTS-EE's boosted and non-boosted) the paired
difference, its bootstrap interval (both regimes resampled on the same images) and verdict (two seeds at least).

A headline with no setting that saves compute within the drop is "none": counted (qualifies in k of n seeds),
never averaged in as 0.
A configuration whose backbone is near chance in any seed reports no savings (``None``).
Pure functions of the jobs' results dicts.
"""
from __future__ import annotations

import numpy as np

from eexit.reporting.configuration_keys import config_label, configuration_key, group_runs, settings_label, \
    varying_settings
from eexit.reporting.samples import sample_savings
from eexit.reporting.stats import (LEVEL, bootstrap_p, holm, mean_interval, paired_verdict, t_p, two_level_draws,
                                   verdict)

DROPS = ("drop_1pt", "drop_2pt", "drop_5pt")
def saved(run: dict, regime: str, drop: str) -> float | None:
    """Compute saved within ``drop``; ``None`` when no setting that saves compute qualifies (never 0, never the
    never-exit point's negative saving: a regime that cannot reach the accuracy is counted as not qualifying)."""
    point = headline_of(run, regime, drop)
    return point["cost_reduction"] if point.get("cost_reduction", 0) > 0 else None


def headline_of(run: dict, regime: str, drop: str) -> dict:
    return ((run.get("headlines") or {}).get(regime) or {}).get(drop) or {}


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


def configuration_row(runs: list[dict], common: set[str], varying: list[str] | None = None) -> dict:
    """One configuration's statistics over its seeds (flat keys, for csv and tables). Two jobs of one
    seed (the same run pulled twice, say) count once: the first is kept, the others are listed."""
    by_seed: dict = {}
    for r in runs:
        by_seed.setdefault(r.get("seed"), r)
    duplicates = [r["_job"] for r in runs if by_seed[r.get("seed")] is not r]
    runs = list(by_seed.values())
    chance = any(near_chance(r) for r in runs)
    label = settings_label(runs[0], varying) if varying is not None and runs[0].get("settings") else \
        config_label(runs[0], common)
    row = {"config": label, "configuration": runs[0].get("configuration"), "jobs": " ".join(r["_job"] for r in runs),
           "duplicate_jobs": " ".join(duplicates), "seeds": len(runs), "method": runs[0].get("method"),
           "backbone_near_chance": chance,
           **interval_columns("backbone_test_acc", [r["backbone_test_acc"] for r in runs])}
    for regime in regimes_of(runs):
        row[f"{regime}_label"] = regime_label(regime, next(r["regimes"][regime] for r in runs
                                                          if regime in (r.get("regimes") or {})))
        certs = [c for r in runs if (c := ((r.get("regimes") or {}).get(regime) or {}).get("certified"))]
        if certs:   # selection=risk: the certified setting beside the validation-selected headline
            row.update({f"{regime}_certified_saving": mean_interval([c["test_cost_reduction"] if c.get("exits", True)
                                                                      and c["setting"] is not None else 0.0
                                                                      for c in certs])["mean"],
                        f"{regime}_certified_held": f"{sum(c['held_on_test'] for c in certs)} of {len(certs)}",
                        f"{regime}_certified_promise": f"{c['risk']} ≤ {c['delta_pt']:g} pt at α = {c['alpha']:g}"})
        points = [p for r in runs if (p := ((r.get("regimes") or {}).get(regime) or {}).get("operating_point"))]
        if points:   # the configured setting's test point, mean over seeds
            row[f"{regime}_configured_acc"] = mean_interval([p["test_acc"] for p in points])["mean"]
            row[f"{regime}_configured_cost"] = mean_interval([p["cost_fraction"] for p in points])["mean"]
        present = [r for r in runs if has_regime(r, regime)]
        for drop in DROPS:   # the mean over the seeds where a setting qualifies, and how many those are
            qualified = [r for r in present if saved(r, regime, drop) is not None]
            row.update(interval_columns(f"{regime}_{drop}", [] if chance else [saved(r, regime, drop) for r in qualified],
                                        [] if chance else [samples(r, regime, drop) for r in qualified]))
            row[f"{regime}_{drop}_qualifies"] = f"{len(qualified)} of {len(present)}"
            timed = [t["batch_1"]["saving"] for r in qualified if (t := headline_of(r, regime, drop).get("time_saving"))]
            row[f"{regime}_{drop}_time_b1"] = mean_interval(timed)["mean"] if timed and not chance else None
        for k, budget in enumerate(budgets_of(runs, regime)):   # the seeds with a setting this cheap, and how many
            filled = [table[k] for r in runs if (table := cost_table(r, regime)) and table[k]["test_acc"] is not None]
            stat, key = mean_interval([t["test_acc"] for t in filled]), f"{regime}_acc_at_{round(100 * budget)}"
            row.update({key: stat["mean"], f"{key}_std": stat["std"], f"{key}_seeds": f"{len(filled)} of {len(runs)}",
                        f"{key}_over_on_test": sum(bool(t.get("over_budget_on_test")) for t in filled)})
    pair = (runs[0].get("comparison") or {}).get("pair")
    if pair and not chance:
        a, b = pair
        row["pair"] = f"{a} − {b}"
        for drop in DROPS:   # paired over the seeds where both qualify; the others are counted, not scored
            both = [r for r in runs if saved(r, a, drop) is not None and saved(r, b, drop) is not None]
            diff = paired_verdict({r.get("seed"): saved(r, a, drop) for r in both},
                                  {r.get("seed"): saved(r, b, drop) for r in both})
            row.update({f"diff_{drop}": diff["mean"], f"diff_{drop}_t_low": diff["low"],
                        f"diff_{drop}_t_high": diff["high"], f"diff_{drop}_seeds": f"{len(both)} of {len(runs)}"})
            pairs = [(samples(r, a, drop), samples(r, b, drop)) for r in both]
            if len(both) >= 2 and all(x is not None and y is not None and len(x) == len(y) for x, y in pairs):
                draws = two_level_draws([x - y for x, y in pairs])   # both regimes on the same images
                low, high = (float(q) for q in np.percentile(draws, [50 * (1 - LEVEL), 50 * (1 + LEVEL)]))
                row.update({f"diff_{drop}_low": low, f"diff_{drop}_high": high, f"p_{drop}": bootstrap_p(draws),
                            f"verdict_{drop}": verdict({"low": low, "high": high})})
            else:   # one seed (never a verdict), or results without samples: the t-interval over seeds
                row.update({f"diff_{drop}_low": diff["low"], f"diff_{drop}_high": diff["high"],
                            f"verdict_{drop}": diff["verdict"]})
                if len(both) >= 2:
                    row[f"p_{drop}"] = t_p([saved(r, a, drop) - saved(r, b, drop) for r in both])
    return row


def interval_columns(name: str, values: list[float], per_sample: list | None = None) -> dict:
    """The mean over seeds with its interval: the two-level bootstrap (seeds, then test images) when every seed kept
    its test samples, else the t-interval over seeds; the t-interval is kept beside it (``_t_low``/``_t_high``)."""
    stat = mean_interval(values)
    out = {name: stat["mean"], f"{name}_low": stat["low"], f"{name}_high": stat["high"],
           f"{name}_t_low": stat["low"], f"{name}_t_high": stat["high"]}
    if values and per_sample and all(v is not None for v in per_sample):
        draws = two_level_draws(per_sample)
        out[f"{name}_low"], out[f"{name}_high"] = (float(q) for q in np.percentile(draws, [50 * (1 - LEVEL),
                                                                                          50 * (1 + LEVEL)]))
    return out


def samples(run: dict, regime: str, drop: str):
    """The headline's per-test-image savings, or ``None`` when its results kept none."""
    return sample_savings(headline_of(run, regime, drop) or None)


def cost_table(run: dict, regime: str) -> list[dict]:
    return ((run.get("regimes") or {}).get(regime) or {}).get("cost_table") or []


def budgets_of(runs: list[dict], regime: str) -> list[float]:
    return next(([row["budget"] for row in t] for r in runs if (t := cost_table(r, regime))), [])


def configuration_rows(runs: list[dict]) -> list[dict]:
    common = set.intersection(*(set(configuration_key(r)) for r in runs)) if len(runs) > 1 else set()
    groups = group_runs(runs)
    if len(groups) == 1:
        common = set()
    varying = varying_settings(runs)
    rows = [configuration_row(g, common, varying) for g in groups]
    for drop in DROPS:   # Holm over the family of comparisons made at this drop: the adjusted verdicts
        tested = [row for row in rows if f"p_{drop}" in row]
        for row, rejected in zip(tested, holm([row[f"p_{drop}"] for row in tested])):
            row[f"verdict_{drop}_holm"] = row[f"verdict_{drop}"] if rejected else "indistinguishable"
    return rows


def verdict_counts(rows: list[dict], drop: str = "drop_2pt", adjusted: bool = False) -> dict[str, int]:
    """How many configurations the paired comparison calls better / worse / indistinguishable /
    single seed (no interval) at ``drop``; ``adjusted``: after Holm's adjustment over the comparisons."""
    counts = {"better": 0, "worse": 0, "indistinguishable": 0, "single seed": 0}
    for row in rows:
        if f"verdict_{drop}" in row:
            counts[row.get(f"verdict_{drop}_holm", row[f"verdict_{drop}"]) if adjusted else row[f"verdict_{drop}"]] += 1
    return counts


def comparison_family(rows: list[dict], runs: list[dict], drop: str = "drop_2pt") -> dict:
    """What a sweep's comparisons at ``drop`` amount to: how many rows compare, how many distinct baselines they
    compare against (configurations that differ only in a setting the baseline ignores share one, e.g. BTS-EE's
    margin for the non-boosted heads), how many backbones all of it rests on, and the counts raw and after Holm."""
    compared = [row for row in rows if f"verdict_{drop}" in row]
    baseline = next((row["pair"].split(" − ")[1] for row in compared), None)
    distinct = {(round(row.get(f"{baseline}_{drop}") or 0.0, 9), row["seeds"]) for row in compared} if baseline else set()
    backbones = {(r.get("dataset"), r.get("backbone"), r.get("seed"), r.get("backbone_test_acc")) for r in runs}
    return {"comparisons": len(compared), "distinct_baselines": len(distinct), "backbones": len(backbones),
            "raw": verdict_counts(rows, drop), "holm": verdict_counts(rows, drop, adjusted=True)}


def constraint_check(runs: list[dict]) -> dict:
    """How often a validation-chosen headline broke its limit on test, per drop: ``{drop: {headlines, violated,
    mean_excess_pt, worst_excess_pt}}`` over every regime of every job that kept its test drop."""
    out = {}
    for drop in DROPS:
        limit = float(drop.split("_")[1].removesuffix("pt"))
        points = [p for r in runs for head in (r.get("headlines") or {}).values()
                  if (p := (head or {}).get(drop)) and "met_on_test" in p]
        excess = [p["test_drop_pt"] - limit for p in points if not p["met_on_test"]]
        out[drop] = {"headlines": len(points), "violated": len(excess),
                     "mean_excess_pt": sum(excess) / len(excess) if excess else None,
                     "worst_excess_pt": max(excess) if excess else None}
    return out
