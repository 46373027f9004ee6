"""Item-item collaborative filtering: EASE^R (closed form) for small catalogs, pruned cosine kNN for large ones.

Both return a matrix ``W`` (items x items, row = an item the user has, column = a candidate) so
that a user's scores are ``profile @ W``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def ease(X: sp.csr_matrix, l2: float) -> np.ndarray:
    """EASE^R (Steck 2019): ridge regression of every item on all others with a zero diagonal.

    Memory and time grow with items squared / cubed: meant for catalogs of a few thousand items.
    """
    n = X.shape[1]
    gram = (X.T @ X).toarray().astype(np.float64)
    gram[np.diag_indices(n)] += l2
    inverse = np.linalg.inv(gram)
    weights = inverse / (-np.diag(inverse))
    weights[np.diag_indices(n)] = 0.0
    return weights.astype(np.float32)


def cosine_knn(X: sp.csr_matrix, neighbours: int, shrink: float = 0.0, block: int = 512) -> sp.csr_matrix:
    """Cosine item-item similarity keeping each item's ``neighbours`` most similar items (sparse).

    Computed a block of items at a time, so memory stays about ``block x items`` floats plus the
    pruned result.
    """
    n = X.shape[1]
    Xc = sp.csc_matrix(X, dtype=np.float32)
    Xt = sp.csr_matrix(Xc.T)
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel()).astype(np.float32)
    keep = max(0, min(int(neighbours), n - 1))
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for start in range(0, n, block):
        stop = min(start + block, n)
        sims = (Xt[start:stop] @ Xc).toarray()
        denom = norms[start:stop, None] * norms[None, :] + shrink
        np.divide(sims, denom, out=sims, where=denom > 0)
        sims[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if keep == 0:
            continue
        if keep < n:
            top = np.argpartition(-sims, keep - 1, axis=1)[:, :keep]
        else:
            top = np.broadcast_to(np.arange(n), sims.shape)
        top_vals = np.take_along_axis(sims, top, axis=1)
        mask = top_vals > 0
        rows.append(np.repeat(np.arange(start, stop), mask.sum(axis=1)))
        cols.append(top[mask])
        vals.append(top_vals[mask])
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=np.float32
    )
