"""Data shaping and sampling: pure functions, randomness passed in."""
