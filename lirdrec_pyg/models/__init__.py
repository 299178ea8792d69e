"""Recommenders: LIRDRec and the baselines, by name in :data:`MODELS`."""
from lirdrec_pyg.models.base import Recommender, bpr_loss, embedding_norm_loss
from lirdrec_pyg.models.registry import (MODELS, create_model,
                                         get_model_class,
                                         model_hyperparameters,
                                         register_model)
from lirdrec_pyg.models.popularity import Popularity
from lirdrec_pyg.models.bpr import BPR
from lirdrec_pyg.models.lightgcn import LightGCN

__all__ = [
    'Recommender', 'bpr_loss', 'embedding_norm_loss', 'MODELS',
    'create_model', 'get_model_class', 'model_hyperparameters',
    'register_model', 'Popularity', 'BPR', 'LightGCN'
]
from lirdrec_pyg.models.itemknn_cbf import ItemKNNCBF  # noqa: E402

__all__ += ['ItemKNNCBF']
from lirdrec_pyg.models.freedom import FREEDOM  # noqa: E402

__all__ += ['FREEDOM']
from lirdrec_pyg.models.lattice import LATTICE  # noqa: E402

__all__ += ['LATTICE']
from lirdrec_pyg.models.slmrec import SLMRec  # noqa: E402

__all__ += ['SLMRec']
from lirdrec_pyg.models.vbpr import VBPR  # noqa: E402
from lirdrec_pyg.models.mmgcn import MMGCN  # noqa: E402
from lirdrec_pyg.models.grcn import GRCN  # noqa: E402
from lirdrec_pyg.models.dualgnn import DualGNN  # noqa: E402

__all__ += ['VBPR', 'MMGCN', 'GRCN', 'DualGNN']
from lirdrec_pyg.models.dragon import DRAGON  # noqa: E402

__all__ += ['DRAGON']
from lirdrec_pyg.models.bm3 import BM3  # noqa: E402

__all__ += ['BM3']
from lirdrec_pyg.models.mgcn import MGCN  # noqa: E402

__all__ += ['MGCN']
from lirdrec_pyg.models.lirdrec import LIRDRec  # noqa: E402

__all__ += ['LIRDRec']
from lirdrec_pyg.models.lgmrec import LGMRec  # noqa: E402

__all__ += ['LGMRec']
