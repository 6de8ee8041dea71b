"""The review screen (Streamlit): ``iesi-nlp review`` (or ``IESI_NLP_PROJECT=DIR streamlit run app/review_app.py``).

Sign-in, the sidebar, and the pages in ``views/`` (each a thin file over ``screens.py``).
Configuration is by environment variables, listed in ``screens.py``.
"""

from __future__ import annotations

import streamlit as st
from screens import service, sidebar_status, sign_in

st.set_page_config(page_title="iesi-nlp review", page_icon=":material/fact_check:", layout="wide")

annotator = sign_in()
if annotator:
    sidebar_status(service(), annotator)
    page = st.navigation(
        [
            st.Page("views/review.py", title="Review", icon=":material/fact_check:", default=True),
            st.Page("views/dashboard.py", title="Dashboard", icon=":material/monitoring:"),
            st.Page("views/adjudicate.py", title="Adjudicate", icon=":material/balance:"),
            st.Page("views/check.py", title="Check these", icon=":material/rule:"),
            st.Page("views/add_case.py", title="Add a case", icon=":material/add_circle:"),
        ]
    )
    page.run()
