"""The web console (网页控制台): each unit signs in with its API key and sees, in Chinese, what the
API shows it (its board, case timelines, message traces, dead letters, live alerts, joint-meeting
issues), rendered on the server from the API's own functions."""

from gateway.console import meetings, pages
from gateway.console.web import COOKIE, SESSION_SECONDS, router

__all__ = ["COOKIE", "SESSION_SECONDS", "meetings", "pages", "router"]
