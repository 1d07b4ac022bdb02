"""Helpers for testing code that uses keras_sportsnet (and for keras_sportsnet's own tests).

Import the sub-modules directly (``from keras_sportsnet.testing import videos``); nothing in the library imports
this package, and importing it imports none of its sub-modules.
"""

__all__ = []  # the sub-modules (local_hub, model_contracts, stub_hub, videos) are imported directly
