"""Performance gates: rules over summary.json that turn a run into pass or fail."""
