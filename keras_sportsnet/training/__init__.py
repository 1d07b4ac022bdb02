"""Training: the paper's recipe, atomic checkpoints, exact resume, a divergence guard, transfer regimes.

- `recipe`: `TrainingRecipe` / `PAPER_RECIPE` (SGD momentum 0.9, weight decay 5e-4,
  learning rate 1e-3 reduced on plateaus, batches of 32, gradient norm clipped at 10),
  `compile_model`, `HitAtK`, `mixed_precision`.
- `trainer`: `train(model, train, val, run_dir=..., epochs=...)`, `TrainingResult`,
  `DivergenceGuard`, `TrainingDiverged`.
- `checkpoints`: the run folder's files, written atomically, repaired on start.
- `transfer`: `transfer_model` (regimes "top", "top3", "all", "scratch"), `transfer_sweep` (Tables 3-4).
"""

from keras_sportsnet.training.recipe import PAPER_RECIPE
from keras_sportsnet.training.recipe import HitAtK
from keras_sportsnet.training.recipe import TrainingRecipe
from keras_sportsnet.training.recipe import compile_model
from keras_sportsnet.training.recipe import mixed_precision
from keras_sportsnet.training.trainer import DivergenceGuard
from keras_sportsnet.training.trainer import TrainingDiverged
from keras_sportsnet.training.trainer import TrainingResult
from keras_sportsnet.training.trainer import train
from keras_sportsnet.training.transfer import DEFAULT_TRANSFER_DROPOUT
from keras_sportsnet.training.transfer import PAPER_DROPOUT
from keras_sportsnet.training.transfer import REGIMES
from keras_sportsnet.training.transfer import transfer_model
from keras_sportsnet.training.transfer import transfer_sweep

__all__ = [
    "DEFAULT_TRANSFER_DROPOUT",
    "DivergenceGuard",
    "HitAtK",
    "PAPER_DROPOUT",
    "PAPER_RECIPE",
    "REGIMES",
    "TrainingDiverged",
    "TrainingRecipe",
    "TrainingResult",
    "compile_model",
    "mixed_precision",
    "train",
    "transfer_model",
    "transfer_sweep",
]
