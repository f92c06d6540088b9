"""Jinja templates of the model cards, installed as the package data `hf_contrastive.model_cards` (setup.cfg maps
this folder) and rendered by `hf_contrastive.hub.card.render_card`; `examples/` (not installed) holds one card per
method, written by `examples/regenerate.py`."""
