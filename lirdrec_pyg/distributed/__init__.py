r"""Training one model with several processes (``torchrun``) on the CPU
(Gloo) or on GPUs (NCCL): the process group from ``torchrun``'s
environment, the training device, the row sharding of users and items with
differentiable gathers, and the sharded propagation.

A model that supports it (:attr:`Recommender.shardable`) splits its
full-graph work by rows when the :class:`~lirdrec_pyg.train.Trainer` calls
:meth:`Recommender.shard`; the trainer splits every BPR batch and sums the
gradients; the evaluation is split by users. See ``docs/scaling.md``.
"""
from lirdrec_pyg.distributed.process import (DEVICES, backend_for,
                                             check_device, env_world_size,
                                             init_process_group,
                                             is_main_process, resolve_device)
from lirdrec_pyg.distributed.sharding import (Sharding, adjacency_rows,
                                              pad_rows, sharded_adjacency,
                                              split_range)
from lirdrec_pyg.distributed.optim import GradientBuckets, ShardedAdam
from lirdrec_pyg.distributed.propagation import (
    bipartite_blocks, bipartite_propagation, sharded_propagation)

__all__ = [
    'DEVICES', 'check_device', 'resolve_device', 'env_world_size',
    'backend_for', 'init_process_group', 'is_main_process', 'Sharding',
    'split_range', 'adjacency_rows', 'sharded_adjacency',
    'sharded_propagation', 'pad_rows', 'ShardedAdam', 'GradientBuckets',
    'bipartite_blocks', 'bipartite_propagation',
]
