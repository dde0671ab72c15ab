"""Data contracts of mluke-data: Arrow schemas, file layouts and manifests.

Everything that crosses a stage boundary is defined here once. This package imports nothing
else of ours, so a training box can read the shards with `schemas` and pyarrow alone.
"""
