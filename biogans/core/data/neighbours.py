"""Exact nearest neighbours between 8-bit images, on the device, in blocks.

Used for the red nearest-neighbour table of the multi-channel data
(:mod:`biogans.core.data.multichannel`) and for the nearest training image of a
reconstruction (:mod:`biogans.tasks.reconstruction`).

Exactness, so that the answer is a function of the data and not of the hardware: the
pixels are integers, so squared distances are computed as ``|a|^2 + |b|^2 - 2 a.b`` in
float64, where every partial sum is an integer below ``2^53`` and therefore exact in any
summation order.  Ties go to the smaller pool index: the top-k runs on the int64 key
``distance * len(pool) + index``.  The distance matrix is never formed whole: blocks of
at most ``chunk x chunk`` pairs are reduced to a running top-k per query.
"""

from __future__ import annotations

import torch

from biogans.core.errors import DataError

__all__ = ["DEFAULT_CHUNK", "nearest"]

#: Rows (and columns) of one block of the distance matrix: a block holds two
#: ``chunk x chunk`` arrays of 8-byte numbers (128 MiB at 2048), whatever the data size.
DEFAULT_CHUNK = 2048


def nearest(
    queries: torch.Tensor,
    pool: torch.Tensor,
    k: int = 1,
    chunk: int = DEFAULT_CHUNK,
    query_ids: torch.Tensor | None = None,
    pool_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` pool rows nearest to each query row, nearest first.

    ``queries`` ``(Q, ...)`` and ``pool`` ``(P, ...)`` are uint8 images of one shape,
    compared on all their values, on the queries' device.  Where ``query_ids`` and
    ``pool_ids`` are given (``(Q,)`` and ``(P,)`` int64), a query never matches a pool
    row with its own id (an image is not its own neighbour).  Returns ``(Q, k)`` pool
    indices and ``(Q, k)`` squared distances (int64, in squared 8-bit units); a query
    with fewer than ``k`` allowed rows gets index ``-1`` and distance ``-1`` in the rest.
    """
    if queries.dtype != torch.uint8 or pool.dtype != torch.uint8:
        raise ValueError(f"nearest needs uint8 images, got {queries.dtype} and {pool.dtype}")
    if pool.shape[1:] != queries.shape[1:]:
        raise ValueError(f"queries {tuple(queries.shape)} and pool {tuple(pool.shape)} differ in image shape")
    if k < 1 or chunk < 1:
        raise ValueError(f"k and chunk must be >= 1, got k={k}, chunk={chunk}")
    device = queries.device
    n_q, n_p = queries.shape[0], pool.shape[0]
    a_all = queries.reshape(n_q, -1)
    b_all = pool.reshape(n_p, -1).to(device)
    if 255**2 * a_all.shape[1] * max(n_p, 1) >= 2**62:  # the keys would overflow int64
        raise DataError(
            f"too many or too large images for an exact neighbour search ({n_p} of {a_all.shape[1]} values)"
        )
    never = torch.iinfo(torch.int64).max
    best = torch.full((n_q, k), never, dtype=torch.int64, device=device)
    for row in range(0, n_q, chunk):
        a = a_all[row : row + chunk].double()
        a_sq = (a * a).sum(1)
        found = best[row : row + chunk]
        for col in range(0, n_p, chunk):
            b = b_all[col : col + chunk].double()
            cols = torch.arange(col, col + b.shape[0], device=device)
            dist = a_sq[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)  # exact integers
            key = dist.round_().to(torch.int64) * n_p + cols[None, :]
            if query_ids is not None and pool_ids is not None:
                same = query_ids[row : row + chunk].to(device)[:, None] == pool_ids[cols].to(device)[None, :]
                key.masked_fill_(same, never)
            found = torch.cat([found, key], dim=1).topk(k, dim=1, largest=False, sorted=True).values
        best[row : row + chunk] = found
    unset = best == never
    index = torch.where(unset, -1, best % max(n_p, 1))
    return index, torch.where(unset, -1, best // max(n_p, 1))
