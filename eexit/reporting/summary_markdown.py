"""``summary.md``: a sweep's configurations as a reviewer reads them (statistics in ``configurations``)."""
from __future__ import annotations

from eexit.reporting.configurations import DROPS, comparison_family, constraint_check, regimes_of


def pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def with_interval(row: dict, key: str) -> str:
    """``62.1% [58.0, 66.2]`` (mean and 95 % interval over seeds) or ``62.1%`` for one seed; a saving that
    qualified in only some seeds says in how many (``none`` when in no seed)."""
    qualifies = row.get(f"{key}_qualifies") or row.get(f"{key}_seeds")
    some = "" if qualifies is None or qualifies.split(" of ")[0] == qualifies.split(" of ")[1] else \
        f" (in {qualifies} seeds)"
    if row.get(key) is None:
        return "none" + some if qualifies else "—"
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    timed = row.get(f"{key}_time_b1")   # the measured time saving at batch 1, mean over the seeds, beside the MACs'
    return pct(row[key]) + ("" if low is None else f" [{100 * low:.1f}, {100 * high:.1f}]") + some + \
        ("" if timed is None else f"; time {100 * timed:.0f}% at batch 1")


def with_std(row: dict, key: str) -> str:
    """``91.2% ± 0.3``, then how many seeds had a setting that cheap when not all did, and in how many the chosen
    setting cost more than the budget on test (``†``)."""
    if row.get(key) is None:
        return "—"
    std, seeds, over = row.get(f"{key}_std"), row.get(f"{key}_seeds"), row.get(f"{key}_over_on_test")
    some = f" ({seeds} seeds)" if seeds and seeds.split(" of ")[0] != seeds.split(" of ")[1] else ""
    return pct(row[key]) + ("" if std is None else f" ± {100 * std:.1f}") + some + (f" †{over}" if over else "")


def configured(row: dict, regime: str) -> str:
    """The configured operating point: ``96.7% @ 0.41`` (test accuracy at a cost fraction; mean over seeds)."""
    acc = row.get(f"{regime}_configured_acc")
    return "—" if acc is None else f"{100 * acc:.1f}% @ {row[f'{regime}_configured_cost']:.2f}"


def markdown(sweep_dir, rows: list[dict], runs: list[dict], failed: dict[str, str], missing: list[str]) -> str:
    seeds = sorted({r["seeds"] for r in rows})
    md = [f"# Sweep summary: {sweep_dir}", "",
          f"{len(rows)} configurations, {len(runs)} jobs, {'/'.join(map(str, seeds)) or 0} seed(s) per configuration. "
          "Compute saved (share of the backbone's MACs) within 2 points of the backbone: the setting is chosen on "
          "validation and its test numbers reported; mean over the seeds where a setting qualifies with its 95 % "
          "interval [low, high], a two-level bootstrap (seeds, then test images); \"none\" or \"(in k of n seeds)\" "
          "when no setting that saves compute stays within 2 points in some seeds (never averaged in as 0). "
          "Configured: the configured setting's test accuracy @ cost fraction (mean over seeds).", ""]
    checked = constraint_check(runs)
    if any(c["headlines"] for c in checked.values()):
        md += ["**Limits kept on test** (each headline is chosen on validation): " + "; ".join(
            f"≤ {d.split('_')[1].removesuffix('pt')} pt: {c['violated']} of {c['headlines']} broke it"
            + (f" (mean excess {c['mean_excess_pt']:.2f} pt, worst {c['worst_excess_pt']:.2f} pt)" if c["violated"]
               else "") for d, c in checked.items()) + ".", ""]
    if failed or missing:
        md += [f"**Incomplete: {len(failed)} failed, {len(missing)} missing** (missing: killed or never started; "
               f"rerun the same command with `hydra.sweep.dir={sweep_dir}` to run only those)."]
        md += [f"- job {job} failed: {reason}" for job, reason in sorted(failed.items(), key=lambda x: int(x[0]))]
        md += [f"- job {job} missing" for job in missing] + [""]
    pair = next((r["pair"] for r in rows if r.get("pair")), None)
    if pair:
        f = comparison_family(rows, runs)
        c, h = f["raw"], f["holm"]
        md += [f"**{pair} at ≤ 2 points, paired by seed: better in {c['better']}, worse in {c['worse']}, "
               f"indistinguishable in {c['indistinguishable']}"
               + (f", single seed (no interval) in {c['single seed']}" if c["single seed"] else "")
               + f" of {sum(c.values())} configurations; after Holm's adjustment for the {f['comparisons']} "
               f"comparisons: better in {h['better']}, worse in {h['worse']}.** They compare against "
               f"{f['distinct_baselines']} distinct baselines and rest on {f['backbones']} trained backbones, so "
               "they are not independent findings. Better or worse only when the 95 % interval of the paired "
               "difference excludes 0 (a two-level bootstrap: seeds, then the test images, both regimes on the "
               "same images); Holm keeps the chance of any false \"better\" or \"worse\" in the family at 5 %.", ""]
    regimes = regimes_of(runs)
    show = [f"{g} {what}" for g in regimes for what in ("≤ 2 pt", "configured")] + ([pair, "verdict"] if pair else [])
    md += ["| config | seeds | backbone test acc | " + " | ".join(show) + " |", "|" + "---|" * (3 + len(show))]
    for row in rows:
        cells = [cell for g in regimes for cell in (with_interval(row, f"{g}_drop_2pt"), configured(row, g))]
        if pair:
            cells += [with_interval(row, "diff_drop_2pt"), row.get("verdict_drop_2pt", "—")]
        md.append(f"| {row['config']} | {row['seeds']} | {with_interval(row, 'backbone_test_acc')} | "
                  + " | ".join(cells) + " |")
    budgets = sorted({int(k.rsplit("_", 1)[1]) for row in rows for k in row
                      if "_acc_at_" in k and k.rsplit("_", 1)[1].isdigit()})
    if budgets:
        md += ["", "## Test accuracy at a share of the backbone's compute (mean ± std over seeds)", "",
               "The calibrator's setting with the best validation accuracy within each budget, chosen on validation "
               "(SDN / MSDNet / ZTW report such tables, but ZTW selects within the budget on the curve it reports: "
               "results.json's `cost_table_ztw` does that, for comparison); — = no setting that cheap; †k = in k "
               "seeds the chosen setting cost more than the budget on test.", "",
               "| config | regime | " + " | ".join(f"{b} %" for b in budgets) + " |", "|" + "---|" * (2 + len(budgets))]
        md += [f"| {row['config']} | {row[g + '_label']} | " + " | ".join(with_std(row, f"{g}_acc_at_{b}")
                                                                     for b in budgets) + " |"
               for row in rows for g in regimes if f"{g}_acc_at_{budgets[0]}" in row]
    certified = [(row, g) for row in rows for g in regimes if f"{g}_certified_saving" in row]
    if certified:
        md += ["", "## Certified settings (selection=risk) beside the validation-selected headline", "",
               "| config | regime | promise | compute saved, certified | held on test | ≤ 2 pt, validation-selected |",
               "|---|---|---|---|---|---|"]
        md += [f"| {row['config']} | {row[g + '_label']} | {row[g + '_certified_promise']} | "
               f"{pct(row[g + '_certified_saving'])} | {row[g + '_certified_held']} | {with_interval(row, g + '_drop_2pt')} |"
               for row, g in certified]
    md += ["", "## Every regime at ≤ 1 / 2 / 5 points (mean [95 % interval])", "",
           "| config | regime | ≤ 1 pt | ≤ 2 pt | ≤ 5 pt |", "|---|---|---|---|---|"]
    md += [f"| {row['config']} | {row[g + '_label']} | " + " | ".join(with_interval(row, f"{g}_{d}") for d in DROPS) + " |"
           for row in rows for g in regimes if f"{g}_drop_2pt" in row]
    md += guard_lines(rows, runs)
    return "\n".join(md) + "\n"


def guard_lines(rows: list[dict], runs: list[dict]) -> list[str]:
    """Guards, one line per configuration and kind (not per job)."""
    config_of = {job: row["config"] for row in rows for job in row["jobs"].split()}
    out = [f"- {row['config']}: the backbone is within 5 points of chance in some seed: no savings reported"
           for row in rows if row["backbone_near_chance"]]
    flagged: dict[str, set] = {}
    for r in runs:
        g = r.get("guards") or {}
        for kind, what in (("untrained_heads", "heads {} never trained"), ("exits_beat_backbone",
                                                                             "exit(s) {} alone beat the backbone")):
            for name, which in (g.get(kind) or {}).items():
                if which:
                    line = f"{name} " + what.format(", ".join(map(str, which)))
                    flagged.setdefault(f"- {config_of.get(r['_job'], r['_job'])}: {line}", set()).add(r["_job"])
    out += [f"{line} (job {', '.join(sorted(jobs, key=lambda j: (len(j), j)))})" for line, jobs in flagged.items()]
    small = sorted({g["test_samples"] for r in runs if (g := r.get("guards") or {}).get("small_split")})
    if small:
        out.append(f"- test splits of {', '.join(map(str, small))} samples: one sample moves accuracy by "
                   f"{100 / small[-1]:.2f} points or more")
    return ["", "## Guards", ""] + out if out else []
