"""Procedurally generated video datasets (no download needed).

Like `keras.datasets.mnist`, each dataset is a module with a ``load_data()``:
``keras_sportsnet.datasets.synthetic_sports.load_data()`` gives
``(x_train, y_train), (x_test, y_test)`` of small rendered "sports scenes"
whose classes are defined by appearance, by motion, or by both, so the
findings of Karpathy et al. (2014) about single-frame versus fusion models can
be checked in minutes on a CPU (``synthetic_sports(...)`` gives every option:
nuisances, class subsets, writing video files).
"""

from keras_sportsnet.datasets import synthetic_sports
from keras_sportsnet.datasets.synthetic_sports import SyntheticClip
from keras_sportsnet.datasets.synthetic_sports import SyntheticSports

__all__ = ["SyntheticClip", "SyntheticSports", "synthetic_sports"]
