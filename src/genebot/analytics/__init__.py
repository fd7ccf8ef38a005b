"""Strategy and portfolio analytics over stored backtests and paper/live history: selection,
allocation, correlation, risk attribution and performance decomposition."""
