"""The review screen's pages and shared parts (Streamlit). UI only: the work is in ``iesi_nlp.review``.

Configured by environment variables (``iesi-nlp review`` sets them, see ``review.app_environment``):

* ``IESI_NLP_PROJECT``: the project folder (its cases are queued, its store keeps the decisions,
  its model registry serves the suggestions and receives every retraining);
* ``IESI_NLP_ANNOTATORS``: comma-separated names allowed to annotate (default: anyone, by name);
* ``IESI_NLP_PASSWORD``: when set, nothing is shown without it;
* ``IESI_NLP_RETRAIN_EVERY``: retrain in the background after this many newly reviewed cases
  (default ``iesi_nlp.review.DEFAULT_RETRAIN_EVERY``).
"""

from __future__ import annotations

import hmac
import html
import os
import re
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_shortcuts import add_shortcuts

from iesi_nlp.annotation.agreement import krippendorff_alpha, override_rates
from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.coding.evidence import highlight_html
from iesi_nlp.learning_curve import learning_curve
from iesi_nlp.project import Project
from iesi_nlp.registry import trained_history, version_summaries
from iesi_nlp.review import DEFAULT_RETRAIN_EVERY, ReviewFilters, ReviewService


def service() -> ReviewService:
    project = os.environ.get("IESI_NLP_PROJECT")
    if not project:
        st.error("No project: start the screen with `iesi-nlp review --cases FILE` or `iesi-nlp review --project DIR`.")
        st.stop()
    return _service(project, int(os.environ.get("IESI_NLP_RETRAIN_EVERY", str(DEFAULT_RETRAIN_EVERY))))


@st.cache_resource
def _service(project_dir: str, retrain_every: int) -> ReviewService:
    """One service per server process and project, shared by every browser tab (the store serialises writes)."""
    return ReviewService.for_project(Project.open(Path(project_dir)), retrain_every=retrain_every)


def sign_in() -> str | None:
    """The annotator's name, once the password (if any) is right; None until then."""
    password = os.environ.get("IESI_NLP_PASSWORD")
    allowed = [a.strip() for a in os.environ.get("IESI_NLP_ANNOTATORS", "").split(",") if a.strip()]
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


def age_text(age) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // (24 * 60)} days"


def sidebar_status(svc: ReviewService, annotator: str) -> None:
    svc.refresh()  # another version may serve since the last click (retrained, or `iesi-nlp models serve`)
    with st.sidebar:
        st.markdown(f"**Annotator:** {annotator}")
        if svc.project is not None:
            st.markdown(f"**Project:** {html.escape(svc.project.name)}")
        st.markdown(
            f"**Model:** version `{svc.version or '-'}`, trained {age_text(svc.model_age)} ago  \n`{svc.model.id}`"
        )
        due = max(0, svc.retrain_every - svc.reviewed_since_training())
        if svc.retrain.running:
            st.info("Retraining in the background…")
        elif svc.retrain.last_error:
            st.error(f"Last retraining failed: {svc.retrain.last_error}")
        else:
            st.caption(f"Retrains after {due} more reviewed case{'s' if due != 1 else ''}")
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
        sources = st.multiselect("Source", sorted({c.source for c in cases if c.source}))
        dimension = st.selectbox("Dimension", [None, *svc.codebook.dimension_ids], format_func=lambda d: d or "all")
    return ReviewFilters(tuple(languages), tuple(countries), tuple(sources), dimension, status)


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
        pinned = svc.store.case(st.session_state[CASE_ON_SCREEN])
    case = pinned or svc.next_case(candidates, annotator)
    if case is None:
        svc.release(annotator)
        if not svc.store.cases():
            st.info("This project has no cases yet: add some on the “Add a case” page, or with `iesi-nlp add FILE`.")
        else:
            st.success("Nothing left to review with these filters.")
        return
    suggestion = _shown_suggestion(svc, case)
    _show_suggestions_in_widgets(svc, case, suggestion)
    st.session_state[CASE_ON_SCREEN] = case.id
    st.caption(
        f"{len(candidates)} cases in this queue · ordered by uncertainty (margin), "
        "rare labels first, look-alikes spread out"
    )
    st.subheader(_markdown_escape(case.title or case.id))
    st.caption(case_caption(case))
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
    spans = [
        (e["start"], e["end"], label) for label, evidences in suggestion["evidence"][shown].items() for e in evidences
    ]
    with text_column:
        st.markdown(f'<div class="case-text">{highlight_html(case.text, spans)}</div>', unsafe_allow_html=True)
    with codes_column:
        for dimension in svc.codebook.dimensions:
            scores = suggestion["scores"][dimension.id]
            suggested = suggestion["labels"][dimension.id]
            decided = dimension.id in decided_here
            # Name, source and confidence bars in one element: a page of fewer elements redraws faster.
            st.html(
                confidence_html(dimension.name, suggestion["source"][dimension.id], suggested, scores, saved=decided)
            )
            names = {label.id: f"{label.id} — {label.name}" for label in dimension.labels}
            # The codebook's definitions sit in the widget's help tooltip: at hand, without
            # rendering seven expanders of text on every case.
            definitions = "\n\n".join(f"**{label.id}**: {label.definition}" for label in dimension.labels)
            key = label_key(dimension.id)
            if dimension.multi_label:
                st.multiselect(
                    "Your labels (definitions: ?)",
                    dimension.label_ids,
                    key=key,
                    format_func=names.get,
                    help=definitions,
                    disabled=decided,
                    on_change=_keep_draft,
                    args=(dimension.id,),
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
    st.text_input("Comment (for a flag)", key=COMMENT_KEY)
    error = st.session_state.pop("review-error", None)
    if error:
        st.error(error)
    # Callbacks run before the next script run, so a click costs one run instead of two.
    arguments = (svc, case, annotator, suggestion)
    accept, save, skip, flag = st.columns(4)
    # The widgets start at the suggestions, so saving them accepts every dimension left alone,
    # and a correction made in a widget is kept rather than overridden by the suggestion.
    accept.button("Accept all", type="primary", key="accept-all", on_click=_save, args=arguments)
    save.button("Save my labels", key="save", on_click=_save, args=arguments)
    skip.button("Skip", key="skip", on_click=_skip_or_flag, args=(*arguments, Action.SKIPPED))
    flag.button("Flag for discussion", key="flag", on_click=_skip_or_flag, args=(*arguments, Action.FLAGGED))
    # With Alt, so that typing a comment never triggers them.
    add_shortcuts(**SHORTCUTS)
    st.caption("Keys: " + " · ".join(f"{key.title()} {name}" for name, key in SHORTCUT_NAMES.items()))


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


def _shown_suggestion(svc: ReviewService, case) -> dict:
    """The suggestion on screen for ``case``: the one first shown, kept until the case is decided.

    A background retraining may start serving another model while the annotator reads;
    the screen keeps showing (and the decision records) what they saw.
    """
    kept = st.session_state.get(SHOWN_KEY)
    if kept is not None and kept["case_id"] == case.id:
        return kept
    suggestion = svc.suggestions([case])[0]
    st.session_state[SHOWN_KEY] = suggestion
    return suggestion


def confidence_html(name: str, source: str, labels, scores, saved: bool = False) -> str:
    """A dimension's heading with one confidence bar per suggested label (escaped HTML)."""
    rows = "".join(
        f'<div style="display:flex;align-items:center;gap:.5em;font-size:.85em">'
        f'<span style="flex:0 0 45%">{html.escape(label)}</span>'
        f'<span style="flex:1;background:#e6e9ef;border-radius:3px;height:.55em">'
        f'<span style="display:block;width:{100 * float(scores[label]):.0f}%;height:100%;'
        f'background:#4c78a8;border-radius:3px"></span></span>'
        f"<span>{float(scores[label]):.2f}</span></div>"
        for label in labels
    )
    mark = ' · <span style="color:#21843d">saved ✓</span>' if saved else ""
    return f"<div><b>{html.escape(name)}</b> · <i>{html.escape(source)}</i>{mark}</div>{rows}"


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


def label_key(dimension_id: str) -> str:
    """Session key of the widget holding the annotator's labels for ``dimension_id``."""
    return f"label:{dimension_id}"


def _draft_key(dimension_id: str) -> str:
    """Session key of the annotator's unsaved labels for ``dimension_id`` (kept while on other pages)."""
    return f"draft:{dimension_id}"


def _keep_draft(dimension_id: str) -> None:
    # Streamlit drops a widget's value when its page is left; a plain session key survives.
    st.session_state[_draft_key(dimension_id)] = st.session_state[label_key(dimension_id)]


def _show_suggestions_in_widgets(svc: ReviewService, case, suggestion) -> None:
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
            suggested = suggestion["labels"][dimension.id]
            default = list(suggested) if dimension.multi_label else suggested[0]
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


#: Button key → keyboard shortcut.
SHORTCUTS = {"accept-all": "alt+a", "save": "alt+enter", "skip": "alt+s", "flag": "alt+f"}
SHORTCUT_NAMES = {"accept all": "alt+a", "save and next": "alt+enter", "skip": "alt+s", "flag": "alt+f"}


def _open_dimensions(svc: ReviewService, case) -> list[str]:
    decided = _decided_here(case.id)
    return [d for d in svc.codebook.dimension_ids if d not in decided]


def _chosen_labels(svc: ReviewService, case) -> dict[str, list[str]]:
    final = {}
    for dimension in _open_dimensions(svc, case):
        value = st.session_state.get(label_key(dimension))
        final[dimension] = list(value) if isinstance(value, list) else ([value] if value else [])
    return final


def _accept_dimension(svc: ReviewService, case, annotator: str, dimension: str, suggestion) -> None:
    svc.accept_all(case, annotator, [dimension], shown=suggestion)
    _decided_here(case.id).add(dimension)
    if not _open_dimensions(svc, case):
        _next_case(case)


def _accept_picked(svc: ReviewService, case, annotator: str, suggestion) -> None:
    """The "Accept one dimension" chips: accept the one clicked, then clear the choice."""
    dimension = st.session_state.get(ACCEPT_ONE_KEY)
    if dimension:
        st.session_state[ACCEPT_ONE_KEY] = None
        _accept_dimension(svc, case, annotator, dimension, suggestion)


def _save(svc: ReviewService, case, annotator: str, suggestion) -> None:
    final = _chosen_labels(svc, case)
    if any(not labels for labels in final.values()):
        st.session_state["review-error"] = "Every dimension needs at least one label; use Skip or Flag otherwise."
        return
    changed = {d: labels for d, labels in final.items() if sorted(labels) != sorted(suggestion["labels"][d])}
    unchanged = {d: labels for d, labels in final.items() if d not in changed}
    if unchanged:
        svc.decide(case, annotator, unchanged, Action.ACCEPTED, shown=suggestion)
    if changed:
        svc.decide(case, annotator, changed, Action.CORRECTED, shown=suggestion)
    _next_case(case)


def _skip_or_flag(svc: ReviewService, case, annotator: str, suggestion, action: Action) -> None:
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


def dashboard_page() -> None:
    svc = service()
    st.title("Dashboard")
    cases = svc.store.cases()
    decisions = svc.store.decisions()
    reviewed = {d.case_id for d in decisions if d.action in (Action.ACCEPTED, Action.CORRECTED)}
    first, second, third = st.columns(3)
    first.metric("Cases reviewed", f"{len(reviewed)} / {len(cases)}")
    second.metric("Decisions", len(decisions))
    third.metric("Disagreements", len(svc.store.disagreements()))
    st.progress(len(reviewed) / len(cases) if cases else 0.0)
    st.subheader("Languages of the cases")
    st.bar_chart(pd.Series([c.language or "?" for c in cases]).value_counts())
    st.subheader("Labels in the training set (seed, your imported labels and settled reviews)")
    dimension = st.selectbox("Dimension", svc.codebook.dimension_ids, key="dash-dim")
    st.bar_chart(pd.Series(svc.label_counts().get(dimension, {})))
    st.subheader("Current model (cross-validated)")
    st.dataframe(
        pd.DataFrame({d: info["metrics"] or {} for d, info in svc.model.card["dimensions"].items()}).T[
            ["macro_f1", "micro_f1", "ece", "codebook_only_macro_f1"]
        ]
    )
    history = trained_history(svc.models)
    if len(history) >= 2:
        st.subheader("Cross-validated macro-F1 of each model trained so far")
        frame = pd.DataFrame(
            [{"model trained": h["created"], **h["macro_f1"]} for h in history if h.get("created")]
        ).set_index("model trained")
        st.line_chart(frame)
    learning_curve_section(svc)
    st.subheader("Override rate: how often annotators changed a suggestion")
    rates = pd.DataFrame(override_rates(svc.store))
    if rates.empty:
        st.caption("No accepted or corrected decisions yet.")
    else:
        st.dataframe(rates, hide_index=True)
    st.subheader("Agreement between annotators (Krippendorff's alpha, nominal)")
    st.dataframe(pd.DataFrame(krippendorff_alpha(svc.store)).T)


def adjudicate_page() -> None:
    svc, annotator = service(), st.session_state["annotator"]
    st.title("Adjudicate disagreements")
    disagreements = svc.store.disagreements()
    if not disagreements:
        st.success("No disagreements.")
        return
    for case_id, dimension_id, by_annotator in disagreements:
        dimension = svc.codebook.dimension(dimension_id)
        with st.container(border=True):
            st.markdown(f"**{case_id}** · {dimension_id}")
            for who, labels in sorted(by_annotator.items()):
                st.markdown(f"- {who}: {', '.join(labels)}")
            key = f"adj:{case_id}:{dimension_id}"
            options = dimension.label_ids
            proposed = sorted({label for labels in by_annotator.values() for label in labels})
            if dimension.multi_label:
                final = st.multiselect("Final labels", options, default=proposed, key=key)
            else:
                final = [st.radio("Final label", options, index=options.index(proposed[0]), key=key, horizontal=True)]
            if st.button("Settle", key=key + ":go") and final:
                svc.store.record([Decision(case_id, dimension_id, tuple(final), Action.ADJUDICATED, annotator)])
                st.rerun()


def learning_curve_section(svc: ReviewService) -> None:
    """Each model version scored on the cases reviewed while it served (no extra labelling needed)."""
    st.subheader("Your learning curve: how each model version did on the cases it served")
    scores = learning_curve(svc.store.decisions(), svc.codebook, version_summaries(svc.models))
    scored = [score for score in scores if score.decisions]
    if not scored:
        st.caption("No reviewed suggestions yet: accept or correct some cases first.")
        return
    frame = pd.DataFrame([score.as_row() for score in scores])
    chart = pd.DataFrame(
        {
            "accepted unchanged": {s.version: s.accepted_unchanged for s in scored},
            **{f"macro-F1 {d}": {s.version: s.macro_f1.get(d) for s in scored} for d in svc.codebook.dimension_ids},
        }
    )
    st.line_chart(chart)
    st.dataframe(frame, hide_index=True)
    st.caption(
        "Accepted unchanged: share of a version's suggestions (one per case and dimension) saved as they were; "
        "skipped and flagged cases are left out. Macro-F1: its suggested labels against the labels saved, per "
        "dimension, over the labels suggested or chosen. Few cases make a noisy score: see the counts."
    )


def add_case_page() -> None:
    svc, annotator = service(), st.session_state["annotator"]
    project = svc.project
    st.title("Add a case")
    st.caption(
        "Checked like a row of a file given to `iesi-nlp add`: a text already in the project is not added twice, "
        "and anything not added is listed with the reason."
    )
    title = st.text_input("Title (optional)")
    text = st.text_area("Paste a case description", height=200)
    upload = st.file_uploader("…or upload a file (anything `iesi-nlp ingest` reads)")
    if st.button("Add and suggest", type="primary"):
        if not text.strip() and upload is None:
            st.error("Paste a text or upload a file first.")
            return
        reports = []
        if text.strip():
            reports.append(project.add_text(text, title=title.strip(), added_by=annotator))
        if upload is not None:
            path = project.save_upload(upload.name, upload.getvalue())
            reports += project.add_files([path], added_by=annotator)
        new_ids = [case_id for report in reports for case_id in report.new_ids]
        for report in reports:
            message = f"{report.new} added, {report.duplicates} already in the project, {report.rejected} rejected"
            (st.success if report.new and not report.rejected else st.warning)(message)
            for reason in report.reasons:
                st.warning(reason)
        new = [svc.store.case(case_id) for case_id in new_ids]
        for case, suggestion in zip(new, svc.suggestions(new), strict=True):
            st.markdown(f"**{_markdown_escape(case.title or case.id)}** (`{case.id}`)")
            st.json(suggestion["labels"])
