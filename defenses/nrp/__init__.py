"""NRP (the ``nrp`` defense): a purifier network trained against self-supervised perturbations (SSP)."""

from defenses.nrp.defense import NRPPurifier

__all__ = ["NRPPurifier"]
