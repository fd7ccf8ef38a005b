"""MetaTrader 5: forex (and CFD) venues through an MT5 terminal, behind the same ports as ccxt."""
