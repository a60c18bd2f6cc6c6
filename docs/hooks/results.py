"""MkDocs hooks: the benchmark result files (benchmarks/results/*.md and the plots they
show) served under results/files/, with an index page, so the site shows them as they
are in the repository without a copy in docs/ that could drift; and underscores read as
subscripts, not emphasis, since the docstrings write G_t and V(s'_{t+1})."""

from __future__ import annotations

from pathlib import Path

from markdown import Markdown
from markdown.extensions import Extension
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
PREFIX = "results/files"


def title(path: Path) -> str:
    """A results file's first heading, or its name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def index(pages: list[Path]) -> str:
    rows = "\n".join(f"| [{p.name}]({p.name}) | {title(p)} |" for p in pages)
    return (
        "# Benchmark files\n\n"
        "Each benchmark under `benchmarks/` writes its results here, with the command that "
        "made them and the versions it ran with (shown as they are in "
        "`benchmarks/results/`).\n\n"
        f"| file | what it measures |\n|---|---|\n{rows}\n"
    )


def on_files(files: Files, config: MkDocsConfig) -> Files:
    pages = sorted(RESULTS.glob("*.md"))
    for path in pages + sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"{PREFIX}/{path.name}", abs_src_path=str(path)))
    files.append(File.generated(config, f"{PREFIX}/index.md", content=index(pages)))
    return files


class NoUnderscoreEmphasis(Extension):
    """`*a*` and `**a**` still emphasise; `_a_` and `__a__` stay as written."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Markdown's name)
        if hasattr(md, "delimiters"):  # Markdown 3.11's delimiter processor
            md.delimiters.remove("_")
        md.inlinePatterns.deregister("em_strong2", strict=False)  # earlier versions


@event_priority(100)  # before mkdocstrings reads the extensions it renders docstrings with
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.markdown_extensions.append(NoUnderscoreEmphasis())
    return config
