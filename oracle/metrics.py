"""Prometheus metrics of the daemon, served on 127.0.0.1 only unless configured otherwise."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.readings = Gauge("gridmint_oracle_readings", "Readings in the outbox by state", ["state"], registry=r)
        self.backlog = Gauge("gridmint_oracle_backlog", "Readings signed or submitted, not yet settled", registry=r)
        self.signed = Counter("gridmint_oracle_signed_total", "Readings signed and stored", registry=r)
        self.accepted = Counter("gridmint_oracle_accepted_total", "Readings the chain accepted", registry=r)
        self.rejects = Counter("gridmint_oracle_rejects_total", "Readings the chain rejected", ["reason"], registry=r)
        self.malformed = Counter(
            "gridmint_oracle_malformed_total", "Inputs refused before signing", ["source", "kind"], registry=r
        )
        self.mqtt_subscribed = Gauge(
            "gridmint_oracle_mqtt_subscribed", "1 once the broker confirmed the subscriptions", registry=r
        )
        self.halted = Gauge(
            "gridmint_oracle_meter_halted", "1 while a meter signs nothing: a counter went down", ["meter"], registry=r
        )
        self.device_online = Gauge(
            "gridmint_oracle_device_online", "MQTT device availability (Tasmota LWT, Shelly online)", ["device"],
            registry=r,
        )
        self.device_offline = Counter(
            "gridmint_oracle_device_offline_total", "Times an MQTT device went offline", ["device"], registry=r
        )
        self.batches = Counter("gridmint_oracle_batches_total", "submit_readings transactions sent", registry=r)
        self.send_errors = Counter("gridmint_oracle_send_errors_total", "Failed sends (retried)", registry=r)
        self.batch_gas = Histogram(
            "gridmint_oracle_batch_gas",
            "Gas used per submit_readings batch",
            buckets=(100_000, 250_000, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000, 5_000_000),
            registry=r,
        )

    def refresh(self, outbox) -> None:
        counts = outbox.counts()
        for state, n in counts.items():
            self.readings.labels(state).set(n)
        self.backlog.set(counts["signed"] + counts["submitted"])

    def serve(self, port: int, addr: str = "127.0.0.1"):
        return start_http_server(port, addr=addr, registry=self.registry)
