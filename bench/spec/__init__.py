"""Experiment specs: a TOML file (or CLI flags) describing a matrix, validated before any work.

A spec names the axes of the matrix and, optionally, parameters of each
component.  Every name is checked against its registry, every parameter by
building the component once, so a typo fails in a second with a message naming
the fix, never an hour into a run.  ``configs/*.toml`` are examples; the format::

    name = "quick"                 # results/<name>.sqlite; default: the file's stem
    seed = 0                       # classifiers, defense fits and attacks
    n = 300                        # the first n test examples (default: all)
    device = "auto"                # auto | cpu | cuda
    batch_size = 500               # attack and evaluation batches
    threads = 1                    # torch intra-op threads per worker (default: cores // workers)
    workers = 2                    # parallel job processes (default: one per core, or per GPU); not in the digest
    draws = 5                      # evaluations of a randomized stack; robust = correct on every draw

    datasets = ["mnist5k"]         # axes; each a list (or one string)
    archs = ["smallcnn"]
    recipes = ["natural", "madry"]
    defenses = ["none", "aid", "pixeldefend+aid"]   # stacks: stages joined by '+'
    attacks = ["pgd", "cw"]
    threats = ["oblivious"]        # oblivious auxaware adaptive blackbox transfer
    eps = [0.3, "8/255"]           # default: the attack's preset for the dataset
    lam = [0.0, 0.5, 1.0]          # auxaware only; default 0, 0.1, ..., 1
    sources = ["same", "vgg19"]    # transfer only; see bench.plan_sources

    [classifiers.mine]             # a classifier trained elsewhere: a registered arch and its weights
    arch = "smallcnn"              # (name it in archs; it comes trained, so recipes do not apply to it)
    checkpoint = "mine.pt"         # .pt/.pth (read with weights_only=True) or .safetensors; relative to this file

    [recipe_params.natural]        # parameters per component name
    epochs = 2
    [attack_params.cw]
    steps = 100
    eps = 2.0                      # an attack's own eps list beats the top-level one
    [attack_params.pgd100]         # a variant: its own name, "use" picks the algorithm
    use = "pgd"
    steps = 100
    [defense_params.aid]
    steps = 10
    [threat_params.adaptive_bpda]  # threat variants: the threat's constructor keywords (adaptive: gradient,
    use = "adaptive"               # eot_samples, select, start, relu_beta, aux_lam)
    gradient = "bpda"

    [[matrix]]                     # optional blocks: each a cross product of the axes,
    attacks = ["pgd"]              # any axis not set in a block comes from the top level
    threats = ["auxaware"]
    audit = true                   # also audit each (classifier, stack) of the block (bench.auditing);
                                   # top-level audit = true audits every block
    [audit_params]                 # the audit's sizes (bench.spec.audit_settings), e.g.
    n = 50

eps resolution, most specific first: the block's ``eps`` (or ``--eps``), the
attack's ``eps`` in ``attack_params``, the top-level ``eps``, the attack's
preset for the dataset (``attacks.attack_preset``).  A clean column
(pseudo-attack ``clean``: no perturbation) is evaluated for every stack.

From Python (``bench.evaluate``), ``objects`` adds classifiers (``nn.Module``)
and defense stages (``Defense`` instances) under labels the axes name; the
spec's identity holds their content digests, never the objects or file paths.
"""

from bench.jobs import CLEAN
from bench.spec.loading import apply_assignment, apply_overrides, audited, checkpoint_overrides, load_spec
from bench.spec.model import (AUDIT, AUDIT_PARAMS, AXES, AXIS_DEFAULTS, CLASSIFIER_KEYS, CLASSIFIERS, COMPONENT_TABLES, DEFAULT_BATCH_SIZE,
                              DEFAULT_LAMBDAS, PRETRAINED, SCALARS, TOP_KEYS, USE, ZOO_PREFIX, Block,
                              Component, Components, Spec, SpecError)
from bench.spec.validation import parse_spec

__all__ = ["AUDIT", "AUDIT_PARAMS", "AXES", "AXIS_DEFAULTS", "CLASSIFIERS", "CLASSIFIER_KEYS", "CLEAN", "COMPONENT_TABLES", "DEFAULT_BATCH_SIZE",
           "DEFAULT_LAMBDAS", "PRETRAINED", "SCALARS", "TOP_KEYS", "USE", "ZOO_PREFIX", "Block",
           "Component", "Components", "Spec", "SpecError", "apply_assignment", "apply_overrides", "audited", "checkpoint_overrides", "load_spec",
           "parse_spec"]
