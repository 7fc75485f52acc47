"""pquant: Python side of the pQuant compiler.

Modules:
  reference   numpy reference of the model math (docs/semantics.md), the oracle the compiler is tested against
  checkpoint  safetensors and config.json I/O, bit packing, checkpoint validation (docs/checkpoint-format.md)
  generate    seeded random checkpoints with realistic statistics (``python -m pquant.generate``)

Submodules are not imported here, so ``python -m pquant.generate`` runs without importing it twice.
"""
