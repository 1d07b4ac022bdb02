"""`CNNAverage`: the paper's ensemble of models (Table 1, last row)."""

import keras

from keras_sportsnet.layers import SelectFrames
from keras_sportsnet.models.preprocessor import VideoPreprocessor
from keras_sportsnet.models.preprocessor import default_resize_to
from keras_sportsnet.models.task import VideoTask

__all__ = ["CNNAverage"]


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class CNNAverage(VideoTask, keras.Model):
    """Mean of the members' class probabilities on one clip.

    The paper's "CNN Average (Single+Early+Late+Slow)" averages the predictions
    of models that read different clips: one frame, 10 consecutive frames, two
    frames 15 apart. The ensemble reads one clip long enough for every member
    (16 frames for the paper's four) and hands each member its own frames,
    centred in that clip. Members whose frames are smaller than the largest
    get a centre crop (e.g. 178 -> 170 when mixing multires and full-frame).

    Members may share a name (two `SlowFusion` models, the common case): the
    ensemble renames the later ones (``slow_fusion`` -> ``slow_fusion_2``),
    since the layers of one model need distinct names. Like every classifier
    it has a ``preprocessor`` (for its own clip; ``resize_to`` the members'
    when they agree, else 200) and ``class_names`` (the members' when they
    agree), takes raw clips and accepts a `VideoDataset`.

    Args:
        members: list of classifiers (`SportsNetVideoClassifier` or any model
            with a ``clip_geometry``) with the same number of classes.
        **kwargs: `name`, `trainable` as for `keras.Model`.

    Example:
    ```python
    ensemble = CNNAverage([ksn.SingleFrame(), ksn.EarlyFusion(), ksn.LateFusion(), ksn.SlowFusion()])
    ensemble.clip_geometry            # {'num_frames': 16, 'frame_stride': 1, 'image_size': (170, 170)}
    probabilities = ensemble(clips)   # clips: (B, 16, 170, 170, 3)
    ```
    """

    def __init__(self, members, **kwargs):
        # === Validation ===
        members = list(members)
        if len(members) < 1:
            raise ValueError("`members` must hold at least one model. Received: members=[]")
        geometries = []
        for index, member in enumerate(members):
            geometry = getattr(member, "clip_geometry", None)
            if geometry is None:
                raise TypeError(
                    f"`members[{index}]` ({type(member).__name__} {getattr(member, 'name', '')!r}) "
                    "has no `clip_geometry`; use keras_sportsnet classifiers."
                )
            geometries.append(geometry)
        num_classes = [(member.name, member.output.shape[-1]) for member in members]
        if len({count for _, count in num_classes}) != 1:
            raise ValueError(
                f"`members` must predict the same number of classes. Received: {num_classes}"
            )
        if len({id(member) for member in members}) != len(members):
            raise ValueError("`members` must be distinct models (the same model object appears twice).")
        _unique_names(members)
        spans = [(g["num_frames"] - 1) * g["frame_stride"] + 1 for g in geometries]
        total = max(spans)
        height = max(g["image_size"][0] for g in geometries)
        width = max(g["image_size"][1] for g in geometries)

        # === Functional model ===
        clips = keras.Input((total, height, width, 3), name="clips")
        outputs = []
        for member, geometry, span in zip(members, geometries, spans):
            start = (total - span) // 2
            frames = [start + i * geometry["frame_stride"] for i in range(geometry["num_frames"])]
            x = SelectFrames(frames, name=f"{member.name}_frames")(clips)
            member_h, member_w = geometry["image_size"]
            if (member_h, member_w) != (height, width):
                dh, dw = height - member_h, width - member_w
                x = keras.layers.Cropping3D(
                    ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)),
                    name=f"{member.name}_crop",
                )(x)
            outputs.append(member(x))
        if len(outputs) == 1:
            average = outputs[0]
        else:
            average = keras.layers.Average(name="average")(outputs)
        super().__init__(inputs=clips, outputs=average, **kwargs)

        # === Config ===
        self.members = members
        self._clip_geometry = {"num_frames": total, "frame_stride": 1, "image_size": (height, width)}
        self.class_names = _shared([getattr(m, "class_names", None) for m in members])
        resize_to = _shared([getattr(getattr(m, "preprocessor", None), "resize_to", None) for m in members])
        if resize_to is None or max(_pair(resize_to)) < max(height, width):
            resize_to = default_resize_to((height, width))
        self.preprocessor = VideoPreprocessor.for_geometry(self._clip_geometry, resize_to=resize_to)

    @property
    def clip_geometry(self):
        """The clip the ensemble reads: long and large enough for every member."""
        return dict(self._clip_geometry)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "members": [keras.saving.serialize_keras_object(m) for m in self.members],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["members"] = [
            keras.saving.deserialize_keras_object(m) if isinstance(m, dict) else m
            for m in config["members"]
        ]
        return cls(**config)


def _unique_names(members):
    """Renames members whose name an earlier member has (``x`` -> ``x_2``, ``x_3``...)."""
    taken = set()
    for member in members:
        name, index = member.name, 1
        while name in taken:
            index += 1
            name = f"{member.name}_{index}"
        if name != member.name:
            member.name = name
        taken.add(name)


def _shared(values):
    """The common value of ``values`` when all are equal and not None, else None."""
    first = values[0] if values else None
    if first is None or any(value is None or list(_as_list(value)) != list(_as_list(first)) for value in values):
        return None
    return list(first) if isinstance(first, (list, tuple)) and not isinstance(first, str) else first


def _as_list(value):
    return value if isinstance(value, (list, tuple)) else [value]


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)
