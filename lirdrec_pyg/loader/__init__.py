r"""Mini-batches on sampled subgraphs (a vectorised neighbour sampler in
pure PyTorch) for the linear-time training mode (``train.mode: sampled``)."""
from lirdrec_pyg.loader.neighbor import (
    NeighborSubgraph,
    csr_segments,
    sample_neighbors,
    sample_subgraph,
)
from lirdrec_pyg.loader.subgraph import (
    BPRSubgraphLoader,
    BPRSubgraphSampler,
    SubgraphBatch,
    resolve_num_neighbors,
)

__all__ = ['BPRSubgraphLoader', 'BPRSubgraphSampler', 'SubgraphBatch',
           'resolve_num_neighbors', 'NeighborSubgraph', 'csr_segments',
           'sample_neighbors', 'sample_subgraph']
