"""Processing (DSP) blocks: numpy/scipy reference implementations that the generated C reproduces.

Each block follows scikit-learn conventions (``__init__`` only stores parameters) and is pure: no files,
sockets or databases. See :mod:`crisp_eml.dsp.registry` for the names and :mod:`crisp_eml.dsp.pipeline`
for applying a whole impulse.
"""
