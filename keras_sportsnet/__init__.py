"""keras_sportsnet: the video CNNs of Karpathy et al. (CVPR 2014) for Keras 3."""

from keras_sportsnet.analysis import ARCHITECTURES
from keras_sportsnet.analysis import architecture_table
from keras_sportsnet.analysis import count_flops
from keras_sportsnet.layers import LocalResponseNormalization
from keras_sportsnet.layers import SelectFrames
from keras_sportsnet.models import FUSIONS
from keras_sportsnet.models import RESOLUTIONS
from keras_sportsnet.models import TEMPORAL_PLANS
from keras_sportsnet.models import VideoPreprocessor
from keras_sportsnet.models import CNNAverage
from keras_sportsnet.models import EarlyFusion
from keras_sportsnet.models import LateFusion
from keras_sportsnet.models import SingleFrame
from keras_sportsnet.models import SlowFusion
from keras_sportsnet.models import SportsNetBackbone
from keras_sportsnet.models import SportsNetVideoClassifier
from keras_sportsnet.models import build_model
from keras_sportsnet.models import from_preset
from keras_sportsnet.models import inflate_weights
from keras_sportsnet.models import save_preset
from keras_sportsnet.presets import PresetError
from keras_sportsnet.presets import list_presets
from keras_sportsnet.presets import upload_preset
from keras_sportsnet.spec import PAPER_SPEC
from keras_sportsnet.spec import format_spec
from keras_sportsnet.spec import parse_spec
from keras_sportsnet import data
from keras_sportsnet import datasets
from keras_sportsnet import distributed
from keras_sportsnet import evaluation
from keras_sportsnet import training
from keras_sportsnet import transforms
from keras_sportsnet.evaluation import decode_predictions
from keras_sportsnet.evaluation import evaluate_videos
from keras_sportsnet.evaluation import predict_video
from keras_sportsnet.version import __version__


def __getattr__(name):
    # `keras_sportsnet.visualization` needs matplotlib (the `plots` extra): imported on first use,
    # so that `import keras_sportsnet` works, and stays fast, without it.
    if name == "visualization":
        import importlib

        from keras_sportsnet.utils.imports import require

        require("matplotlib", "keras_sportsnet.visualization")
        return importlib.import_module("keras_sportsnet.visualization")
    raise AttributeError(f"module 'keras_sportsnet' has no attribute {name!r}")

__all__ = [
    "ARCHITECTURES",
    "CNNAverage",
    "EarlyFusion",
    "FUSIONS",
    "LateFusion",
    "LocalResponseNormalization",
    "PAPER_SPEC",
    "RESOLUTIONS",
    "SelectFrames",
    "SingleFrame",
    "SlowFusion",
    "SportsNetBackbone",
    "SportsNetVideoClassifier",
    "TEMPORAL_PLANS",
    "VideoPreprocessor",
    "__version__",
    "architecture_table",
    "build_model",
    "from_preset",
    "inflate_weights",
    "list_presets",
    "PresetError",
    "save_preset",
    "upload_preset",
    "data",
    "datasets",
    "distributed",
    "decode_predictions",
    "evaluate_videos",
    "evaluation",
    "training",
    "transforms",
    "visualization",
    "count_flops",
    "format_spec",
    "parse_spec",
    "predict_video",
]
