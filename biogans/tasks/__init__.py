"""The tasks: train, prepare, c2st, reconstruct, interpolate, report.

Each task module has one ``run(cfg, run_dir) -> record`` function that takes a composed
config as typed values (the dataclasses of :mod:`biogans.config`) and a run directory.
"""
