"""One-call plots of models, predictions, evaluations, training runs and data.

Every function returns a `matplotlib.figure.Figure` rendered with the Agg
backend (headless; pyplot's global state is never touched), displays inline
in Jupyter, and saves to PNG, SVG or PDF with ``path=`` or `save_figure`.

- `plot_first_layer_filters` (the paper's Figure 3), `animate_first_layer_filters` (GIF)
- `plot_predictions`, `plot_video_predictions` (Figure 4)
- `plot_per_class_ap_difference` (Table 2), `plot_confusion_matrix`, `plot_accuracy_vs_views`
- `plot_training_curves`
- `plot_clip_montage`

Example:
```python
import keras_sportsnet as ksn
from keras_sportsnet import visualization as viz

model = ksn.SlowFusion(weights="slow_fusion_synthetic")
viz.plot_first_layer_filters(model, path="filters.png")
```
"""

from keras_sportsnet.visualization.clips import plot_clip_montage, take_clips
from keras_sportsnet.visualization.evaluation import (
    plot_accuracy_vs_views,
    plot_confusion_matrix,
    plot_per_class_ap_difference,
)
from keras_sportsnet.visualization.figures import new_figure, save_figure
from keras_sportsnet.visualization.filters import (
    animate_first_layer_filters,
    first_layer_filters,
    plot_first_layer_filters,
)
from keras_sportsnet.visualization.predictions import plot_predictions, plot_video_predictions, video_thumbnail
from keras_sportsnet.visualization.training import plot_training_curves, read_history

__all__ = [
    "animate_first_layer_filters",
    "first_layer_filters",
    "new_figure",
    "plot_accuracy_vs_views",
    "plot_clip_montage",
    "plot_confusion_matrix",
    "plot_first_layer_filters",
    "plot_per_class_ap_difference",
    "plot_predictions",
    "plot_training_curves",
    "plot_video_predictions",
    "read_history",
    "save_figure",
    "take_clips",
    "video_thumbnail",
]
