"""Content keys of tensors: every dtype and shape, 0-dim included, is hashed by value."""

from __future__ import annotations

import pytest
import torch

from bench.errors import InvalidInputError
from bench.hashing import state_digest, tensor_digest

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16,
          torch.float32, torch.float64, torch.complex64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_zero_dim_tensors_of_every_dtype_are_hashed_by_value(dtype):
    one, zero = torch.ones((), dtype=dtype), torch.zeros((), dtype=dtype)
    assert tensor_digest(one) == tensor_digest(one.clone())
    assert tensor_digest(one) != tensor_digest(zero)
    assert tensor_digest(one) != tensor_digest(one.reshape(1))  # the shape is part of the identity


def test_a_strided_view_hashes_like_its_contiguous_copy():
    t = torch.arange(12.0).reshape(3, 4)
    assert tensor_digest(t.t()) == tensor_digest(t.t().contiguous())


def test_batchnorm_state_is_hashed():
    bn = torch.nn.BatchNorm2d(3)
    before = state_digest(bn.state_dict())
    bn.num_batches_tracked += 1
    assert state_digest(bn.state_dict()) != before


def test_meta_tensors_are_refused():
    with pytest.raises(InvalidInputError, match="meta device"):
        tensor_digest(torch.empty(3, device="meta"))
