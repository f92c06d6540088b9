"""Plain functions and constants shared by the tests and by the worker scripts they launch (no fixtures: those live in
the conftest.py files). A test module imports from here, never from another test module."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
