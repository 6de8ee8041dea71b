"""Page: adjudicate."""

from screens import adjudicate_page

adjudicate_page()
