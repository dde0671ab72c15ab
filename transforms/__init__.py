"""PTransforms, DoFns and the pure functions they call."""
