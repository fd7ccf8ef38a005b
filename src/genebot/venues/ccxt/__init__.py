"""The ccxt venue adapter (live exchanges). So far: the one error table (errors.py)."""
