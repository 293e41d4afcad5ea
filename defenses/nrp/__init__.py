"""NRP (the ``nrp`` defense): a purifier network trained against self-supervised perturbations (SSP).

The AID-Purifier paper's Table 10 evaluates NRP and NRP+AID-Purifier.  Ours
departs from the NRP seed in three ways (``config.SEED_DEPARTURES``): the
feature network is trained naturally on the dataset rather than being NRP's
perceptual ImageNet VGG; the purifier trains against 5-step SSP, not the
README's 100 iterations; and it is trained for perturbations up to 16/255,
whatever eps the attacks use.
"""

from defenses.nrp.defense import NRPPurifier

__all__ = ["NRPPurifier"]
