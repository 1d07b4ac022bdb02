"""Video-level evaluation and prediction of Karpathy et al. (CVPR 2014).

- `runner`: `evaluate_videos`, the paper's protocol (random clips x views,
  averaged) streamed on decoding threads overlapped with the model, on any
  Keras backend, without TensorFlow;
- `predict`: `predict_video` (one call: top-k class names per video),
  `predictions_from_scores` (the same from a `VideoScores`) and
  `decode_predictions` for raw `model.predict` outputs;
- `protocol`: `EvaluationProtocol`, every choice of the protocol, with its
  defaults from the model's preprocessor;
- `metrics`: the NumPy metrics (Hit@k, AP/mAP, class-group mAP, mean class
  accuracy, confusion matrices, the per-class comparison of Table 2) and the
  rules that combine per-view/per-clip outputs;
- `scores`: `VideoScores`, the per-view outputs of an evaluation, re-scored
  with any number of clips and views without the model;
- `archive`: their ``.npz`` file format and the ``.npy`` working array of an
  evaluation with ``scores_path`` (atomic writes, crash leftovers cleaned);
- `reports`: `ensemble` (the paper's CNN Average) and `summary_table` (Table 1).
"""

from keras_sportsnet.evaluation.metrics import AGGREGATION_RULES
from keras_sportsnet.evaluation.metrics import aggregate
from keras_sportsnet.evaluation.metrics import as_multi_hot
from keras_sportsnet.evaluation.metrics import average_precision
from keras_sportsnet.evaluation.metrics import compare_per_class_ap
from keras_sportsnet.evaluation.metrics import confusion_matrix
from keras_sportsnet.evaluation.metrics import format_markdown_table
from keras_sportsnet.evaluation.metrics import group_mean_average_precision
from keras_sportsnet.evaluation.metrics import hit_at_k
from keras_sportsnet.evaluation.metrics import mean_average_precision
from keras_sportsnet.evaluation.metrics import mean_class_accuracy
from keras_sportsnet.evaluation.metrics import most_confused_pairs
from keras_sportsnet.evaluation.metrics import softmax
from keras_sportsnet.evaluation.predict import VideoPrediction
from keras_sportsnet.evaluation.predict import decode_predictions
from keras_sportsnet.evaluation.predict import predict_video
from keras_sportsnet.evaluation.predict import predictions_from_scores
from keras_sportsnet.evaluation.protocol import EvaluationProtocol
from keras_sportsnet.evaluation.reports import ensemble
from keras_sportsnet.evaluation.reports import summary_table
from keras_sportsnet.evaluation.runner import ON_ERROR_POLICIES
from keras_sportsnet.evaluation.runner import evaluate_videos
from keras_sportsnet.evaluation.scores import METRICS
from keras_sportsnet.evaluation.scores import VideoScores
from keras_sportsnet.evaluation.scores import ViewsTable

__all__ = [
    "AGGREGATION_RULES",
    "EvaluationProtocol",
    "METRICS",
    "ON_ERROR_POLICIES",
    "VideoPrediction",
    "VideoScores",
    "ViewsTable",
    "aggregate",
    "as_multi_hot",
    "average_precision",
    "compare_per_class_ap",
    "confusion_matrix",
    "decode_predictions",
    "ensemble",
    "evaluate_videos",
    "group_mean_average_precision",
    "hit_at_k",
    "mean_average_precision",
    "mean_class_accuracy",
    "most_confused_pairs",
    "predict_video",
    "predictions_from_scores",
    "softmax",
    "summary_table",
]
