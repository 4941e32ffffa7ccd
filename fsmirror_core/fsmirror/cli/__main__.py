"""``python -m fsmirror.cli``."""

from . import main

main()
