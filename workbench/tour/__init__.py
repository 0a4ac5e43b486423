"""The guided tour: ConvNetJS's digit lesson inside the workbench (``Tour``)."""
from .tour import Tour

__all__ = ["Tour"]
