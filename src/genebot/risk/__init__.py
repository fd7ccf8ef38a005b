"""Risk and safety: the risk engine, its checks, monitors and configuration."""
