"""The package's version, on the ground floor: the results model stamps it into every
results file, and importing it must not import the package's face."""

__version__ = "0.1.0"
