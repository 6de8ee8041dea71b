"""Page: review."""

from screens import review_page

review_page()
