r"""Mini-batches on sampled subgraphs (PyG's neighbour sampler) for the
linear-time training mode (``train.mode: sampled``)."""
from lirdrec_pyg.loader.subgraph import (
    WITH_NEIGHBOR_SAMPLING,
    BPRSubgraphLoader,
    BPRSubgraphSampler,
    SubgraphBatch,
    resolve_num_neighbors,
)

__all__ = ['WITH_NEIGHBOR_SAMPLING', 'BPRSubgraphLoader',
           'BPRSubgraphSampler', 'SubgraphBatch', 'resolve_num_neighbors']
