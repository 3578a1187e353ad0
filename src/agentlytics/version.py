"""The package version, apart from the public facade (:mod:`agentlytics`) so that modules
inside the package can name it without importing the facade (which imports them)."""

__version__ = "0.1.0"
