"""gridmint oracle: signs smart-meter readings (EIP-712) and relays them on chain."""

__version__ = "0.1.0"
