"""A development board's serial port (pyserial): which port, who the board is, and its readings as they arrive.

``--port auto`` picks the one USB serial port there is (a board's USB CDC or USB-UART bridge) and refuses to
guess between several. :class:`SerialReadings` reads the port and yields one :class:`Reading` per line, with
the monotonic time it arrived; lines that are not readings come through with ``values=None`` so the recorder
can see boot banners and resets. A board that goes away (unplugged, reset of a USB CDC port, the other end of
a pseudo-terminal closed) or stops printing raises :class:`DeviceGone`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from crisp_eml.capture.lines import LineAssembler, parse_reading
from crisp_eml.core.errors import InputError

if TYPE_CHECKING:
    import serial

DEFAULT_BAUD = 115200
IDLE_TIMEOUT_S = 5.0  # no byte for this long: the board stopped printing


class Reading(NamedTuple):
    """One line from a device: when it arrived (``time.monotonic()``), its values (None: not a reading)."""

    t: float
    values: list[float] | None
    line: str


class DeviceGone(InputError):
    """The stream of readings ended: the port closed or failed, or the board stopped printing."""


@dataclass(frozen=True)
class Board:
    """A serial port and what identifies the board behind it across ports (``name``) for remembering it."""

    port: str
    name: str
    info: dict[str, Any] = field(default_factory=dict)


def _usb_ports() -> list[Any]:
    from serial.tools import list_ports

    return [p for p in list_ports.comports() if p.vid is not None]


def _board_of(info: Any) -> Board:
    details = {"port": info.device, "vid_pid": f"{info.vid:04x}:{info.pid:04x}", "serial_number": info.serial_number,
               "manufacturer": info.manufacturer, "product": info.product, "description": info.description}
    ident = info.serial_number or details["vid_pid"]
    return Board(info.device, f"usb:{ident}", {k: v for k, v in details.items() if v})


def find_board(port: str) -> Board:
    """The board at ``port``; ``"auto"``: the only USB serial port, or an error listing the candidates."""
    if port != "auto":
        known = [p for p in _usb_ports() if p.device == port]
        return _board_of(known[0]) if known else Board(port, f"serial:{port}", {"port": port})
    usb = _usb_ports()
    if len(usb) == 1:
        return _board_of(usb[0])
    if not usb:
        raise InputError("no USB serial port found; plug the board in, or name the port with --port DEV",
                         field="port")
    names = ", ".join(f"{p.device} ({p.description})" for p in usb)
    raise InputError(f"{len(usb)} USB serial ports found, pick one with --port: {names}", field="port")


def open_port(port: str, baud: int = DEFAULT_BAUD) -> serial.Serial:
    """Open ``port`` at ``baud`` (8N1, raw); a clear error when it does not exist or is busy."""
    import serial

    if baud <= 0:
        raise InputError(f"the baud rate must be positive, got {baud}", field="baud")
    try:
        return serial.Serial(port, baud, timeout=0.1)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise InputError(f"cannot open the serial port: {exc}", source=port) from exc


class SerialReadings:
    """Iterates over the readings of an open port until it closes (:class:`DeviceGone`).

    ``flush()`` drops what is buffered (the recorder calls it after waiting for the user, so the recording
    starts with fresh readings); the first line after it is usually cut and is skipped as any odd line is.
    """

    def __init__(self, port: serial.Serial, *, idle_timeout_s: float = IDLE_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self.idle_timeout_s = idle_timeout_s
        self.clock = clock
        self._lines = LineAssembler()
        self._pending: deque[Reading] = deque()

    def __iter__(self) -> Iterator[Reading]:
        return self

    def __next__(self) -> Reading:
        last = self.clock()
        while not self._pending:
            data = self._read()
            now = self.clock()
            if not data:
                if now - last > self.idle_timeout_s:
                    raise DeviceGone(f"no data from the board for {self.idle_timeout_s:g} s", source=self.name)
                continue
            last = now
            self._pending.extend(Reading(now, parse_reading(line), line) for line in self._lines.feed(data))
        return self._pending.popleft()

    @property
    def name(self) -> str:
        return str(self.port.port)

    def _read(self) -> bytes:
        import serial

        try:
            waiting = self.port.in_waiting
            return bytes(self.port.read(max(1, min(waiting, 65536))))
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"the board disconnected ({exc})", source=self.name) from exc

    def flush(self) -> None:
        import serial

        self._pending.clear()
        self._lines = LineAssembler()
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"the board disconnected ({exc})", source=self.name) from exc

    def close(self) -> None:
        self.port.close()
