"""Optional dependencies detected in one place, and shared type aliases."""
from typing import Any, Optional, Union

from torch import Tensor

try:
    import torch_sparse  # noqa: F401
    from torch_sparse import SparseTensor
    WITH_TORCH_SPARSE = True
except Exception:  # ImportError, or a build that does not match torch
    WITH_TORCH_SPARSE = False

    class SparseTensor:  # type: ignore[no-redef]
        """Stand-in used when torch-sparse is missing; raises on use."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(
                "'SparseTensor' requires 'torch-sparse': install it with "
                "`pip install -e .[ext]`")

try:
    import torch_scatter  # noqa: F401
    WITH_TORCH_SCATTER = True
except Exception:
    WITH_TORCH_SCATTER = False

#: An adjacency: a sparse ``torch.Tensor`` (CSR/COO) or a ``SparseTensor``.
Adj = Union[Tensor, SparseTensor]
OptTensor = Optional[Tensor]
