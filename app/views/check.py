"""Page: check the labels that look wrong."""

from screens import check_page

check_page()
