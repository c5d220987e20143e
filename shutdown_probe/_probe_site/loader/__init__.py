"""The folder the harness puts first on a target's ``PYTHONPATH``: its ``sitecustomize.py``
loads the probe (``../sitecustomize.py``) from the run's cache of compiled code. Like
its parent, it holds nothing else importable (this file only makes it part of the package).
"""
