"""Each test file's seconds in one run of each tier, for ordering the files
(`conftest.pytest_collection_modifyitems`): with `--dist loadfile` a file runs whole on
one worker, so handing the files out longest first lets the two workers end together,
where xdist's own order (the files with the most tests first) left slow files of few
tests for the end.

Refresh after runs that wrote JUnit reports, e.g. one worker and an empty cache:
    rm -rf .cache && python -m pytest -q -p no:cacheprovider --junitxml=/tmp/default.xml
    python -m pytest -q -p no:cacheprovider -m slow --junitxml=/tmp/slow.xml
    python tests/file_seconds.py /tmp/default.xml /tmp/slow.xml   # rewrites the table
The numbers only order the files: a stale or missing entry costs time, never a test.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

TABLE = Path(__file__).with_name("file_seconds.json")
TIERS = ("default", "slow")  # `make test`, `make test-slow`


def read(report: str | Path) -> dict[str, float]:
    """{path of a test file relative to the repository: its tests' seconds summed}."""
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        while module and not module[-1].startswith("test_"):
            module.pop()  # a test class's name after its module's
        if module:
            seconds["/".join(module) + ".py"] += float(case.get("time", 0))
    return dict(seconds)


if __name__ == "__main__":
    if len(sys.argv) != 1 + len(TIERS):
        sys.exit("usage: python tests/file_seconds.py DEFAULT_TIER.xml SLOW_TIER.xml")
    table = {
        tier: {k: round(v, 1) for k, v in sorted(read(report).items())}
        for tier, report in zip(TIERS, sys.argv[1:], strict=True)
    }
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    for tier, files in table.items():
        print(f"{tier}: {len(files)} files, {sum(files.values()):.0f} s in all")
