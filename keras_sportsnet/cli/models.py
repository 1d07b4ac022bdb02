"""``keras-sportsnet presets``: the registered presets, or one preset's metadata."""

import json


def _presets(args):
    from keras_sportsnet.presets import list_presets
    from keras_sportsnet.presets import resolve_preset

    if not args.preset:
        print(list_presets())
        return 0
    preset = resolve_preset(args.preset)
    if isinstance(preset, str):
        raise ValueError(f"{args.preset!r} is a bare weights file: it carries no metadata to describe.")
    print(json.dumps(preset.metadata, indent=2))
    return 0


def register(commands):
    presets = commands.add_parser("presets", help="list the registered weights presets, or show one's metadata")
    presets.add_argument("preset", nargs="?", help="a preset name, hf://org/repo[@revision] or a preset folder")
    presets.set_defaults(handler=_presets)
