"""Video-level evaluation of Karpathy et al. (CVPR 2014): metrics and saved scores.

`metrics` holds the NumPy metrics (Hit@k, AP/mAP, class-group mAP, mean
class accuracy, confusion matrices, the per-class comparison of Table 2) and
the rules that combine per-view/per-clip outputs; `scores` holds
`VideoScores`, the per-view outputs of an evaluation saved once and re-scored
with any number of clips and views, `ensemble` (the paper's CNN Average) and
`summary_table` (Table 1). Nothing here needs Keras or a model.
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
from keras_sportsnet.evaluation.scores import METRICS
from keras_sportsnet.evaluation.scores import VideoScores
from keras_sportsnet.evaluation.scores import ViewsTable
from keras_sportsnet.evaluation.scores import ensemble
from keras_sportsnet.evaluation.scores import summary_table

__all__ = [
    "AGGREGATION_RULES",
    "METRICS",
    "VideoScores",
    "ViewsTable",
    "aggregate",
    "as_multi_hot",
    "average_precision",
    "compare_per_class_ap",
    "confusion_matrix",
    "ensemble",
    "format_markdown_table",
    "group_mean_average_precision",
    "hit_at_k",
    "mean_average_precision",
    "mean_class_accuracy",
    "most_confused_pairs",
    "softmax",
    "summary_table",
]
