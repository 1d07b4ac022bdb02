"""The paper's architectures: backbone, classifier, preprocessor, constructors, ensemble, presets, export."""

from keras_sportsnet.models.applications import EarlyFusion
from keras_sportsnet.models.applications import LateFusion
from keras_sportsnet.models.applications import SingleFrame
from keras_sportsnet.models.applications import SlowFusion
from keras_sportsnet.models.applications import build_model
from keras_sportsnet.models.applications import from_preset
from keras_sportsnet.models.backbone import FUSIONS
from keras_sportsnet.models.backbone import RESOLUTIONS
from keras_sportsnet.models.backbone import TEMPORAL_PLANS
from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.backbone import estimate_parameter_count
from keras_sportsnet.models.classifier import SportsNetVideoClassifier
from keras_sportsnet.models.ensemble import CNNAverage
from keras_sportsnet.models.export import export_model
from keras_sportsnet.models.loading import save_preset
from keras_sportsnet.models.preprocessor import VideoPreprocessor
from keras_sportsnet.models.surgery import inflate_weights

__all__ = [
    "FUSIONS",
    "RESOLUTIONS",
    "TEMPORAL_PLANS",
    "CNNAverage",
    "EarlyFusion",
    "LateFusion",
    "SingleFrame",
    "SlowFusion",
    "SportsNetBackbone",
    "SportsNetVideoClassifier",
    "VideoPreprocessor",
    "build_model",
    "estimate_parameter_count",
    "export_model",
    "from_preset",
    "inflate_weights",
    "save_preset",
]
