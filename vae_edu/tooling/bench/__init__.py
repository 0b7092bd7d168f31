"""Benchmarks run by ``vae-edu bench ...``; each prints ``name: value`` lines from one run."""
