"""Saving a matplotlib figure drawn elsewhere (Optuna's plots of a study,
`ascent.tuning.study`): rendered in memory, written atomically (`_files.py`), then closed."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ascent.io._files import write_bytes_atomic


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write `fig` (a matplotlib Figure) to `path` in the format its suffix names (PNG by
    default) and close it, so that a loop of plots holds no figures. Returns the path."""
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())
    if getattr(fig.canvas, "manager", None) is not None:  # made by pyplot, which keeps it
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path
