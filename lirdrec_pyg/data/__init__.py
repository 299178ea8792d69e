r"""Data layer: readers, splits, the synthetic generator, the
:class:`~torch_geometric.data.HeteroData` layout, BPR sampling and dataset
statistics."""
from lirdrec_pyg.data.errors import DataFormatError, DatasetNotFoundError
from lirdrec_pyg.data.hetero import (
    IU,
    ITEM,
    UI,
    USER,
    build_hetero_data,
    get_modalities,
    num_items,
    num_users,
    split_edge_index,
    user_item_edge_type,
)
from lirdrec_pyg.data.splits import (
    drop_cold_users,
    global_temporal_split,
    random_split_per_user,
    temporal_split_per_user,
)
from lirdrec_pyg.data.mmrec import read_mmrec
from lirdrec_pyg.data.movielens import movielens_item_texts, read_movielens
from lirdrec_pyg.data.synthetic import make_synthetic
from lirdrec_pyg.data.datasets import (
    DATASETS,
    data_root,
    list_datasets,
    load_dataset,
)
from lirdrec_pyg.data.sampler import BPRSampler
from lirdrec_pyg.data.summary import dataset_summary, format_summary

__all__ = [
    'DataFormatError',
    'DatasetNotFoundError',
    'USER',
    'ITEM',
    'UI',
    'IU',
    'build_hetero_data',
    'get_modalities',
    'split_edge_index',
    'user_item_edge_type',
    'num_users',
    'num_items',
    'random_split_per_user',
    'temporal_split_per_user',
    'global_temporal_split',
    'drop_cold_users',
    'read_mmrec',
    'read_movielens',
    'movielens_item_texts',
    'make_synthetic',
    'DATASETS',
    'data_root',
    'load_dataset',
    'list_datasets',
    'BPRSampler',
    'dataset_summary',
    'format_summary',
]
from lirdrec_pyg.data.in_memory import RecommendationDataset  # noqa: E402

__all__ += ['RecommendationDataset']
