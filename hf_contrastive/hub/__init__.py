"""Hub releases: the folder that is published (merged or adapter-only model, heads, card) and its upload."""

from .push import PushError, prepare_release, push_release

__all__ = ["PushError", "prepare_release", "push_release"]
