"""Page: dashboard."""

from screens import dashboard_page

dashboard_page()
