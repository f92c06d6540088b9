"""Jinja templates of the model cards (package data), rendered by `hf_contrastive.hub.card.render_card`."""
