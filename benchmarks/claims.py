"""The claims lab: the course's statements that data can test, each as an experiment with
a verdict written from its figures (issue 34).

    .venv/bin/python benchmarks/claims.py --only variance          # run, then report
    .venv/bin/python benchmarks/claims.py --only variance --quick  # tiny settings: a smoke run
    .venv/bin/python benchmarks/claims.py --phase report           # claims.md from kept figures
    .venv/bin/python benchmarks/claims.py --list

Each experiment is one module of `benchmarks/claims_lab/` (a new experiment is a new
file there; nothing here names it), defining:

- `NAME` (the `--only` name), `QUESTION` (the course's question, 1–12), `ORDER` (its
  place in the report), `TITLE`;
- `CLAIM`: the course's words, quoted (`../shared/course/`);
- `FALSE_IF`: what the data would have to show for the claim to be false, written
  before the data;
- `SEEDS`: the seeds it runs (5 unless the claim needs more);
- optionally `CASES`: the cases of a full run, each kept as `CASE.json`; the report
  leaves the experiment out until all are there;
- `run(seeds, out, quick)`: trains and measures (cases in child processes, `--jobs`
  at a time: `claims_lab._cases`), writing its raw figures as JSON under
  `out` (benchmarks/results/claims/NAME/, committed; `quick` for a smoke run, whose
  figures go to benchmarks/out/claims/ instead and are never reported);
- `report(out, plot)`: reads them back, draws `plot` (a PNG path) and returns a
  `Section`: its markdown lines (tables, the command, the seeds) and the verdict
  sentence, one of "holds", "holds with a condition", "does not hold here" followed by
  what the data show.

The report (benchmarks/results/claims.md) opens with the course map: each of the twelve
questions with the experiments that test its claims, here and in the other results
files (COURSE_MAP), then one section per experiment whose figures exist.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import pkgutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

RESULTS = ROOT / "benchmarks" / "results"
KEPT = RESULTS / "claims"  # each experiment's raw figures: the report is rebuilt from them
QUICK = ROOT / "benchmarks" / "out" / "claims"  # smoke runs, never reported
VERDICTS = ("holds", "holds with a condition", "does not hold here")


@dataclass
class Section:
    """What an experiment's `report` returns."""

    lines: list[str]  # markdown: the protocol in brief, the tables, the command and seeds
    verdict: str  # one of VERDICTS, then ": " and what the data show, one sentence

    def __post_init__(self) -> None:
        if not any(self.verdict.startswith(v + ":") for v in VERDICTS):
            raise ValueError(f"a verdict starts with one of {VERDICTS} and ':': {self.verdict!r}")


# The course's twelve questions and where their claims are measured outside this file
# (results files of other benchmarks); the experiments of claims_lab add themselves.
COURSE_MAP: dict[int, tuple[str, list[str]]] = {
    1: ("Policy gradients and the policy gradient theorem",
        ["`ascent theory pg`: every estimator against the exact gradient on tabular MDPs "
         "(docs/guides, tests/theory)"]),
    2: ("Actor-critic methods", []),
    3: ("A2C against A3C", ["[a3c.md](a3c.md): speed, stability and staleness of A3C and IMPALA"]),
    4: ("Continuous actions: DDPG, TD3, SAC", [
        "[offpolicy_pendulum.md](offpolicy_pendulum.md), "
        "[offpolicy_halfcheetah.md](offpolicy_halfcheetah.md): learning against published tables"]),
    5: ("Trust regions (TRPO)", ["[trust_region.md](trust_region.md): TRPO against PPO, cost and "
                                 "return"]),
    6: ("Entropy regularisation", []),
    7: ("PPO against TRPO", ["[trust_region.md](trust_region.md)",
                             "[mujoco.md](mujoco.md): PPO, TRPO and A2C on MuJoCo"]),
    8: ("Multi-agent learning", ["[marl_claims.md](marl_claims.md): messages, credit "
                                 "assignment, centralised critics, self-play"]),
    9: ("Transformers against RNNs and CNNs for memory",
        ["[memory.md](memory.md): tasks, cost against context, the course's question 9"]),
    10: ("Attention: scores", ["[memory.md](memory.md): score functions on RepeatPrevious"]),
    11: ("Positional encodings", ["[memory.md](memory.md): positional schemes on RepeatPrevious"]),
    12: ("Multi-head attention, layer norm, gating", []),
}  # fmt: skip


def experiments() -> dict[str, ModuleType]:
    """Every module of claims_lab, by NAME, in report order."""
    import claims_lab

    names = [m.name for m in pkgutil.iter_modules(claims_lab.__path__) if m.name[0] != "_"]
    found = [importlib.import_module(f"claims_lab.{name}") for name in names]
    return {m.NAME: m for m in sorted(found, key=lambda m: (m.ORDER, m.NAME))}


def complete(module: ModuleType, out: Path) -> bool:
    """Whether an experiment's figures are all there: every case a full run makes (a
    module's `CASES`, each `out/CASE.json`), or, without CASES, any figures at all. An
    experiment stopped part way is resumed by running it again, and reported only then."""
    cases = getattr(module, "CASES", None)
    if cases is None:
        return out.is_dir() and any(out.iterdir())
    return all((out / f"{case}.json").is_file() for case in cases)


def run(names: list[str], quick: bool, seeds: list[int] | None) -> None:
    found = experiments()
    for name in names:
        module = found[name]
        out = (QUICK if quick else KEPT) / name
        out.mkdir(parents=True, exist_ok=True)
        chosen = seeds if seeds is not None else list(module.SEEDS)
        print(f"{name}: seeds {chosen}{' (quick)' if quick else ''}", flush=True)
        module.run(chosen, out, quick)
        if quick:  # the smoke run's report, printed, never written into claims.md
            section = module.report(out, out / f"{name}.png")
            print("\n".join([*section.lines, "", f"**Verdict:** {section.verdict}"]))


def report() -> None:
    found = experiments()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()  # fmt: skip
    sections, verdicts = [], {}
    for name, module in found.items():
        out = KEPT / name
        if not complete(module, out):
            if out.is_dir():  # say what is missing: a part run, or CASES naming other files
                missing = [
                    c for c in getattr(module, "CASES", ()) if not (out / f"{c}.json").is_file()
                ]
                print(f"{name}: left out, {len(missing)} cases missing ({', '.join(missing[:3])}"
                      f"{', ...' if len(missing) > 3 else ''})", file=sys.stderr)  # fmt: skip
            continue
        plot = RESULTS / f"claims_{name}.png"
        section = module.report(out, plot)
        verdicts[name] = section.verdict
        sections += [
            f'<a id="{name}"></a>',  # the course map's link, on GitHub and on the site
            "",
            f"## {module.TITLE} (question {module.QUESTION})",
            "",
            f"> {module.CLAIM}",
            "",
            f"**False if** {module.FALSE_IF}",
            "",
            *section.lines,
            "",
            f"![{name}](claims_{name}.png)" if plot.exists() else "",
            "",
            f"**Verdict:** {section.verdict}",
            "",
        ]
    lines = [
        "# The claims lab: the course's statements, tested",
        "",
        f"`python benchmarks/claims.py` (report rebuilt {dt.date.today()} at {commit}); each "
        "experiment's protocol is in its module under `benchmarks/claims_lab/`, its raw "
        "figures under `benchmarks/results/claims/`.",
        "",
        "## The course's questions and where their claims are tested",
        "",
        "| question | subject | tested in |",
        "|---|---|---|",
    ]
    for q, (subject, elsewhere) in COURSE_MAP.items():
        here = [f"[{m.TITLE}](#{n}): {verdicts[n].split(':')[0]}"
                for n, m in found.items() if m.QUESTION == q and n in verdicts]  # fmt: skip
        planned = [f"{m.TITLE} ({'part run' if (KEPT / n).is_dir() else 'not run yet'})"
                   for n, m in found.items() if m.QUESTION == q and n not in verdicts]  # fmt: skip
        lines.append(f"| {q} | {subject} | {'; '.join([*here, *elsewhere, *planned]) or '—'} |")
    lines += ["", *sections]
    (RESULTS / "claims.md").write_text("\n".join(lines).rstrip() + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="experiments to run, comma-separated (default: all)")
    parser.add_argument("--phase", choices=("all", "run", "report"), default="all")
    parser.add_argument("--seeds", help="comma-separated seeds (default: each experiment's)")
    parser.add_argument("--quick", action="store_true", help="tiny settings; not reported")
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time (default 2)")
    parser.add_argument("--list", action="store_true", help="the experiments, and stop")
    args = parser.parse_args()
    found = experiments()
    if args.list:
        for name, m in found.items():
            print(f"{name:16} question {m.QUESTION:2}  {m.TITLE}")
        return
    names = args.only.split(",") if args.only else list(found)
    unknown = [n for n in names if n not in found]
    if unknown:
        known = ", ".join(found)
        parser.exit(2, f"error: unknown experiment {', '.join(unknown)}; known: {known}\n")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    os.environ["CLAIMS_JOBS"] = str(args.jobs)  # read by the modules' runners (_cases.jobs)
    if args.phase in ("all", "run"):
        run(names, args.quick, seeds)
    if args.phase in ("all", "report") and not args.quick:
        report()


if __name__ == "__main__":
    main()
