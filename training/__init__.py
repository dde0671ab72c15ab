"""mluke-train: pretraining on the shards, Hugging Face export.

Imports ``schemas`` only from this project (never Beam): it runs on training machines that have
torch and transformers but not the pipeline's dependencies.
"""
