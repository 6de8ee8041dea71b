"""Turn bytes of unknown encoding into clean text.

Encodings are detected with charset-normalizer and mojibake (UTF-8 read as
Latin-1, and the like) is repaired with ftfy.
"""

from __future__ import annotations

import codecs
import html
import re

import charset_normalizer
import ftfy

from iesi_nlp.errors import InputError

#: How much of a file is sampled to detect its encoding.
SAMPLE_BYTES = 1 << 20

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(sample: bytes, *, where: str) -> str:
    """Name the encoding of ``sample`` (the start of a file); raise if it is binary."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" in sample:
        raise InputError(f"{where}: looks like a binary file (NUL bytes), not text")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a multi-byte character is still UTF-8.
        if exc.start >= len(sample) - 3 and len(sample) >= SAMPLE_BYTES:
            return "utf-8"
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise InputError(f"{where}: cannot tell the text encoding; the file may be binary")
    return best.encoding


def decode_bytes(data: bytes, *, where: str) -> str:
    """Decode a whole file's bytes and repair mojibake."""
    encoding = detect_encoding(data[:SAMPLE_BYTES], where=where)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{where}: bytes at offset {exc.start} are not valid {encoding}; the file mixes encodings"
        ) from None
    return repair_text(text)


#: What ftfy would still change in ASCII text: control characters (terminal escapes, \r line breaks, NUL...).
_ASCII_FIXABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def repair_text(text: str) -> str:
    """Fix mojibake and odd Unicode (ftfy), keeping line breaks and the text otherwise intact.

    Curly quotes and full-width characters are left as written: they are not errors,
    and evidence is shown to annotators as the source has it.
    """
    if text.isascii() and not _ASCII_FIXABLE.search(text):
        # Plain ASCII without control characters has nothing for ftfy to fix (mojibake needs
        # non-ASCII characters; line breaks and escapes are control characters): skip its cost.
        return text
    return ftfy.fix_text(
        text, normalization="NFC", unescape_html=False, uncurl_quotes=False, fix_character_width=False, explain=False
    )


#: Markup that betrays an HTML fragment in a table cell (scraped descriptions keep their <p> and &nbsp;).
_HTML_TAG = re.compile(r"</?(?:p|br|div|span|a|li|ul|ol|strong|b|em|i|h[1-6]|table|tr|td|blockquote)\b[^>]*>", re.I)
_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,6});")
_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|div|li|h[1-6]|tr|blockquote)>", re.I)


def html_fragment_to_text(text: str) -> str:
    """Plain text of a cell that holds an HTML fragment; any other text is returned unchanged.

    Block ends become line breaks (so sentences and paragraphs stay apart) and entities
    are decoded. Whole HTML pages go through trafilatura instead (see ``sources``).
    """
    if not _HTML_TAG.search(text) and not _HTML_ENTITY.search(text):
        return text
    if _HTML_TAG.search(text):
        from lxml import html as lxml_html

        marked = _BLOCK_END.sub(lambda match: match.group(0) + "\n", text)
        try:
            text = lxml_html.fromstring(f"<div>{marked}</div>").text_content()
        except (ValueError, TypeError):  # lxml refuses some control characters: keep the text as it is
            return html.unescape(text)
        return text.strip()
    return html.unescape(text)
