"""Monitoring: alert conditions over live metrics (more arrives with the operations issue)."""
