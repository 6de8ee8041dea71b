"""A small labelled set made in the tests: short cases in English and German, two dimensions labelled.

``service_domain`` and ``actors`` carry labels; every other dimension has none,
so a model trained on it codes those from the codebook alone (cold start).
"""

from __future__ import annotations

from iesi_nlp.records import Case

DOMAIN_SENTENCES = {
    "health": [
        ("Patients book doctor appointments and see their test results in a hospital app.", "en"),
        ("A telemedicine service lets nurses monitor chronic patients' blood pressure at home.", "en"),
        ("Über eine App buchen Patienten Arzttermine und sehen ihre Laborbefunde im Krankenhaus.", "de"),
        ("Ein Telemedizin-Dienst erlaubt Pflegekräften, den Blutdruck chronisch Kranker zu Hause zu überwachen.", "de"),
        ("Mental health patients chat with a psychologist through a secure video clinic.", "en"),
        ("Diabetiker übermitteln ihre Blutzuckerwerte täglich an die Hausarztpraxis.", "de"),
    ],
    "education": [
        ("Pupils at the secondary school follow maths lessons on an online learning platform.", "en"),
        ("Teachers share lesson plans and homework with pupils through a school portal.", "en"),
        ("Schülerinnen und Schüler lernen Mathematik auf einer Online-Lernplattform der Schule.", "de"),
        ("Lehrkräfte teilen Unterrichtsmaterial und Hausaufgaben über ein Schulportal.", "de"),
        ("Adults without a diploma take evening courses in a digital classroom to finish school.", "en"),
        ("Die Volkshochschule bietet Erwachsenen digitale Abendkurse zum Schulabschluss an.", "de"),
    ],
    "employment": [
        ("Jobseekers match their skills to vacancies on the employment office's job portal.", "en"),
        ("Unemployed people get online coaching to write CVs and prepare for job interviews.", "en"),
        ("Arbeitsuchende gleichen ihre Fähigkeiten auf dem Jobportal der Arbeitsagentur mit offenen Stellen ab.", "de"),
        ("Arbeitslose erhalten Online-Coaching für Bewerbungen und Vorstellungsgespräche.", "de"),
        ("Long-term unemployed people find apprenticeships with local employers through a matching app.", "en"),
        ("Langzeitarbeitslose finden über eine App Ausbildungsplätze bei Betrieben in der Region.", "de"),
    ],
    "housing": [
        ("Homeless people find emergency shelter beds through a live booking system.", "en"),
        ("Tenants at risk of eviction apply online for help with their rent arrears.", "en"),
        ("Obdachlose Menschen finden freie Notschlafplätze über ein Buchungssystem in Echtzeit.", "de"),
        ("Mieter, denen die Räumung droht, beantragen online Hilfe bei Mietschulden.", "de"),
        ("Families on the waiting list track their application for social housing online.", "en"),
        ("Familien verfolgen ihren Antrag auf eine Sozialwohnung online.", "de"),
    ],
}

ACTOR_SENTENCES = {
    "public": {
        "en": "The city council runs the service with the regional government.",
        "de": "Die Stadtverwaltung betreibt den Dienst gemeinsam mit dem Land.",
    },
    "third_sector": {
        "en": "A charity and its volunteers run the service.",
        "de": "Ein gemeinnütziger Verein und seine Ehrenamtlichen betreiben den Dienst.",
    },
}


def small_cases() -> list[Case]:
    """48 labelled cases: each domain sentence once with a public and once with a third-sector actor."""
    cases = []
    for domain, sentences in DOMAIN_SENTENCES.items():
        for number, (sentence, language) in enumerate(sentences):
            for actor, by_language in ACTOR_SENTENCES.items():
                cases.append(
                    Case(
                        id=f"{domain}-{number}-{actor}",
                        text=f"{sentence} {by_language[language]}",
                        language=language,
                        labels={"service_domain": [domain], "actors": [actor]},
                        label_provenance="test",
                    )
                )
    return cases


#: Unlabelled cases for the review screen's tests.
POOL = [
    Case(
        id="r1",
        title="Diabetes video clinic",
        text="A charity runs a video clinic where patients with diabetes talk to a nurse each week.",
        language="en",
        country="IE",
        source="scraped",
        url="https://example.org/r1",
    ),
    Case(
        id="r2",
        title="Jobportal der Arbeitsagentur",
        text="Die Arbeitsagentur vermittelt Arbeitslose über ein Online-Portal an Betriebe in der Region.",
        language="de",
        country="DE",
        source="survey",
    ),
    Case(
        id="r3",
        text="The city council gives every pupil a laptop and teachers set homework on a school platform.",
        language="en",
        country="FI",
        source="scraped",
    ),
    Case(
        id="r4",
        text="Homeless people find a free bed in an emergency shelter through a booking app run by volunteers.",
        language="en",
        country="ES",
        source="scraped",
    ),
]
