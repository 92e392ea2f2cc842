"""biogans.core.data.neighbours.nearest: exact k-nearest search shared by the red table and reconstruction."""

from __future__ import annotations

import pytest
import torch

from biogans.core.data.neighbours import nearest


def brute_force(queries, pool, k, query_ids=None, pool_ids=None):
    d2 = (queries.flatten(1).long()[:, None, :] - pool.flatten(1).long()[None, :, :]).pow(2).sum(-1)
    if query_ids is not None:
        d2 = d2.masked_fill(query_ids[:, None] == pool_ids[None, :], 2**62)
    # sort by distance, then index (stable sort keeps the smaller index first on ties)
    order = torch.sort(d2, dim=1, stable=True).indices[:, :k]
    return order, d2.gather(1, order)


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_k_nearest_equal_brute_force_with_ties_and_self_exclusion(chunk):
    rng = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 4, (17, 2, 3, 2), generator=rng, dtype=torch.uint8)  # few values: many ties
    queries = pool[:9]
    index, d2 = nearest(queries, pool, 3, chunk)
    expected_index, expected_d2 = brute_force(queries, pool, 3)
    assert torch.equal(index, expected_index) and torch.equal(d2, expected_d2)
    assert torch.equal(index[:, 0], torch.arange(9))  # each query finds itself first, at distance 0
    ids = torch.arange(17)
    index, d2 = nearest(queries, pool, 3, chunk, query_ids=ids[:9], pool_ids=ids)
    expected_index, expected_d2 = brute_force(queries, pool, 3, ids[:9], ids)
    assert torch.equal(index, expected_index) and torch.equal(d2, expected_d2)
    assert not (index == torch.arange(9)[:, None]).any()


def test_too_few_rows_are_marked_and_bad_input_refused():
    pool = torch.tensor([[1], [5]], dtype=torch.uint8)
    index, d2 = nearest(pool, pool, 2, query_ids=torch.arange(2), pool_ids=torch.arange(2))
    assert index.tolist() == [[1, -1], [0, -1]] and d2.tolist() == [[16, -1], [16, -1]]
    with pytest.raises(ValueError, match="uint8"):
        nearest(pool.float(), pool.float())
    with pytest.raises(ValueError, match="image shape"):
        nearest(pool, pool.view(1, 2))
