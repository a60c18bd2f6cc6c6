"""I/O: the only layer that writes files. It knows no algorithm.

Checkpoints (any pytree, safetensors + JSON), metric logs (CSV, and TensorBoard, MLflow or
W&B through `loggers.py`), the progress display, learning-curve and bias–variance plots and
run folders.
Compiling (the caches, XLA's threads) is `ascent.runtime`'s.
"""

from __future__ import annotations

from ascent.io.checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    read_meta,
    save_checkpoint,
)
from ascent.io.metrics import MetricsLogger, read_metrics
from ascent.io.plots import plot_bias_variance, plot_curve, plot_runs, plot_sweep
from ascent.io.progress import TrainingProgress, print_table
from ascent.io.run_dir import new_run_dir, read_json, write_json
from ascent.io.tables import write_csv, write_toml

__all__ = [
    "MetricsLogger",
    "TrainingProgress",
    "checkpoint_path",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "new_run_dir",
    "plot_bias_variance",
    "plot_curve",
    "plot_runs",
    "plot_sweep",
    "print_table",
    "prune_checkpoints",
    "read_json",
    "read_meta",
    "read_metrics",
    "save_checkpoint",
    "write_csv",
    "write_json",
    "write_toml",
]
