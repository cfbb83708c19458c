"""Meter sources: each turns its input (MQTT payloads, P1 telegrams, a replay file,
a simulator driven by real weather and load profiles) into register values in Wh."""
