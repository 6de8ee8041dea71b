"""Scraped boilerplate: the lines of a page that say nothing about the case.

Scraped project pages and reports carry navigation menus, breadcrumbs, cookie
banners, share and print links, copyright footers and thank-you lines. They
are dropped before a text is embedded (so they do not pull every case of one
website towards the same point) and are never shown as evidence (an annotator
gains nothing from "Tento web používá cookies" as the reason for a label).

A line is boilerplate when

* it is a **menu or breadcrumb**: three or more short items separated by ``|``,
  ``·``, ``•``, ``»``, ``>`` or `` / `` (four when only runs of spaces separate them);
* it is a **button row**: bracketed labels such as ``[OK] [Více informací]``;
* it holds a **cookie, consent, privacy, copyright or thank-you** phrase in one of
  the EU languages (:data:`BOILERPLATE_PATTERNS`) and is not long (a long sentence
  that mentions cookies in passing is kept);
* it is a **link or button label** (share, print, read more, a social network,
  back to top: :data:`SHORT_LINE_PATTERNS`) on a line of at most five words.

Only whole lines and sentences are judged, so offsets into the text stay valid.
"""

from __future__ import annotations

import re

#: Longest line (in characters) that a keyword alone marks as boilerplate.
MAX_KEYWORD_LINE = 220

#: Phrases that mark a short line as boilerplate, in the EU languages and a few others.
#: Lowercase; matched as substrings of the lowercased line.
BOILERPLATE_PATTERNS = (
    # cookies and consent
    "cookie",
    "cookies",
    "ciasteczk",
    "evästeet",
    "evästeitä",
    "sütik",
    "sütiket",
    "kolačić",
    "piškotk",
    "küpsis",
    "sīkdatn",
    "slapuk",
    "бисквитк",
    "privacy policy",
    "privacy statement",
    "datenschutzerklärung",
    "datenschutzhinweis",
    "politique de confidentialité",
    "política de privacidad",
    "informativa sulla privacy",
    "polityka prywatności",
    "zásady ochrany osobních údajů",
    "privacybeleid",
    "tietosuojaseloste",
    "integritetspolicy",
    "adatvédelmi nyilatkozat",
    "adatkezelési tájékoztató",
    "politica de confidențialitate",
    "πολιτική απορρήτου",
    "accept all",
    "alle akzeptieren",
    "tout accepter",
    "aceptar todo",
    "accetta tutti",
    "akceptuj wszystk",
    "souhlasíte",
    # footers
    "©",
    "all rights reserved",
    "alle rechte vorbehalten",
    "tous droits réservés",
    "todos los derechos reservados",
    "tutti i diritti riservati",
    "wszelkie prawa zastrzeżone",
    "všechna práva vyhrazena",
    "kaikki oikeudet pidätetään",
    "alla rättigheter förbehållna",
    "alle rechten voorbehouden",
    "todos os direitos reservados",
    "με επιφύλαξη παντός δικαιώματος",
    "minden jog fenntartva",
    "toate drepturile rezervate",
    "impressum",
    # thank-you lines
    "thank you for",
    "thanks for",
    "vielen dank",
    "danke für",
    "merci de",
    "merci pour",
    "gracias por",
    "grazie per",
    "dziękujemy",
    "děkujeme",
    "kiitos kaikille",
    "kiitos osallistujille",
    "tack för",
    "bedankt voor",
    "obrigado por",
    "ευχαριστούμε",
    "köszönjük",
    "mulțumim",
)

#: Words that mark only a short line (a link or button label) as boilerplate: in a sentence
#: of content they are ordinary words ("the volunteers share ...", "a Facebook group").
SHORT_LINE_PATTERNS = (
    "skip to content",
    "zum inhalt springen",
    "aller au contenu",
    "back to top",
    "nach oben",
    "zpět nahoru",
    "share",
    "teilen",
    "partager",
    "compartir",
    "condividi",
    "udostępnij",
    "sdílet",
    "facebook",
    "twitter",
    "linkedin",
    "instagram",
    "whatsapp",
    "youtube",
    "print",
    "drucken",
    "imprimer",
    "tisknout",
    "read more",
    "weiterlesen",
    "lire la suite",
    "leer más",
    "leggi tutto",
    "czytaj więcej",
    "číst dále",
    "lue lisää",
    "läs mer",
    "lees meer",
    "newsletter",
    "gdpr",
    "contact us",
    "menu",
    "menü",
)
#: Longest line (in characters and in words) that a short-line word marks as boilerplate.
MAX_SHORT_LINE = 60
MAX_SHORT_LINE_WORDS = 5

_MENU_MARKERS = frozenset("|·•»>")
_SHORT_LINE_WORDS = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in SHORT_LINE_PATTERNS) + r")\b")
_MENU_SEPARATORS = re.compile(r"\s+[|·•»>]\s+|\s+[|·•»>]|[|·•»>]\s+")
_BREADCRUMB = re.compile(r"\s+/\s+")
_SPACED_MENU = re.compile(r"\s{2,}")
_BUTTONS = re.compile(r"\[[^\[\]]{1,40}\]")
#: A menu item: a few words at most.
_MAX_ITEM_WORDS = 4


def _short_items(items: list[str]) -> bool:
    items = [item.strip() for item in items if item.strip()]
    return bool(items) and all(len(item.split()) <= _MAX_ITEM_WORDS for item in items)


def is_boilerplate(line: str) -> bool:
    """Whether a sentence or line is page furniture rather than content (see the module docstring)."""
    stripped = line.strip()
    if not stripped:
        return True
    # Each pattern is tried only when its marker is in the line: this runs for every sentence of every case.
    if _MENU_MARKERS.intersection(stripped):
        items = _MENU_SEPARATORS.split(stripped)
        if len(items) >= 3 and _short_items(items):
            return True
    # Two items around a slash are as often a bilingual title as a breadcrumb: three are a path.
    if " / " in stripped:
        crumbs = _BREADCRUMB.split(stripped)
        if len(crumbs) >= 3 and _short_items(crumbs):
            return True
    if "  " in stripped:
        spaced = _SPACED_MENU.split(stripped)
        if len(spaced) >= 4 and _short_items(spaced):
            return True
    if "[" in stripped or "]" in stripped:
        buttons = _BUTTONS.findall(stripped)
        if buttons and len(_BUTTONS.sub("", stripped).strip(" .,;:")) <= 2 * sum(map(len, buttons)):
            return True
    lowered = stripped.lower()
    short = len(stripped) <= MAX_SHORT_LINE and len(stripped.split()) <= MAX_SHORT_LINE_WORDS
    if short and _SHORT_LINE_WORDS.search(lowered):
        return True
    # Plain substring tests: faster than one regular expression of a hundred alternatives.
    return len(stripped) <= MAX_KEYWORD_LINE and any(pattern in lowered for pattern in BOILERPLATE_PATTERNS)
