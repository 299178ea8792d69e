"""PyG transforms: the normalised user-item adjacency, the item kNN graph."""
from lirdrec_pyg.transforms.adjacency import (
    UserItemAdjacency, bipartite_normalized_adjacency,
    bipartite_self_loop_adjacency, get_ui_adjacency)

__all__ = ['UserItemAdjacency', 'bipartite_normalized_adjacency',
           'bipartite_self_loop_adjacency',
           'get_ui_adjacency']
from lirdrec_pyg.transforms.cooccurrence import (  # noqa: E402
    UserCooccurrenceGraph, get_user_graph, user_cooccurrence_graph,
    user_graph_adjacency)

__all__ += ['UserCooccurrenceGraph', 'get_user_graph',
            'user_cooccurrence_graph', 'user_graph_adjacency']
from lirdrec_pyg.transforms.knn_graph import (  # noqa: E402
    ItemKNNGraph, get_item_graph, knn_graph)

__all__ += ['ItemKNNGraph', 'get_item_graph', 'knn_graph']
from lirdrec_pyg.transforms.edge_dropout import (  # noqa: E402
    degree_sensitive_edge_dropout, degree_sensitive_edge_weight,
    dropped_ui_adjacency)

__all__ += ['degree_sensitive_edge_dropout', 'degree_sensitive_edge_weight',
            'dropped_ui_adjacency']
from lirdrec_pyg.transforms.knn_graph import knn_indices  # noqa: E402

__all__ += ['knn_indices']
from lirdrec_pyg.transforms.adjacency import (  # noqa: E402
    add_identity, check_edge_index, interaction_matrix)

__all__ += ['add_identity', 'check_edge_index', 'interaction_matrix']
