"""The review screen's pages and shared parts (Streamlit). UI only: the work is in ``iesi_nlp.review``.

Every read and write goes through :class:`iesi_nlp.review.ReviewService`: decisions,
adjudications and added cases are recorded by it, never by the screen.

Configured by environment variables (``iesi-nlp review`` sets them, see ``review.app_environment``):

* ``IESI_NLP_PROJECT``: the project folder (its cases are queued, its store keeps the decisions,
  its model registry serves the suggestions and receives every retraining);
* ``IESI_NLP_ANNOTATORS``: comma-separated names allowed to annotate (default: anyone, by name);
* ``IESI_NLP_ADJUDICATORS``: comma-separated names allowed to settle disagreements (default: anyone);
* ``IESI_NLP_DOUBLE_CODING``: ``1`` to hand a case on another annotator's screen to a second one too;
* ``IESI_NLP_PASSWORD``: when set, nothing is shown without it;
* ``IESI_NLP_RETRAIN_EVERY``: retrain in the background after this many newly reviewed cases
  (default ``iesi_nlp.review.DEFAULT_RETRAIN_EVERY``).
"""

from __future__ import annotations

import hmac
import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from iesi_nlp.annotation.store import Action
from iesi_nlp.codebook import Dimension
from iesi_nlp.coding.auto_accept import DEFAULT_AUDIT_SHARE
from iesi_nlp.coding.evidence import highlight_html
from iesi_nlp.coding.suggestion import DimensionSuggestion, Suggestion
from iesi_nlp.errors import AnnotationError, IesiError
from iesi_nlp.learning_curve import learning_curve
from iesi_nlp.project import AddReport, Project
from iesi_nlp.registry import trained_history, version_summaries
from iesi_nlp.review import DEFAULT_RETRAIN_EVERY, DashboardCounts, ReviewFilters, ReviewService

# -- configuration and sign-in -------------------------------------------------------------


def _names(variable: str) -> tuple[str, ...]:
    """The comma-separated names in environment variable ``variable``."""
    return tuple(name.strip() for name in os.environ.get(variable, "").split(",") if name.strip())


def service() -> ReviewService:
    project = os.environ.get("IESI_NLP_PROJECT")
    if not project:
        st.error("No project: start the screen with `iesi-nlp review --cases FILE` or `iesi-nlp review --project DIR`.")
        st.stop()
    auto_accept = os.environ.get("IESI_NLP_AUTO_ACCEPT", "").strip()
    return _service(
        project,
        int(os.environ.get("IESI_NLP_RETRAIN_EVERY", str(DEFAULT_RETRAIN_EVERY))),
        _names("IESI_NLP_ADJUDICATORS"),
        os.environ.get("IESI_NLP_DOUBLE_CODING", "").strip().lower() in ("1", "true", "yes"),
        float(auto_accept) if auto_accept else None,
        float(os.environ.get("IESI_NLP_AUDIT_SHARE", "") or DEFAULT_AUDIT_SHARE),
    )


@st.cache_resource
def _service(
    project_dir: str,
    retrain_every: int,
    adjudicators: tuple[str, ...],
    double_coding: bool,
    auto_accept: float | None = None,
    audit_share: float = DEFAULT_AUDIT_SHARE,
) -> ReviewService:
    """One service per server process and configuration, shared by every browser tab (the store serialises writes)."""
    return ReviewService.for_project(
        Project.open(Path(project_dir)),
        retrain_every=retrain_every,
        adjudicators=adjudicators,
        double_coding=double_coding,
        auto_accept_target=auto_accept,
        audit_share=audit_share,
    )


def sign_in() -> str | None:
    """The annotator's name, once the password (if any) is right; None until then."""
    password = os.environ.get("IESI_NLP_PASSWORD")
    allowed = list(_names("IESI_NLP_ANNOTATORS"))
    if st.session_state.get("annotator"):
        return st.session_state["annotator"]
    st.title("iesi-nlp review")
    with st.form("sign-in"):
        name = st.selectbox("Annotator", allowed) if allowed else st.text_input("Your name")
        given = st.text_input("Password", type="password") if password else ""
        if st.form_submit_button("Start reviewing", type="primary"):
            if password and not hmac.compare_digest(given.encode(), password.encode()):
                st.error("Wrong password.")
            elif not name or not name.strip():
                st.error("Give your name: every decision records who made it.")
            else:
                st.session_state["annotator"] = name.strip()
                st.rerun()
    return None


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 case``, ``2 cases``, ``0 cases``."""
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"


def age_text(age) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // (24 * 60)} days"


def sidebar_status(svc: ReviewService, annotator: str) -> None:
    svc.refresh()  # another version may serve since the last click (retrained, or `iesi-nlp models serve`)
    with st.sidebar:
        st.markdown(f"**Annotator:** {_markdown_escape(annotator)}")
        if svc.project is not None:
            st.markdown(f"**Project:** {_markdown_escape(svc.project.name)}")
        st.markdown(
            f"**Model:** version `{svc.version or '-'}`, trained {age_text(svc.model_age)} ago  \n`{svc.model.id}`"
        )
        due = max(0, svc.retrain_every - svc.reviewed_since_training())
        if svc.retrain.running:
            st.info("Retraining in the background…")
        elif svc.retrain.last_error:
            st.error(f"Last retraining failed: {svc.retrain.last_error}")
        else:
            st.caption(f"Retrains after {due} more reviewed {'case' if due == 1 else 'cases'}")
        if st.button("Retrain now", disabled=svc.retrain.running):
            svc.start_retraining(by=annotator, reason=f"Retrain now, by {annotator}")
            st.rerun()


def filters_from_sidebar(svc: ReviewService) -> ReviewFilters:
    cases = svc.store.cases()
    with st.sidebar:
        st.subheader("Queue")
        status = st.radio(
            "Show",
            ["todo", "mine", "disagreements", "all"],
            format_func={
                "todo": "not yet reviewed",
                "mine": "reviewed by me",
                "disagreements": "disagreements",
                "all": "all cases",
            }.get,
        )
        languages = st.multiselect("Language", sorted({c.language for c in cases if c.language}))
        countries = st.multiselect("Country", sorted({c.country for c in cases if c.country}))
        sources = st.multiselect("Source", sorted({c.source for c in cases if c.source}), key="filter-source")
        dimension = st.selectbox("Dimension", [None, *svc.codebook.dimension_ids], format_func=lambda d: d or "all")
    return ReviewFilters(tuple(languages), tuple(countries), tuple(sources), dimension, status)


# -- the review page -----------------------------------------------------------------------

#: The action bar stays at the top of the window however far a long case text is scrolled
#: (below Streamlit's header, 3.75rem, which gets the page's colour so that the text
#: scrolls out of sight above the bar). Full label names: option chips wrap rather than
#: cut a long name short.
REVIEW_CSS = """<style>
[data-testid="stLayoutWrapper"]:has(> .st-key-actions), .st-key-actions:not([data-testid="stLayoutWrapper"] > *) {
  position: sticky; top: 3.75rem; z-index: 990;
}
.st-key-actions {
  background-color: BACKGROUND;
  padding: .45rem 0 .35rem 0; border-bottom: 1px solid rgba(128, 128, 128, .25);
}
[data-testid="stHeader"] { background-color: BACKGROUND; }
[data-testid="stButtonGroup"] button, [data-testid="stButtonGroup"] button p { max-width: none; white-space: normal; }
</style>"""
#: Streamlit's default background colours.
BACKGROUNDS = {"light": "#ffffff", "dark": "#0e1117"}


def review_css() -> str:
    theme = getattr(getattr(st.context, "theme", None), "type", None)
    return REVIEW_CSS.replace("BACKGROUND", BACKGROUNDS.get(theme or "light", BACKGROUNDS["light"]))


def review_page() -> None:
    svc, annotator = service(), st.session_state["annotator"]
    filters = filters_from_sidebar(svc)
    # Cases decided in this session are not offered again (with "reviewed by me" or "all", they stay candidates).
    done = st.session_state.setdefault(DECIDED_THIS_SESSION, set())
    candidates = [c for c in svc.cases(filters, annotator) if c.id not in done]
    # The case stays on screen until the annotator decides on it (or it leaves the filters):
    # picking a label reruns this script, and the queue may have moved since.
    pinned = {c.id: c for c in candidates}.get(st.session_state.get(CASE_ON_SCREEN))
    if pinned is None and _decided_here(st.session_state.get(CASE_ON_SCREEN)):
        # Partly decided (one dimension accepted): it has left "not yet reviewed" but stays until finished.
        pinned = svc.case(st.session_state[CASE_ON_SCREEN])
    # In the "not yet reviewed" queue, a case someone else decided meanwhile is not handed out again.
    case = pinned or svc.next_case(candidates, annotator, undecided_only=filters.status == "todo")
    if case is None:
        svc.release(annotator)
        if not svc.store.cases():
            st.info("This project has no cases yet: add some on the “Add a case” page, or with `iesi-nlp add FILE`.")
        elif candidates:
            st.info("Every case left in this queue is on another annotator's screen; try again in a moment.")
        else:
            st.success("Nothing left to review with these filters.")
        return
    suggestion = _shown_suggestion(svc, case)
    _show_suggestions_in_widgets(svc, case, suggestion)
    st.session_state[CASE_ON_SCREEN] = case.id
    st.html(review_css())
    st.caption(
        f"{plural(len(candidates), 'case')} in this queue · ordered by uncertainty (margin), "
        "rare labels first, look-alikes spread out"
    )
    st.subheader(_markdown_escape(case.title or case.id))
    st.caption(case_caption(case))
    action_bar(svc, case, annotator, suggestion)
    decided_here = _decided_here(case.id)
    # One click accepts one dimension: a single row of chips rather than seven buttons,
    # which would double the elements the browser redraws for every case.
    st.pills(
        "Accept one dimension",
        [d for d in svc.codebook.dimension_ids if d not in decided_here],
        key=ACCEPT_ONE_KEY,
        format_func=lambda d: svc.codebook.dimension(d).name,
        on_change=_accept_picked,
        args=(svc, case, annotator, suggestion),
    )
    text_column, codes_column = st.columns([3, 2])
    with text_column:
        # One dimension's evidence at a time: all of them together would mark most of the text.
        shown = st.selectbox(
            "Highlight the evidence for",
            svc.codebook.dimension_ids,
            key="evidence-dimension",
            format_func=lambda d: svc.codebook.dimension(d).name,
        )
        st.markdown(case_text_html(case.text, suggestion[shown], svc.codebook.dimension(shown)), unsafe_allow_html=True)
    with codes_column:
        for warning in rule_warnings(svc.codebook, _labels_on_screen(svc)):
            st.warning(warning)
        for dimension in svc.codebook.dimensions:
            label_widget(dimension, suggestion[dimension.id], decided=dimension.id in decided_here)


def _labels_on_screen(svc: ReviewService) -> dict[str, list[str]]:
    """Every dimension's labels as the widgets hold them now (decided ones too)."""
    labels = {}
    for dimension_id in svc.codebook.dimension_ids:
        value = st.session_state.get(label_key(dimension_id))
        labels[dimension_id] = list(value) if isinstance(value, (list, tuple)) else ([value] if value else [])
    return labels


def rule_warnings(codebook, labels: dict[str, list[str]]) -> list[str]:
    """One line per codebook rule the labels break: a soft check, saving stays possible."""
    warnings = []
    for rule in codebook.violations(labels):
        premise = codebook.dimension(rule.premise_dimension)
        conclusion = codebook.dimension(rule.conclusion_dimension)
        expected = " or ".join(conclusion.label(label).name for label in rule.conclusion_labels)
        warnings.append(
            f"Check: {premise.name} “{premise.label(rule.premise_label).name}” usually goes with "
            f"{conclusion.name} including {expected}. {rule.note}".strip()
        )
    return warnings


def action_bar(svc: ReviewService, case, annotator: str, suggestion: Suggestion) -> None:
    """Accept all / Save / Skip / Flag (and the flag's comment), at the top of the case and sticky while scrolling."""
    # Callbacks run before the next script run, so a click costs one run instead of two.
    arguments = (svc, case, annotator, suggestion)
    with st.container(key=ACTIONS_KEY):
        with st.container(horizontal=True, vertical_alignment="center"):
            # The widgets start at the suggestions, so saving them accepts every dimension left alone,
            # and a correction made in a widget is kept rather than overridden by the suggestion.
            st.button(
                "Accept all",
                type="primary",
                key="accept-all",
                on_click=_save,
                args=arguments,
                shortcut=SHORTCUTS["accept-all"],
            )
            st.button("Save my labels", key="save", on_click=_save, args=arguments, shortcut=SHORTCUTS["save"])
            st.button(
                "Skip",
                key="skip",
                on_click=_skip_or_flag,
                args=(*arguments, Action.SKIPPED),
                shortcut=SHORTCUTS["skip"],
            )
            st.button(
                "Flag for discussion",
                key="flag",
                on_click=_skip_or_flag,
                args=(*arguments, Action.FLAGGED),
                shortcut=SHORTCUTS["flag"],
            )
            st.text_input(
                "Comment (for a flag)",
                key=COMMENT_KEY,
                placeholder="Comment (for a flag)",
                label_visibility="collapsed",
                width=260,
            )
        error = st.session_state.pop("review-error", None)
        if error:
            st.error(error)


def label_widget(dimension: Dimension, part: DimensionSuggestion, *, decided: bool) -> None:
    """A dimension's suggestion (confidence bars) and the widget holding the annotator's labels."""
    names = {label.id: label.name for label in dimension.labels}
    # Name, source and confidence bars in one element: a page of fewer elements redraws faster.
    st.html(confidence_html(dimension, part, saved=decided))
    # The codebook's definitions sit in the widget's help tooltip: at hand, without
    # rendering seven expanders of text on every case.
    definitions = "\n\n".join(f"**{label.name}** (`{label.id}`): {label.definition}" for label in dimension.labels)
    key = label_key(dimension.id)
    if dimension.multi_label:
        # Pills show every label's full name (a multiselect's chips cut long names short).
        st.pills(
            "Your labels (definitions: ?)",
            dimension.label_ids,
            selection_mode="multi",
            key=key,
            format_func=names.get,
            help=definitions,
            disabled=decided,
            on_change=_keep_draft,
            args=(dimension.id,),
            wrap=True,
        )
    else:
        st.radio(
            "Your label (definitions: ?)",
            dimension.label_ids,
            key=key,
            format_func=names.get,
            horizontal=True,
            help=definitions,
            disabled=decided,
            on_change=_keep_draft,
            args=(dimension.id,),
        )


def case_text_html(text: str, part: DimensionSuggestion | None, dimension: Dimension) -> str:
    """The case text with the evidence for ``part``'s suggested labels marked (everything escaped)."""
    names = {label.id: label.name for label in dimension.labels}
    evidence = part.evidence.items() if part is not None else ()
    spans = [(e.start, e.end, names.get(label, label)) for label, found in evidence for e in found]
    return f'<div class="case-text">{highlight_html(text, spans)}</div>'


def case_caption(case) -> str:
    """The case's id, language, country, source, year and link, for the line under its title (Markdown)."""
    parts = [f"id {case.id}", case.language or "?", case.country or "?", case.source or "?"]
    if case.year:
        parts.append(str(case.year))
    text = " · ".join(_markdown_escape(part) for part in parts)
    if case.url and SAFE_URL.fullmatch(case.url):
        text += f" · [{_markdown_escape(case.url)}]({case.url})"
    elif case.url:
        text += f" · {_markdown_escape(case.url)}"
    return text


#: Links are made only of plain http(s) addresses (no spaces, quotes or brackets that could break out).
SAFE_URL = re.compile(r"https?://[^\s()<>\[\]\"'`]+")


def _markdown_escape(text: str) -> str:
    """``text`` shown as it is in Markdown (a title like "[x](javascript:…)" stays text)."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~$])", r"\\\1", text)


def _shown_suggestion(svc: ReviewService, case) -> Suggestion:
    """The suggestion on screen for ``case``: the one first shown, kept until the case is decided.

    A background retraining may start serving another model while the annotator reads;
    the screen keeps showing (and the decision records) what they saw.
    """
    kept = st.session_state.get(SHOWN_KEY)
    if isinstance(kept, Suggestion) and kept.case_id == case.id:
        return kept
    suggestion = svc.suggestions([case])[0]
    st.session_state[SHOWN_KEY] = suggestion
    return suggestion


#: How many labels a single-label dimension shows with their scores: the pick and its runner-ups.
TOP_LABELS = 3


def confidence_html(dimension: Dimension, part: DimensionSuggestion, saved: bool = False) -> str:
    """A dimension's heading with confidence bars (escaped HTML).

    Multi-label: one bar per suggested label. Single-label: the ``TOP_LABELS`` best-scored
    labels, the suggested one first and marked, so that a close runner-up shows.
    """
    names = {label.id: label.name for label in dimension.labels}
    if dimension.multi_label:
        rows = [(label, float(part.scores.get(label, 0.0)), True) for label in part.labels]
    else:
        rows = [(label, float(score), label in part.labels) for label, score in part.top(TOP_LABELS)]
    body = "".join(
        f'<div class="label-score" style="display:flex;align-items:center;gap:.5em;font-size:.85em'
        f'{"" if suggested else ";color:#6b7280"}">'
        f'<span style="flex:0 0 45%;overflow-wrap:anywhere" title="{html.escape(label, quote=True)}">'
        f"{'<b>' if suggested and not dimension.multi_label else ''}{html.escape(names.get(label, label))}"
        f"{'</b>' if suggested and not dimension.multi_label else ''}</span>"
        f'<span style="flex:1;background:#e6e9ef;border-radius:3px;height:.55em">'
        f'<span style="display:block;width:{100 * score:.0f}%;height:100%;'
        f'background:{"#4c78a8" if suggested else "#a5b8cf"};border-radius:3px"></span></span>'
        f"<span>{score:.2f}</span></div>"
        for label, score, suggested in rows
    )
    kind = "" if dimension.multi_label else f" · top {TOP_LABELS}"
    mark = ' · <span style="color:#21843d">saved ✓</span>' if saved else ""
    return (
        f"<div><b>{html.escape(dimension.name)}</b> · <i>{html.escape(part.source)}</i>{kind}{mark}</div>"
        f"{body or '<div style=font-size:.85em>(no label suggested)</div>'}"
    )


#: Session key of the id of the case on screen.
CASE_ON_SCREEN = "case-on-screen"
#: Session key of the suggestion on screen (what the annotator saw, whatever serves meanwhile).
SHOWN_KEY = "shown-suggestion"
#: Session key of the ids of the cases decided in this session.
DECIDED_THIS_SESSION = "decided-this-session"


#: Widget keys are the same for every case, so that the browser updates the widgets in place
#: instead of building new ones (about 5 ms each); their values are reset for each new case.
ACCEPT_ONE_KEY = "accept-one"
COMMENT_KEY = "comment"
#: Key of the action bar (its CSS class is ``st-key-actions``).
ACTIONS_KEY = "actions"


def label_key(dimension_id: str) -> str:
    """Session key of the widget holding the annotator's labels for ``dimension_id``."""
    return f"label:{dimension_id}"


def _draft_key(dimension_id: str) -> str:
    """Session key of the annotator's unsaved labels for ``dimension_id`` (kept while on other pages)."""
    return f"draft:{dimension_id}"


def _keep_draft(dimension_id: str) -> None:
    # Streamlit drops a widget's value when its page is left; a plain session key survives.
    st.session_state[_draft_key(dimension_id)] = st.session_state[label_key(dimension_id)]


def _show_suggestions_in_widgets(svc: ReviewService, case, suggestion: Suggestion) -> None:
    """Fill the widgets with ``case``'s suggestions when it comes on screen.

    When the annotator comes back from another page (Streamlit has dropped the widgets'
    values), their unsaved labels are restored instead. Runs before the widgets are
    drawn: a widget's value may only be set before it exists in the run.
    """
    new_case = st.session_state.get(CASE_ON_SCREEN) != case.id
    for dimension in svc.codebook.dimensions:
        key, draft = label_key(dimension.id), _draft_key(dimension.id)
        if new_case:
            st.session_state.pop(draft, None)
        if new_case or key not in st.session_state:
            suggested = list(suggestion[dimension.id].labels)
            default = suggested if dimension.multi_label else (suggested[0] if suggested else None)
            st.session_state[key] = st.session_state.get(draft, default)
    if new_case:
        st.session_state[COMMENT_KEY] = ""
        st.session_state[ACCEPT_ONE_KEY] = None


def _decided_here(case_id: str | None) -> set[str]:
    """Dimensions of ``case_id`` already decided on this screen (one-dimension accepts)."""
    return st.session_state.setdefault(f"decided-dimensions:{case_id}", set()) if case_id else set()


def _next_case(case) -> None:
    """After a decision on ``case``: take it off the screen and out of this session's queue."""
    st.session_state.pop(CASE_ON_SCREEN, None)
    st.session_state.pop(SHOWN_KEY, None)
    st.session_state.pop(f"decided-dimensions:{case.id}", None)
    st.session_state.setdefault(DECIDED_THIS_SESSION, set()).add(case.id)


#: Button key → keyboard shortcut (Streamlit's own ``st.button(shortcut=…)``). With Alt, so
#: that typing a comment never triggers them.
SHORTCUTS = {"accept-all": "Alt+A", "save": "Alt+Enter", "skip": "Alt+S", "flag": "Alt+F"}


def _open_dimensions(svc: ReviewService, case) -> list[str]:
    decided = _decided_here(case.id)
    return [d for d in svc.codebook.dimension_ids if d not in decided]


def _chosen_labels(svc: ReviewService, case) -> dict[str, list[str]]:
    final = {}
    for dimension in _open_dimensions(svc, case):
        value = st.session_state.get(label_key(dimension))
        final[dimension] = list(value) if isinstance(value, (list, tuple)) else ([value] if value else [])
    return final


def _accept_dimension(svc: ReviewService, case, annotator: str, dimension: str, suggestion: Suggestion) -> None:
    svc.accept_all(case, annotator, [dimension], shown=suggestion)
    _decided_here(case.id).add(dimension)
    if not _open_dimensions(svc, case):
        _next_case(case)


def _accept_picked(svc: ReviewService, case, annotator: str, suggestion: Suggestion) -> None:
    """The "Accept one dimension" chips: accept the one clicked, then clear the choice."""
    dimension = st.session_state.get(ACCEPT_ONE_KEY)
    if dimension:
        st.session_state[ACCEPT_ONE_KEY] = None
        _accept_dimension(svc, case, annotator, dimension, suggestion)


def _save(svc: ReviewService, case, annotator: str, suggestion: Suggestion) -> None:
    final = _chosen_labels(svc, case)
    if any(not labels for labels in final.values()):
        st.session_state["review-error"] = "Every dimension needs at least one label; use Skip or Flag otherwise."
        return
    changed = {d: labels for d, labels in final.items() if sorted(labels) != sorted(suggestion[d].labels)}
    unchanged = {d: labels for d, labels in final.items() if d not in changed}
    if unchanged:
        svc.decide(case, annotator, unchanged, Action.ACCEPTED, shown=suggestion)
    if changed:
        svc.decide(case, annotator, changed, Action.CORRECTED, shown=suggestion)
    _next_case(case)


def _skip_or_flag(svc: ReviewService, case, annotator: str, suggestion: Suggestion, action: Action) -> None:
    comment = st.session_state.get(COMMENT_KEY) or None
    svc.decide(
        case,
        annotator,
        {d: [] for d in _open_dimensions(svc, case)},
        action,
        comment=comment if action == Action.FLAGGED else None,
        shown=suggestion,
    )
    _next_case(case)


# -- the dashboard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardTables:
    """What the dashboard shows, built from the service's figures (each over the decisions once)."""

    counts: DashboardCounts
    model_metrics: pd.DataFrame
    override_rates: pd.DataFrame
    agreement: pd.DataFrame
    learning_curve: pd.DataFrame
    learning_chart: pd.DataFrame


def _score_text(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "not measured"


def dashboard_tables(svc: ReviewService) -> DashboardTables:
    """The dashboard's counts and tables (no Streamlit calls: timed by the tests on large stores)."""
    card = svc.model.card
    metrics = pd.DataFrame(
        [
            {
                "dimension": dimension_id,
                "macro-F1": _score_text(m.macro_f1 if m else None),
                "micro-F1": _score_text(m.micro_f1 if m else None),
                "ECE": _score_text(m.ece if m else None),
                "codebook-only macro-F1": _score_text(m.codebook_only_macro_f1 if m else None),
            }
            for dimension_id, dimension in card.dimensions.items()
            for m in [dimension.metrics]
        ]
    )
    rates = pd.DataFrame(
        [
            {
                "dimension": r.dimension,
                "label": r.label,
                "suggested": r.suggested,
                "kept": r.kept,
                "removed": r.removed,
                "added": r.added,
                "override rate": r.override_rate,
            }
            for r in svc.override_rates()
        ]
    )
    agreement = pd.DataFrame(
        [
            {
                "dimension": a.dimension,
                "alpha": a.shown,
                "cases coded by two or more": a.cases,
                "annotators": a.annotators,
            }
            for a in svc.agreement()
        ]
    )
    scores = learning_curve(svc.store.decisions(), svc.codebook, version_summaries(svc.models))
    scored = [score for score in scores if score.decisions]
    curve = pd.DataFrame([score.as_row() for score in scores])
    chart = pd.DataFrame(
        {
            "accepted unchanged": {s.version: s.accepted_unchanged for s in scored},
            **{f"macro-F1 {d}": {s.version: s.macro_f1.get(d) for s in scored} for d in svc.codebook.dimension_ids},
        }
    )
    return DashboardTables(svc.counts(), metrics, rates, agreement, curve if scored else curve.iloc[0:0], chart)


def counts_caption(counts: DashboardCounts) -> str:
    """The headline counts in words (``1 case``, never ``1 cases``)."""
    return (
        f"{counts.reviewed_cases} of {plural(counts.cases, 'case')} reviewed (accepted, corrected or adjudicated "
        f"by anyone) · {plural(counts.skipped_or_flagged_cases, 'case')} skipped or flagged · "
        f"{plural(counts.decisions, 'decision')} by {plural(counts.annotators, 'annotator')} · "
        f"{plural(counts.disagreements, 'disagreement')} awaiting adjudication"
    )


def auto_accept_table(svc: ReviewService) -> pd.DataFrame:
    """Per dimension: coverage at 90% and 95% precision with the interval and the own cases behind it (the card's)."""
    rows = []
    for dimension_id, per_target in (svc.model.card.auto_accept or {}).items():
        row = {"dimension": svc.codebook.dimension(dimension_id).name}
        for target, card in sorted(per_target.items()):
            at = f"at {float(target):.0%}"
            if card.threshold is None:
                row[at] = f"off: {card.reason}"
            else:
                row[at] = (
                    f"{card.coverage:.0%} accepted (score ≥ {card.threshold:.2f}; precision "
                    f"{card.lower:.2f}–{card.upper:.2f}; {card.outcomes} own)"
                )
        rows.append(row)
    return pd.DataFrame(rows)


def auto_accept_section(svc: ReviewService) -> None:
    st.subheader("Auto-accept: what could be accepted unreviewed, at a precision you can check")
    table = auto_accept_table(svc)
    if table.empty:
        st.caption("This model version has no auto-accept estimate: retrain it (it is made at training).")
    else:
        st.dataframe(table, hide_index=True)
        st.caption(
            "Estimated on your own judged cases only (reviews, and cross-validation on your labelled cases), "
            "never the seed. The interval is the precision's 95% confidence interval; the threshold is set at "
            "its lower end, so the precision holds on new cases."
        )
    status = svc.auto_accept_status()
    if status is None:
        st.caption("The queue hands out every case: start the screen with `--auto-accept 0.95` to let it skip these.")
        return
    rows = []
    for dimension_id, rule in status.policy.thresholds.items():
        audit = status.audits.get(dimension_id)
        audited = f"{audit.correct} of {audit.audited} kept" if audit and audit.audited else "none yet"
        rows.append(
            {
                "dimension": svc.codebook.dimension(dimension_id).name,
                "auto-accept": f"score ≥ {rule.threshold:.3f}" if rule.active else rule.reason,
                "audited since this version": audited,
            }
        )
    st.markdown(
        f"The queue skips cases whose every dimension passes at {status.policy.target:.0%}, except "
        f"{svc.audit_share:.0%} of them kept for audit; a dimension whose audits fall below the target switches off."
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)


#: Session key of the dashboard's tables and what they were built from.
DASHBOARD_KEY = "dashboard-tables"


def dashboard_page() -> None:
    svc = service()
    st.title("Dashboard")
    # Built once per change of the decisions or of the serving model (choosing a dimension below reruns the page).
    stamp = (svc.project.root if svc.project else svc.models, svc.store.version(), svc.model.id)
    cached = st.session_state.get(DASHBOARD_KEY)
    tables = cached[1] if cached is not None and cached[0] == stamp else dashboard_tables(svc)
    st.session_state[DASHBOARD_KEY] = (stamp, tables)
    counts = tables.counts
    first, second, third = st.columns(3)
    first.metric("Cases reviewed", f"{counts.reviewed_cases} / {counts.cases}")
    second.metric("Decisions (one per case, dimension and annotator)", counts.decisions)
    third.metric("Disagreements", counts.disagreements)
    st.progress(counts.reviewed_cases / counts.cases if counts.cases else 0.0)
    st.caption(counts_caption(counts))
    cases = svc.store.cases()
    st.subheader("Languages of the cases")
    st.bar_chart(pd.Series([c.language or "?" for c in cases], dtype="object").value_counts())
    st.subheader("Labels in the training set (seed, your imported labels and settled reviews)")
    dimension = st.selectbox(
        "Dimension",
        svc.codebook.dimension_ids,
        key="dash-dim",
        format_func=lambda d: svc.codebook.dimension(d).name,
    )
    st.bar_chart(pd.Series(dict(svc.label_counts().get(dimension, {})), dtype="float64"))
    st.subheader("Current model (cross-validated)")
    st.dataframe(tables.model_metrics, hide_index=True)
    history = trained_history(svc.models)
    if len(history) >= 2:
        st.subheader("Cross-validated macro-F1 of each model trained so far")
        frame = pd.DataFrame(
            [{"model trained": h["created"], **h["macro_f1"]} for h in history if h.get("created")]
        ).set_index("model trained")
        st.line_chart(frame)
    auto_accept_section(svc)
    st.subheader("Your learning curve: how each model version did on the cases it served")
    if tables.learning_curve.empty:
        st.caption("No reviewed suggestions yet: accept or correct some cases first.")
    else:
        st.line_chart(tables.learning_chart)
        st.dataframe(tables.learning_curve, hide_index=True, placeholder="–")
        st.caption(
            "Accepted unchanged: share of a version's suggestions (one per case and dimension) saved as they were; "
            "skipped and flagged cases are left out. Macro-F1: its suggested labels against the labels saved, per "
            "dimension, over the labels suggested or chosen. Few cases make a noisy score: see the counts."
        )
    st.subheader("Override rate: how often annotators changed a suggestion")
    if tables.override_rates.empty:
        st.caption("No accepted or corrected decisions yet.")
    else:
        st.dataframe(tables.override_rates, hide_index=True)
    st.subheader("Agreement between annotators (Krippendorff's alpha, nominal)")
    st.dataframe(tables.agreement, hide_index=True)


# -- adjudication ----------------------------------------------------------------------------

#: Disagreements shown at once on the adjudication page (each with its case text).
ADJUDICATE_PAGE_SIZE = 20


def adjudicate_page() -> None:
    svc, annotator = service(), st.session_state["annotator"]
    st.title("Adjudicate disagreements")
    allowed = svc.may_adjudicate(annotator)
    if not allowed:
        st.info(
            f"Read only: disagreements are settled by {_markdown_escape(', '.join(svc.adjudicators))} "
            f"(you are signed in as {_markdown_escape(annotator)})."
        )
    message = st.session_state.pop("adjudicate-message", None)
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])
    disagreements = svc.disagreements()
    if not disagreements:
        st.success("No disagreements.")
        return
    shown = disagreements[:ADJUDICATE_PAGE_SIZE]
    st.caption(
        f"{plural(len(disagreements), 'disagreement')} awaiting adjudication"
        + (
            f"; the first {len(shown)} are shown, settle them to see the rest"
            if len(shown) < len(disagreements)
            else ""
        )
    )
    cases = {case_id: svc.case(case_id) for case_id in dict.fromkeys(case_id for case_id, _, _ in shown)}
    known = [case for case in cases.values() if case is not None]
    suggestions = {case.id: s for case, s in zip(known, svc.suggestions(known), strict=True)}
    for case_id, dimension_id, by_annotator in shown:
        case, suggestion = cases[case_id], suggestions.get(case_id)
        dimension = svc.codebook.dimension(dimension_id)
        names = {label.id: label.name for label in dimension.labels}
        with st.container(border=True, key=f"disagreement:{case_id}:{dimension_id}"):
            title = case.title if case is not None and case.title else case_id
            st.markdown(f"**{_markdown_escape(title)}** · {_markdown_escape(dimension.name)}")
            if case is not None:
                st.caption(case_caption(case))
                part = suggestion[dimension_id] if suggestion and dimension_id in suggestion.dimensions else None
                text = case_text_html(case.text, part, dimension)
                # A long text scrolls in its own box: the codings and the settle control stay close by.
                st.markdown(
                    f'<div style="max-height:16rem;overflow-y:auto;padding-right:.5rem">{text}</div>',
                    unsafe_allow_html=True,
                )
            else:
                st.warning(f"Case {case_id} is no longer in the project.")
            # Each annotator's coding side by side, and the model's suggestion last.
            codings = [(f"**{_markdown_escape(who)}**", labels) for who, labels in sorted(by_annotator.items())]
            if suggestion is not None and dimension_id in suggestion.dimensions:
                version = _markdown_escape(suggestion.version or suggestion.model_id)
                codings.append((f"*model ({version})*", suggestion[dimension_id].labels))
            for column, (heading, labels) in zip(st.columns(len(codings)), codings, strict=True):
                column.markdown(heading)
                column.markdown("\n".join(f"- {_markdown_escape(names.get(label, label))}" for label in labels) or "–")
            settle_control(svc, case_id, dimension, by_annotator, annotator, allowed)


def settle_control(
    svc: ReviewService,
    case_id: str,
    dimension: Dimension,
    by_annotator: dict[str, Sequence[str]],
    annotator: str,
    allowed: bool,
) -> None:
    """The final labels (preset to every label proposed) and the Settle button; disabled when read only."""
    key = f"adj:{case_id}:{dimension.id}"
    names = {label.id: label.name for label in dimension.labels}
    options = dimension.label_ids
    proposed = [label for label in options if any(label in labels for labels in by_annotator.values())]
    if dimension.multi_label:
        st.pills(
            "Final labels",
            options,
            selection_mode="multi",
            default=proposed,
            key=key,
            format_func=names.get,
            disabled=not allowed,
            wrap=True,
        )
    else:
        st.radio(
            "Final label",
            options,
            index=options.index(proposed[0]) if proposed else 0,
            key=key,
            format_func=names.get,
            horizontal=True,
            disabled=not allowed,
        )
    st.button(
        "Settle",
        key=f"{key}:go",
        disabled=not allowed,
        on_click=_settle,
        args=(svc, case_id, dimension, annotator),
    )


def _settle(svc: ReviewService, case_id: str, dimension: Dimension, adjudicator: str) -> None:
    value = st.session_state.get(f"adj:{case_id}:{dimension.id}")
    labels = list(value) if isinstance(value, (list, tuple)) else ([value] if value else [])
    if not labels:
        st.session_state["adjudicate-message"] = ("error", f"Choose the final labels of {case_id} first.")
        return
    try:
        svc.adjudicate(case_id, dimension.id, labels, adjudicator)
    except AnnotationError as exc:
        st.session_state["adjudicate-message"] = ("error", str(exc))
        return
    names = {label.id: label.name for label in dimension.labels}
    st.session_state["adjudicate-message"] = (
        "success",
        f"Settled {case_id} · {dimension.name}: {', '.join(names.get(label, label) for label in labels)}.",
    )


# -- adding cases ----------------------------------------------------------------------------

DUPLICATE_OF = re.compile(r"same text as case '((?:[^'\\]|\\.)*)'")


def pasted_report_messages(report: AddReport) -> list[tuple[str, str]]:
    """(kind, message) lines saying what became of one pasted text: added, a duplicate (of which case) or rejected."""
    messages = []
    for reason in report.reasons:
        found = DUPLICATE_OF.search(reason)
        if found:
            case_id = _markdown_escape(found.group(1))
            messages.append(("warning", f"Not added: this text is already in the project as case {case_id}."))
        else:
            # "…/uploads/…-pasted.jsonl row 1: why": the file is the screen's own, only the why matters.
            why = reason.split(": ", 1)[1] if reason.startswith(report.path) and ": " in reason else reason
            messages.append(("warning", f"Not added: {_markdown_escape(why)}"))
    if report.files_rejected and not report.reasons:
        messages.append(("warning", "Not added: the text could not be read."))
    return messages


#: New cases shown with their suggestions after an upload (the others are in the queue).
ADDED_SHOWN = 10


def add_case_page() -> None:
    svc, annotator = service(), st.session_state["annotator"]
    st.title("Add a case")
    st.caption(
        "Checked like a row of a file given to `iesi-nlp add`: a text already in the project is not added twice, "
        "its language is detected, and anything not added is shown with the reason."
    )
    title = st.text_input("Title (optional)", key="add-title")
    link, where = st.columns([3, 1])
    url = link.text_input("URL (optional)", key="add-url")
    country = where.text_input("Country (optional)", key="add-country", placeholder="a name or ISO code")
    text = st.text_area("Paste a case description", height=200, key="add-text")
    upload = st.file_uploader("…or upload a file (anything `iesi-nlp ingest` reads)")
    if not st.button("Add and suggest", type="primary", key="add-case"):
        return
    if not text.strip() and upload is None:
        st.error("Paste a text or upload a file first.")
        return
    new_ids: list[str] = []
    try:
        if text.strip():
            report = svc.add_text(
                text,
                added_by=annotator,
                title=title.strip(),
                url=url.strip() or None,
                country=country.strip() or None,
            )
            new_ids += report.new_ids
            for kind, message in pasted_report_messages(report):
                getattr(st, kind)(message)
        if upload is not None:
            report = svc.add_upload(upload.name, upload.getvalue(), added_by=annotator)
            new_ids += report.new_ids
            summary = (
                f"{upload.name}: {report.new} added, {report.duplicates} already in the project, "
                f"{report.rejected} rejected"
            )
            (st.success if report.new and not report.rejected and not report.duplicates else st.warning)(summary)
            for reason in report.reasons[:20]:
                st.caption(_markdown_escape(reason))
            if len(report.reasons) > 20:
                st.caption(f"… and {len(report.reasons) - 20} more, in {report.rejects_file}")
    except IesiError as exc:
        st.error(str(exc))
        return
    new = [case for case in (svc.case(case_id) for case_id in new_ids[:ADDED_SHOWN]) if case is not None]
    if len(new_ids) > ADDED_SHOWN:
        st.caption(f"The first {ADDED_SHOWN} of the {len(new_ids)} new cases, with their suggestions:")
    for case, suggestion in zip(new, svc.suggestions(new), strict=True):
        details = [f"language: {case.language or 'not detected'}"]
        if case.country:
            details.append(f"country: {case.country}")
        if case.url:
            details.append(f"link: {case.url}")
        st.success(
            _markdown_escape(f"Added as case {case.id}: “{case.title or case.id}” ({', '.join(details)}).")
            + " It is in the review queue."
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "dimension": dimension.name,
                        "suggested labels": ", ".join(
                            {label.id: label.name for label in dimension.labels}.get(label, label)
                            for label in suggestion[dimension.id].labels
                        ),
                    }
                    for dimension in svc.codebook.dimensions
                ]
            ),
            hide_index=True,
        )


def check_page() -> None:
    """Labels cleanlab finds hard to believe, for a reviewer to confirm or correct (recorded like any decision)."""
    svc, annotator = service(), st.session_state["annotator"]
    st.title("Check these: labels that look wrong")
    to_check, seed_flagged = svc.label_issues()
    st.caption(
        f"When model version {svc.version or svc.model.id} was trained, confident learning (cleanlab) on the "
        "cross-validated scores flagged these labels of your cases as likely mistakes, likeliest first"
        + (
            f"; it also flagged {plural(seed_flagged, 'label')} of the seed corpus, not editable here."
            if seed_flagged
            else "."
        )
    )
    done = st.session_state.pop("check-done", None)
    if done:
        st.success(done)
    if not to_check:
        st.info("Nothing to check: no label of your cases is flagged, or every flagged one was checked since.")
        return
    index = st.selectbox(
        "Flagged label",
        range(len(to_check)),
        format_func=lambda i: _issue_title(svc, *to_check[i]),
        key="check-issue",
    )
    issue, case = to_check[index]
    dimension = svc.codebook.dimension(issue.dimension_id)
    names = {label.id: label.name for label in dimension.labels}
    suggestion = svc.suggestions([case])[0]
    text_column, codes_column = st.columns([3, 2])
    with text_column:
        st.subheader(_markdown_escape(case.title or case.id))
        st.markdown(case_text_html(case.text, suggestion[dimension.id], dimension), unsafe_allow_html=True)
    with codes_column:
        st.markdown(
            f"**{dimension.name}**  \nLabelled: {', '.join(names[g] for g in issue.given) or '–'}  \n"
            f"The model, not having seen this label: {', '.join(names[p] for p in issue.predicted) or '–'}  \n"
            f"Label quality {issue.quality:.2f} (0 = surely wrong, 1 = surely right)"
        )
        st.html(confidence_html(dimension, suggestion[dimension.id]))
        key = f"check:{issue.case_id}:{issue.dimension_id}"
        if dimension.multi_label:
            st.pills(
                "The right labels",
                dimension.label_ids,
                selection_mode="multi",
                default=list(issue.given),
                key=key,
                format_func=names.get,
                wrap=True,
            )
        else:
            st.radio(
                "The right label",
                dimension.label_ids,
                index=dimension.label_ids.index(issue.given[0]),
                key=key,
                format_func=names.get,
                horizontal=True,
            )
        st.button(
            "Save",
            key="check-save",
            type="primary",
            on_click=_save_check,
            args=(svc, case, issue, annotator, suggestion, key),
        )


def _issue_title(svc: ReviewService, issue, case) -> str:
    dimension = svc.codebook.dimension(issue.dimension_id)
    return f"{case.title or case.id} · {dimension.name}: {', '.join(issue.given)} (model: {', '.join(issue.predicted) or '–'})"


def _save_check(svc: ReviewService, case, issue, annotator: str, suggestion: Suggestion, key: str) -> None:
    value = st.session_state.get(key)
    labels = list(value) if isinstance(value, (list, tuple)) else ([value] if value else [])
    if not labels:
        st.session_state["check-done"] = None
        st.session_state["review-error"] = "Choose at least one label."
        return
    try:
        svc.check_label(case, issue, annotator, labels, shown=suggestion)
    except IesiError as exc:
        st.session_state["review-error"] = str(exc)
        return
    kept = "kept" if tuple(labels) == tuple(issue.given) else "corrected to " + ", ".join(labels)
    st.session_state["check-done"] = f"Saved: {case.title or case.id}, {issue.dimension_id} {kept}."
