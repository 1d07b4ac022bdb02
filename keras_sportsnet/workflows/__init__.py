"""Workflows: the steps a user runs end to end, shared by the command line, the benchmarks and the notebooks.

- `train_and_save`: train with the paper's recipe (resumable), keep the best
  weights, write a preset only if training finished (not after a divergence).
- `transfer`: fine-tune a trained model on new classes (top, top3, all, scratch).
- `evaluate`: the paper's video-level evaluation of a labelled folder.
- `predict`: the top classes of each video (files or folders).
- `load_model`: a model from ``weights=``, its preset resolved once.

Each resolves a preset once and takes its protocol (clips, views,
``resize_to``) from the model, so the ``keras-sportsnet`` command line (which
only parses arguments and prints) and Python give the same numbers.

Example:
```python
from keras_sportsnet import workflows
outcome = workflows.predict("my_video.mp4", model="slow_fusion_synthetic")
print(outcome.predictions[0])
```
"""

from keras_sportsnet.workflows.fitting import TrainingOutcome
from keras_sportsnet.workflows.fitting import make_datasets
from keras_sportsnet.workflows.fitting import train_and_save
from keras_sportsnet.workflows.fitting import transfer
from keras_sportsnet.workflows.inference import DEFAULT_PRESET
from keras_sportsnet.workflows.inference import EvaluationOutcome
from keras_sportsnet.workflows.inference import PredictionOutcome
from keras_sportsnet.workflows.inference import evaluate
from keras_sportsnet.workflows.inference import predict
from keras_sportsnet.workflows.inference import read_groups
from keras_sportsnet.workflows.inference import write_metrics_json
from keras_sportsnet.workflows.model_loading import LoadedModel
from keras_sportsnet.workflows.model_loading import load_model

__all__ = [
    "DEFAULT_PRESET",
    "EvaluationOutcome",
    "LoadedModel",
    "PredictionOutcome",
    "TrainingOutcome",
    "evaluate",
    "load_model",
    "make_datasets",
    "predict",
    "read_groups",
    "train_and_save",
    "transfer",
    "write_metrics_json",
]
