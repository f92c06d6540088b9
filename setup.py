# Everything else is in setup.cfg.
from setuptools import find_packages, setup

# hf_contrastive.model_cards is the repository's model_cards/ folder (package_dir in setup.cfg).
setup(packages=find_packages(include=["hf_contrastive", "hf_contrastive.*"]) + ["hf_contrastive.model_cards"])
