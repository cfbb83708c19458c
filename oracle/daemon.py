"""The daemon's lifecycle: build the sources from the config, start them, pump the submitter until
told to stop, then stop the sources and drain the outbox.

    sources (oracle/sources: MQTT / P1 / simulator)
        │  register values in Wh (+ the device's timestamp, if it has one)
        ▼
    oracle.ingest.Ingestor — checks (oracle.checks), signs, Outbox.add (fsync); only now is the input acknowledged
        ▼
    oracle.chain.Submitter.pump — batches of <= 64, nonces, EIP-1559 fees, settles from receipts
"""

from __future__ import annotations

import logging
import threading
import time

from .chain import Registry, Submitter
from .checks import ChainRules
from .eip712 import Domain, Reading
from .ingest import Ingestor, plans_of
from .metrics import Metrics
from .outbox import Outbox
from .sources import SourceError
from .sources.mqtt import MqttSettings, MqttSource
from .sources.p1 import P1Source

log = logging.getLogger("gridmint.oracle")


class Daemon:
    def __init__(
        self, config, outbox: Outbox, registry: Registry, domain: Domain, signers, payer, metrics: Metrics,
        stop_event: threading.Event | None = None, seeds: dict[str, Reading] | None = None,
        rules: ChainRules | None = None,
    ):
        self.config = config
        self.outbox = outbox
        self.registry = registry
        self.metrics = metrics
        self.stop_event = stop_event or threading.Event()
        self.fatal: str | None = None
        self.ingestor = Ingestor(outbox, domain, signers, metrics, plans_of(config.meters), seeds, rules)
        self.submitter = Submitter(
            outbox,
            registry,
            payer,
            batch_size=config.batch_size,
            max_in_flight=config.max_in_flight,
            metrics=metrics,
        )
        self.sources = self._sources()

    def _on_fatal(self, message: str) -> None:
        log.error("stopping on a fatal error", extra={"error": message})
        self.fatal = message
        self.stop_event.set()

    def _sources(self) -> list:
        cfg = self.config
        sources: list = []
        routes: dict[str, list] = {}
        for m in cfg.meters:
            for spec in m.inputs:
                routes.setdefault(spec.topic, []).append((m.address, spec))
        self.mqtt = None
        if routes:
            self.mqtt = MqttSource(
                MqttSettings.from_config(cfg), routes, self.ingestor, self.metrics, self.outbox.device_seen,
                {m.address: m.timezone for m in cfg.meters}, on_fatal=self._on_fatal,
            )
            sources.append(self.mqtt)
        for m in cfg.meters:
            if m.source == "p1":
                sources.append(P1Source(m.address, m.device, self.ingestor, self.stop_event, m.timezone, m.p1_crc))
        simulated = [m for m in cfg.meters if m.source == "simulator"]
        if simulated:
            from .sources.simulator import SimulatorSource  # numpy, pandas, pvlib: only when simulating

            sources.append(SimulatorSource(simulated, self.ingestor, cfg.simulator_interval_s, self.stop_event,
                                           cfg.simulator_start, cfg.simulator_speed))
        if cfg.ha_enabled:
            from .homeassistant import HomeAssistantPublisher

            sources.append(HomeAssistantPublisher(cfg, self.registry, self.outbox, self.stop_event))
        return sources

    def start(self) -> None:
        """Starts every source; raises `SourceError` (one line) if one cannot start."""
        self.submitter.confirm()  # settle what was in flight before a restart
        started = []
        try:
            for source in self.sources:
                source.start()
                started.append(source)
        except SourceError:
            for source in started:
                source.stop()
            raise
        for meter, halt in self.outbox.halts().items():
            if meter in self.ingestor.signers:
                log.error("meter HALTED: a counter went down; nothing is signed for it until the halt is cleared"
                          f" (`gridmint-oracle unhalt {meter}`) or the meter is re-commissioned (docs/oracle.md)",
                          extra={"meter": meter, "register": halt["register"]})

    def run(self) -> int:
        """Runs until `stop_event` is set (the CLI sets it on SIGTERM / SIGINT), then drains.
        Returns 0, or 1 after a fatal source error (the broker refused the login)."""
        log.info("running", extra={"meters": len(self.config.meters), "sources": len(self.sources)})
        last_refresh = 0.0
        while not self.stop_event.is_set():
            try:
                self.submitter.pump()
            except Exception as exc:  # node unreachable: keep collecting, retry
                log.warning("pump failed", extra={"error": exc.__class__.__name__})
            if time.time() - last_refresh > 1.0:
                self.metrics.refresh(self.outbox)
                last_refresh = time.time()
            self.stop_event.wait(self.config.poll_interval_s)
        log.info("stopping: draining the outbox")
        for source in self.sources:
            source.stop()
        try:
            drained = self.submitter.drain(self.config.drain_timeout_s)
        except Exception as exc:
            log.warning("drain failed", extra={"error": exc.__class__.__name__})
            drained = False
        counts = self.outbox.counts()
        log.info("stopped", extra={"drained": drained, **counts})
        return 1 if self.fatal else 0
