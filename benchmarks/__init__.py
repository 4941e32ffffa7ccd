"""Benchmarks: fsmirror against its peers, side by side, reported as ratios."""
