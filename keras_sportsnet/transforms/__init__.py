"""Clip transforms: the one implementation of the paper's clip operations.

`functional` holds the pure operations (centre resize, crop at offsets, flip,
the evaluation views), written with Keras backend ops; `layers` wraps them as
Keras preprocessing layers that draw their random offsets from Keras seed
generators. The ``tf.data`` pipelines of `keras_sportsnet.data` call the same
functions with offsets drawn from `keras_sportsnet.data.random`.

Example:
```python
augment = ksn.transforms.PaperAugmentation.for_model(model, seed=0)
views = ksn.transforms.EvaluationViews(crop_size=170)
```
"""

from keras_sportsnet.transforms import functional
from keras_sportsnet.transforms.functional import EVALUATION_VIEWS
from keras_sportsnet.transforms.functional import PAPER_RESIZE
from keras_sportsnet.transforms.functional import average_views
from keras_sportsnet.transforms.layers import CenterCropResize
from keras_sportsnet.transforms.layers import EvaluationViews
from keras_sportsnet.transforms.layers import PaperAugmentation
from keras_sportsnet.transforms.layers import RandomClipCrop
from keras_sportsnet.transforms.layers import RandomClipFlip
from keras_sportsnet.transforms.layers import centre_square_resize

__all__ = [
    "EVALUATION_VIEWS",
    "PAPER_RESIZE",
    "CenterCropResize",
    "EvaluationViews",
    "PaperAugmentation",
    "RandomClipCrop",
    "RandomClipFlip",
    "average_views",
    "centre_square_resize",
    "functional",
]
