"""The documentation site (mkdocs.yml, docs/) builds with --strict, so a broken link or a
reference to a name that no longer exists fails the suite; its config page covers every
algorithm; the README stays a first page, its links pointing at files that exist."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ascent.catalog.registry import ALGORITHMS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    done = build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, done.stderr[-3000:]
    return site


def test_every_algorithm_config_is_on_the_configs_page(site: Path) -> None:
    page = (site / "reference" / "configs" / "index.html").read_text()
    for name, cls in ALGORITHMS.items():
        config = cls.Config
        anchor = f"{config.__module__}.{config.__qualname__}"
        assert f'id="{anchor}"' in page, name
        for field in dataclasses.fields(config):  # inherited fields included
            assert f'id="{anchor}.{field.name}"' in page, (name, field.name)


def test_the_api_pages_render_the_docstrings(site: Path) -> None:
    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("ascent.api.make", "ascent.api.load", "ascent.train.agent.Agent.learn"):
        assert f'id="{name}"' in api, name
    assert "nothing to do" in api  # learn's docstring, not just its name
    core = (site / "reference" / "core" / "index.html").read_text()
    assert 'id="ascent.core.returns.gae"' in core
    # the docstrings' subscripts stay as written, not read as emphasis (docs/hooks/results.py)
    assert "G_{t+1}" in core and "<em>" not in core


def test_benchmark_results_are_served(site: Path) -> None:
    files = sorted((ROOT / "benchmarks" / "results").glob("*.md"))
    index = (site / "results" / "files" / "index.html").read_text()
    for path in files:
        assert (site / "results" / "files" / path.stem / "index.html").is_file(), path.name
        assert f'href="{path.stem}/"' in index, path.name


@pytest.mark.slow  # make test's budget (7 minutes on 2 cores): the slow tier
def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "guides" / "spaces.md"
    page.write_text(page.read_text() + "\n[gone](no-such-page.md)\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stderr


def test_the_readme_is_a_first_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 150
    assert "make demo" in text and "make test" in text and "make docs" in text
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    for target in links:  # relative, so they work on GitHub as on a clone
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), target
    pages = ["docs/getting-started.md", "docs/results/index.md"]
    for folder in ("guides", "reference"):  # every guide and reference page
        pages += [p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / folder).glob("*.md")]
    for page in pages:
        assert page in links, page
