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
    nuls = sample.count(0)
    if nuls:
        utf16 = _utf16_without_bom(sample)
        if utf16 is not None:
            return utf16
        if nuls > max(1, len(sample) // 10_000):
            raise InputError(f"{where}: looks like a binary file (NUL bytes), not text")
        # A stray NUL or two in text (a damaged export) is dropped with the other control
        # characters by ``repair_text``; it must not cost every other row of the file.
        sample = sample.replace(b"\x00", b"")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A sample (or a whole file) cut in the middle of a multi-byte character is still UTF-8:
        # the cut character becomes U+FFFD and only its row is rejected.
        if exc.reason == "unexpected end of data" and exc.end == len(sample):
            return "utf-8"
    if _mostly_utf8(sample):
        # UTF-8 with a few stray bytes (a Latin-1 value pasted in): read as UTF-8 so that only the
        # rows holding the stray bytes are rejected, instead of guessing a legacy encoding that
        # turns every accented letter of the file into mojibake.
        return "utf-8"
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise InputError(f"{where}: cannot tell the text encoding; the file may be binary")
    return best.encoding


def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for UTF-16 text saved without a byte order mark, else None.

    Latin-script text in UTF-16 has a NUL as the high byte of most characters, so the NUL bytes
    sit almost all at odd offsets (little-endian) or at even offsets (big-endian); random binary
    data spreads its few NUL bytes evenly.
    """
    head = sample[: min(len(sample), 1 << 16) & ~1]
    if len(head) < 8:
        return None
    odd_nuls, even_nuls, half = head[1::2].count(0), head[0::2].count(0), len(head) // 2
    for encoding, high, low in (("utf-16-le", odd_nuls, even_nuls), ("utf-16-be", even_nuls, odd_nuls)):
        if high >= half * 0.5 and low <= half * 0.02:
            try:
                text = head.decode(encoding)
            except UnicodeDecodeError as exc:
                # Only a character cut by the end of the sample is allowed.
                if exc.end < len(head):
                    continue
                text = head[: exc.start].decode(encoding)
            if sum(ch.isprintable() or ch in "\t\r\n" for ch in text) >= 0.95 * len(text):
                return encoding
    return None


def _mostly_utf8(sample: bytes) -> bool:
    """True when ``sample`` holds more well-formed UTF-8 multi-byte characters than invalid bytes.

    Text in a legacy 8-bit encoding (Windows-1252, Latin-2...) practically never forms valid
    UTF-8 sequences, so one such sequence per stray byte is strong evidence of UTF-8.
    """
    text = sample.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - invalid
    return valid > 0 and valid >= invalid


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_bytes(data: bytes, *, where: str) -> str:
    """Decode a whole file's bytes and repair mojibake."""
    encoding = detect_encoding(data[:SAMPLE_BYTES], where=where)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(data):
            problem = "the file ends in the middle of a character (cut off?)"
        else:
            problem = "the file mixes encodings"
        raise InputError(
            f"{where}: bytes at offset {exc.start:,} (line {_line_of(data, exc.start):,}) are not valid "
            f"{encoding}; {problem}"
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
