"""Writes that span models, one module per subject: prompts, datasets (versioned test cases and
snapshots), grid (experiments: save, estimate, start, cancel) and reviews."""
