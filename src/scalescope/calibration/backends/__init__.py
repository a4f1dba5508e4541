"""Language-model backends behind one protocol (:class:`~scalescope.calibration.backends.base.Backend`)."""

from scalescope.calibration.backends.base import Backend, DecodeState

__all__ = ["Backend", "DecodeState"]
