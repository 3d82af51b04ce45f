"""Time as a dependency: the limiter and the pool read and wait through a Clock (see :mod:`ospack.clock`)."""

from ..clock import Clock, MonotonicClock
from ..testing import FakeClock  # still importable from here; tests import it from ospack.testing

__all__ = ["Clock", "FakeClock", "MonotonicClock"]
