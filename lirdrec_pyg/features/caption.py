"""Image captioning with a local :obj:`transformers` image-to-text model,
written to an editable caption file keyed by item id (or any item key)."""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple

from lirdrec_pyg.features.io import (PathLike, folder_fingerprint, read_rows,
                                     sha256_of, write_text_atomic)
from lirdrec_pyg.features.requirements import require, set_offline

IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.webp', '.bmp', '.gif', '.tif',
                  '.tiff'}
CAPTION_HEADER = ('itemID', 'image', 'caption')


class Captioner(Protocol):
    r"""What the pipeline needs from a captioning model."""
    fingerprint: str

    def caption(self, images: List[Any]) -> List[str]:
        ...


def collect_images(source: PathLike, key_col: Optional[str] = None,
                   path_col: Optional[str] = None) -> Dict[str, Path]:
    r"""Finds the image of every item.

    Args:
        source (str): Either a folder of images named :obj:`<key>.<ext>`
            (:obj:`12.jpg` belongs to key :obj:`"12"`), or a :obj:`.csv` /
            :obj:`.tsv` table of keys and image paths (relative paths are
            resolved against the table's folder).
        key_col (str, optional): Key column of the table (default: first).
        path_col (str, optional): Path column of the table (default: second).
    """
    source = Path(source)
    out: Dict[str, Path] = {}
    if source.is_dir():
        for file in sorted(source.iterdir()):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                if file.stem in out:
                    raise ValueError(f"Two images for key '{file.stem}' in "
                                     f"'{source}': {out[file.stem].name}, "
                                     f"{file.name}")
                out[file.stem] = file
        if not out:
            raise ValueError(f"Folder '{source}' holds no image file "
                             f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        return out
    header, rows = read_rows(source)
    k = 0 if key_col is None else _index(header, key_col, source)
    p = 1 if path_col is None else _index(header, path_col, source)
    for line, row in enumerate(rows, start=2):
        if len(row) <= max(k, p):
            raise ValueError(f"{source}, line {line}: expected a key and an "
                             f"image path, found {row!r}")
        key, file = row[k].strip(), Path(row[p].strip())
        if not row[p].strip():
            continue
        if key in out:
            raise ValueError(f"{source}, line {line}: duplicate key '{key}'")
        out[key] = file if file.is_absolute() else source.parent / file
    return out


def _index(header: List[str], name: str, path: Path) -> int:
    if name not in header:
        raise ValueError(f"Table '{path}' has no column '{name}' "
                         f"(columns: {', '.join(header)})")
    return header.index(name)


def clean_caption(text: str) -> str:
    r"""Collapses whitespace (tabs, newlines) so that a caption fits on one
    line of the caption file."""
    return re.sub(r'\s+', ' ', text).strip()


def _sort_key(key: str) -> Tuple[int, Any]:
    return (0, int(key)) if key.isdigit() else (1, key)


def read_captions(path: PathLike) -> Dict[str, Tuple[str, str]]:
    r"""Reads a caption file (:obj:`itemID<TAB>image<TAB>caption`).

    Returns:
        Key -> (image path, caption).
    """
    path = Path(path)
    header, rows = read_rows(path)
    if tuple(header[:3]) != CAPTION_HEADER:
        raise ValueError(f"'{path}' is not a caption file: header "
                         f"{header!r}, expected {list(CAPTION_HEADER)}")
    out: Dict[str, Tuple[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) != 3:
            raise ValueError(f"{path}, line {line}: expected 3 tab-separated "
                             f"fields, found {len(row)}")
        out[row[0]] = (row[1], row[2])
    return out


def caption_texts(path: PathLike) -> Dict[str, str]:
    r"""The captions of a caption file, keyed like the file."""
    return {key: cap for key, (_, cap) in read_captions(path).items()}


def write_captions(path: PathLike,
                   captions: Mapping[str, Tuple[str, str]]) -> None:
    r"""Writes a caption file atomically, rows sorted by key."""
    lines = ['\t'.join(CAPTION_HEADER)]
    for key in sorted(captions, key=_sort_key):
        image, caption = captions[key]
        lines.append(f'{key}\t{image}\t{clean_caption(caption)}')
    write_text_atomic(path, '\n'.join(lines) + '\n')


class ImageCaptioner:
    r"""An image-to-text model from a local folder, loaded lazily.

    Works with BLIP-style captioners (optionally with a text prefix as
    :obj:`prompt`, *e.g.*, :obj:`"a photography of"`), with vision-encoder /
    text-decoder models, and with vision-language chat models whose processor
    has a chat template (the :obj:`prompt` is then the user message, *e.g.*,
    :obj:`"Describe this product image in one sentence."`). Generation is
    greedy unless :obj:`num_beams > 1`; tokens that merely repeat the prompt
    are removed from the output.

    Args:
        model (str): Folder holding the model and its processor (as written by
            :obj:`save_pretrained`).
        prompt (str, optional): See above. (default: :obj:`None`)
        max_new_tokens (int, optional): Caption length limit.
            (default: :obj:`40`)
        num_beams (int, optional): Beam width. (default: :obj:`1`)
        device (str, optional): Torch device. (default: :obj:`"cpu"`)
    """
    def __init__(self, model: PathLike, prompt: Optional[str] = None,
                 max_new_tokens: int = 40, num_beams: int = 1,
                 device: str = 'cpu') -> None:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ValueError(
                f"Captioning model '{model}' is not a local folder. Download "
                f"it once, e.g. `hf download "
                f"Salesforce/blip-image-captioning-base --local-dir "
                f"<folder>`, and pass the folder")
        if max_new_tokens < 1 or num_beams < 1:
            raise ValueError(f"'max_new_tokens' ({max_new_tokens}) and "
                             f"'num_beams' ({num_beams}) must be positive")
        self.path = path.resolve()
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.device = device
        self._model: Any = None
        self._processor: Any = None
        self._fingerprint: Optional[str] = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = sha256_of([
                'image-to-text', folder_fingerprint(self.path), self.prompt,
                self.max_new_tokens, self.num_beams])
        return self._fingerprint

    def _load(self) -> None:
        set_offline()
        tr = require('transformers', 'Image captioning')
        require('PIL', 'Image captioning')
        kwargs = dict(local_files_only=True)
        self._processor = tr.AutoProcessor.from_pretrained(
            str(self.path), **kwargs)
        errors = []
        for name in ('AutoModelForImageTextToText', 'AutoModelForVision2Seq',
                     'VisionEncoderDecoderModel'):
            cls = getattr(tr, name, None)
            if cls is None:
                continue
            try:
                self._model = cls.from_pretrained(str(self.path), **kwargs)
                break
            except (ValueError, KeyError, OSError) as e:
                errors.append(f'{name}: {e}')
        if self._model is None:
            raise ValueError(f"'{self.path}' holds no image-to-text model "
                             f"that transformers can load: "
                             f"{'; '.join(errors)}")
        self._model.to(self.device).eval()
        tokenizer = getattr(self._processor, 'tokenizer', None)
        if tokenizer is not None and not getattr(
                self._model.config, 'is_encoder_decoder', False):
            # Decoder-only chat models continue the prompt: pad on the left.
            tokenizer.padding_side = 'left'

    def _inputs(self, images: List[Any]) -> Any:
        proc = self._processor
        if self.prompt is None:
            return proc(images=images, return_tensors='pt')
        text = self.prompt
        messages = [{'role': 'user', 'content': [
            {'type': 'image'}, {'type': 'text', 'text': self.prompt}]}]
        # The template sits on the processor or, for some models, only on
        # its tokenizer.
        for owner in (proc, getattr(proc, 'tokenizer', None)):
            if getattr(owner, 'chat_template', None):
                text = owner.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True)
                break
        return proc(images=images, text=[text] * len(images),
                    return_tensors='pt', padding=True)

    def caption(self, images: List[Any]) -> List[str]:
        r"""Captions a list of RGB :obj:`PIL.Image` images."""
        import torch
        if self._model is None:
            self._load()
        inputs = self._inputs(images).to(self.device)
        with torch.inference_mode():
            out = self._model.generate(**inputs,
                                       max_new_tokens=self.max_new_tokens,
                                       num_beams=self.num_beams,
                                       do_sample=False)
        ids = inputs.get('input_ids')
        if ids is not None and out.shape[1] > ids.shape[1] and torch.equal(
                out[:, :ids.shape[1]], ids):
            out = out[:, ids.shape[1]:]
        decode = getattr(self._processor, 'batch_decode', None) or \
            self._processor.tokenizer.batch_decode
        return [clean_caption(t) for t in
                decode(out, skip_special_tokens=True)]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.path.name}, '
                f'prompt={self.prompt!r})')


@dataclass
class CaptionReport:
    r"""What a :func:`caption_images` run did."""
    path: str
    num_images: int
    computed: int = 0
    reused: int = 0
    failed: Dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (f'{self.path}: {self.num_images} image(s), {self.computed} '
                f'captioned, {self.reused} reused from the file, '
                f'{len(self.failed)} unreadable')


def _open_image(path: Path) -> Any:
    Image = require('PIL.Image', 'Image captioning')
    with Image.open(path) as im:
        return im.convert('RGB')


def caption_images(
    images: Mapping[str, PathLike],
    captioner: Captioner,
    out_path: PathLike,
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
) -> CaptionReport:
    r"""Captions every image and writes the caption file :obj:`out_path`
    (:obj:`itemID<TAB>image<TAB>caption`).

    The file is also the checkpoint: it is rewritten atomically after every
    batch, and items already in it with the same image path are kept as they
    are, so an interrupted run resumes, a repeated run does no work, and
    hand-edited captions survive. Unreadable images are reported and left
    out (their items get the feature fallback).

    Args:
        images (dict): Key (item id) -> image path, see :func:`collect_images`.
        captioner (Captioner): The model, *e.g.*, :class:`ImageCaptioner`.
        out_path (str): The caption file.
        batch_size (int, optional): Images per model call. (default: :obj:`8`)
        overwrite (bool, optional): Re-caption items already in the file.
            (default: :obj:`False`)
        progress (bool, optional): Show a progress bar. (default: :obj:`True`)
    """
    from tqdm.auto import tqdm
    if batch_size < 1:
        raise ValueError(f"'batch_size' must be positive (got {batch_size})")
    out_path = Path(out_path)
    done = {} if overwrite or not out_path.is_file() else read_captions(
        out_path)
    report = CaptionReport(path=str(out_path), num_images=len(images))
    todo = []
    for key in sorted(images, key=_sort_key):
        image = str(images[key])
        if key in done and done[key][0] == image:
            report.reused += 1
        else:
            todo.append((key, image))
    # On a terminal only (disable=None): piped, its redraws fill a file.
    bar = tqdm(total=len(todo), desc='captioning', unit='image',
               disable=None if progress else True)
    try:
        for start in range(0, len(todo), batch_size):
            batch, pics = [], []
            for key, image in todo[start:start + batch_size]:
                try:
                    pics.append(_open_image(Path(image)))
                    batch.append((key, image))
                except (OSError, ValueError) as e:
                    report.failed[key] = f'{image}: {e}'
            if batch:
                caps = captioner.caption(pics)
                if len(caps) != len(batch):
                    raise ValueError(f"The captioner returned {len(caps)} "
                                     f"captions for {len(batch)} images")
                for (key, image), cap in zip(batch, caps):
                    done[key] = (image, cap)
                report.computed += len(batch)
                write_captions(out_path, done)
            bar.update(len(todo[start:start + batch_size]))
    finally:
        bar.close()
    if not out_path.is_file():
        write_captions(out_path, done)
    return report
