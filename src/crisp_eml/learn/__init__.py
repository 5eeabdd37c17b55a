"""Learning blocks: neural networks (Keras 3), anomaly detection, expert mode and BYOM, int8 quantization.

Everything here is a capability working on in-memory :class:`crisp_eml.core.features.FeatureSet` objects
and bytes; storing runs and models is the job of ``crisp_eml.workspace``. TensorFlow is imported lazily.
"""
