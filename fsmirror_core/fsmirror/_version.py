"""fsmirror's release number, in a module that imports nothing.

Modules below the facade (``manifest`` records it, ``openlineage`` names the producer) read it
here: ``from fsmirror import __version__`` would import the package, and with it ``FSMirror``.
"""

__all__ = ["__version__"]

__version__ = "2.0.0"
