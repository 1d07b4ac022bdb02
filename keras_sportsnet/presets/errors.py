"""The errors and warnings of preset handling."""

__all__ = ["PresetError", "UnverifiedPresetWarning"]


class PresetError(ValueError):
    """A preset that cannot be used: missing, incomplete, corrupt, hostile or for another model.

    The message names the preset (name, handle or folder), the file and what is wrong.

    Example:
    ```python
    try:
        ksn.from_preset("presets/broken")
    except ksn.PresetError as error:
        print(error)
    ```
    """


class UnverifiedPresetWarning(UserWarning):
    """A preset was loaded whose ``metadata.json`` records no sha256 for some of its files.

    Such files cannot be checked for corruption or changes. `save_preset`
    always records them; turn the warning into an error with
    ``warnings.simplefilter("error", UnverifiedPresetWarning)``.
    """
