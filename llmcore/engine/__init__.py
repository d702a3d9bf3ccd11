"""The inference engine: plain Python over torch/transformers/HTTP, no Django models.

`llmcore.engine.types` holds the contract every backend and caller shares.
"""
