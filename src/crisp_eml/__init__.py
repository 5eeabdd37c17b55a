"""crisp-eml: a local-first platform for the whole embedded-ML lifecycle (CRISP-EML).

The curated public API lives in ``__all__``; everything else is an implementation detail.
Heavy dependencies (TensorFlow) are imported lazily by the modules that need them.
"""

from crisp_eml.core.errors import EmlError

__version__ = "0.1.0"

__all__ = ["EmlError", "__version__"]
