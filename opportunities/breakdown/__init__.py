"""Task breakdown: a registered model proposes a job's tasks; a person accepts, edits or discards each."""
