"""Secrets, and every seam of output they are masked at.

``masker`` finds secrets (and pieces of them) in text; ``redaction`` applies
it to each channel pytest and its neighbours write to; ``process`` to what
reaches the process's real streams around pytest (logging handlers made
before it, unraisable exceptions); ``ci_runner`` registers each secret with
the CI runner, which masks what nothing in the process can.
"""
