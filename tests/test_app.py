"""The review screen through Streamlit's AppTest: sign-in, every page, accept / correct / skip / flag."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from iesi_nlp.annotation.sqlite import SqliteDecisionStore
from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.codebook import load_codebook
from iesi_nlp.records import Case
from iesi_nlp.review import APP_SCRIPT, app_environment

APP = str(APP_SCRIPT)


@pytest.fixture
def app_env(review_project, monkeypatch):
    for name, value in app_environment(review_project.root, retrain_every=1000).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IESI_NLP_PASSWORD", raising=False)
    monkeypatch.delenv("IESI_NLP_ANNOTATORS", raising=False)
    return review_project.store.path


def signed_in(name="anna") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.text_input[0].input(name)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def case_on_screen(at: AppTest) -> str:
    """The id of the case on the review page (from its caption "id … · language · …")."""
    return at.caption[1].value.split(" · ")[0].removeprefix("id ")


def store_of(path) -> SqliteDecisionStore:
    return SqliteDecisionStore(path, load_codebook())


def test_accept_all_records_every_dimension(app_env):
    at = signed_in()
    assert "anna" in at.sidebar.markdown[0].value
    first = at.subheader[0].value
    at.button(key="accept-all").click().run()
    assert not at.exception
    decisions = store_of(app_env).decisions()
    assert len(decisions) == 7 and {d.action for d in decisions} == {Action.ACCEPTED}
    assert {d.annotator for d in decisions} == {"anna"}
    assert at.subheader[0].value != first  # the next case is shown


def test_accepting_one_dimension_keeps_the_case_until_the_rest_is_decided(app_env):
    at = signed_in()
    case_id = case_on_screen(at)
    at.button_group(key="accept-one").set_value("actors").run()
    assert not at.exception, at.exception
    decisions = store_of(app_env).decisions()
    assert [(d.case_id, d.dimension, d.action) for d in decisions] == [(case_id, "actors", Action.ACCEPTED)]
    assert at.caption[1].value.startswith(f"id {case_id} ")  # still on screen, though no longer "not yet reviewed"
    assert at.multiselect(key="label:actors").disabled
    at.button(key="accept-all").click().run()
    decisions = store_of(app_env).decisions(case_id=case_id)
    assert sorted(d.dimension for d in decisions) == sorted(load_codebook().dimension_ids)  # each exactly once
    assert not at.caption[1].value.startswith(f"id {case_id} ")


def test_correcting_a_label_records_a_correction(app_env):
    at = signed_in()
    case_id = case_on_screen(at)
    widget = at.multiselect(key="label:service_domain")
    new = ["migration"] if widget.value != ["migration"] else ["housing"]
    widget.set_value(new)
    at.button(key="save").click().run()
    assert not at.exception
    decisions = {d.dimension: d for d in store_of(app_env).decisions(case_id=case_id)}
    assert decisions["service_domain"].action == Action.CORRECTED
    assert list(decisions["service_domain"].final_labels) == new
    assert decisions["actors"].action == Action.ACCEPTED


def test_accept_all_keeps_a_correction_made_in_a_widget(app_env):
    at = signed_in()
    case_id = case_on_screen(at)
    widget = at.multiselect(key="label:actors")
    new = ["public", "private"] if widget.value != ["public", "private"] else ["public"]
    widget.set_value(new)
    at.button(key="accept-all").click().run()
    assert not at.exception, at.exception
    decisions = {d.dimension: d for d in store_of(app_env).decisions(case_id=case_id)}
    assert decisions["actors"].action == Action.CORRECTED and list(decisions["actors"].final_labels) == new
    assert {d.action for name, d in decisions.items() if name != "actors"} == {Action.ACCEPTED}
    assert len(decisions) == 7


def test_the_case_stays_on_screen_until_decided(app_env):
    at = signed_in()
    case_id = case_on_screen(at)
    # Another annotator decides other cases meanwhile: label counts, hence the queue, change.
    other = store_of(app_env)
    another = next(c for c in other.cases() if c.id != case_id)
    other.record([Decision(another.id, "service_domain", ("migration",), Action.CORRECTED, "ben", ("housing",))])
    at.selectbox(key="evidence-dimension").set_value("actors").run()
    widget = at.multiselect(key="label:actors")
    widget.set_value(["public", "private"] if widget.value != ["public", "private"] else ["public"]).run()
    assert at.caption[1].value.startswith(f"id {case_id} ")
    at.button(key="save").click().run()
    assert {d.case_id for d in store_of(app_env).decisions() if d.annotator == "anna"} == {case_id}
    assert not at.caption[1].value.startswith(f"id {case_id} ")


def label_widgets(at: AppTest) -> dict[str, list[str]]:
    """The labels each dimension's widget holds, as lists."""
    values = {}
    for dimension in load_codebook().dimension_ids:
        found = [w for w in (*at.multiselect, *at.radio) if w.key == f"label:{dimension}"]
        value = found[0].value
        values[dimension] = list(value) if isinstance(value, (list, tuple)) else [value]
    return values


def test_each_new_case_shows_its_own_suggestions_in_the_widgets(app_env):
    # The widgets keep their keys from case to case (the browser redraws them faster), so
    # their values must be refilled for every case, and restored after a visit to another page.
    at = signed_in()
    widget = at.multiselect(key="label:service_domain")
    widget.set_value(["migration"] if widget.value != ["migration"] else ["housing"])
    at.button(key="save").click().run()
    second = case_on_screen(at)
    shown = label_widgets(at)
    # An unsaved correction survives a visit to another page.
    draft = ["migration"] if shown["service_domain"] != ["migration"] else ["housing"]
    at.multiselect(key="label:service_domain").set_value(draft).run()
    at.switch_page("views/dashboard.py").run()
    at.switch_page("views/review.py").run()
    assert at.caption[1].value.startswith(f"id {second} ")
    assert label_widgets(at) == {**shown, "service_domain": draft}
    at.button(key="accept-all").click().run()
    suggested = {d.dimension: sorted(d.suggested_labels) for d in store_of(app_env).decisions(case_id=second)}
    assert suggested == {dimension: sorted(labels) for dimension, labels in shown.items()}


def test_skip_and_flag_with_a_comment(app_env):
    at = signed_in()
    at.button(key="skip").click().run()
    case_id = case_on_screen(at)
    at.text_input(key="comment").input("Is the city the operator?")
    at.button(key="flag").click().run()
    actions = {d.case_id: d.action for d in store_of(app_env).decisions()}
    assert sorted(actions.values()) == [Action.FLAGGED, Action.SKIPPED]
    flagged = [d for d in store_of(app_env).decisions() if d.action == Action.FLAGGED]
    assert flagged[0].comment == "Is the city the operator?" and flagged[0].case_id == case_id


def test_dashboard_shows_progress_and_agreement(app_env):
    at = signed_in()
    at.button(key="accept-all").click().run()
    at.switch_page("views/dashboard.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Dashboard"
    assert at.metric[0].value == "1 / 4"
    assert len(at.dataframe) >= 4  # model metrics, learning curve, override rates, agreement
    curve = next(d.value for d in at.dataframe if "accepted unchanged" in d.value.columns)
    assert list(curve["accepted unchanged"]) == [1.0] and list(curve["cases reviewed"]) == [1]
    assert curve.loc[0, "version"].startswith("v0001-")


def test_adjudicating_a_disagreement_settles_it(app_env):
    store = store_of(app_env)
    from iesi_nlp.annotation.store import Decision

    store.record(
        [
            Decision("r1", "service_domain", ("health",), Action.ACCEPTED, "anna"),
            Decision("r1", "service_domain", ("long_term_care",), Action.CORRECTED, "ben"),
        ]
    )
    at = signed_in("lead")
    at.switch_page("views/adjudicate.py").run()
    assert "r1" in at.markdown[0].value or any("r1" in m.value for m in at.markdown)
    at.multiselect(key="adj:r1:service_domain").set_value(["health", "long_term_care"])
    at.button(key="adj:r1:service_domain:go").click().run()
    assert not at.exception, at.exception
    assert store.current_labels()["r1"]["service_domain"] == ["health", "long_term_care"]
    assert at.success[0].value == "No disagreements."


def test_adding_a_pasted_case_gives_suggestions_at_once(app_env):
    text = "Volunteers of a local charity teach older people to use video calls with family."
    at = signed_in()
    at.switch_page("views/add_case.py").run()
    at.text_input[0].input("Video calls for older people")
    at.text_area[0].input(text)
    at.button[0].click().run()
    assert not at.exception, at.exception
    added = [c for c in store_of(app_env).cases() if c.source == "pasted"]
    assert [(c.title, c.text) for c in added] == [("Video calls for older people", text)]
    assert at.json, "suggested labels are shown"
    assert at.success[0].value.startswith("1 added")
    # The same text again is not added twice, and the page says so.
    at.button[0].click().run()
    assert len([c for c in store_of(app_env).cases() if c.source == "pasted"]) == 1
    assert "0 added, 1 already in the project" in at.warning[0].value
    assert f"same text as case {added[0].id!r}" in at.warning[1].value
    # A text too short to code is rejected with the reason, like a row of a file.
    at.text_area[0].input("Too short.")
    at.button[0].click().run()
    assert "fewer than the minimum" in at.warning[1].value


def test_the_case_on_screen_shows_what_the_input_said_about_it(app_env):
    at = signed_in()
    while case_on_screen(at) != "r1":
        at.button(key="skip").click().run()
    assert at.subheader[0].value == "Diabetes video clinic"
    caption = at.caption[1].value
    assert caption.startswith("id r1 · en · IE · scraped") and "https://example.org/r1" in caption


def test_a_new_version_serving_mid_review_does_not_change_what_is_recorded(app_env):
    from iesi_nlp.coding.training import TrainOptions
    from iesi_nlp.project import Project

    at = signed_in()
    case_id = case_on_screen(at)
    project = Project.open(app_env.parent)
    old_model = project.serving().card["model_id"]
    assert at.sidebar.markdown[2].value.startswith("**Model:** version `v0001-")
    # A colleague's review and a retraining finish while anna reads her case.
    other = next(c.id for c in project.cases() if c.id != case_id)
    project.store.record(
        [Decision(other, "service_domain", ("migration",), Action.CORRECTED, "ben", ("housing",), {}, old_model)]
    )
    project.train(options=TrainOptions(folds=3, feature_set="dense"), by="test", reason="background retraining")
    assert project.serving().card["model_id"] != old_model
    at.selectbox(key="evidence-dimension").set_value("actors").run()  # any click: the screen refreshes
    assert at.sidebar.markdown[2].value.startswith("**Model:** version `v0002-")
    assert case_on_screen(at) == case_id
    at.button(key="accept-all").click().run()
    assert not at.exception, at.exception
    decisions = store_of(app_env).decisions(case_id=case_id)
    assert len(decisions) == 7 and {d.model_id for d in decisions} == {old_model}


def test_password_keeps_strangers_out(app_env, monkeypatch):
    monkeypatch.setenv("IESI_NLP_PASSWORD", "s3cret")
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.text_input[0].input("mallory")
    at.text_input[1].input("guess")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong password."
    assert not at.subheader  # no case text shown
    at.text_input[1].input("s3cret")
    at.button[0].click().run()
    assert at.subheader, "signed in with the right password"


def test_case_text_cannot_inject_markup(app_env):
    store_of(app_env).add_cases(
        [
            Case(
                id="evil",
                text='<script>alert("x")</script><img src=x onerror=alert(1)> A food bank app for families.',
                language="en",
                source="scraped",
            )
        ],
        added_by="test",
    )
    at = signed_in()
    while case_on_screen(at) != "evil":
        at.button(key="skip").click().run()
    html_blocks = [m.value for m in at.markdown if "case-text" in m.value]
    assert html_blocks and "<script>" not in html_blocks[0] and "<img" not in html_blocks[0]
    assert "&lt;script&gt;" in html_blocks[0]
