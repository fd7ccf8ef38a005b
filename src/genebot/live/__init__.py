"""The paper and live runtime (the kernel on time that arrives). Built up over the runtime issues:
so far the trading scheduler."""
