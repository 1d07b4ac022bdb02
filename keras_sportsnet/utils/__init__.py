"""The utilities floor: one home for each helper the package shares.

- `checks`: argument checks whose errors name the argument, the allowed
  values and what was received, plus ``did you mean`` suggestions.
- `files`: atomic writes (files, JSON, text, whole folders), sha256, JSON
  reading with clear errors, leftover-temporary clean-up.
- `progress`: the one throttled progress line on stderr.
- `tables`: fixed-width text and Markdown tables.
- `imports`: optional dependencies (TensorFlow, PyAV, matplotlib) imported
  on first use, with one clear error naming the extra to install.

Nothing here imports TensorFlow, Keras or any other part of the package.
"""

from keras_sportsnet.utils import checks
from keras_sportsnet.utils import files
from keras_sportsnet.utils import imports
from keras_sportsnet.utils import progress
from keras_sportsnet.utils import tables

__all__ = ["checks", "files", "imports", "progress", "tables"]
