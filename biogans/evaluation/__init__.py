"""Evaluation of trained generators: the two-sample test, reconstruction, and reports."""
