"""The in-target half of shutdown-probe's Python probe.

The harness puts this folder first on the target's ``PYTHONPATH``, so Python's ``site``
imports ``sitecustomize.py`` from here in every interpreter of a case. Because the folder
itself is on the import path, it must hold nothing else importable whose name could
collide with a module of the app (only ``sitecustomize.py``, and this file, which makes
the folder a package of ``shutdown_probe`` for the harness's own imports).
"""
