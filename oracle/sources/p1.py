"""DSMR P1: telegrams from a serial port, FIFO or file; the CRC is checked before anything is read."""

from __future__ import annotations

import threading
import time

from . import SourceError, Sink
from .parsers import MalformedInput, check_device_time, parse_p1


class P1Source:
    """Reads DSMR P1 telegrams from a serial port, FIFO or file; the CRC is checked before signing
    and the telegram's own time (in the meter's zone) stamps the sample."""

    def __init__(self, meter: str, device: str, sink: Sink, stop: threading.Event,
                 tz: str = "Europe/Amsterdam", require_crc: bool = True):
        self.meter, self.device, self.sink, self.stop_event = meter, device, sink, stop
        self.tz, self.require_crc = tz, require_crc
        self.thread = threading.Thread(target=self._run, name=f"p1-{meter[:8]}", daemon=True)
        self.stream = None

    def start(self) -> None:
        try:
            self.stream = open(self.device, "r", newline="", encoding="ascii", errors="replace")
        except OSError as exc:
            raise SourceError(f"cannot open the P1 device {self.device} of meter {self.meter}: {exc.strerror}") from None
        self.thread.start()

    def stop(self) -> None:
        pass

    def _run(self) -> None:
        from dsmr_parser.clients.telegram_buffer import TelegramBuffer

        buffer = TelegramBuffer()
        with self.stream as stream:
            while not self.stop_event.is_set():
                chunk = stream.readline()
                if not chunk:
                    time.sleep(0.2)
                    continue
                buffer.append(chunk)
                for telegram in buffer.get_all():
                    self.handle(telegram)

    def handle(self, telegram: str) -> bool:
        try:
            ts, values = parse_p1(telegram, self.tz, self.require_crc)
            ts = None if ts is None else check_device_time(ts, time.time())
        except MalformedInput as exc:
            self.sink.refuse("p1", exc.kind, exc.detail, self.meter)
            return False
        return self.sink.ingest(self.meter, values, "p1", ts, input_id="p1")


