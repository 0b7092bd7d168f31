"""The lectures whose stored figures predate alt text (vae_edu.viz.describe, issue 18).

Their image outputs may lack ``{"image/png": {"alt": ...}}`` until they are re-executed
with the mechanism in place; tests/test_alt_text.py fails when a listed lecture has all
its alts (remove it from here), so this set can only shrink.
"""

NOT_YET_DESCRIBED: frozenset[str] = frozenset()
