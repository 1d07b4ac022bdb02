"""The model card (``README.md``) of a preset, generated from its ``metadata.json``.

The Hub reads its front matter: ``library_name: keras-sportsnet`` (not
``keras``, which would make the Hub show a ``keras.saving.load_model`` snippet
that cannot load a preset folder), ``pipeline_tag: video-classification``.
The card's snippet is the one that works: ``import keras_sportsnet as ksn``
then ``ksn.from_preset("hf://org/repo@<commit>")``.
"""

__all__ = ["HANDLE_PLACEHOLDER", "LIBRARY_NAME", "model_card"]

LIBRARY_NAME = "keras-sportsnet"
HANDLE_PLACEHOLDER = "hf://<org>/<repo>@<commit>"
"""Stands for the Hub handle in a card written before upload (`upload_preset` fills in the repository)."""


def model_card(metadata, handle=HANDLE_PLACEHOLDER):
    """A Hub model card (``README.md``) from a preset's metadata.

    Args:
        metadata: dict, a preset's ``metadata.json``.
        handle: str. The handle the card's snippet loads (``hf://org/repo@<commit>``).

    Example:
    ```python
    print(model_card(json.load(open("presets/slow/metadata.json"))))
    ```
    """
    architecture = metadata.get("architecture", {})
    dataset = metadata.get("dataset") or {}
    evaluation = metadata.get("evaluation") or {}
    tags = ["keras_sportsnet", "video-classification", "karpathy2014"]
    if architecture.get("fusion"):
        tags.append(f"{architecture['fusion']}-fusion".replace("single_frame-fusion", "single-frame"))
    lines = [
        "---",
        f"library_name: {LIBRARY_NAME}",
        f"license: {metadata.get('license', 'apache-2.0')}",
        "pipeline_tag: video-classification",
        "tags:",
        *[f"- {tag}" for tag in tags],
        "---",
        "",
        f"# {metadata.get('name') or architecture.get('table1_name') or 'keras_sportsnet model'}",
        "",
        metadata.get("description") or "A keras_sportsnet video classifier (Karpathy et al., CVPR 2014).",
        "",
        "## Architecture",
        "",
        f"- Table 1 name: {architecture.get('table1_name') or 'n/a (custom)'}",
        f"- Fusion: `{architecture.get('fusion')}`, resolution: `{architecture.get('resolution')}`, "
        f"pooling: `{architecture.get('pooling') or 'flatten'}`",
        f"- Layer shorthand: `{architecture.get('spec')}`",
        f"- Clip: {_clip_words(metadata.get('clip_geometry', {}))}",
        f"- Parameters: {metadata.get('parameter_count', 0):,}",
        f"- Classes: {architecture.get('num_classes') or 'none (backbone only)'}",
        "",
        "## Training data",
        "",
    ]
    if dataset:
        lines += [f"- {key}: {value}" for key, value in dataset.items()]
    else:
        lines.append("Not stated by whoever saved this preset.")
    lines += ["", "## Evaluation", ""]
    protocol = evaluation.get("protocol", {})
    if protocol:
        lines.append(
            "Protocol: " + ", ".join(f"{key} = {value}" for key, value in protocol.items()) + "."
        )
        lines.append("")
    metrics = evaluation.get("metrics") or {}
    if metrics:
        lines += ["| metric | value |", "|---|---|", *[f"| {k} | {_number(v)} |" for k, v in metrics.items()]]
    else:
        lines.append("No metrics recorded.")
    training = metadata.get("training") or {}
    if training:
        lines += ["", "## Training recipe", "", *[f"- {key}: {value}" for key, value in training.items()]]
    who = [f"- {key.replace('_', ' ')}: {metadata[key]}" for key in ("trained_by", "hardware") if metadata.get(key)]
    if who:
        lines += ["", "## Provenance", "", *who]
    versions = metadata.get("versions", {})
    preprocessing = metadata.get("preprocessing") or {}
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "import keras_sportsnet as ksn   # pip install keras-sportsnet",
        "",
        f'model = ksn.from_preset("{handle}")',
        'results = ksn.predict_video("video.mp4", model=model, top_k=5)   # a path, a list of paths or a folder',
        "probabilities = model.predict(clips)   # clips: (batch, frames, height, width, 3), RGB 0..255, any size",
        "```",
        "",
        "Pin the revision (`@<commit>` or a tag) for reproducible results. This is a keras_sportsnet preset "
        "(backbone and head weights apart, a `preprocessor.json`, sha256 of every file in `metadata.json`): "
        "load it with keras_sportsnet as above. `keras.saving.load_model` does not read preset folders, and "
        "even for a `.keras` file saved from this model (`model.save(\"model.keras\")`) it needs "
        "`import keras_sportsnet` first, which registers the model classes with Keras.",
        "",
    ]
    if preprocessing:
        lines += ["## Preprocessing", "", *[f"- {key.replace('_', ' ')}: {value}" for key, value in preprocessing.items()], ""]
    lines += [
        f"Saved with keras_sportsnet {versions.get('keras_sportsnet', '?')}, keras {versions.get('keras', '?')} "
        f"({versions.get('backend', '?')} backend) on {metadata.get('date_saved', '?')}.",
        "",
        "Reference: A. Karpathy, G. Toderici, S. Shetty, T. Leung, R. Sukthankar, L. Fei-Fei. "
        "Large-scale Video Classification with Convolutional Neural Networks. CVPR 2014.",
        "",
    ]
    return "\n".join(lines)


def _clip_words(geometry):
    frames, stride = geometry.get("num_frames"), geometry.get("frame_stride", 1)
    size = geometry.get("image_size") or ["?", "?"]
    spacing = "consecutive" if stride == 1 else f"{stride} apart"
    return f"{frames} frame{'s' if frames != 1 else ''} ({spacing}), {size[0]} x {size[1]} RGB"


def _number(value):
    return f"{value:.4f}" if isinstance(value, float) else str(value)
