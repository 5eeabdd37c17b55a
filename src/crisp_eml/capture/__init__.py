"""Device capture capability: turning readings a device prints or sends into samples.

``lines`` assembles raw bytes into text lines and parses readings (pure), ``rate`` detects the sampling
frequency from line timestamps (pure), ``serial_port`` reads a board's serial port (pyserial) and
``recorder`` cuts a stream of readings into samples of an exact length, surviving start-up garbage and
board resets. The use cases that store the samples live in ``crisp_eml.workspace``.
"""
