"""Secrets, and every seam of output they are masked at.

``masker`` finds secrets (and pieces of them) in text; ``redaction`` applies
it to each channel pytest and its neighbours write to.
"""
