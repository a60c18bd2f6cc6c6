"""I/O: the only layer that writes files. It knows no algorithm.

Checkpoints (any pytree, safetensors + JSON), metric logs (CSV + TensorBoard), the progress
display, learning-curve and bias–variance plots, run folders, JAX's persistent
compilation cache (`compile_cache`) and the cores it computes on (`threads`).
"""

from __future__ import annotations

from ascent.io.checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_meta,
    save_checkpoint,
)
from ascent.io.compile_cache import enable_compile_cache
from ascent.io.metrics import MetricsLogger, read_metrics
from ascent.io.plots import plot_bias_variance, plot_curve, plot_runs
from ascent.io.progress import TrainingProgress, print_table
from ascent.io.run_dir import new_run_dir, read_json, write_json
from ascent.io.threads import use_threads

__all__ = [
    "MetricsLogger",
    "TrainingProgress",
    "checkpoint_path",
    "enable_compile_cache",
    "latest_checkpoint",
    "load_checkpoint",
    "new_run_dir",
    "plot_bias_variance",
    "plot_curve",
    "plot_runs",
    "print_table",
    "prune_checkpoints",
    "read_json",
    "read_meta",
    "read_metrics",
    "save_checkpoint",
    "use_threads",
    "write_json",
]
