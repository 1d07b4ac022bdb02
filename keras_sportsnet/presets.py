"""Registry of published weights presets (plain data).

Each entry maps a preset name to its Hub repository, pinned revision and file
hashes. No preset is registered yet: a preset is added only once its files
exist on the Hub.
"""

PRESETS = {}
