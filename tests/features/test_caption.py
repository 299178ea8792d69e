import numpy as np
import pytest

from tests.features.feature_helpers import Interrupted, minilm_embedder
from lirdrec_pyg.features.caption import (ImageCaptioner, caption_images,
                                          caption_texts, clean_caption,
                                          collect_images, read_captions,
                                          write_captions)

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[DEC]', 'a', 'photo',
         'of', 'red', 'green', 'blue', 'square', 'the', 'toy', 'bottle']


def save_tiny_blip(folder):
    r"""A randomly initialised BLIP captioner with a word-level tokenizer,
    saved like a downloaded model (nothing is fetched)."""
    transformers = pytest.importorskip(
        'transformers', reason="needs the 'features' extra: pip install -c "
        "constraints.txt -e '.[features]'")
    from tokenizers import Tokenizer, models, pre_tokenizers
    torch = pytest.importorskip('torch')
    torch.manual_seed(0)
    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token='[UNK]'))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.BertTokenizerFast(
        tokenizer_object=tok, unk_token='[UNK]', pad_token='[PAD]',
        cls_token='[CLS]', sep_token='[SEP]', mask_token='[MASK]',
        bos_token='[DEC]')
    config = transformers.BlipConfig(
        vision_config=dict(hidden_size=16, intermediate_size=32,
                           num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=16),
        text_config=dict(vocab_size=len(vocab), hidden_size=16,
                         intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=32,
                         bos_token_id=5, pad_token_id=0, sep_token_id=3,
                         eos_token_id=3),
        projection_dim=16)
    model = transformers.BlipForConditionalGeneration(config).eval()
    processor = transformers.BlipProcessor(
        image_processor=transformers.BlipImageProcessor(
            size={'height': 32, 'width': 32}), tokenizer=tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, processor


def make_images(folder, n=5):
    Image = pytest.importorskip('PIL.Image')
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = (rng.random((24 + 4 * i, 40, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f'{i}.png')
    return folder


class FakeCaptioner:
    fingerprint = 'fake'

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def caption(self, images):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise Interrupted
        self.calls += 1
        return [f'{im.size[0]}x{im.size[1]}\tpicture\n' for im in images]


@pytest.fixture(scope='module')
def tiny_blip(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tiny_blip')
    model, processor = save_tiny_blip(folder)
    return folder, model, processor


def test_collect_images_folder_and_table(tmp_path):
    images = make_images(tmp_path / 'img', 3)
    (images / 'notes.txt').write_text('not an image')
    found = collect_images(images)
    assert found == {str(i): images / f'{i}.png' for i in range(3)}
    table = tmp_path / 'images.csv'
    table.write_text('asin,file\nB01,img/0.png\nB02,\n')
    assert collect_images(table) == {'B01': tmp_path / 'img' / '0.png'}
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='holds no image file'):
        collect_images(tmp_path / 'empty')


def test_caption_file_round_trip(tmp_path):
    path = tmp_path / 'captions.tsv'
    write_captions(path, {'10': ('x.png', 'a\tb\nc'), '9': ('y.png', 'd')})
    assert path.read_text().splitlines() == [
        'itemID\timage\tcaption', '9\ty.png\td', '10\tx.png\ta b c']
    assert read_captions(path) == {'9': ('y.png', 'd'),
                                   '10': ('x.png', 'a b c')}
    assert clean_caption('  two\t words ') == 'two words'
    (tmp_path / 'bad.tsv').write_text('id\tcaption\n')
    with pytest.raises(ValueError, match='is not a caption file'):
        read_captions(tmp_path / 'bad.tsv')


def test_caption_images_resumes_and_keeps_edits(tmp_path):
    images = collect_images(make_images(tmp_path / 'img', 5))
    out = tmp_path / 'captions.tsv'
    with pytest.raises(Interrupted):
        caption_images(images, FakeCaptioner(fail_after=2), out,
                       batch_size=2, progress=False)
    assert sorted(read_captions(out)) == ['0', '1', '2', '3']

    text = out.read_text().replace('40x24 picture', 'a hand-written caption')
    out.write_text(text)
    resumed = FakeCaptioner()
    report = caption_images(images, resumed, out, batch_size=2,
                            progress=False)
    assert resumed.calls == 1
    assert (report.computed, report.reused) == (1, 4)
    assert caption_texts(out) == {'0': 'a hand-written caption',
                                  '1': '40x28 picture', '2': '40x32 picture',
                                  '3': '40x36 picture', '4': '40x40 picture'}
    again = FakeCaptioner()
    caption_images(images, again, out, progress=False)
    assert again.calls == 0
    caption_images(images, again, out, batch_size=5, overwrite=True,
                   progress=False)
    assert again.calls == 1 and caption_texts(out)['0'] == '40x24 picture'


def test_caption_images_reports_unreadable_files(tmp_path):
    images = collect_images(make_images(tmp_path / 'img', 2))
    (tmp_path / 'img' / '1.png').write_bytes(b'not a png')
    report = caption_images(images, FakeCaptioner(), tmp_path / 'c.tsv',
                            progress=False)
    assert list(report.failed) == ['1'] and report.computed == 1
    assert list(caption_texts(tmp_path / 'c.tsv')) == ['0']


def test_tiny_blip_captions_match_direct_generation(tmp_path, tiny_blip):
    import torch
    folder, model, processor = tiny_blip
    images = collect_images(make_images(tmp_path / 'img', 3))
    captioner = ImageCaptioner(folder, max_new_tokens=6)
    report = caption_images(images, captioner, tmp_path / 'captions.tsv',
                            batch_size=2, progress=False)
    assert report.computed == 3
    from PIL import Image
    pics = [Image.open(images[str(i)]).convert('RGB') for i in range(3)]
    with torch.no_grad():
        ids = model.generate(**processor(images=pics, return_tensors='pt'),
                             max_new_tokens=6, do_sample=False)
    expected = [' '.join(t.split()) for t in
                processor.batch_decode(ids, skip_special_tokens=True)]
    assert [caption_texts(tmp_path / 'captions.tsv')[str(i)]
            for i in range(3)] == expected
    assert all(expected)


def test_tiny_blip_with_prompt_prefix(tmp_path, tiny_blip):
    folder, _, _ = tiny_blip
    images = collect_images(make_images(tmp_path / 'img', 2))
    captioner = ImageCaptioner(folder, prompt='a photo of', max_new_tokens=4)
    caps = caption_texts(caption_images(images, captioner,
                                        tmp_path / 'c.tsv',
                                        progress=False).path)
    assert all(c.startswith('a photo of') for c in caps.values())


def test_caption_to_feature_file_end_to_end(tmp_path, tiny_blip):
    embedder = minilm_embedder()
    from lirdrec_pyg.features.cli import main
    folder, _, _ = tiny_blip
    make_images(tmp_path / 'img', 4)
    (tmp_path / 'img' / '2.png').unlink()  # item 2 has no image
    out = tmp_path / 'dataset'
    code = main(['build', '--out-dir', str(out), '--images',
                 str(tmp_path / 'img'), '--caption-model', str(folder),
                 '--max-new-tokens', '5', '--num-items', '5',
                 '--no-progress'])
    assert code == 0
    captions = caption_texts(out / 'captions.tsv')
    assert sorted(captions) == ['0', '1', '3']
    x = np.load(out / 'image_feat.npy')
    assert x.shape == (5, 384)
    direct = embedder.encode([captions[k] for k in ['0', '1', '3']])
    assert np.allclose(x[[0, 1, 3]], direct, atol=1e-5)
    assert np.allclose(x[2], direct.mean(axis=0), atol=1e-5)
    assert np.allclose(x[4], direct.mean(axis=0), atol=1e-5)


def test_image_captioner_checks_arguments(tmp_path):
    with pytest.raises(ValueError, match='is not a local folder'):
        ImageCaptioner(tmp_path / 'missing')
    with pytest.raises(ValueError, match="'max_new_tokens'"):
        ImageCaptioner(tmp_path, max_new_tokens=0)


def test_chat_template_prompt_is_rendered(tmp_path, tiny_blip):
    _, model, processor = tiny_blip
    # A minimal chat template that puts 'a photo of' before the user's
    # text, so the rendered prompt is known.
    processor.chat_template = (
        "{% for m in messages %}{% for c in m['content'] %}"
        "{% if c['type'] == 'text' %}a photo of {{ c['text'] }}{% endif %}"
        "{% endfor %}{% endfor %}")
    folder = tmp_path / 'chat'
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    processor.chat_template = None
    images = collect_images(make_images(tmp_path / 'img', 2))
    captioner = ImageCaptioner(folder, prompt='the toy', max_new_tokens=3)
    caps = caption_texts(caption_images(images, captioner,
                                        tmp_path / 'c.tsv',
                                        progress=False).path)
    assert all(c.startswith('a photo of the toy') for c in caps.values())
