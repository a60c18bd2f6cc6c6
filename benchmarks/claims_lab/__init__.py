"""The claims lab's experiments, one module each (benchmarks/claims.py says what a module
defines)."""
