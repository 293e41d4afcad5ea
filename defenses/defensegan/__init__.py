"""Defense-GAN (the ``defensegan`` defense): a DCGAN and the latent search that projects inputs onto its range."""

from defenses.defensegan.defense import DefenseGAN

__all__ = ["DefenseGAN"]
