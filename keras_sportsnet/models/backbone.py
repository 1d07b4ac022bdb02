"""`SportsNetBackbone`: the paper's networks up to the last FC layer.

One builder reads the layer shorthand (`keras_sportsnet.spec`) plus two string
options, ``fusion`` (how time is connected, Sec. 3.1) and ``resolution``
(full frame or fovea/context streams, Sec. 3.2). A fusion mode is a row of
`TEMPORAL_PLANS`, not a code branch.
"""

import math

import keras

from keras_sportsnet.layers import LocalResponseNormalization
from keras_sportsnet.spec import PAPER_SPEC
from keras_sportsnet.spec import Conv
from keras_sportsnet.spec import Norm
from keras_sportsnet.spec import Pool
from keras_sportsnet.spec import parse_spec
from keras_sportsnet.spec import split_spec
from keras_sportsnet.utils.checks import check_choice

__all__ = [
    "SportsNetBackbone",
    "FUSIONS",
    "RESOLUTIONS",
    "POOLINGS",
    "TEMPORAL_PLANS",
    "PIXEL_MEAN",
    "estimate_parameter_count",
]

FUSIONS = ("single_frame", "early", "late", "slow")
RESOLUTIONS = ("full", "multires", "fovea", "context")
POOLINGS = (None, "flatten", "avg", "max")
PIXEL_MEAN = 117.0
"""The paper subtracts this constant from raw pixel values (Sec. 4.1)."""

# How each fusion connects time. `num_frames`/`frame_stride`: the clip a model
# of that fusion reads (frames `0, s, 2s, ...` of the video, counted from the
# clip start). `temporal_kernels`/`temporal_strides`: the temporal extent and
# stride of the 1st, 2nd, 3rd ... convolution; later convolutions get 1/1 and
# "all" means the whole remaining clip. Time is always convolved "valid".
TEMPORAL_PLANS = {
    # One frame, 2D convolutions (a temporal kernel of 1).
    "single_frame": {"num_frames": 1, "frame_stride": 1, "temporal_kernels": (), "temporal_strides": ()},
    # conv1 spans all T=10 frames: 11 x 11 x 3 x 10 filters.
    "early": {"num_frames": 10, "frame_stride": 1, "temporal_kernels": ("all",), "temporal_strides": (1,)},
    # Two frames 15 apart through the same single-frame tower (temporal kernel 1
    # shares every weight between the frames), merged at the first FC.
    "late": {"num_frames": 2, "frame_stride": 15, "temporal_kernels": (), "temporal_strides": ()},
    # conv1 T=4 stride 2, conv2 and conv3 T=2 stride 2: 10 -> 4 -> 2 -> 1.
    "slow": {"num_frames": 10, "frame_stride": 1, "temporal_kernels": (4, 2, 2), "temporal_strides": (2, 2, 2)},
}

FULL_FRAME_SIZE = 170
MULTIRES_FRAME_SIZE = 178

ARCHITECTURES = {
    # Table 1 name: keyword arguments of `keras_sportsnet.build_model`.
    "Single-Frame": {"fusion": "single_frame", "resolution": "full"},
    "Single-Frame + Multires": {"fusion": "single_frame", "resolution": "multires"},
    "Single-Frame Fovea Only": {"fusion": "single_frame", "resolution": "fovea"},
    "Single-Frame Context Only": {"fusion": "single_frame", "resolution": "context"},
    "Early Fusion": {"fusion": "early", "resolution": "full"},
    "Late Fusion": {"fusion": "late", "resolution": "full"},
    "Slow Fusion": {"fusion": "slow", "resolution": "full"},
    "Slow Fusion + Multires": {"fusion": "slow", "resolution": "multires"},
}
"""The paper's architectures by their Table 1 names (the CNN Average is built
from the four full-frame fusion models with `keras_sportsnet.CNNAverage`)."""

CNN_AVERAGE_MEMBERS = ("Single-Frame", "Early Fusion", "Late Fusion", "Slow Fusion")


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class SportsNetBackbone(keras.Model):
    """A video CNN of Karpathy et al. (CVPR 2014), from pixels to the last FC.

    Input: raw RGB clips, values in ``[0, 255]``, shape
    ``(batch, num_frames, height, width, 3)``. The model subtracts the paper's
    pixel mean (117) itself and, for multi-resolution models, makes the
    context stream (2 x 2 average downsampling) and the fovea stream (centre
    crop of half the size) itself.
    Output: the activations of the last ``FC`` layer of ``spec`` (the
    "pre-logits"), or the pooled trunk features when ``spec`` has no ``FC``.

    Convolutions with spatial stride 1 pad "same" and strided ones are "valid";
    pooling rounds up. Time is always "valid". With `PAPER_SPEC` every stream
    ends in 7 x 7 x 256, as in the paper: 170 x 170 full frames, and 89 x 89
    fovea and context streams cut from 178 x 178 frames, the streams dropping
    the last ``P`` of the trunk.

    Args:
        spec: str. Layer shorthand; defaults to the paper's network.
        fusion: str. Temporal connectivity, one of `FUSIONS`:
            ``"single_frame"``, ``"early"``, ``"late"``, ``"slow"``.
        resolution: str. One of `RESOLUTIONS`: ``"full"`` (one stream),
            ``"multires"`` (context + fovea streams, concatenated before the
            first FC), ``"fovea"`` or ``"context"`` (one of the two alone).
        num_frames: int or None. Frames per clip; defaults to the fusion's
            (1 single-frame, 10 early and slow, 2 late).
        frame_stride: int or None. Gap between the clip's frames in the video;
            defaults to the fusion's (15 for late fusion, else 1). Stored so
            that data pipelines can build clips from the model alone.
        image_size: int or (height, width). Frame size; defaults to 170, or 178
            for ``"multires"``, ``"fovea"`` and ``"context"``.
        pooling: How the trunk's feature map becomes a vector before the FC
            layers: None or ``"flatten"`` (the paper), ``"avg"`` or ``"max"``
            (global pooling over time and space, so any frame size works with
            the same weights).
        dropout: float. Dropout rate before each FC layer (0 disables).
        **kwargs: `name`, `trainable`, `dtype` as for `keras.Model`.

    Example:
    ```python
    backbone = SportsNetBackbone(fusion="slow")       # (10, 170, 170, 3) -> 4096
    tiny = SportsNetBackbone(
        spec="C(8,5,2)-N-P-C(16,3,1)-P-FC(32)", fusion="early",
        resolution="multires", image_size=64)
    features = tiny(np.zeros((2, 10, 64, 64, 3)))     # (2, 32)
    ```
    """

    def __init__(
        self,
        spec=PAPER_SPEC,
        fusion="slow",
        resolution="full",
        num_frames=None,
        frame_stride=None,
        image_size=None,
        pooling=None,
        dropout=0.0,
        **kwargs,
    ):
        # === Validation ===
        check_choice("fusion", fusion, FUSIONS)
        check_choice("resolution", resolution, RESOLUTIONS)
        check_choice("pooling", pooling, POOLINGS)
        layers = parse_spec(spec)
        trunk, dense = split_spec(layers)
        plan = TEMPORAL_PLANS[fusion]
        num_frames = _positive_int("num_frames", num_frames, plan["num_frames"])
        frame_stride = _positive_int("frame_stride", frame_stride, plan["frame_stride"])
        if image_size is None:
            image_size = MULTIRES_FRAME_SIZE if resolution != "full" else FULL_FRAME_SIZE
        image_size = _image_size(image_size)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        temporal = _temporal_plan(plan, num_frames, trunk)
        streams = _stream_plan(resolution, image_size, trunk)
        for stream_name, (stream_size, stream_trunk) in streams.items():
            _check_trunk_fits(
                stream_trunk, temporal, num_frames, stream_size, spec, stream_name
            )

        # === Functional model ===
        clips = keras.Input((num_frames, *image_size, 3), name="clips")
        x = keras.layers.Rescaling(1.0, offset=-PIXEL_MEAN, name="subtract_mean")(clips)
        features = [
            apply_trunk(_apply_stream_input(x, stream_name, image_size), stream_trunk, temporal, stream_name)
            for stream_name, (_, stream_trunk) in streams.items()
        ]
        if len(features) > 1:
            x = keras.layers.Concatenate(axis=-1, name="merge_streams")(features)
        else:
            x = features[0]
        x = apply_pooling(x, pooling)
        x = apply_fully_connected(x, dense, dropout)
        super().__init__(inputs=clips, outputs=x, **kwargs)

        # === Config ===
        self.spec = spec
        self.fusion = fusion
        self.resolution = resolution
        self.num_frames = num_frames
        self.frame_stride = frame_stride
        self.image_size = image_size
        self.pooling = pooling
        self.dropout = float(dropout)
        self.stream_names = tuple(streams)

    @staticmethod
    def estimate_parameter_count(**kwargs):
        """`estimate_parameter_count` (module level): the parameter count of a configuration, nothing built."""
        return estimate_parameter_count(**kwargs)

    @property
    def table1_name(self):
        """The paper's Table 1 name of this fusion and resolution (e.g. ``"Slow Fusion + Multires"``), or None."""
        for name, kwargs in ARCHITECTURES.items():
            if kwargs == {"fusion": self.fusion, "resolution": self.resolution}:
                return name
        return None

    @property
    def clip_geometry(self):
        """The clip this model reads: ``num_frames``, ``frame_stride``, ``image_size``."""
        return {
            "num_frames": self.num_frames,
            "frame_stride": self.frame_stride,
            "image_size": self.image_size,
        }

    @property
    def trunk_layer_names(self):
        """Names of the last convolution/normalization/pooling layer of each stream."""
        return tuple(_last_trunk_layer(self, stream) for stream in self.stream_names)

    def feature_extractor(self, layer_names=None):
        """A `keras.Model` from the clips to the named intermediate layers.

        Args:
            layer_names: list of layer names (see `model.summary()`, e.g.
                ``"full_0_conv"``); defaults to the last trunk layer of each
                stream (`trunk_layer_names`).

        Returns:
            A functional model returning a dict ``{name: activation}``.

        Example:
        ```python
        maps = backbone.feature_extractor(["full_0_conv"])(clips)["full_0_conv"]
        ```
        """
        names = list(layer_names or self.trunk_layer_names)
        outputs = {}
        for name in names:
            try:
                outputs[name] = self.get_layer(name).output
            except ValueError:
                raise ValueError(
                    f"`layer_names` has {name!r}, which is not a layer of "
                    f"{self.name!r}. Layers: {[layer.name for layer in self.layers]}"
                ) from None
        return keras.Model(self.input, outputs, name=f"{self.name}_features")

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "spec": self.spec,
            "fusion": self.fusion,
            "resolution": self.resolution,
            "num_frames": self.num_frames,
            "frame_stride": self.frame_stride,
            "image_size": list(self.image_size),
            "pooling": self.pooling,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ---------------------------------------------------------------- presets
    @classmethod
    def from_preset(cls, preset, *, load_weights=True, **kwargs):
        """The backbone of a preset (a classifier's or a backbone's), built once, its weights read into it.

        Args:
            preset: a registered preset name, ``"hf://org/repo[@revision]"`` or a preset folder.
            load_weights: bool. False: the architecture only, randomly initialised.
            **kwargs: ``dropout``, ``name``.

        Returns:
            `SportsNetBackbone`.

        Example:
        ```python
        features = SportsNetBackbone.from_preset("slow_fusion_synthetic")
        ```
        """
        from keras_sportsnet.models.loading import load_backbone

        return load_backbone(cls, preset, load_weights=load_weights, **kwargs)

    def save_to_preset(self, directory, *, metadata=None, overwrite=False, preprocessor=None):
        """Saves this backbone as a preset folder (see `keras_sportsnet.save_preset`).

        Example:
        ```python
        backbone.save_to_preset("presets/slow_features")
        ```
        """
        from keras_sportsnet.models.loading import save_preset

        return save_preset(self, directory, metadata=metadata, overwrite=overwrite, preprocessor=preprocessor)


# --- helpers (keras-hub style: module level, below the class) ---------------


def apply_trunk(x, trunk, temporal, stream):
    """Adds the convolution/normalization/pooling part of a spec to a graph.

    Args:
        x: a ``(B, T, H, W, C)`` tensor.
        trunk: tuple of `Conv`/`Norm`/`Pool` from `split_spec`, each paired with
            its token index in the spec as ``(index, layer)``.
        temporal: list of ``(kernel, stride)`` in time for each convolution.
        stream: str, the stream name that prefixes every layer name.

    Returns:
        The trunk's output tensor.
    """
    conv_index = 0
    for index, layer in trunk:
        prefix = f"{stream}_{index}"
        if isinstance(layer, Conv):
            t_kernel, t_stride = temporal[conv_index]
            x = _apply_conv(x, layer, t_kernel, t_stride, prefix)
            conv_index += 1
        elif isinstance(layer, Norm):
            x = LocalResponseNormalization(name=f"{prefix}_norm")(x)
        elif isinstance(layer, Pool):
            x = keras.layers.MaxPooling3D(
                (1, 2, 2), strides=(1, 2, 2), padding="same", name=f"{prefix}_pool"
            )(x)
    return x


def apply_pooling(x, pooling):
    """Turns a ``(B, T, h, w, C)`` map into a vector: flatten, avg or max."""
    if pooling in (None, "flatten"):
        return keras.layers.Flatten(name="flatten")(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling3D(name="avg_pool")(x)
    return keras.layers.GlobalMaxPooling3D(name="max_pool")(x)


def apply_fully_connected(x, dense, dropout):
    """Adds the ``FC(n)`` layers of a spec, named ``fc_0``, ``fc_1``, ..."""
    for index, layer in enumerate(dense):
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"fc_{index}_dropout")(x)
        x = keras.layers.Dense(layer.units, activation="relu", name=f"fc_{index}")(x)
    return x


def _apply_conv(x, layer, t_kernel, t_stride, prefix):
    time = x.shape[1]
    # Conv3D pads all three axes alike. Time is "valid"; where "same" would not
    # pad time anyway, one "same" convolution does both, else pad space first.
    time_padding = max((math.ceil(time / t_stride) - 1) * t_stride + t_kernel - time, 0)
    padding = "valid"
    if layer.strides == 1 and layer.kernel_size > 1:
        if time_padding == 0:
            padding = "same"
        else:
            pad = _same_padding(layer.kernel_size)
            x = keras.layers.ZeroPadding3D(((0, 0), pad, pad), name=f"{prefix}_pad")(x)
    return keras.layers.Conv3D(
        layer.filters,
        (t_kernel, layer.kernel_size, layer.kernel_size),
        strides=(t_stride, layer.strides, layer.strides),
        padding=padding,
        activation="relu",
        name=f"{prefix}_conv",
    )(x)


def _same_padding(kernel_size):
    total = kernel_size - 1
    return (total // 2, total - total // 2)


def _apply_stream_input(x, stream, image_size):
    """Full frame as is; context = 2x2 average downsampling; fovea = centre crop."""
    if stream == "full":
        return x
    if stream == "context":
        return keras.layers.AveragePooling3D(
            (1, 2, 2), strides=(1, 2, 2), padding="valid", name="context_downsample"
        )(x)
    height, width = image_size
    crop_h, crop_w = height - height // 2, width - width // 2
    return keras.layers.Cropping3D(
        ((0, 0), (crop_h // 2, crop_h - crop_h // 2), (crop_w // 2, crop_w - crop_w // 2)),
        name="fovea_crop",
    )(x)


def _stream_plan(resolution, image_size, trunk):
    """``{stream: (input size, trunk with token indices)}`` for a resolution."""
    indexed = tuple(enumerate(trunk))  # trunk tokens precede every FC token
    if resolution == "full":
        return {"full": (image_size, indexed)}
    half = (image_size[0] // 2, image_size[1] // 2)
    # Each stream is the full-frame network minus its last pooling layer.
    pools = [i for i, (_, layer) in enumerate(indexed) if isinstance(layer, Pool)]
    if pools:
        indexed = indexed[: pools[-1]] + indexed[pools[-1] + 1 :]
    names = {"multires": ("context", "fovea"), "fovea": ("fovea",), "context": ("context",)}
    return {name: (half, indexed) for name in names[resolution]}


def _temporal_plan(plan, num_frames, trunk):
    """``[(kernel, stride)]`` in time for every convolution of the trunk."""
    num_convs = sum(isinstance(layer, Conv) for layer in trunk)
    kernels, strides = plan["temporal_kernels"], plan["temporal_strides"]
    temporal = []
    for index in range(num_convs):
        if index < len(kernels):
            kernel = num_frames if kernels[index] == "all" else kernels[index]
            temporal.append((kernel, strides[index]))
        else:
            temporal.append((1, 1))
    return temporal


def _check_trunk_fits(trunk, temporal, num_frames, image_size, spec, stream, channels=3):
    """Raises a clear error if the clip shrinks to nothing inside the trunk.

    Returns:
        ``(time, height, width, channels, parameters)``: the trunk's output map
        and its convolutions' parameter count (analytic, nothing is built).
    """
    time, height, width = num_frames, *image_size
    conv_index = 0
    parameters = 0
    for index, layer in trunk:
        if isinstance(layer, Conv):
            t_kernel, t_stride = temporal[conv_index]
            conv_index += 1
            if time < t_kernel:
                raise ValueError(
                    f"Token {index} ({layer}) of spec {spec!r} convolves "
                    f"{t_kernel} frames in time but its input has {time} in the "
                    f"{stream!r} stream. Use more `num_frames` (received "
                    f"num_frames={num_frames})."
                )
            time = (time - t_kernel) // t_stride + 1
            if layer.strides > 1:
                if min(height, width) < layer.kernel_size:
                    raise ValueError(
                        f"Token {index} ({layer}) of spec {spec!r} needs frames of "
                        f"at least {layer.kernel_size} x {layer.kernel_size} but the "
                        f"{stream!r} stream has {height} x {width} there. Use a larger "
                        f"`image_size` (received image_size={image_size})."
                    )
                height = (height - layer.kernel_size) // layer.strides + 1
                width = (width - layer.kernel_size) // layer.strides + 1
            parameters += t_kernel * layer.kernel_size**2 * channels * layer.filters + layer.filters
            channels = layer.filters
        elif isinstance(layer, Pool):
            height, width = math.ceil(height / 2), math.ceil(width / 2)
    return time, height, width, channels, parameters


def estimate_parameter_count(
    spec=PAPER_SPEC,
    fusion="slow",
    resolution="full",
    num_frames=None,
    image_size=None,
    pooling=None,
    num_classes=None,
):
    """The parameter count of a `SportsNetBackbone` (plus a ``num_classes`` head), computed without building it.

    Used to refuse absurd configurations (e.g. in a hostile preset) before
    any memory is allocated.

    Args:
        spec, fusion, resolution, num_frames, image_size, pooling: as for `SportsNetBackbone`.
        num_classes: int or None. Adds a ``Dense(num_classes)`` head.

    Returns:
        int.

    Example:
    >>> estimate_parameter_count(fusion="slow", num_classes=487)
    75511751
    """
    check_choice("fusion", fusion, FUSIONS)
    check_choice("resolution", resolution, RESOLUTIONS)
    check_choice("pooling", pooling, POOLINGS)
    trunk, dense = split_spec(parse_spec(spec))
    plan = TEMPORAL_PLANS[fusion]
    num_frames = _positive_int("num_frames", num_frames, plan["num_frames"])
    if image_size is None:
        image_size = MULTIRES_FRAME_SIZE if resolution != "full" else FULL_FRAME_SIZE
    image_size = _image_size(image_size)
    temporal = _temporal_plan(plan, num_frames, trunk)
    total, features = 0, 0
    for stream_name, (stream_size, stream_trunk) in _stream_plan(resolution, image_size, trunk).items():
        time, height, width, channels, parameters = _check_trunk_fits(
            stream_trunk, temporal, num_frames, stream_size, spec, stream_name
        )
        total += parameters
        features += channels if pooling in ("avg", "max") else time * height * width * channels
    for layer in dense:
        total += features * layer.units + layer.units
        features = layer.units
    if num_classes is not None:
        total += features * num_classes + num_classes
    return total


def _positive_int(argument, value, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{argument}` must be a positive integer. Received: {argument}={value!r}")
    return value


def _image_size(value):
    size = (value, value) if isinstance(value, int) else tuple(value)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(
            "`image_size` must be a positive int or a (height, width) pair of "
            f"positive ints. Received: image_size={value!r}"
        )
    return size


def _last_trunk_layer(model, stream):
    names = [
        layer.name
        for layer in model.layers
        if layer.name.startswith(f"{stream}_")
        and layer.name.rsplit("_", 1)[-1] in ("conv", "norm", "pool")
    ]
    return names[-1]
