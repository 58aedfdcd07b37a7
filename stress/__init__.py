"""`make stress`: the long versions of the reliability tests (python -m stress)."""
