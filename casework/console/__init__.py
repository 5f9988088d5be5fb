"""The officer console: server-rendered pages at ``/console`` for officers, managers, admins and
caretakers (issue 7). ``console_router`` builds the routes; ``console_settings`` the plain
values they need from the service's settings."""

from casework.console.config import AreaView, ConsoleSettings, console_settings
from casework.console.routes import console_router

__all__ = ["AreaView", "ConsoleSettings", "console_router", "console_settings"]
