"""Command-line entry points and the Beam pipelines of each stage."""
