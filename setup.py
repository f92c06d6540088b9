# Everything else is in setup.cfg.
from setuptools import find_packages, setup

setup(packages=find_packages(include=["hf_contrastive", "hf_contrastive.*"]))
