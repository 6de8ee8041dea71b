"""Page: add case."""

from screens import add_case_page

add_case_page()
