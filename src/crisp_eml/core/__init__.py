"""Pure domain layer: entities, impulse spec, lifecycle, quantization math. No I/O here."""
