"""The paper's architectures: backbone, classifier head, constructors, ensemble."""

from keras_sportsnet.models.applications import EarlyFusion
from keras_sportsnet.models.applications import LateFusion
from keras_sportsnet.models.applications import SingleFrame
from keras_sportsnet.models.applications import SlowFusion
from keras_sportsnet.models.applications import build_model
from keras_sportsnet.models.applications import from_preset
from keras_sportsnet.models.surgery import inflate_weights
from keras_sportsnet.models.backbone import FUSIONS
from keras_sportsnet.models.backbone import RESOLUTIONS
from keras_sportsnet.models.backbone import TEMPORAL_PLANS
from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.classifier import SportsNetVideoClassifier
from keras_sportsnet.models.ensemble import CNNAverage
