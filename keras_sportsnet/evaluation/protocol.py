"""The video-level protocol of an evaluation, and the videos it runs on.

`EvaluationProtocol` holds every choice of the paper's video-level protocol
(Sec. 4.1): the frames a clip reads (the model's clip geometry), how many
random clips per video and views per clip, the side of the centre square the
views are cut from (``resize_to``), how the per-view outputs are combined, the
seed of the clip positions and the short-video policy. Its defaults come from
the model's preprocessor (`keras_sportsnet.data.config.preprocessor_settings`,
duck typing: this module never imports `keras_sportsnet.models`), so an evaluation
scores a preset exactly as it was trained; an explicit ``resize_to`` that
disagrees with the preprocessor is used, with a `UserWarning` naming both
values (fewer clips or views are a legitimate speed trade-off: no warning).

`video_list` turns whatever names the videos (a `VideoDataset`, a
`VideoList`, a folder, a file or a list of paths) into one `VideoList`.
"""

import dataclasses
import os
import warnings

from keras_sportsnet.data.config import preprocessor_settings
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.data.lists import read_video_folder
from keras_sportsnet.data.sampling import SHORT_VIDEO_POLICIES
from keras_sportsnet.data.sampling import ClipGeometry
from keras_sportsnet.data.scan import VIDEO_EXTENSIONS
from keras_sportsnet.evaluation.metrics import AGGREGATION_RULES
from keras_sportsnet.transforms.functional import EVALUATION_VIEWS
from keras_sportsnet.transforms.functional import PAPER_RESIZE
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import check_size
from keras_sportsnet.utils.checks import is_int

__all__ = ["PAPER_CLIPS_PER_VIDEO", "PAPER_VIEWS", "EvaluationProtocol", "video_list"]

PAPER_CLIPS_PER_VIDEO = 20
"""Random clips per video in the paper's video-level evaluation (Sec. 4.1)."""

PAPER_VIEWS = len(EVALUATION_VIEWS)
"""Crops/flips per clip in the paper's evaluation: centre, centre flipped, top-left, bottom-right."""


def _geometry(model, config):
    """The clip geometry: the model's ``clip_geometry``, else the preprocessor's, else its input shape."""
    if getattr(model, "clip_geometry", None) is not None:
        geometry = ClipGeometry.from_model(model)
    elif "num_frames" in config:
        geometry = ClipGeometry(config["num_frames"], config.get("frame_stride", 1), config.get("image_size"))
    else:
        raise TypeError(
            "`model` must be a keras_sportsnet model (with a `clip_geometry` or a `preprocessor`). "
            f"Received: model={type(model).__name__} {getattr(model, 'name', '')!r}"
        )
    if geometry.image_size is None:
        shape = tuple(getattr(getattr(model, "input", None), "shape", ()) or ())
        if len(shape) != 5 or not all(is_int(v) for v in shape[2:4]):
            raise ValueError(
                "The model's clip geometry gives no `image_size` and its input shape does not either. "
                f"Received: clip_geometry={getattr(model, 'clip_geometry', None)!r}, input shape={shape!r}"
            )
        geometry = dataclasses.replace(geometry, image_size=(int(shape[2]), int(shape[3])))
    return geometry


def _choose(argument, explicit, config, default):
    """The explicit value, else the preprocessor's, else the default."""
    preset = config.get(argument)
    if isinstance(preset, list):
        preset = tuple(preset)
    if explicit is None:
        return default if preset is None else preset
    return explicit


def _warn_if_disagreeing(argument, explicit, config, stacklevel):
    preset = config.get(argument)
    if isinstance(preset, list):
        preset = tuple(preset)
    if explicit is not None and preset is not None and _normalised(explicit) != _normalised(preset):
        warnings.warn(
            f"`{argument}={explicit!r}` disagrees with the model's preprocessor ({argument}={preset!r}, what the "
            f"model expects); using {argument}={explicit!r}. Leave `{argument}` out to use the preprocessor's value.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


def _normalised(value):
    if is_int(value):
        return (int(value), int(value))
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


@dataclasses.dataclass(frozen=True)
class EvaluationProtocol:
    """Every choice of a video-level evaluation, fixed before any video is read.

    Build it with `for_model`, which takes the defaults from the model's
    preprocessor. The clip positions of video ``i`` of a list are a pure
    function of ``(seed, i)``; its views are, in order, the first ``views``
    of `keras_sportsnet.transforms.EVALUATION_VIEWS` (centre, centre
    flipped, top-left, bottom-right), cut from the centre square of every
    frame resized to ``resize_to``.

    Args:
        geometry: `keras_sportsnet.data.ClipGeometry` with an ``image_size``:
            the frames a clip reads and the crop size.
        clips_per_video: int >= 1. Random clips per video (20 in the paper).
        views: int in 1..4. Views per clip (4 in the paper).
        resize_to: int or ``(height, width)``: side of the centre square the
            views are cut from; at least the crop size.
        aggregation: one of `keras_sportsnet.evaluation.AGGREGATION_RULES`.
        seed: int >= 0. Seed of the clip positions.
        short_video_policy: one of `keras_sportsnet.data.SHORT_VIDEO_POLICIES`.

    Example:
    ```python
    protocol = EvaluationProtocol.for_model(model)             # the preprocessor's settings
    protocol.resize_to, protocol.clips_per_video, protocol.views
    ```
    """

    geometry: ClipGeometry
    clips_per_video: int = PAPER_CLIPS_PER_VIDEO
    views: int = PAPER_VIEWS
    resize_to: tuple = (PAPER_RESIZE, PAPER_RESIZE)
    aggregation: str = "mean_probability"
    seed: int = 0
    short_video_policy: str = "loop"

    def __post_init__(self):
        if not isinstance(self.geometry, ClipGeometry) or self.geometry.image_size is None:
            raise ValueError(
                f"`geometry` must be a ClipGeometry with an image_size. Received: geometry={self.geometry!r}"
            )
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("clips_per_video", check_int("clips_per_video", self.clips_per_video, minimum=1))
        set_("views", check_int("views", self.views, minimum=1, maximum=len(EVALUATION_VIEWS)))
        set_("resize_to", check_size("resize_to", self.resize_to))
        crop = self.geometry.image_size
        if any(c > r for c, r in zip(crop, self.resize_to)):
            raise ValueError(
                f"`resize_to` must be at least the model's frame size {crop} (height, width): the views are "
                f"cut from the resized centre square. Received: resize_to={self.resize_to}"
            )
        check_choice("aggregation", self.aggregation, AGGREGATION_RULES)
        set_("seed", check_int("seed", self.seed, minimum=0))
        check_choice("short_video_policy", self.short_video_policy, SHORT_VIDEO_POLICIES)

    @classmethod
    def for_model(
        cls,
        model,
        *,
        clips_per_video=None,
        views=None,
        resize_to=None,
        aggregation=None,
        seed=0,
        short_video_policy="loop",
        stacklevel=1,
    ):
        """The protocol for ``model``: each argument left None comes from its preprocessor.

        Without a preprocessor (a model built before they existed) the paper's
        values are used: 20 clips, 4 views, ``resize_to=200``, mean
        probability.

        ``resize_to`` is what the model was trained with: an explicit value
        that disagrees with the preprocessor's is used, with a `UserWarning`
        naming both (the shipped presets score 0.988 on the demo video at
        their 64, 0.444 at 200). Clips, views and the aggregation rule are
        the protocol's cost/accuracy trade-off: explicit values are used
        without a warning.

        Args:
            model: a keras_sportsnet classifier or ensemble.
            clips_per_video, views, resize_to, aggregation: None for the
                preprocessor's value.
            seed: int >= 0.
            short_video_policy: one of `keras_sportsnet.data.SHORT_VIDEO_POLICIES`.
            stacklevel: int. Frames between the user's call and this method
                (so the warning points at the user's line).

        Returns:
            `EvaluationProtocol`.

        Example:
        ```python
        EvaluationProtocol.for_model(ksn.from_preset("slow_fusion_synthetic")).resize_to   # (64, 64)
        ```
        """
        config = preprocessor_settings(model)
        protocol = cls(
            geometry=_geometry(model, config),
            clips_per_video=_choose("clips_per_video", clips_per_video, config, PAPER_CLIPS_PER_VIDEO),
            views=_choose("views", views, config, PAPER_VIEWS),
            resize_to=_choose("resize_to", resize_to, config, PAPER_RESIZE),
            aggregation=_choose("aggregation", aggregation, config, "mean_probability"),
            seed=seed,
            short_video_policy=short_video_policy,
        )
        _warn_if_disagreeing("resize_to", resize_to, config, stacklevel + 1)
        return protocol

    @property
    def short_side(self):
        """The shorter side frames are scaled down to while they are decoded (``max(resize_to)``)."""
        return max(self.resize_to)

    @property
    def views_per_video(self):
        """Model inputs per video: ``clips_per_video * views``."""
        return self.clips_per_video * self.views

    def to_dict(self):
        """The protocol as JSON-ready values (stored in `VideoScores.metadata`).

        Example:
        ```python
        protocol.to_dict()["resize_to"]
        ```
        """
        resize = self.resize_to[0] if self.resize_to[0] == self.resize_to[1] else list(self.resize_to)
        return {
            "clips_per_video": self.clips_per_video,
            "views": self.views,
            "view_order": [list(view) for view in EVALUATION_VIEWS[: self.views]],
            "resize_to": resize,
            "aggregation": self.aggregation,
            "seed": self.seed,
            "short_video_policy": self.short_video_policy,
            "num_frames": self.geometry.num_frames,
            "frame_stride": self.geometry.frame_stride,
            "image_size": list(self.geometry.image_size),
        }


# --------------------------------------------------------------------------- videos


def _is_path(value):
    return isinstance(value, (str, os.PathLike))


def _folder_videos(folder, labelled):
    """The videos under ``folder``: by class sub-folder when ``labelled`` and it has them, else all of them."""
    everything = read_video_folder(folder, labels=None)
    if not len(everything):
        raise ValueError(
            f"{folder} holds no video files (looked for {', '.join(VIDEO_EXTENSIONS)} in it and its sub-folders)."
        )
    top = os.path.abspath(folder)
    loose = [path for path in everything.paths if os.path.dirname(os.path.abspath(path)) == top]
    if not labelled or len(loose) == len(everything):
        return everything  # a flat folder: its videos, unlabelled
    if loose:
        warnings.warn(
            f"{folder} has class sub-folders and also {len(loose)} video(s) directly inside it (e.g. "
            f"{os.path.basename(loose[0])!r}); those have no class and are left out. Put each video in the folder "
            "of its class (my_videos/<class>/<video>).",
            UserWarning,
            stacklevel=4,
        )
    return read_video_folder(folder)


def video_list(videos, *, labelled=True):
    """The videos to evaluate, as a `VideoList`.

    Args:
        videos: one of
            - a `VideoDataset` (anything with a ``videos`` `VideoList`):
              its usable videos and labels;
            - a `keras_sportsnet.data.VideoList`;
            - a folder: with class sub-folders (``my_videos/<class>/<video>``)
              the videos are labelled by folder (when ``labelled``); a flat
              folder gives its videos, unlabelled;
            - a video file, or a list/tuple of video files and folders
              (unlabelled; folders are expanded to the videos inside them).
        labelled: bool. Whether a folder with class sub-folders gives labels
            (`predict_video` only needs the files).

    Returns:
        `keras_sportsnet.data.VideoList`.

    Raises:
        ValueError: a path that does not exist, a folder without videos, an
            empty list, or the same video listed twice.
        TypeError: anything else.

    Example:
    ```python
    video_list("my_videos/")                  # my_videos/<class>/<video>.mp4: labelled
    video_list(["a.mp4", "b.mp4"])            # unlabelled
    ```
    """
    listing = getattr(videos, "videos", None)
    if isinstance(videos, VideoList):
        listing = videos
    elif isinstance(listing, VideoList):
        pass
    elif _is_path(videos):
        path = os.fspath(videos)
        if os.path.isdir(path):
            listing = _folder_videos(path, labelled)
        elif os.path.lexists(path):
            listing = VideoList((path,), ((),), ())
        else:
            raise ValueError(f"`videos`: {path} does not exist.")
    elif isinstance(videos, (list, tuple)) and all(_is_path(v) for v in videos):
        paths = []
        for item in videos:
            path = os.fspath(item)
            if os.path.isdir(path):
                paths += _folder_videos(path, labelled=False).paths
            elif os.path.lexists(path):
                paths.append(path)
            else:
                raise ValueError(f"`videos`: {path} does not exist.")
        if not paths:
            raise ValueError("`videos` is an empty list: give at least one video file or folder.")
        listing = VideoList(tuple(paths), tuple(() for _ in paths), ())
    else:
        raise TypeError(
            "`videos` must be a video file, a folder (of class sub-folders, or of videos), a list of video files, "
            "a keras_sportsnet.data.VideoList or a dataset from keras_sportsnet.data. "
            f"Received: {type(videos).__name__} {str(videos)[:100]!r}"
        )
    if not len(listing):
        missing = tuple(getattr(listing, "missing", ()))
        if missing:
            raise ValueError(f"`videos` lists {len(missing)} file(s), none of which exists (e.g. {missing[0]}).")
        raise ValueError("`videos` holds no video: nothing to evaluate.")
    seen = set()
    for path in listing.paths:
        key = os.path.abspath(path)
        if key in seen:
            raise ValueError(f"`videos` lists {path} more than once: every video must be listed once.")
        seen.add(key)
    return listing
