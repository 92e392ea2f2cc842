"""The core library: networks, losses, data, checkpoint files, atomic writes, result records.

Nothing here imports Hydra or the command-line layer; every function takes plain
arguments (numbers, strings, lists, model-spec dicts), so a notebook can use it alone.
"""
