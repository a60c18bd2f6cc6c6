"""Tuning: many configurations of one algorithm, trained and compared.

- `sweep.py`: a grid of configurations × seeds on the JAX door, each group of
  configurations that share their shapes trained in one vmapped program;
- `study.py`: Optuna studies on either door, trials in parallel processes, the study
  kept in SQLite so that a killed study resumes.
"""
