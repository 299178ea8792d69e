"""The multimodal feature pipeline: image captions from a multimodal model and
sentence embeddings of captions and item texts, written as MMRec
``<modality>_feat.npy`` files (see ``docs/features.md``). Heavy dependencies
(the ``features`` extra) are imported only when a model is loaded."""
from lirdrec_pyg.features.assemble import (FeatureReport,
                                           build_feature_matrix,
                                           write_feature_file)
from lirdrec_pyg.features.caption import (ImageCaptioner, caption_images,
                                          caption_texts, collect_images)
from lirdrec_pyg.features.requirements import MissingExtraError
from lirdrec_pyg.features.text import SentenceEmbedder, embed_texts

__all__ = [
    'SentenceEmbedder',
    'embed_texts',
    'ImageCaptioner',
    'collect_images',
    'caption_images',
    'caption_texts',
    'build_feature_matrix',
    'write_feature_file',
    'FeatureReport',
    'MissingExtraError',
]
