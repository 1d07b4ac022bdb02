"""Procedurally generated video datasets (no download needed).

Like `keras.datasets.mnist.load_data()`, each dataset is a module:
``keras_sportsnet.datasets.synthetic_sports.synthetic_sports(...)`` renders small
"sports scenes" whose classes are defined by appearance, by motion, or by both,
so the findings of Karpathy et al. (2014) about single-frame versus fusion
models can be checked in minutes on a CPU.
"""

from keras_sportsnet.datasets import synthetic_sports
from keras_sportsnet.datasets.synthetic_sports import SyntheticClip
from keras_sportsnet.datasets.synthetic_sports import SyntheticSports

__all__ = ["SyntheticClip", "SyntheticSports", "synthetic_sports"]
